"""mage-prefect's own settings of a project: the `mage_prefect:` section of its metadata.yaml
(contract.MagePrefectSettings), with the environment's overrides, read once when the project loads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from .contract import MagePrefectSettings
from .errors import Diagnostic


def with_environment(
    settings: MagePrefectSettings, metadata: Path, into: list[Diagnostic], environ: Mapping[str, str] = os.environ
) -> MagePrefectSettings:
    """`settings` with each set MAGE_PREFECT_* variable (MagePrefectSettings.ENVIRONMENT) in place of
    its key; a value is read as YAML (`5` is a number, `{type: dask, workers: 4}` a mapping). A
    value the setting cannot take is an error in `into`, and the file's value stays."""
    overrides = {}
    for name, variable in MagePrefectSettings.ENVIRONMENT.items():
        raw = environ.get(variable)
        if not raw:
            continue
        value = _scalar(raw)
        try:
            validated = MagePrefectSettings.model_validate({name: value})
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            into.append(
                Diagnostic(
                    file=metadata,
                    key_path=f"mage_prefect.{name}",
                    message=f"the environment variable {variable}={raw!r} cannot be mage_prefect.{name}: {problem}",
                    hint=f"fix or unset {variable}",
                )
            )
            continue
        overrides[name] = getattr(validated, name)  # `{type: dask}` as the setting's model
    return settings.model_copy(update=overrides) if overrides else settings


def _scalar(raw: str):
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    return value if isinstance(value, (int, float, str, dict)) and not isinstance(value, bool) else raw
