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


@pytest.mark.parametrize("name", _modules())
def test_module_imports_first(name: str) -> None:
    saved = {k: v for k, v in sys.modules.items() if k.startswith("peerwork")}
    for key in saved:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    finally:
        for key in [k for k in sys.modules if k.startswith("peerwork")]:
            del sys.modules[key]
        sys.modules.update(saved)
