"""AdvertBoard: services publish, discovery listens; a failing listener disturbs no one."""

from __future__ import annotations

from peerwork.agents.adverts import AdvertBoard, DnsSdRecord, ServiceAdvert


def test_roles_and_ports_merge_in_publishing_order() -> None:
    board = AdvertBoard()
    board.set("files", ServiceAdvert(roles=("files",), ports={"smb": 445}))
    board.set("channel", ServiceAdvert(ports={"ctl": 7445}))
    board.set("printers", ServiceAdvert(roles=("printers", "files")))
    assert board.roles() == ["files", "printers"]
    assert board.ports() == {"smb": 445, "ctl": 7445}
    board.clear("files")
    assert board.roles() == ["printers", "files"]
    assert board.ports() == {"ctl": 7445}


def test_listeners_hear_changes_only() -> None:
    board = AdvertBoard()
    calls: list[int] = []
    unsubscribe = board.subscribe(lambda: calls.append(1))
    advert = ServiceAdvert(records=(DnsSdRecord("_smb._tcp.local.", 445),))
    board.set("files", advert)
    board.set("files", advert)  # unchanged: no call
    board.clear("nothing-there")
    assert calls == [1]
    unsubscribe()
    board.clear("files")
    assert calls == [1]


def test_a_raising_listener_does_not_stop_the_publisher_or_others() -> None:
    board = AdvertBoard()
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    board.subscribe(broken)
    board.subscribe(lambda: heard.append("ok"))
    board.set("files", ServiceAdvert(roles=("files",)))
    assert heard == ["ok"]
    assert board.roles() == ["files"]
