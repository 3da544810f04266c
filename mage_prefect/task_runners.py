"""The task runner of a pipeline's flow (the project's `mage_prefect.task_runner`): Prefect's thread
pool, or a Dask cluster (prefect-dask) or Ray cluster (prefect-ray) whose worker processes run the
blocks: a local one started with the run, or the one at `address`."""

from __future__ import annotations

import functools
import importlib
import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from .project.contract import TaskRunnerSettings
from .project.errors import InvalidRequest

EXTRAS = {"dask": ("prefect_dask", "DaskTaskRunner"), "ray": ("prefect_ray", "RayTaskRunner")}


def task_runner(settings: TaskRunnerSettings, block_run_limit: int | None) -> TaskRunner:
    """The runner `settings` name. A local cluster has one single-threaded worker process per core
    (or `workers`), at most the pipeline's block_run_limit; a remote cluster's size is its own."""
    if settings.type == "threads":
        return ThreadPoolTaskRunner(max_workers=block_run_limit)
    runner_class = _runner_class(settings.type)
    workers = min(settings.workers or os.cpu_count() or 1, block_run_limit or 1 << 16)
    if settings.type == "dask":
        runner_class = _submitting_lightly(runner_class)
        if settings.address:
            return runner_class(address=settings.address)
        _one_block_per_worker()
        cluster = {
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "scheduler_kwargs": {"allowed_failures": 0},  # Dask's default reruns it on up to 3 more workers
        }
        return runner_class(cluster_kwargs=cluster)
    runner_class = _running_once(runner_class)
    if settings.address:
        return runner_class(address=settings.address)
    # "local": a new instance, even where a Ray cluster runs on this machine (which ray.init() would join)
    return runner_class(address="local", init_kwargs={"num_cpus": workers, "include_dashboard": False})


@functools.cache  # one class per process, not one per flow built
def _submitting_lightly(dask_runner: type[TaskRunner]) -> type[TaskRunner]:
    """prefect-dask's runner, without two costs per submitted block run that a fan-out to 1,000
    children pays 1,000 times: Dask hashing every argument for a key (the task run id makes each one
    unique already) and Prefect serializing the whole run context (_serialize_context_once_per_run)."""
    _serialize_context_once_per_run(importlib.import_module("prefect_dask.client"))

    class DaskTaskRunner(dask_runner):
        def submit(self, task, parameters, wait_for=None, dependencies=None):
            if not self._started:
                raise RuntimeError("The task runner must be started before submitting work.")
            future = self.client.submit(
                task,
                parameters=self._optimize_futures(parameters),
                wait_for=self._optimize_futures(wait_for) if wait_for else None,
                dependencies=dependencies,
                return_type="state",
                pure=False,
            )
            return self._wrapped(future)

        @staticmethod
        def _wrapped(future):
            from prefect_dask.task_runners import PrefectDaskFuture

            return PrefectDaskFuture(wrapped_future=future, task_run_id=future.task_run_id)

    return DaskTaskRunner


def _serialize_context_once_per_run(runner_module) -> None:
    """The runner module's `serialize_context` (Prefect's, called for every task it submits) made to
    serialize the run's contexts once, and only each task's asset context per task: Prefect's
    settings alone take ~70 ms to serialize, the same each time within a flow run."""
    import prefect.context as contexts

    original, last = contexts.serialize_context, {}

    def serialize_context(asset_ctx_kwargs=None):
        current = tuple(  # what is set (`get()` makes a new default where nothing is)
            variable.get(None)
            for variable in (
                contexts.EngineContext.__var__,
                contexts.TaskRunContext.__var__,
                contexts.TagsContext.__var__,
                contexts.SettingsContext.__var__,
                contexts._deployment_id,
                contexts._deployment_parameters,
            )
        )
        if last.get("contexts") is None or any(a is not b for a, b in zip(current, last["contexts"])):
            last["contexts"], last["serialized"] = current, original()  # holds them: no id reused
        asset = contexts.AssetContext.from_task_and_inputs(**asset_ctx_kwargs).serialize() if asset_ctx_kwargs else {}
        return {**last["serialized"], "asset_context": asset}

    runner_module.serialize_context = serialize_context


@functools.cache  # one class per process, not one per flow built
def _running_once(ray_runner: type[TaskRunner]) -> type[TaskRunner]:
    """prefect-ray's runner, with a block whose worker process dies failing at once (Ray's default
    reruns a task up to 3 times): retries are the block's own (`retry_config`); the run's context
    serialized once (_serialize_context_once_per_run)."""
    from prefect_ray.context import remote_options

    _serialize_context_once_per_run(importlib.import_module("prefect_ray.task_runners"))

    class RayTaskRunner(ray_runner):
        def submit(self, *args, **kwargs):
            with remote_options(max_retries=0):
                return super().submit(*args, **kwargs)

    return RayTaskRunner


def _one_block_per_worker() -> None:
    """A local Dask scheduler hands a worker a block only when its thread is free (Dask's default
    queues a second one there): a block whose worker process dies fails alone, at once."""
    import dask

    dask.config.set({"distributed.scheduler.worker-saturation": 1.0, "distributed.worker.profile.enabled": False})


def _runner_class(kind: str) -> type[TaskRunner]:
    module, name = EXTRAS[kind]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise InvalidRequest(
            f"mage_prefect.task_runner is '{kind}', which needs {module.replace('_', '-')} ({exc}); "
            f"install it with `pip install 'mage-prefect[{kind}]'`, or run on threads (`--task-runner threads`)"
        ) from None
