from hypothesis import given
from hypothesis import strategies as st

from peerwork.text import printable


def test_printable_strips_terminal_controls() -> None:
    assert printable("FRONT\x1b[2JDESK\u202e") == "FRONT\ufffd[2JDESK\ufffd"
    assert printable("café") == "café"
    assert len(printable("x" * 1000)) == 200


@given(st.text())
def test_printable_never_leaves_control_characters(text: str) -> None:
    import unicodedata

    assert all(unicodedata.category(c) not in ("Cc", "Cf") for c in printable(text))
