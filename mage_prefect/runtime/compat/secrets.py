"""`mage_ai.data_preparation.shared.secrets`: a Prefect Secret block, else an environment variable."""

from __future__ import annotations

import os

from ...redaction import remember


def get_secret_value(name: str, entity=None, pipeline_uuid=None, project_uuid=None, repo_name=None, **kwargs) -> str:
    """The Prefect Secret block named `name` (slug form), else the environment variable `name`."""
    try:
        from prefect.blocks.system import Secret

        return remember(Secret.load(_block_name(name)).get())
    except (ValueError, ImportError):
        pass
    if name in os.environ:
        return remember(os.environ[name])
    raise LookupError(
        f"secret '{name}' not found: create a Prefect Secret block named '{_block_name(name)}' "
        f"or set the environment variable {name}"
    )


def _block_name(name: str) -> str:
    """Prefect block names are lowercase with dashes."""
    return name.lower().replace("_", "-")
