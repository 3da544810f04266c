"""Deployment pull steps mage-prefect compiles into `prefect.yaml`. They run in the flow-run
process, before the flow is loaded, with their inputs resolved there by Prefect."""

from __future__ import annotations

import os
from typing import Any

from .project.templating import render
from .redaction import remember


def set_environment(env: dict[str, Any]) -> dict[str, Any]:
    """Set the flow run's environment variables that `compile` kept out of the deployment: Mage's
    `{{ env_var('NAME') }}` text, rendered here from this process's environment (so, for a process
    work pool, the worker's), and Prefect block references, which Prefect resolved before calling.
    Each value is masked in this process's logs, as every secret source's is."""
    for name, value in env.items():
        os.environ[str(name)] = remember(render(str(value)))
    return {}
