"""dbt blocks the Mage way (Mage 0.9.80's DBTBlockSQL / DBTBlockYAML): the project's profiles.yml
rendered with the run's variables into a folder of its own, the run's variables as `--vars`, a
SQL block's model built (`dbt build --select <model>`, `run` with `dbt.disable_tests`) and its rows
read back with `dbt show` as the block's output; a YAML block's command run with its arguments."""

from __future__ import annotations

import csv
import json
import re
import shlex
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import yaml

from ..project.dbt import PROJECT_FILES, dbt_command, dbt_project_dir
from ..project.models import Block
from ..project.templating import render
from .compat.secrets import get_secret_value

# Runs one dbt command (its CLI arguments, the project and profiles folders they name) and returns
# dbt's result (a dbtRunnerResult).
DbtInvoker = Callable[[list[str], Path, Path], Any]
VARIABLE_TYPES = (str, int, bool, float, dict, list, datetime)
ONE_DBT_AT_A_TIME = threading.Lock()
SOURCE = re.compile(r"\{\{[ ]*source\(['\"]+([\w]+)['\"]+[,]+[ ]*['\"]+([\w]+)['\"]+\)[ ]*\}\}")  # Mage's


def plain_dbt_invoker(args: list[str], project_dir: Path, profiles_dir: Path) -> Any:
    """dbt's own programmatic runner (where no Prefect integration is given)."""
    from dbt.cli.main import dbtRunner

    return dbtRunner().invoke(args)


def run_dbt_block(
    block: Block,
    kwargs: dict[str, Any],
    root: Path,
    invoke: DbtInvoker | None,
    logger,
    rows: bool = True,
    upstreams: Sequence[tuple[Block, list[Any]]] = (),
) -> list:
    """Run the dbt block; a SQL block's output is its model's rows when `rows` (as Mage, which
    reads them only for a downstream block that is not dbt), else None; a YAML block has none.
    `upstreams`: the upstream blocks with their outputs (the model may read them as sources).
    One dbt command at a time in a process: dbt's programmatic runner is not safe to run twice at once."""
    project = dbt_project_dir(block, root)
    if project is None:
        raise FileNotFoundError(f"dbt block '{block.uuid}' has no dbt project (`mage-prefect validate` says why)")
    with ONE_DBT_AT_A_TIME, tempfile.TemporaryDirectory(prefix="mage-prefect-dbt-") as profiles_dir:
        dbt = partial(_invoke, invoke or plain_dbt_invoker, block, project, Path(profiles_dir))
        _render_profiles(project, Path(profiles_dir), kwargs)
        where, profiles = ["--project-dir", str(project)], ["--profiles-dir", profiles_dir]
        target, flags = _target(block, kwargs), _flags(block, kwargs)
        if any((project / name).is_file() for name in ("packages.yml", "dependencies.yml")):
            _deps(dbt, [*where, *profiles], block, logger)
        if block.language == "yaml":
            arguments, given = _split_vars(shlex.split(render(block_text(block), _names(kwargs))), kwargs)
            dbt([dbt_command(block), *arguments, *where, *flags, *given, *target, *profiles])
            return []
        pipeline, vars_json = kwargs["pipeline_uuid"], variables_json(kwargs)
        for name, frame in _source_frames(block, project, pipeline, upstreams, logger):
            seeding = [*where, *target, "--select", name, "--vars", vars_json, *profiles]  # Mage's: no flags
            _seed(dbt, project, pipeline, name, frame, seeding)
        select = [*where, *flags, "--select", block.file.stem, "--vars", vars_json, *target, *profiles]
        dbt([dbt_command(block), *select])
        if not rows:
            return [None]
        logger.info(f"dbt block {block.uuid}: built model {block.file.stem}, reading its rows")
        return [_frame(dbt(["show", *select, "--limit", "-1"]))]


def _deps(dbt: Callable[[list[str]], Any], args: list[str], block: Block, logger) -> None:
    """`dbt deps` for a project with packages; as in Mage, its failure does not stop the block
    (packages already in dbt_packages/ serve an offline worker)."""
    try:
        dbt(["deps", *args])
    except RuntimeError as exc:
        logger.warning(f"dbt block {block.uuid}: {exc}")


def _split_vars(arguments: list[str], kwargs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A YAML block's arguments without its `--vars`, and the `--vars` to pass: its own JSON merged
    over the run's variables, as Mage merges them."""
    merged = json.loads(variables_json(kwargs))
    if "--vars" in arguments[:-1]:
        at = arguments.index("--vars")
        try:
            own = json.loads(arguments[at + 1])
        except ValueError:
            raise ValueError(f"--vars {arguments[at + 1]!r} in the block's arguments is not JSON") from None
        merged.update(own if isinstance(own, dict) else {})
        arguments = [*arguments[:at], *arguments[at + 2 :]]
    return arguments, ["--vars", json.dumps(merged)]


def _source_frames(block: Block, project: Path, pipeline: str, upstreams, logger) -> Iterator[tuple[str, Any]]:
    """Mage's upstream tables: each non-dbt upstream the model reads as `{{ source('mage_<dbt
    project folder>', '<pipeline>_<block>') }}`, its first output as a DataFrame, by seed name."""
    import pandas as pd

    sources = set(SOURCE.findall(block_text(block)))
    for upstream, outputs in upstreams:
        if upstream.type == "dbt" or (f"mage_{project.stem}", f"{pipeline}_{upstream.uuid}") not in sources:
            continue
        output = outputs[0] if outputs else None
        if isinstance(output, dict):
            output = pd.DataFrame([output])
        elif isinstance(output, list):
            output = pd.DataFrame(output)
        if not isinstance(output, pd.DataFrame) or output.empty:
            logger.info("No data for dbt to materialize.")
            continue
        yield f"mage_{pipeline}_{upstream.uuid}", output


def _seed(dbt: Callable[[list[str]], Any], project: Path, pipeline: str, name: str, frame, args: list[str]) -> None:
    """The frame as seed `name` (a CSV in the project's first seed path, loaded with `dbt seed
    --full-refresh`, then removed), as Mage's DBTBlock.materialize_df does."""
    file = next(project / name for name in PROJECT_FILES if (project / name).is_file())
    settings = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    path = project / (settings.get("seed-paths") or ["seeds"])[0] / f"mage_{pipeline}" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, quoting=csv.QUOTE_NONNUMERIC, index=False)
    try:
        dbt(["seed", *args, "--full-refresh"])
    finally:
        path.unlink()


def block_text(block: Block) -> str:
    return block.content if block.content is not None else block.file.read_text(encoding="utf-8")


def _names(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "variables": kwargs.get, "mage_secret_var": get_secret_value}


def _render_profiles(project: Path, into: Path, kwargs: dict[str, Any]) -> None:
    """Mage's Profiles: profiles.yml rendered with Jinja (`env_var`, `variables`, secrets)."""
    source = project / "profiles.yml"
    try:
        rendered = render(source.read_text(encoding="utf-8"), _names(kwargs))
    except jinja2.TemplateError as exc:
        raise ValueError(f"{source}: {exc} (Mage renders profiles.yml with its own Jinja, before dbt)") from None
    (into / "profiles.yml").write_text(rendered, encoding="utf-8")


def variables_json(kwargs: dict[str, Any]) -> str:
    """Mage's `--vars`: the run's variables of plain types (datetimes as ISO text)."""
    plain = {
        name: value
        for name, value in kwargs.items()
        if (type(value) in VARIABLE_TYPES or isinstance(value, datetime))
        and name != "__mage_variables"
        and value is not None  # Prefect's dates are a datetime subclass
    }
    return json.dumps(plain, default=lambda value: value.isoformat() if isinstance(value, datetime) else str(value))


def _flags(block: Block, kwargs: dict[str, Any]) -> list[str]:
    """Runtime flags for this block (`__mage_variables.blocks.<uuid>.configuration.flags`)."""
    overrides = ((kwargs.get("__mage_variables") or {}).get("blocks") or {}).get(block.uuid) or {}
    flags = (overrides.get("configuration") or {}).get("flags") or []
    return [flags] if isinstance(flags, str) else list(flags)


def _target(block: Block, kwargs: dict[str, Any]) -> list[str]:
    target = block.configuration.get("dbt_profile_target")
    return ["--target", render(str(target), _names(kwargs))] if target else []


def _invoke(invoke: DbtInvoker, block: Block, project: Path, profiles_dir: Path, args: list[str]) -> Any:
    result = invoke(args, project, profiles_dir)
    if not result.success:
        failures = _failures(result)
        raise RuntimeError(f"dbt {args[0]} of block '{block.uuid}' failed: {failures or result.exception}")
    return result


def _failures(result: Any) -> str:
    """The messages of the nodes dbt reports as failed (Mage reports only `str(exception)`)."""
    nodes = getattr(getattr(result, "result", None), "results", None) or []
    return "; ".join(
        f"{getattr(node.node, 'name', '?')}: {node.message}"
        for node in nodes
        if str(getattr(node, "status", "")) in ("error", "fail")
    )


def _frame(result: Any):
    """Mage's DBTCli.to_pandas: the rows of the first shown node as a DataFrame."""
    import pandas as pd

    try:
        table = result.result.results[0].agate_table
    except (AttributeError, IndexError, TypeError):
        return pd.DataFrame()
    return pd.DataFrame([row.dict() for row in table.rows])
