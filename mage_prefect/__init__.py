"""Run Mage AI projects, unchanged, on Prefect.

Public API (imported lazily, so `import mage_prefect` stays light):
`load_project`, `build_flow`, `run_pipeline`, `get_output`.
"""

from __future__ import annotations

__all__ = ["load_project", "build_flow", "run_pipeline", "get_output", "get_outputs"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mage_prefect' has no attribute {name!r}")
