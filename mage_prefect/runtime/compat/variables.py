"""`mage_ai.data_preparation.variable_manager`: stored block outputs and pipeline variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ...project.errors import NotFound
from ...project.textfile import write_atomically
from ...project.yamlfile import read_document
from . import ACTIVE


def _run():
    run = ACTIVE.get()
    if run is None:
        raise RuntimeError("mage_ai variable helpers work inside a block run of mage-prefect")
    return run


def _metadata_path(pipeline_uuid: str, repo_path: str | None) -> Path:
    path = Path(repo_path or _run().repo_path) / "pipelines" / pipeline_uuid / "metadata.yaml"
    if not path.is_file():
        raise LookupError(f"no pipeline '{pipeline_uuid}' at {path.parent}")
    return path


def get_variable(
    pipeline_uuid: str,
    block_uuid: str,
    key: str = "output_0",
    partition: str | None = None,
    variable_type: Any = None,
    **kwargs,
) -> Any:
    """A stored block output (`key` = 'output_<i>').

    Deviation: without `partition` (a flow run id) it reads the current run's output when the
    block has one, else the block's latest — Mage reads its notebook location.
    """
    run = _run()
    if run.services is None:
        raise RuntimeError("get_variable reads stored outputs inside a pipeline run of mage-prefect")
    index = int(str(key).rsplit("_", 1)[-1]) if str(key).startswith("output_") else 0
    runs = [partition] if partition else [run.pipeline_run_id, "latest"]
    for candidate in runs:
        try:
            return run.services.outputs(pipeline_uuid, block_uuid, candidate)[index]
        except NotFound:
            continue
    raise NotFound(f"no stored {key} for block '{block_uuid}' of pipeline '{pipeline_uuid}'")


def get_global_variables(
    pipeline_uuid: str, pipeline=None, context_data=None, repo_path: str | None = None, variables_dir=None
) -> dict:
    return _metadata(_metadata_path(pipeline_uuid, repo_path)).get("variables") or {}


def get_global_variable(pipeline_uuid: str, key: str, repo_path: str | None = None) -> Any:
    return get_global_variables(pipeline_uuid, repo_path=repo_path).get(key)


def set_global_variable(pipeline_uuid: str, key: str, value: Any, repo_path: str | None = None) -> None:
    """Persist a pipeline variable into the pipeline's metadata.yaml, as Mage does."""
    _update_variables(pipeline_uuid, repo_path, lambda variables: variables.__setitem__(key, value))


def delete_global_variable(pipeline_uuid: str, key: str, repo_path: str | None = None) -> None:
    _update_variables(pipeline_uuid, repo_path, lambda variables: variables.pop(key, None))


def _update_variables(pipeline_uuid: str, repo_path: str | None, change) -> None:
    path = _metadata_path(pipeline_uuid, repo_path)
    data = _metadata(path)
    variables = data.get("variables") or {}
    change(variables)
    data["variables"] = variables
    write_atomically(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode())


def _metadata(path: Path) -> dict:
    """A pipeline's metadata.yaml, read as the loader reads it (bounded); a problem raises."""
    problems: list = []
    document = read_document(path, problems)
    if document is None:
        raise ValueError(problems[0].format())
    return document.data if isinstance(document.data, dict) else {}
