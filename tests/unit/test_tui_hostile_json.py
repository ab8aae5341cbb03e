"""What the new screens render from the agent's JSON and from strangers (mail, peer
records, other PCs' account names) never breaks them: any JSON in the gateway's and
replication's details, control characters and markup in a message."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.client.mail_message import Reading
from peerwork.client.peer_printers import peer_printers
from peerwork.models import AgentStatus, PeerIdentity, ServiceState, ServiceStatus
from peerwork.tui.screens.gateway import describe
from peerwork.tui.screens.mail_dialogs import message_text
from peerwork.tui.screens.this_pc import replication

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["mode", "recognised", "rogue", "plan", "configured", "domain", "leases", "peers",
     "conflicts", "name", "state", "behind", "error", "kept", "lost", "origin", "server_id"]
)  # fmt: skip
DETAILS = st.dictionaries(KEYS, JSON | st.lists(st.dictionaries(KEYS, JSON), max_size=3))
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\n") + "\x7f\x9b\u202e"


def _clean(text: str) -> bool:
    return not any(c in CONTROL for c in text)


@settings(max_examples=200, deadline=None)
@given(details=DETAILS, state=st.sampled_from(["running", "failed", "x"]))
def test_gateway_status_of_any_shape_renders(details: dict[str, Any], state: str) -> None:
    shown = describe({"state": state, "reason": "r\x1b[2J", "details": details}).plain
    assert _clean(shown)


@settings(max_examples=200, deadline=None)
@given(details=DETAILS)
def test_replication_details_of_any_shape_render(details: dict[str, Any]) -> None:
    svc = ServiceStatus("account_sync", ServiceState.RUNNING, details=details)
    status = AgentStatus(PeerIdentity("PC", "WG", "id", ""), "0", 1, 1, "/", 0.0, (svc,), 0, 0)
    for line in replication(status):
        assert _clean(line.plain)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=6),
    body=st.text(alphabet=st.characters(), max_size=300),
)
def test_a_strangers_message_renders_as_plain_text(
    headers: list[tuple[str, str]], body: str
) -> None:
    shown = message_text(Reading(tuple(headers), body, ())).plain
    assert _clean(shown)
    words = [w for w in body.split() if _clean(w) and w.isprintable()]
    for word in words[:5]:
        assert word in shown


@given(
    name=st.text(alphabet=string.printable, max_size=40),
    printer=st.text(max_size=40),
)
def test_peer_printers_take_names_as_they_are_and_skip_impostors(name: str, printer: str) -> None:
    peer = {"name": name, "addresses": ["10.0.0.9"], "ports": {"ipp": 631}, "printers": [printer]}
    found = peer_printers([peer, peer | {"state": "impostor"}, peer | {"addresses": []}])
    assert [(p["peer"], p["name"]) for p in found] == [(name, printer)]
    assert found[0]["uri"].startswith("ipp://10.0.0.9:631/ipp/print/")
