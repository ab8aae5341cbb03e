"""Which received records discovery acts on: pins, replays, impostors, signed addresses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from peerwork.agents.peer_table import PeerTable
from peerwork.identity import Identity, record_problem
from peerwork.peer_trust import PINS_FILE, PeerPins, Trust
from peerwork.proto.peer_record import PeerAnnouncement, build_txt, parse_txt

PC1 = Identity.generate("pc1")
EVIL = Identity.generate("evil")
ME = Identity.generate("me")
ADDR = "10.77.1.1"
ATTACKER = "10.77.1.3"


def record(identity: Identity = PC1, name: str = "PC1", **changes: object) -> PeerAnnouncement:
    ann = PeerAnnouncement(
        instance=name,
        peer_id=identity.peer_id,
        public_key=identity.public_raw,
        workgroup="OFFICE",
        version=1,
        seq=100,
        addresses=(ADDR,),
        ports={"smb": 445},
        roles=("files",),
    )
    return dataclasses.replace(ann, **changes)  # type: ignore[arg-type]


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def receive(
    table: PeerTable,
    ann: PeerAnnouncement,
    resolved: tuple[str, ...] = (ADDR,),
    signer: Identity | None = None,
) -> list[tuple[str, dict[str, object]]]:
    key = signer or (PC1 if ann.peer_id == PC1.peer_id else EVIL)
    rec = parse_txt(ann.instance, build_txt(ann, key.sign))
    return table.receive(ann.instance, rec, record_problem(rec), resolved)


def new_table(folder: Path | None = None) -> PeerTable:
    return PeerTable(PeerPins(folder), ME.peer_id, Clock())


def test_first_verified_record_is_listed_and_pinned(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    events = receive(table, record())
    assert [k for k, _ in events] == ["peer-added"]
    entry = table.get("pc1")
    assert entry is not None and entry.trust is Trust.VERIFIED and entry.addresses == (ADDR,)
    pins = json.loads((tmp_path / PINS_FILE).read_text())
    assert pins["names"] == {"pc1": PC1.peer_id}
    assert pins["ids"][PC1.peer_id]["seq"] == 100


def test_replayed_record_from_another_address_is_never_used() -> None:
    table = new_table()
    receive(table, record())
    # The attacker re-announces PC1's own signed record at its address.
    events = receive(table, record(), resolved=(ATTACKER,))
    assert [k for k, _ in events] == ["peer-rejected"]
    assert ATTACKER not in json.dumps(events)
    entry = table.get("PC1")
    assert entry is not None and entry.addresses == (ADDR,)
    # The attacker repeating itself is said once, not on every announcement.
    assert receive(table, record(), resolved=(ATTACKER,)) == []
    # Both answering: only the signed address is used.
    receive(table, record(), resolved=(ATTACKER, ADDR))
    assert table.get("PC1").addresses == (ADDR,)  # type: ignore[union-attr]


def test_older_sequence_number_is_a_replay() -> None:
    table = new_table()
    receive(table, record(seq=200, addresses=("10.77.1.9",)), resolved=("10.77.1.9",))
    events = receive(table, record(seq=100))
    assert events[0][0] == "peer-rejected" and "replayed" in str(events[0][1]["problem"])
    assert table.get("PC1").addresses == ("10.77.1.9",)  # type: ignore[union-attr]
    # A newer one is taken.
    assert receive(table, record(seq=300))[0][0] == "peer-updated"


def test_sequence_numbers_survive_a_restart(tmp_path: Path) -> None:
    first = new_table(tmp_path)
    receive(first, record(seq=100))
    receive(first, record(seq=500))
    first.pins.flush()
    later = new_table(tmp_path)
    assert receive(later, record(seq=400))[0][0] == "peer-rejected"
    assert later.get("PC1") is None


def test_fresh_key_claiming_a_known_name_is_an_impostor(tmp_path: Path) -> None:
    table = new_table(tmp_path)
    receive(table, record())
    events = receive(table, record(EVIL, seq=10**12), resolved=(ATTACKER,))
    assert [k for k, _ in events] == ["peer-impostor"]
    payload = events[0][1]
    assert payload["state"] == "impostor" and payload["verified"] is False
    assert payload["addresses"] == []
    names = [(p.name, p.trust, p.addresses) for p in table.entries()]
    assert names == [("PC1", Trust.VERIFIED, (ADDR,)), ("PC1", Trust.IMPOSTOR, ())]
    # Said once, not on every re-announcement.
    assert receive(table, record(EVIL, seq=10**12), resolved=(ATTACKER,)) == []
    # And after a restart the pin still holds.
    again = new_table(tmp_path)
    assert receive(again, record(EVIL), resolved=(ATTACKER,))[0][0] == "peer-impostor"


def test_unverified_record_under_a_known_name_is_an_impostor() -> None:
    table = new_table()
    receive(table, record())
    forged = record(seq=999)
    rec = parse_txt("PC1", build_txt(forged, EVIL.sign))  # PC1's key, not its signature
    events = table.receive("PC1", rec, record_problem(rec), (ATTACKER,))
    assert events[0][0] == "peer-impostor"
    assert table.get("PC1").trust is Trust.VERIFIED  # type: ignore[union-attr]


def test_unknown_unverified_peer_is_listed_as_such() -> None:
    table = new_table()
    rec = parse_txt("MALLORY", build_txt(record(name="MALLORY"), EVIL.sign))
    events = table.receive("MALLORY", rec, record_problem(rec), (ATTACKER,))
    assert events[0][0] == "peer-added" and events[0][1]["state"] == "unverified"


def test_impostors_are_forgotten_after_a_while_and_with_the_name() -> None:
    table = new_table()
    receive(table, record())
    receive(table, record(EVIL), resolved=(ATTACKER,))
    clock = table._clock
    assert isinstance(clock, Clock)
    clock.now += 121
    assert [p.trust for p in table.entries()] == [Trust.VERIFIED]
    receive(table, record(EVIL), resolved=(ATTACKER,))
    assert [k for k, _ in table.drop("PC1")] == ["peer-removed"]
    assert table.entries() == []


def test_our_own_record_is_ignored() -> None:
    table = new_table()
    assert receive(table, record(ME, name="OLDNAME"), signer=ME) == []


def test_forget_unpins(tmp_path: Path) -> None:
    pins = PeerPins(tmp_path)
    table = PeerTable(pins, ME.peer_id, Clock())
    receive(table, record())
    assert pins.forget("pc1") and not pins.forget("pc1")
    assert receive(table, record(EVIL, seq=10**12))[0][0] == "peer-updated"


def test_unreadable_pins_file_starts_empty(tmp_path: Path) -> None:
    (tmp_path / PINS_FILE).write_text("{not json")
    assert PeerPins(tmp_path).owner("PC1") is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.booleans(), st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_any_sequence_of_records_never_lists_the_attacker(
    steps: list[tuple[int, bool, bool]],
) -> None:
    """Replays, reorderings and impostors in any order: the attacker's address never shows."""
    table = new_table()
    for seq, from_attacker, evil_key in steps:
        key = EVIL if evil_key else PC1
        resolved = (ATTACKER,) if from_attacker else (ADDR,)
        receive(table, record(key, seq=seq, addresses=(ADDR,)), resolved=resolved)
        for entry in table.entries():
            assert ATTACKER not in entry.addresses
            if entry.peer_id == EVIL.peer_id and table.pins.owner("PC1") == PC1.peer_id:
                assert entry.trust is Trust.IMPOSTOR
