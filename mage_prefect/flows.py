"""Pipeline → Prefect Flow: the only place that builds and drives pipeline flows.

`build_flow` makes a `FlowPlan` once (the blocks in order, their tasks from tasks.py, how they may
run) and a Prefect Flow whose every call is one `PipelineRun`: the run's context, then its block
tasks submitted (fanned out for dynamic blocks) or called in order, then the outputs published.
"""

from __future__ import annotations

import json
import queue
from collections import Counter
from contextlib import chdir
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from prefect import Flow, Task
from prefect.logging import get_run_logger
from prefect.runtime import deployment, flow_run
from prefect.states import Cancelled, Completed, Failed, State

from .artifacts import send_outputs_artifact
from .handoff import BlockResult, DynamicItem, Reduced, Whole, dynamic_items
from .notifications import RunFacts, notifying
from .prefect_context import (
    auto_scheduled,
    current_deployment_id,
    ended_state,
    is_subflow,
    mark_crashed,
    run_url,
    state_value,
)
from .project.errors import InvalidRequest
from .project.graph import dynamic_children, fanned_upstreams, is_chain, partial_pipeline, topological_order
from .project.models import Block, Pipeline, Project, Trigger
from .project.parameters import as_utc, flow_parameters, flow_signature, parameters_of_call
from .project.validate import load_project
from .redaction import install_log_filter
from .results.store import LATEST, OutputStore, results_location
from .runtime.block_code import pipeline_version
from .runtime.context import RunContext, RunOrigin, event_payload, run_context
from .runtime.fingerprints import Signatures
from .task_runners import task_runner
from .tasks import CACHED, SKIPPED, block_task, product_task, reused_task
from .zombie_runs import stop_heartbeats_at_once

UPSTREAM_FAILED = "UpstreamFailed"  # a block not run because an upstream did not complete


def entrypoint_flow(
    project_dir: str | Path, pipeline_key: str, module: str, attribute: str, timeout_seconds: float | None = None
) -> Flow:
    """The flow of a compiled entrypoint module: loadable as `<module file>:<attribute>`."""
    return build_flow(
        load_project(project_dir, pipeline_key),
        pipeline_key,
        timeout_seconds=timeout_seconds,
        entrypoint=(module, attribute),
    )


def build_flow(
    project: Project,
    pipeline_key: str,
    *,
    results: str | Path | None = None,
    timeout_seconds: float | None = None,
    entrypoint: tuple[str, str] | None = None,
    execute: set[str] | None = None,
    reuse_run: str = LATEST,
    reuse_all: bool = False,
) -> Flow:
    """A Prefect flow that runs the pipeline's blocks as tasks, as a Mage trigger run would.

    With `execute`, only those blocks run; the upstreams they need (with `reuse_all`, every other
    block) are not run but hand over their stored outputs of run `reuse_run` (default: each block's
    latest), as Cached task runs.
    """
    plan = FlowPlan.of(project, project.pipeline(pipeline_key), results, execute, reuse_run, reuse_all)
    stop_heartbeats_at_once()

    def run_pipeline(**parameters: Any) -> State:
        return PipelineRun.start(plan, parameters)

    pipeline = plan.pipeline
    run_pipeline.__signature__ = flow_signature(pipeline).replace(return_annotation=State)
    run_pipeline.__name__ = run_pipeline.__qualname__ = pipeline.flow_name.replace("-", "_")
    if entrypoint:  # factory-built flows otherwise get an unloadable `flows.py:build_flow.<locals>…` entrypoint
        run_pipeline.__module__, run_pipeline.__qualname__ = entrypoint
    return PipelineFlow(
        fn=run_pipeline,
        name=pipeline.flow_name,
        description=pipeline.description or pipeline.name or f"Mage pipeline {pipeline.key}",
        version=pipeline_version(pipeline),
        timeout_seconds=timeout_seconds,
        task_runner=task_runner(plan.project.settings.runner, plan.block_run_limit),
        persist_result=False,
        validate_parameters=True,
    )


class PipelineFlow(Flow):
    """A pipeline's Prefect flow. Its parameters (Mage's variables) are JSON values already, so
    serialized as such, not through Prefect's FastAPI encoder (importing FastAPI is 0.1–0.2 s a run)."""

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            return json.loads(json.dumps(parameters, allow_nan=False))
        except (TypeError, ValueError):  # e.g. a datetime: as Prefect serializes it
            return super().serialize_parameters(parameters)


def run_flow(
    project: Project,
    pipeline_key: str,
    parameters: dict[str, Any],
    *,
    results: str | Path | None = None,
    execute: set[str] | None = None,
    reuse_run: str = LATEST,
    reuse_all: bool = False,
) -> State:
    """Build the pipeline's flow and run it here with `parameters` (see flow_parameters); its final
    state."""
    flow = flow_to_run(
        project, pipeline_key, parameters, results=results, execute=execute, reuse_run=reuse_run, reuse_all=reuse_all
    )
    return flow(**parameters, return_state=True)


def flow_to_run(project: Project, pipeline_key: str, parameters: dict[str, Any], **options) -> Flow:
    """The flow `run_flow` runs with `parameters`, built before any call to the Prefect API (a run's
    server may still be starting). A bad event payload is refused here, before a flow run starts."""
    event_payload(parameters.get("runtime_variables") or {})
    return build_flow(project, pipeline_key, **options)


@dataclass(frozen=True)
class FlowPlan:
    """What every run of one pipeline flow shares: the blocks in run order, their tasks, and how the
    blocks may run (one after the other, or concurrently up to the pipeline's block_run_limit)."""

    project: Project
    pipeline: Pipeline
    store: OutputStore
    order: list[Block]
    tasks: dict[str, Task]
    children: set[str]  # the dynamic children
    sequential: bool
    block_run_limit: int | None
    in_process: bool = True  # the blocks run on threads of this process (else on the workers of a cluster)
    tracking: Any = None  # mlflow.Tracking, when the project's mage_prefect.mlflow turns it on
    resumes: str | None = None  # the run a resume completes (`reuse_all`: every other block is reused)

    @classmethod
    def of(
        cls,
        project: Project,
        pipeline: Pipeline,
        results: str | Path | None,
        execute: set[str] | None,
        reuse_run: str,
        reuse_all: bool,
    ) -> FlowPlan:
        reused: set[str] = set()
        if execute is not None:
            pipeline, reused = partial_pipeline(pipeline, execute, reuse_all)
        store = OutputStore(results_location(project, results))
        order = topological_order(pipeline)
        tracking = _mlflow_tracking(project, pipeline)
        consumers = Counter(uuid for block in order for uuid in block.upstream_blocks)
        signatures = Signatures(project.root, pipeline.repo_path)

        def task(block: Block) -> Task:
            if block.uuid in reused:
                return reused_task(pipeline, block, store, reuse_run)
            if block.type == "global_data_product":
                return product_task(project, pipeline, block, store, lambda key: _run_subflow(project, key, store))
            tracked = tracking if tracking and tracking.tracks(block.uuid) else None
            consumed = None if block.dynamic else consumers[block.uuid]
            return block_task(pipeline, block, store, consumed, tracked, signatures)

        limit = pipeline.concurrency_config.get("block_run_limit")
        return cls(
            project=project,
            pipeline=pipeline,
            store=store,
            order=order,
            tasks={block.uuid: task(block) for block in order},
            children=dynamic_children(pipeline),
            sequential=not any(block.dynamic for block in order) and (limit == 1 or is_chain(pipeline)),
            in_process=project.settings.runner.type == "threads",
            block_run_limit=limit if isinstance(limit, int) and limit > 0 else None,
            tracking=tracking,
            resumes=reuse_run if reuse_all and reuse_run != LATEST else None,
        )


@dataclass
class PipelineRun:
    """One run of a pipeline flow: its context, and the task runs of its blocks."""

    plan: FlowPlan
    context: RunContext
    trigger: Trigger | None = None  # the Mage trigger whose deployment started the run
    runs: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)  # block uuid → [(suffix, future)]
    not_run: dict[str, State] = field(default_factory=dict)  # block uuid → UpstreamFailed

    @classmethod
    def start(cls, plan: FlowPlan, parameters: dict[str, Any]) -> State:
        """Run the pipeline with a flow call's `parameters`; the run's final state."""
        install_log_filter()  # secrets the blocks read are masked in the run's logs
        variables, options = parameters_of_call(parameters)
        trigger_name = deployment.name if current_deployment_id() is not None else None
        trigger = plan.pipeline.trigger_of_deployment(trigger_name) if trigger_name else None
        origin = RunOrigin(str(flow_run.id), flow_run.scheduled_start_time, trigger_name, trigger)
        services = FlowServices(plan.project.root, plan.pipeline.repo_path, plan.store.location)
        context = run_context(plan.project, plan.pipeline, variables, options, origin, plan.store.location, services)
        return cls(plan, context, trigger).run()

    def run(self) -> State:
        """Run the blocks, recorded in the results location as started and ended: a run whose
        process dies stays recorded as started, and the next run of the pipeline marks it Crashed."""
        runs, key, run_id = self.plan.store.runs, self.plan.pipeline.key, self.context.pipeline_run_id
        for dead in runs.dead(key):
            mark_crashed(dead.run_id, "its process died (found when the next run of the pipeline started)")
            runs.ended(key, dead.run_id, "Crashed")
        runs.started(key, run_id)
        state = None
        try:
            state = self._run()
            return state
        finally:
            runs.ended(key, run_id, state.name if state is not None else "Failed")
            if self.plan.resumes and state is not None and state.is_completed():
                runs.resumed(key, self.plan.resumes, by=run_id)

    def _run(self) -> State:
        early = _before_trigger_start(self.trigger, self.context)
        if early is not None:
            return early
        if self.context.trigger_name is None or is_subflow():  # Mage notifies about trigger runs only
            return self._in_project_folder()
        context = self.context
        facts = RunFacts(
            self.plan.pipeline.uuid, context.trigger_name, context.execution_date, run_url(context.pipeline_run_id)
        )
        sla = self.trigger.sla if self.trigger else None
        return notifying(self.plan.pipeline.notification_config, facts, sla, get_run_logger(), self._in_project_folder)

    def _in_project_folder(self) -> State:
        # Blocks run in the folder holding the project, as Mage serves it (`mage start <project>`):
        # relative paths in block code (FileIO, DuckDB files, open()) land where they do in Mage.
        with chdir(self.plan.project.root.parent):
            if self.plan.tracking is None:
                return self._run_blocks()
            from .mlflow import flow_run as mlflow_flow_run

            with mlflow_flow_run(self.plan.tracking, self.context.variables) as parent:
                state = self._run_blocks()
                parent.failed = state.is_failed()
                return state

    def _run_blocks(self) -> State:
        states = self._in_order() if self.plan.sequential else self._concurrently()
        not_run = [
            f"{name} ({state.message.removeprefix('not run: ')})"
            for name, state in states.items()
            if state.name == UPSTREAM_FAILED
        ]
        if not_run:
            get_run_logger().warning(f"blocks not run, as an upstream block did not complete: {'; '.join(not_run)}")
        results = {name: state_value(state) if state.is_completed() else None for name, state in states.items()}
        saved: dict[str, list[str]] = {}
        reused: dict[str, list[str]] = {}
        fingerprints: dict[str, str] = {}
        for name, result in results.items():
            if isinstance(result, BlockResult):
                (reused if states[name].name == CACHED else saved)[result.name] = result.keys
                if result.fingerprint:
                    fingerprints[result.name] = result.fingerprint
        store, run_id = self.plan.store, self.context.pipeline_run_id
        store.publish(self.plan.pipeline.key, run_id, saved, reused, fingerprints)
        pipeline = self.plan.pipeline
        send_outputs_artifact(pipeline.key, states, results, store.location, run_id, get_run_logger(), pipeline.charts)
        return _final_state(states)

    def _concurrently(self) -> dict[str, State]:
        """Submit each block once its upstreams' runs have ended; one whose upstream did not
        complete is not run (UpstreamFailed), so no task run waits Pending (NotReady) forever."""
        ended: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()  # (block uuid, future or None) per ended run
        left: dict[str, int] = {}
        downstream = {block.uuid: [] for block in self.plan.order}
        for block in self.plan.order:
            for uuid in block.upstream_blocks:
                downstream[uuid].append(block)
        waiting = {block.uuid: len(block.upstream_blocks) for block in self.plan.order}
        for block in self.plan.order:
            if not block.upstream_blocks:
                left[block.uuid] = self._start(block, ended)
        finished = 0
        while finished < len(self.plan.order):
            uuid, future = ended.get()
            if future is not None:
                self._halt_after(ended_state(future))
            left[uuid] -= 1
            if left[uuid] > 0:
                continue
            finished += 1
            for block in downstream[uuid]:
                waiting[block.uuid] -= 1
                if not waiting[block.uuid]:
                    left[block.uuid] = self._start(block, ended)
        states = {}
        for block in self.plan.order:
            if block.uuid in self.not_run:
                states[block.run_name] = self.not_run[block.uuid]
            for suffix, future in self.runs[block.uuid]:
                states[_run_name(block, suffix)] = ended_state(future)
        return states

    def _start(self, block: Block, ended: queue.SimpleQueue) -> int:
        """Submit the block's runs (each puts its uuid and future on `ended` when it ends), or record
        it not run (its uuid and None); how many entries it will put there."""
        failed = [uuid for uuid in block.upstream_blocks if not self._completed(uuid)]
        self.runs[block.uuid] = [] if failed else self._submit(block)
        if failed:
            self.not_run[block.uuid] = _upstream_failed(block, failed)
        for _, future in self.runs[block.uuid]:
            future.add_done_callback(lambda ended_run, uuid=block.uuid: ended.put((uuid, ended_run)))
        if not self.runs[block.uuid]:
            ended.put((block.uuid, None))
        return max(len(self.runs[block.uuid]), 1)

    def _halt_after(self, state: State) -> None:
        """A block run that failed (its final `state`) halts the run here too: a block run in
        another process (a Dask or Ray worker) set only its own copy of the run's halt."""
        if self.context.halt is not None and state.is_failed():
            self.context.halt.set()

    def _completed(self, uuid: str) -> bool:
        return uuid not in self.not_run and all(ended_state(future).is_completed() for _, future in self.runs[uuid])

    def _in_order(self) -> dict[str, State]:
        """A pipeline with nothing to run in parallel: call each task in this thread, one after the
        other (the thread pool would only add its hand-off cost to every block); on a cluster, hand
        each to a worker and wait for it."""
        states: dict[str, State] = {}
        results: dict[str, Any] = {}
        for block in self.plan.order:
            if any(uuid not in results for uuid in block.upstream_blocks):
                states[block.run_name] = _upstream_failed(block, [u for u in block.upstream_blocks if u not in results])
                continue
            task = self.plan.tasks[block.uuid]
            arguments = dict(context=Whole(self.context), output_name=block.uuid, extra_kwargs=Whole({}))
            upstream = [results[uuid] for uuid in block.upstream_blocks]
            if self.plan.in_process:
                state = task(*upstream, **arguments, return_state=True)
            else:
                state = ended_state(task.submit(*upstream, **arguments))
                self._halt_after(state)
            states[block.run_name] = state
            if state.is_completed():
                results[block.uuid] = state_value(state)
        return states

    def _submit(self, block: Block) -> list[tuple[str, Any]]:
        """Submit one run of the block, or one per item combination of its fanned-out upstreams."""
        fanned = fanned_upstreams(self.plan.pipeline, block, self.plan.children)
        combinations = list(product(*(self._axis(uuid) for uuid in fanned)))
        limit = self.plan.project.settings.max_dynamic_children
        if len(combinations) > limit:
            raise InvalidRequest(
                f"block '{block.uuid}' would fan out into {len(combinations)} dynamic children, above the limit "
                f"of {limit}; raise MAGE_PREFECT_MAX_DYNAMIC_CHILDREN or mage_prefect.max_dynamic_children"
            )
        submitted = []
        for index, combination in enumerate(combinations):
            args, extra, reduced = self._arguments(block, dict(zip(fanned, combination)))
            suffix = ":".join(pick[0] for pick in combination if pick[0])
            if fanned:
                extra["dynamic_block_index"] = index
            options = {"task_run_name": _run_name(block, suffix)} if suffix else {}
            future = (
                self.plan.tasks[block.uuid]
                .with_options(**options)
                .submit(
                    *args,
                    context=Whole(self.context),
                    output_name=f"{block.uuid}:{suffix}" if suffix else block.uuid,
                    extra_kwargs=Whole(extra),
                    wait_for=reduced,  # the graph's edges from the children whose outputs it reduces
                )
            )
            submitted.append((suffix, future))
        return submitted

    def _arguments(self, block: Block, picks: dict[str, tuple[str, Any, dict]]) -> tuple[list, dict, list]:
        """The block's upstream arguments for one run (its fanned-out upstreams' `picks`), the
        kwargs metadata those picks bring, and the runs of the dynamic children it reduces.

        Upstream runs have ended: each is handed over as its final state (Prefect draws the edge
        and resolves the result), not its future, so a Dask or Ray runner sees no dependency to
        schedule by (or to recompute when a worker dies); it resolves no future inside an
        argument either, so the reduced children's results are taken here."""
        args, extra, reduced = [], {}, []
        for uuid in block.upstream_blocks:
            if uuid in picks:
                _, value, metadata = picks[uuid]
                args.append(value)
                extra.update(metadata)
            elif self.plan.pipeline.block(uuid).reduce_output and uuid in self.plan.children:
                children = [future for _, future in self.runs[uuid]]
                args.append(Reduced([future.result(raise_on_failure=False) for future in children]))
                reduced += children
            else:
                args.append(ended_state(self.runs[uuid][0][1]))
        return args, extra, reduced

    def _axis(self, uuid: str) -> list[tuple[str, Any, dict]]:
        """The runs a fanned-out upstream contributes: (name suffix, argument, kwargs metadata)."""
        if not self.plan.pipeline.block(uuid).dynamic:  # a dynamic child: its children are numbered (`describe:0`)
            return [(str(index), ended_state(future), {}) for index, (_, future) in enumerate(self.runs[uuid])]
        future = self.runs[uuid][0][1]
        parent = future.result(raise_on_failure=False)
        if not isinstance(parent, BlockResult):  # failed or skipped: its children follow its state
            return [("", ended_state(future), {})]
        items, metadata = dynamic_items(parent)
        return [
            (str(meta.get("block_uuid", i)), DynamicItem(item, i), meta)
            for i, (item, meta) in enumerate(zip(items, metadata))
        ]


@dataclass(frozen=True)
class FlowServices:
    """What block code reaches through the mage_ai shim (runtime.context.RunServices): the pipelines
    of the running project, the run's own sub-project first (as Mage looks in its active project)."""

    root: Path
    near: Path
    results: str | Path

    def _pipeline(self, name: str) -> tuple[Project, Pipeline]:
        project = load_project(self.root, name, near=self.near)
        return project, project.pipeline(name, near=self.near)

    def outputs(self, pipeline: str, block: str, run: str) -> list[Any]:
        _, found = self._pipeline(pipeline)
        found.block(block.split(":")[0])  # a clear error for unknown names (`uuid:i`: a dynamic child)
        return OutputStore(self.results).load(found.key, block, run)

    def run_pipeline(self, pipeline: str, variables: dict[str, Any] | None) -> tuple[str, State]:
        project, found = self._pipeline(pipeline)
        state = run_flow(project, found.key, flow_parameters(found, variables or {}), results=self.results)
        return str(state.state_details.flow_run_id), state

    def run_dbt(self, args: list[str], project_dir: Path, profiles_dir: Path) -> Any:
        """prefect-dbt's runner: each dbt node a task run within the block's."""
        try:
            from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "dbt blocks need prefect-dbt and a dbt adapter: pip install 'mage-prefect[dbt]'", name="prefect_dbt"
            ) from None
        settings = PrefectDbtSettings(project_dir=project_dir, profiles_dir=profiles_dir)
        try:
            return PrefectDbtRunner(settings=settings, raise_on_failure=False).invoke(args)
        except ValueError as exc:  # "Failed to invoke dbt command '<every argument, --vars too>': <dbt's error>"
            if not str(exc).startswith("Failed to invoke dbt command '"):
                raise
            error = str(exc.__cause__ or str(exc).split("': ", 1)[-1])
            raise RuntimeError(f"dbt {args[0]} failed: {error}") from None


def _run_subflow(project: Project, pipeline_key: str, store: OutputStore) -> State:
    """A whole run of another pipeline of the project, as a subflow (a global data product's)."""
    return run_flow(project, pipeline_key, flow_parameters(project.pipeline(pipeline_key), {}), results=store.location)


def _upstream_failed(block: Block, upstreams: list[str]) -> State:
    """A block not run because `upstreams` did not complete (Mage's upstream_failed)."""
    message = f"not run: upstream block(s) {', '.join(upstreams)} did not complete"
    return Cancelled(name=UPSTREAM_FAILED, message=message)


def _run_name(block: Block, suffix: str) -> str:
    return f"{block.run_name}:{suffix}" if suffix else block.run_name


def _mlflow_tracking(project: Project, pipeline: Pipeline):
    """MLflow tracking of the pipeline when the project's `mage_prefect.mlflow` turns it on."""
    if project.settings.tracking is None:
        return None
    from .mlflow import project_tracking

    return project_tracking(project, pipeline)


def _before_trigger_start(trigger: Trigger | None, context: RunContext) -> State | None:
    """Mage schedules nothing before a time trigger's `start_time`; Prefect's cron schedules have no
    start, so a run its scheduler created for an earlier time ends Skipped without running a block."""
    if trigger is None or trigger.schedule_type != "time" or trigger.start_time is None or not auto_scheduled():
        return None
    start = as_utc(trigger.start_time)
    if context.execution_date >= start:
        return None
    return Completed(
        name=SKIPPED,
        message=f"scheduled for {context.execution_date:%Y-%m-%d %H:%M} UTC, before the "
        f"start_time of trigger '{trigger.name}' ({start:%Y-%m-%d %H:%M} UTC)",
    )


def _final_state(states: dict[str, State]) -> State:
    """Completed if every block completed, else Failed naming the failed, not-run and not-started blocks.

    The state's data maps each block's run name to its final state name and message.
    """
    summary = {name: {"state": state.name, "message": state.message or ""} for name, state in states.items()}
    failed = [name for name, state in states.items() if state.is_failed() or state.is_crashed()]
    if not failed:
        skipped = sum(state.name == SKIPPED for state in states.values())
        reused = sum(state.name == CACHED for state in states.values())
        note = (f", {skipped} skipped (condition failed)" if skipped else "") + (
            f", {reused} reused (stored outputs)" if reused else ""
        )
        return Completed(message=f"{len(states) - skipped} block run(s) completed{note}", data=summary)
    not_run = [name for name, state in states.items() if state.name == UPSTREAM_FAILED or not state.is_final()]
    cancelled = [name for name, state in states.items() if state.is_cancelled() and name not in not_run]
    message = f"block(s) failed: {', '.join(failed)}"
    if not_run:
        message += f"; not run (upstream failed): {', '.join(not_run)}"
    if cancelled:
        message += f"; not started (allow_blocks_to_fail is false): {', '.join(cancelled)}"
    return Failed(message=message, data=summary)
