"""MLflow tracking wired to Prefect runs: one parent MLflow run per flow run, one nested run per task.

Use it on any Prefect task (`@mlflow_task(...)`, or `with mlflow_task(...):` inside one), or turn it
on for whole Mage pipelines with `mage_prefect: {mlflow: {...}}` in the project's metadata.yaml.
MLflow's active run is per thread, so each task's nested run is started in the task's own thread:
`mlflow.log_metric` in block code lands in that block's run, and parallel blocks never mix.
`import mage_prefect` never imports mlflow; this module imports it when used.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import inspect
import logging
import numbers
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from .redaction import redact
from .runtime.execute import THREAD_INHERITANCE

PROMOTED_EVENT = "mage_prefect.model.promoted"
PARENT_TAG = "prefect.flow_run_id"
MAX_PARAM_LENGTH = 6000


@dataclass(frozen=True)
class Tracking:
    """Where and what to track: the MLflow tracking URI, the experiment, which blocks."""

    tracking_uri: str | None = None
    experiment: str | None = None
    blocks: tuple[str, ...] | None = None  # None: every block
    autolog: bool = True
    log_params: bool = True
    artifact_location: str | None = None

    def tracks(self, block_uuid: str) -> bool:
        return self.blocks is None or block_uuid in self.blocks

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.tracking_uri)

    def experiment_id(self, default_name: str) -> str:
        name = self.experiment or default_name
        client = self.client()
        with _LOCK:
            found = client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            return client.create_experiment(name, artifact_location=self.artifact_location)


def project_tracking(project, pipeline) -> Tracking | None:
    """The `mage_prefect.mlflow` section of a Mage project, or None when tracking is off."""
    section = project.settings.tracking
    if section is None:
        return None
    store = project.root / ".mage_prefect"
    uri = section.tracking_uri or _environment_uri() or f"sqlite:///{store / 'mlflow.db'}"
    if uri.startswith("sqlite:"):  # its "Creating initial MLflow database tables..." is not the user's business
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    local_artifacts = None if uri.startswith("http") else (store / "mlartifacts").as_uri()
    return Tracking(
        tracking_uri=uri,
        experiment=section.experiment or pipeline.key,
        blocks=tuple(section.blocks) if section.blocks else None,
        autolog=section.autolog,
        log_params=section.log_params,
        artifact_location=section.artifact_location or local_artifacts,
    )


def _environment_uri() -> str | None:
    return os.environ.get("MLFLOW_TRACKING_URI")


# -- the parent run of a flow run -------------------------------------------------------------------
_LOCK = threading.RLock()
_PARENTS: dict[str, str] = {}  # flow run id → MLflow run id, for runs opened in this process
_OPENED_BY_TASKS: dict[str, Tracking] = {}  # parents no flow wrapper will end: ended at exit


def _prefect_tags(kind: str) -> dict[str, str]:
    from prefect.runtime import flow_run, task_run

    from .prefect_context import current_deployment_id

    tags = {
        "prefect.flow_run_id": str(flow_run.id),
        "prefect.flow_run_name": str(flow_run.name),
        "prefect.flow_name": str(flow_run.flow_name),
        "prefect.deployment_id": str(current_deployment_id()),
    }
    if kind == "task":
        tags.update(
            {
                "prefect.task_run_id": str(task_run.id),
                "prefect.task_run_name": str(task_run.name),
                "prefect.run_count": str(task_run.run_count),
            }
        )
    return tags


def parent_run_id(tracking: Tracking, opened_by_task: bool = False) -> str:
    """The MLflow run of the current flow run: found by tag (any process), else created."""
    from prefect.runtime import flow_run

    flow_run_id = str(flow_run.id)
    with _LOCK:
        if flow_run_id in _PARENTS:
            return _PARENTS[flow_run_id]
        experiment_id = tracking.experiment_id(str(flow_run.flow_name))
        client = tracking.client()
        found = client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{flow_run_id}'", max_results=10
        )
        parents = [run for run in found if "mlflow.parentRunId" not in run.data.tags]
        if parents:
            run_id = parents[0].info.run_id
        else:
            run_id = client.create_run(
                experiment_id, run_name=str(flow_run.name), tags={**_prefect_tags("flow"), "mage_prefect.kind": "flow"}
            ).info.run_id
            if opened_by_task:
                _OPENED_BY_TASKS[run_id] = tracking
        _PARENTS[flow_run_id] = run_id
        return run_id


@dataclass
class ParentRun:
    run_id: str
    failed: bool = False  # set it when the flow ends in a Failed state without raising


@contextmanager
def flow_run(tracking: Tracking, params: dict[str, Any] | None = None) -> Iterator[ParentRun]:
    """Open the flow run's parent MLflow run for the body; it ends FAILED if the body raises or
    sets `.failed`, FINISHED otherwise."""
    from prefect.runtime import flow_run as prefect_flow_run

    parent = ParentRun(parent_run_id(tracking))
    client = tracking.client()
    if tracking.log_params and params:
        _log_params(client, parent.run_id, params)
    _link_artifact(tracking, parent.run_id, "flow")
    try:
        yield parent
    except BaseException:
        parent.failed = True
        raise
    finally:
        client.set_terminated(
            parent.run_id, RunStatus.to_string(RunStatus.FAILED if parent.failed else RunStatus.FINISHED)
        )
        with _LOCK:
            _PARENTS.pop(str(prefect_flow_run.id), None)


# -- one nested run per task ------------------------------------------------------------------------
@contextmanager
def task_run(
    tracking: Tracking,
    name: str,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    nested: bool = True,
) -> Iterator[Any]:
    """The task's MLflow run, nested under the flow run's (unless `nested=False`), active in this
    thread for the body; FAILED if the body raises."""
    from prefect.runtime import flow_run as prefect_flow_run

    client = tracking.client()
    parent = parent_run_id(tracking, opened_by_task=True) if nested else None
    experiment_id = (
        client.get_run(parent).info.experiment_id
        if parent
        else tracking.experiment_id(str(prefect_flow_run.flow_name or "tasks"))
    )
    if tracking.tracking_uri:
        mlflow.set_tracking_uri(tracking.tracking_uri)
    run = mlflow.start_run(
        experiment_id=experiment_id,
        run_name=name,
        parent_run_id=parent,
        nested=bool(parent),
        tags={**_prefect_tags("task"), **{name: redact(str(value)) for name, value in (tags or {}).items()}},
    )
    try:
        if tracking.autolog:
            _autolog()
        if tracking.log_params and params:
            _log_params(client, run.info.run_id, params)
        _link_artifact(tracking, run.info.run_id, name)
        yield run
    except BaseException:
        mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
        raise
    else:
        mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))


def log_result_metrics(value: Any, name: str) -> None:
    """Numbers a task returns become metrics: a dict of numbers, or one number named after the task."""
    if isinstance(value, dict):
        metrics = {str(k): float(v) for k, v in value.items() if _is_number(v)}
    elif _is_number(value):
        metrics = {name: float(value)}
    else:
        return
    if metrics:
        mlflow.log_metrics({_metric_name(k): v for k, v in metrics.items()})


class mlflow_task:
    """`@mlflow_task(experiment=..., autolog=True, log_params=..., artifacts=[...])` (or bare `@mlflow_task`)
    on a Prefect task or block function, or `with mlflow_task(...):` inside one: a nested MLflow run under
    the flow run's parent run, tagged with the Prefect and Mage ids, closed FAILED when the task fails.
    Every call of a decorated function, and every `with`, has its own run: concurrent calls (threads,
    Prefect's thread pool) each close exactly the run they opened."""

    # (instance, open run) pairs entered with `with` and not exited yet: per thread and per asyncio task
    _entered: contextvars.ContextVar[tuple[tuple[mlflow_task, Any], ...]] = contextvars.ContextVar(
        "mage_prefect_mlflow_task_entered", default=()
    )

    def __new__(cls, fn: Callable | None = None, **options: Any):
        self = super().__new__(cls)
        if fn is None:
            return self
        # bare `@mlflow_task` (or `mlflow_task(fn, ...)`): the decorated function itself, not an instance
        self.__init__(**options)
        return self(fn)

    def __init__(
        self,
        fn: Callable | None = None,
        *,
        experiment: str | None = None,
        tracking_uri: str | None = None,
        autolog: bool = True,
        log_params: dict[str, Any] | bool | None = None,
        nested: bool = True,
        artifacts: tuple[str | Path, ...] | list[str | Path] = (),
        name: str | None = None,
    ):
        self.tracking = Tracking(
            tracking_uri=tracking_uri or _environment_uri(),
            experiment=experiment,
            autolog=autolog,
            log_params=log_params is not False,
        )
        self.params = log_params if isinstance(log_params, dict) else None
        self.artifacts, self.name, self.nested = tuple(artifacts), name, nested

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._run():  # a fresh run context per call, shared with no other call
                result = fn(*args, **kwargs)
                log_result_metrics(result, self.name or fn.__name__)
                return result

        return wrapper

    @contextmanager
    def _run(self) -> Iterator[Any]:
        """One run of this task: opened in the calling thread, the artifacts logged if the body succeeds."""
        from prefect.runtime import task_run as prefect_task_run

        name = self.name or str(prefect_task_run.name or "task")
        with task_run(self.tracking, name, self.params, nested=self.nested) as run:
            yield run
            for path in self.artifacts:
                mlflow.log_artifact(str(path))

    def __enter__(self):
        context = self._run()
        run = context.__enter__()
        self._entered.set((*self._entered.get(), (self, context)))
        return run

    def __exit__(self, *exc_info):
        entered = self._entered.get()
        mine = [i for i, (owner, _) in enumerate(entered) if owner is self]
        if not mine:
            raise RuntimeError("mlflow_task exited in a thread or task where it was not entered")
        self._entered.set(entered[: mine[-1]] + entered[mine[-1] + 1 :])
        return entered[mine[-1]][1].__exit__(*exc_info)


def mlflow_flow(
    fn: Callable | None = None,
    *,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    log_params: bool = True,
):
    """`@flow` over `@mlflow_flow(experiment=...)`: the flow run's parent MLflow run, opened for the
    whole flow and ended FINISHED, or FAILED when the flow raises or returns a Failed state."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            tracking = Tracking(tracking_uri=tracking_uri or _environment_uri(), experiment=experiment)
            bound = inspect.signature(function).bind(*args, **kwargs)
            bound.apply_defaults()
            with flow_run(tracking, dict(bound.arguments) if log_params else None) as parent:
                result = function(*args, **kwargs)
                parent.failed = bool(getattr(result, "is_failed", lambda: False)())
                return result

        return wrapper

    return decorate(fn) if fn is not None else decorate


# -- model registry -----------------------------------------------------------------------------------
def register_model(model: Any, name: str, *, flavor: str = "sklearn", **log_options) -> str:
    """Log `model` in the active run and register it as a new version of `name`; returns the version."""
    logger = getattr(mlflow, flavor)
    info = logger.log_model(model, name="model", registered_model_name=name, **log_options)
    return str(info.registered_model_version)


def promote_if_better(
    name: str,
    version: str | int,
    metric: str,
    value: float,
    *,
    alias: str = "champion",
    greater_is_better: bool = True,
    tracking_uri: str | None = None,
) -> bool:
    """Give `version` the alias (e.g. champion) if `metric` beats the current holder's; on promotion,
    emit the Prefect event `mage_prefect.model.promoted` (resource `mage_prefect.model.<name>`)."""
    client = MlflowClient(tracking_uri=tracking_uri or mlflow.get_tracking_uri())
    tag = f"metric.{metric}"
    try:
        champion = client.get_model_version_by_alias(name, alias)
        best = float(champion.tags.get(tag, "nan"))
    except mlflow.exceptions.MlflowException:
        champion, best = None, None
    client.set_model_version_tag(name, str(version), tag, str(value))
    better = best is None or best != best or (value > best if greater_is_better else value < best)
    if not better:
        return False
    client.set_registered_model_alias(name, alias, str(version))
    _emit_promoted(name, str(version), alias, metric, value, champion.version if champion else None)
    return True


def _emit_promoted(name: str, version: str, alias: str, metric: str, value: float, previous: str | None) -> None:
    from prefect.events import emit_event

    emit_event(
        event=PROMOTED_EVENT,
        resource={"prefect.resource.id": f"mage_prefect.model.{name}", "mage_prefect.model": name},
        payload={
            "variables": {"model_name": name, "model_version": version, "model_alias": alias},
            "metric": metric,
            "value": value,
            "previous_version": previous,
        },
    )


# -- helpers ----------------------------------------------------------------------------------------
_AUTOLOGGED = False


def _inherit_active_run() -> Callable[[], Any]:
    """What makes the task thread's active MLflow run active in a block's own thread too (MLflow
    keeps it per thread): else autolog there would open a run of its own, in the Default experiment."""
    active = mlflow.active_run()
    if active is None:
        return lambda: None
    run_id = active.info.run_id
    return lambda: mlflow.start_run(run_id=run_id)


THREAD_INHERITANCE.append(_inherit_active_run)


def _autolog() -> None:
    global _AUTOLOGGED
    with _LOCK:
        if not _AUTOLOGGED:
            mlflow.autolog(log_models=False, silent=True)
            # MLflow's sklearn autolog calls log_loss with the keyword scikit-learn 1.9 renamed; its
            # FutureWarning (printed on every training) is MLflow's to fix, not the user's
            warnings.filterwarnings("ignore", message="`y_pred` was renamed to `y_proba`", category=FutureWarning)
            _AUTOLOGGED = True


def _log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    flat = _flatten(params)
    client.log_batch(run_id, params=[Param(k, redact(str(v))[:MAX_PARAM_LENGTH]) for k, v in flat.items()])


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == value


def _metric_name(name: str) -> str:
    return re.sub(r"[^\w\-. /]", "_", name)


def _link_artifact(tracking: Tracking, run_id: str, what: str) -> None:
    """A Prefect link artifact on the current flow or task run, pointing at its MLflow run."""
    from prefect.artifacts import create_link_artifact

    uri = tracking.tracking_uri or mlflow.get_tracking_uri()
    experiment_id = tracking.client().get_run(run_id).info.experiment_id
    path = f"#/experiments/{experiment_id}/runs/{run_id}"
    link = f"{uri.rstrip('/')}/{path}" if uri.startswith("http") else f"{uri}{path}"
    create_link_artifact(
        link=link,
        link_text=f"MLflow run {run_id}",
        description=f"MLflow run of {what} (open with `mlflow ui --backend-store-uri {uri}` when the store is local)",
    )


@atexit.register
def _end_parents_opened_by_tasks() -> None:
    """Parent runs opened by `mlflow_task` without a flow-level wrapper: never leave them open."""
    for run_id, tracking in list(_OPENED_BY_TASKS.items()):
        try:
            if tracking.client().get_run(run_id).info.status == "RUNNING":
                tracking.client().set_terminated(run_id)
        except Exception:
            pass
