"""The `mage_ai` compatibility shim, served only when mage-ai itself is not installed.

An import hook at the *end* of `sys.meta_path`: a real mage-ai install is always found first.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from contextvars import ContextVar
from typing import Any

from ...project.capabilities import SHIM_MODULES

# The RunContext of the block being executed: the shim's functions act on its project and run.
ACTIVE: ContextVar[Any] = ContextVar("mage_prefect_active_run", default=None)

MODULES = {name: f"{__name__}.{implementation}" for name, implementation in SHIM_MODULES.items()}
PACKAGES = {name.rsplit(".", i)[0] for name in MODULES for i in range(1, name.count(".") + 1)}


class ShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the `mage_ai` modules that block code imports, and names what it cannot serve."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "mage_ai" and not fullname.startswith("mage_ai."):
            return None
        if fullname in MODULES or fullname in PACKAGES:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname in PACKAGES)
        raise ModuleNotFoundError(
            f"'{fullname}' is not available: mage-ai is not installed and mage-prefect's compatibility "
            f"shim provides only {', '.join(sorted(MODULES))}",
            name=fullname,
        )

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        if spec.name in MODULES:
            # A new module re-exporting the implementation's names: the import system stamps
            # __spec__/__loader__ on the module returned here, which must not be mage-prefect's own
            # (a stamped `__spec__` breaks the relative imports inside it with an ImportWarning).
            implementation = importlib.import_module(MODULES[spec.name])
            module.__dict__.update({k: v for k, v in vars(implementation).items() if not k.startswith("__")})
            module.__doc__ = implementation.__doc__
        else:
            module.__path__ = []
        return module

    def exec_module(self, module):
        pass


_FINDER = ShimFinder()


def install() -> None:
    """Add the shim to the import system once (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
