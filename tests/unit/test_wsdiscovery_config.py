"""The ``[wsdiscovery]`` section: defaults, the commented default file, and wrong types."""

from __future__ import annotations

import pytest
import tomlkit

from peerwork.config import WsdSection, parse_config, render_new_config
from peerwork.errors import ConfigError

BASE = '[peer]\nname = "pc1"\nworkgroup = "office"\n'


def test_defaults_and_the_new_file_agree() -> None:
    assert parse_config(tomlkit.parse(BASE)).wsdiscovery == WsdSection(True, 3702, 5357)
    written = parse_config(tomlkit.parse(render_new_config("pc1", "office", "alice")))
    assert written.wsdiscovery == WsdSection(True, 3702, 5357)


def test_values_are_read() -> None:
    doc = tomlkit.parse(
        BASE + "[wsdiscovery]\nenabled = false\nport = 13702\nhttp_port = 0\nipv6 = true\n"
    )
    assert parse_config(doc).wsdiscovery == WsdSection(False, 13702, 0, ipv6=True)


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("wsdiscovery = 5", r"\[wsdiscovery\] must be a table"),
        ("[wsdiscovery]\nenabled = 1", "wsdiscovery.enabled must be true or false"),
        ('[wsdiscovery]\nport = "3702"', "wsdiscovery.port must be an integer"),
        ("[wsdiscovery]\nport = 70000", "wsdiscovery.port must be 0-65535"),
        ("[wsdiscovery]\nhttp_port = -1", "wsdiscovery.http_port must be 0-65535"),
        ("[wsdiscovery]\nhttp_port = true", "wsdiscovery.http_port must be an integer"),
        ('[wsdiscovery]\nipv6 = "yes"', "wsdiscovery.ipv6 must be true or false"),
    ],
)
def test_wrong_types_name_the_key(snippet: str, message: str) -> None:
    # A top-level key must come before the first table, or it lands in [peer].
    text = BASE + snippet if snippet.startswith("[") else snippet + "\n" + BASE
    with pytest.raises(ConfigError, match=message):
        parse_config(tomlkit.parse(text + "\n"))
