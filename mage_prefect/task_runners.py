"""The task runner of a pipeline's flow (the project's `mage_prefect.task_runner`): Prefect's thread
pool, or a Dask cluster (prefect-dask) or Ray cluster (prefect-ray) whose worker processes run the
blocks: a local one started with the run, or the one at `address`."""

from __future__ import annotations

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


def _running_once(ray_runner: type[TaskRunner]) -> type[TaskRunner]:
    """prefect-ray's runner, with a block whose worker process dies failing at once (Ray's default
    reruns a task up to 3 times): retries are the block's own (`retry_config`)."""
    from prefect_ray.context import remote_options

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
