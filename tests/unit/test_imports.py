"""Every module imports on its own, first (a circular import shows up only that way)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest

import peerwork
import peerwork.agents


def _modules() -> list[str]:
    names = []
    for package in (peerwork, peerwork.agents):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return sorted(names)


def _fresh_import(name: str) -> set[str]:
    """Import ``name`` with no peerwork module loaded; the peerwork modules it pulled in."""
    saved = {k: v for k, v in sys.modules.items() if k.startswith("peerwork")}
    for key in saved:
        del sys.modules[key]
    try:
        importlib.import_module(name)
        return {k for k in sys.modules if k.startswith("peerwork")}
    finally:
        for key in [k for k in sys.modules if k.startswith("peerwork")]:
            del sys.modules[key]
        sys.modules.update(saved)


@pytest.mark.parametrize("name", _modules())
def test_module_imports_first(name: str) -> None:
    assert name in _fresh_import(name)


# Layers import downwards only: the file store opens every path through
# pathsafety, so pathsafety (and the OS-error map both share) must never load it.
@pytest.mark.parametrize("name", ["peerwork.pathsafety", "peerwork.os_errors"])
def test_path_safety_does_not_load_the_file_store(name: str) -> None:
    loaded = _fresh_import(name)
    assert not {m for m in loaded if m == "peerwork.sharefs" or m.startswith("peerwork.sharefs.")}
