"""peerwork/client/local_printer.py: this PC's printer address from the printers status."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerwork.client.local_printer import local_printer_uri
from peerwork.errors import NotFound

STATUS = {
    "ports": {"ipp": 8631},
    "details": {"bind": "0.0.0.0", "printers": [{"name": "office"}, {"name": "Laser"}]},
}


def test_first_or_named_printer_on_loopback_or_the_bound_address() -> None:
    assert local_printer_uri(STATUS) == "ipp://127.0.0.1:8631/ipp/print/office"
    assert local_printer_uri(STATUS, "laser") == "ipp://127.0.0.1:8631/ipp/print/Laser"
    bound = {**STATUS, "details": {**STATUS["details"], "bind": "10.0.0.1"}}
    assert local_printer_uri(bound, "office") == "ipp://10.0.0.1:8631/ipp/print/office"


def test_no_such_printer_or_no_port() -> None:
    with pytest.raises(NotFound, match="no printer nope shared here"):
        local_printer_uri(STATUS, "nope")
    with pytest.raises(NotFound):
        local_printer_uri({"details": STATUS["details"]})
    with pytest.raises(NotFound):
        local_printer_uri({"ports": {"ipp": 631}, "details": {"printers": [{}, {"name": 3}]}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


@given(
    status=st.dictionaries(st.sampled_from(["ports", "details", "x"]), json_values, max_size=3),
    name=st.text(max_size=8),
)
def test_hostile_status_gives_an_address_or_not_found(status: dict[str, Any], name: str) -> None:
    try:
        uri = local_printer_uri(status, name)
    except NotFound:
        return
    assert uri.startswith("ipp://")
