"""Deployment pull steps mage-prefect compiles into `prefect.yaml`. They run in the flow-run
process, before the flow is loaded, with their inputs resolved there by Prefect."""

from __future__ import annotations

import os
import re
from typing import Any

from .project.templating import render
from .redaction import remember

ENV_VAR_CALL = re.compile(r"{{\s*env_var\(")  # Mage's text; a resolved block reference is the value itself


def set_environment(env: dict[str, Any]) -> dict[str, Any]:
    """Set the flow run's environment variables that `compile` kept out of the deployment: Mage's
    `{{ env_var('NAME') }}` text, rendered here from this process's environment (so, for a process
    work pool, the worker's; an unset one renders 'None', as in Mage), and Prefect block
    references, which Prefect resolved before calling. What they read is masked in this process's
    logs, as every secret source's is (env_var remembers what it reads)."""
    for name, value in env.items():
        text = str(value)
        os.environ[str(name)] = render(text) if ENV_VAR_CALL.search(text) else remember(text)
    return {}
