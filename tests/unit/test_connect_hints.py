from pathlib import Path

from peerwork.connect_hints import connect_hints
from peerwork.shares import Access, Share


def test_hints_quote_names_and_explain_windows_port() -> None:
    share = Share("My Docs", Path("/srv/d"), grants={"alice": Access.CHANGE})
    text = "\n".join(
        connect_hints(share, host="10.0.0.5", port=4445, peer_name="PC1", user="alice")
    )
    assert "smbclient '//10.0.0.5/My Docs' -p 4445 -U alice" in text
    assert "smb://alice@10.0.0.5:4445/My%20Docs" in text
    assert "Windows only uses port 445" in text
    assert "alice=change" in text


def test_hints_on_445_are_plain() -> None:
    share = Share("docs", Path("/srv/d"))
    text = "\n".join(connect_hints(share, host="pc1", port=445, peer_name="PC1", user=""))
    assert "smbclient //pc1/docs -U ACCOUNT" in text
    assert "\\\\pc1\\docs" in text and "-p " not in text


def test_hints_show_the_anonymous_grant() -> None:
    closed = Share("docs", Path("/srv/d"), grants={"everyone": Access.READ})
    text = "\n".join(connect_hints(closed, host="pc1", port=445, peer_name="PC1", user="a"))
    assert "anonymous=none" in text and "everyone=read" in text
    assert "logs on with an account" in text
    public = Share("pub", Path("/srv/p"), grants={"anonymous": Access.READ})
    text = "\n".join(connect_hints(public, host="pc1", port=445, peer_name="PC1", user="a"))
    assert "anonymous=read" in text and "logs on with an account" not in text
