"""Failover between two gateway-capable PCs, with the same leases, in namespaces.

Topology (``tests/helpers/gateway_pair.py``, all namespaces this test
creates): ``wan`` holds a bridge with 10.200.0.1 and the two gateways'
uplinks (GW1 10.200.0.2, GW2 10.200.0.3, discovery and the channel on
``wan0``); both gateways have a leg ``lan0`` on the LAN bridge with no
address; PC1 is on the LAN bridge with busybox ``udhcpc``. GW1 creates the
workgroup, GW2 joins with its code (real CLI). GW1 (priority 10) enables and
serves; GW2 (priority 5) enables and stands by, receiving GW1's leases over
the channel. Then GW1's agent is killed with SIGKILL; GW2 must take over
within 10 s (the time is printed). GW1 is started again: its leftover changes
are undone (192.168.0.1 leaves its lan0) and it stands by behind GW2 although
its priority is higher (the incumbent rule). PC1 renews to the same address
from GW2, and ``dig pc1.office.lan`` answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.gateway_lab import client_script, lease_of, udhcpc
from tests.helpers.gateway_pair import (
    LEASE_TIME,
    arm_pair,
    build_pair,
    cli,
    details,
    join_pair,
    kill_and_time_takeover,
    lan_addresses,
    wait,
)
from tests.helpers.netns import NetnsLab, lab_factory  # noqa: F401  (fixture)

pytestmark = pytest.mark.root


def test_standby_takes_over_with_the_same_leases(lab_factory, tmp_path: Path) -> None:  # noqa: F811
    lab: NetnsLab = lab_factory(1, addressed=False)
    (pc1,) = lab.pcs
    gw1, gw2 = build_pair(lab, tmp_path)
    try:
        gw1.start()
        gw2.start()
        join_pair(gw1, gw2)
        arm_pair(gw1, gw2)
        assert details(gw2)["mode"] == "standby"
        assert "192.168.0.1" not in lan_addresses(lab, gw2)

        script = client_script(tmp_path, "udhcpc")
        udhcpc(lab, pc1, script, "pc1")
        first = lease_of(script)
        assert first["router"] == "192.168.0.1"

        def replicated() -> bool:
            rows = json.loads(cli(gw2, "gateway", "leases", "--json").stdout)
            return any(r["address"] == first["ip"] and r["hostname"] == "pc1" for r in rows)

        wait("GW2 keeping PC1's lease", replicated)

        # GW1's agent dies without a word.
        failover = kill_and_time_takeover(gw1, gw2)
        print(f"\nfailover: GW2 active {failover:.2f} s after GW1's agent was killed")
        assert failover < 10, failover
        assert "192.168.0.1/24" in lan_addresses(lab, gw2)

        # GW1 comes back: cleans up what it left and stands by behind the incumbent.
        gw1.start()
        wait("GW1 standing by", lambda: details(gw1)["mode"] == "standby", timeout=30)
        assert "192.168.0.1" not in lan_addresses(lab, gw1)
        assert details(gw2)["mode"] == "active"

        # PC1 renews (at half the lease time) and keeps its address, now from GW2.
        Path(f"{script}.out").unlink()
        again = lease_of(script, timeout=3 * LEASE_TIME)
        assert again["ip"] == first["ip"], (first, again)
        answer = lab.run(
            pc1, ["dig", "@192.168.0.1", "+time=2", "+tries=2", "pc1.office.lan", "+short"]
        )
        assert answer.stdout.strip() == first["ip"], answer.stdout
    finally:
        gw2.stop()
        gw1.stop()
