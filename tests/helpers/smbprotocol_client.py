"""smbprotocol's high-level ``smbclient`` package, whatever else is called smbclient.

impacket installs an example script ``smbclient.py`` into the venv's ``bin/``, and
``.venv/bin/pytest`` puts that folder first on ``sys.path``: a plain ``import
smbclient`` then finds the script. This loads the package from beside smbprotocol.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load() -> ModuleType:
    """The ``smbclient`` package of smbprotocol (ImportError when not installed)."""
    current = sys.modules.get("smbclient")
    if current is not None and hasattr(current, "register_session"):
        return current
    import smbprotocol

    folder = Path(smbprotocol.__file__).resolve().parent.parent / "smbclient"
    spec = importlib.util.spec_from_file_location(
        "smbclient", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"smbprotocol's smbclient package is not in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["smbclient"] = module
    spec.loader.exec_module(module)
    return module
