"""What `compile` writes for `env_var(...)` in the `mage_prefect.deployments` section: never the
value (on the machine that compiles it may be a secret, and `prefect.yaml` is committed).

`prefect deploy` resolves every `{{ $NAME }}` placeholder in prefect.yaml — job variables and pull
steps alike — and stores the result in the deployment; only block references in pull steps
(`{{ prefect.blocks.secret.x }}`) wait for the run. So `job_variables.env` keeps Mage's own
`{{ env_var('NAME') }}` text, which Prefect's templating leaves alone: compile moves those entries
into a pull step that renders them in the flow-run process (pull_steps.py). Everywhere else
(other job variables, `image`, the pull steps a project lists) `env_var` becomes `{{ $NAME }}`,
resolved and stored by `prefect deploy`, with a warning where a secret does not belong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from . import templating
from .errors import Diagnostic
from .yamlfile import KeyPath, YamlDocument, read_document

REFERENCED = ("job_variables", "image", "pull")
RUN_TIME = ("job_variables", "env")  # rendered where the run happens
_MARKER = "MAGEPREFECTENVREF{}X"  # survives YAML parsing as a plain scalar
_MARKERS = re.compile(r"MAGEPREFECTENVREF(\d+)X")
# what only the flow-run process may resolve: Mage's env_var, a Prefect block reference
_RUN_TIME_TEXT = re.compile(r"{{\s*(env_var\(|prefect\.blocks\.)")


def rendered_at_run_time(value: Any) -> bool:
    """Whether a job_variables.env value must be resolved in the flow-run process (pull_steps.py):
    `prefect deploy` would store what it resolves."""
    return isinstance(value, str) and bool(_RUN_TIME_TEXT.search(value))


def _env_reference(name: str) -> str:
    return "{{ $" + name + " }}"


def with_references(path: Path, data: dict[str, Any], doc: YamlDocument, into: list[Diagnostic]) -> None:
    """Replace, in the rendered root metadata `data`, what `env_var` rendered in the deployments
    section's job variables, image and pull steps with the text compile writes (see above)."""
    deployments = (data.get("mage_prefect") or {}).get("deployments") if isinstance(data, dict) else None
    if not isinstance(deployments, dict) or not any(key in deployments for key in REFERENCED):
        return
    calls: list[tuple[str, Any]] = []

    def env_var(name: str, default: Any = None) -> str:
        calls.append((str(name), default))
        return _MARKER.format(len(calls) - 1)

    referenced = read_document(path, [], render=lambda text: templating.render(text, {"env_var": env_var}))
    section = (referenced.data.get("mage_prefect") or {}).get("deployments") if referenced else None
    if not isinstance(section, dict):
        return
    for key in REFERENCED:
        if key in deployments and key in section:
            deployments[key] = _resolved(section[key], ("mage_prefect", "deployments", key), calls, doc, into)


def _resolved(value: Any, key_path: KeyPath, calls: list[tuple[str, Any]], doc: YamlDocument, into) -> Any:
    if isinstance(value, dict):
        return {k: _resolved(v, (*key_path, k), calls, doc, into) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, (*key_path, i), calls, doc, into) for i, v in enumerate(value)]
    if not isinstance(value, str) or not _MARKERS.search(value):
        return value
    if key_path[2:4] == RUN_TIME:
        return _MARKERS.sub(lambda match: _env_var_call(*calls[int(match[1])]), value)
    used = [calls[int(index)] for index in _MARKERS.findall(value)]
    for name, default in used:
        if default is not None:
            into.append(
                doc.diagnostic(
                    key_path,
                    f"env_var('{name}', {default!r}): prefect.yaml gets {_env_reference(name)}, without the default",
                    f"set {name} where `prefect deploy` runs",
                    severity="warning",
                )
            )
    if key_path[2] != "image":
        into.append(
            doc.diagnostic(
                key_path,
                f"{'.'.join(map(str, key_path))} reads {', '.join(sorted({n for n, _ in used}))}: "
                "`prefect deploy` resolves it from its environment and stores it in the deployment",
                "put secrets in job_variables.env, which is resolved where the run happens "
                "(or, in a pull step, a Prefect Secret block: {{ '{{ prefect.blocks.secret.NAME }}' }})",
                severity="warning",
            )
        )
    return _MARKERS.sub(lambda match: _env_reference(calls[int(match[1])][0]), value)


def _env_var_call(name: str, default: Any) -> str:
    """Mage's template text for the call, for pull_steps.py to render at run time."""
    arguments = [name] if default is None else [name, default]
    return "{{ env_var(" + ", ".join(json.dumps(argument) for argument in arguments) + ") }}"
