"""peerwork.gateway.plan: what enable would change, from settings and an observed machine."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest

from peerwork.agents.gateway.observe import parse_default_routes, parse_resolv_conf
from peerwork.config.gateway import GATEWAY, GatewaySection
from peerwork.errors import ConfigError
from peerwork.gateway.plan import Observed, Plan, StepKind, make_plan


def settings(**kw: object) -> GatewaySection:
    table = {"uplink": "wan0", "lan": "lan0", **kw}
    return GATEWAY.read(table)


def machine(lan: tuple[str, ...] = (), uplink: str = "10.0.0.2/24", **kw: object) -> Observed:
    return Observed(
        interfaces={
            "wan0": (IPv4Interface(uplink),) if uplink else (),
            "lan0": tuple(IPv4Interface(a) for a in lan),
        },
        up={"wan0": True, "lan0": True},
        resolvers=("10.0.0.1",),
        **kw,  # type: ignore[arg-type]
    )


def kinds(plan: Plan) -> list[StepKind]:
    return [s.kind for s in plan.steps]


def test_default_plan_is_the_seeds() -> None:
    plan = make_plan(settings(), machine())
    assert plan.ok, plan.problems
    assert plan.lan_address == IPv4Interface("192.168.0.1/24")
    assert plan.pool == (IPv4Address("192.168.0.2"), IPv4Address("192.168.0.254"))
    assert plan.upstreams == ("10.0.0.1",)
    assert kinds(plan) == [
        StepKind.ADDRESS,
        StepKind.SYSCTL,
        StepKind.NFTABLES,
        StepKind.SERVICE,
        StepKind.SERVICE,
    ]
    address, sysctl, nat = plan.steps[:3]
    assert address.apply == (("ip", "addr", "add", "192.168.0.1/24", "dev", "lan0"),)
    assert address.undo == (("ip", "addr", "del", "192.168.0.1/24", "dev", "lan0"),)
    assert sysctl.undo == (("sysctl", "-q", "-w", "net.ipv4.ip_forward=0"),)
    assert nat.undo == (("nft", "delete", "table", "inet", "peerwork"),)
    assert "masquerade" in nat.stdin and "192.168.0.0/24" in nat.stdin
    assert 'iifname "wan0" oifname "lan0" drop' in nat.stdin
    assert Plan.from_json(plan.to_json()) == plan


def test_default_lan_moves_off_a_colliding_uplink() -> None:
    plan = make_plan(settings(), machine(uplink="192.168.0.50/24"))
    assert plan.lan_address == IPv4Interface("192.168.1.1/24")
    assert any("collides" in n for n in plan.notes)


def test_hand_set_address_is_used_never_replaced() -> None:
    plan = make_plan(settings(), machine(lan=("172.16.5.1/24",)))
    assert plan.ok and plan.lan_address == IPv4Interface("172.16.5.1/24")
    assert StepKind.ADDRESS not in kinds(plan)
    assert plan.pool == (IPv4Address("172.16.5.2"), IPv4Address("172.16.5.254"))
    refused = make_plan(settings(lan_address="192.168.0.1/24"), machine(lan=("172.16.5.1/24",)))
    assert not refused.ok and "never replaces" in refused.problems[0]
    assert all(s.kind is not StepKind.ADDRESS for s in refused.steps)


def test_ip_forward_already_on_is_left_alone() -> None:
    plan = make_plan(settings(), machine(ip_forward=True))
    assert StepKind.SYSCTL not in kinds(plan)
    assert any("ip_forward" in n for n in plan.notes)


def test_refusals() -> None:
    missing = make_plan(settings(uplink="nope0"), machine())
    assert any("nope0 does not exist" in p for p in missing.problems)
    assert not make_plan(GatewaySection(), machine()).ok
    table = make_plan(settings(), machine(nft_table=True))
    assert any("table inet peerwork exists" in p for p in table.problems)
    outside = make_plan(settings(pool="10.9.9.2-10.9.9.9"), machine())
    assert any("not inside the LAN" in p for p in outside.problems)
    clash = make_plan(settings(lan_address="10.0.0.9/24"), machine())
    assert any("overlaps" in p for p in clash.problems)
    found = make_plan(settings(), machine(), ["DHCP server 192.168.0.254 answers on the LAN"])
    assert not found.ok and "answers" in found.problems[0]
    no_dns = make_plan(settings(), Observed(interfaces={"wan0": (), "lan0": ()}))
    assert any("upstream DNS" in p for p in no_dns.problems)


def test_pool_and_upstreams_from_settings() -> None:
    plan = make_plan(settings(pool="192.168.0.100-150", upstreams=["9.9.9.9:5353"]), machine())
    assert plan.pool == (IPv4Address("192.168.0.100"), IPv4Address("192.168.0.150"))
    assert plan.upstreams == ("9.9.9.9:5353",)


@pytest.mark.parametrize(
    "table",
    [
        {"uplink": "a b"},
        {"uplink": "x", "lan": "x"},
        {"lan_address": "300.1.1.1/24"},
        {"pool": "192.168.0.9-192.168.0.2"},
        {"pool": "nonsense"},
        {"upstreams": ["dns.example"]},
        {"reservations": {"zz": "192.168.0.4"}},
        {"reservations": {"02:00:00:00:00:01": "x"}},
        {"domain": "bad domain"},
    ],
)
def test_bad_settings_are_config_errors(table: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"gateway\."):
        GATEWAY.read(table)


def test_resolv_conf_and_routes() -> None:
    text = "# x\nnameserver 10.0.0.1\nnameserver fe80::1\nnameserver bad\nsearch lan\n"
    assert parse_resolv_conf(text) == ("10.0.0.1",)
    routes = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n"
        "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
    )
    assert parse_default_routes(routes) == {"eth0": IPv4Address("10.0.0.1")}


def test_enable_unprivileged_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from peerwork.agents.gateway import apply

    plan = make_plan(settings(), machine())
    monkeypatch.setattr(apply.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("PATH", "/nonexistent")
    missing = apply.missing_for_enable(plan)
    assert missing[0].startswith("root:")
    assert {"the 'ip' command (not found in PATH)", "the 'nft' command (not found in PATH)"} <= set(
        missing
    )
