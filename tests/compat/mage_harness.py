#!/usr/bin/env python3
"""The Mage side of mage-prefect's differential test tier.

Runs under *Mage's* Python (a venv with ``mage-ai`` installed, never the project's venv):
only the standard library, ``mage_ai`` and what mage-ai itself depends on are imported.

Every command prints exactly ONE JSON document on stdout.  Everything Mage prints (its
loggers, ``print`` calls, the forked scheduler workers' output) goes to stderr, or to the
file given with ``--log``.  See README.md beside this file for the exact semantics.

    mage_harness.py [--log FILE] load PROJECT_ROOT PIPELINE_UUID
    mage_harness.py [--log FILE] run PROJECT_ROOT PIPELINE_UUID --out DIR [--variables JSON]
                    [--execution-date ISO] [--trigger NAME] [--settings JSON] [--timeout S]
    mage_harness.py [--log FILE] generate triggers DEST_TRIGGERS_YAML --spec JSON [--pipeline-uuid U]
    mage_harness.py [--log FILE] generate pipeline PROJECT_ROOT UUID --blocks JSON
                    [--name N] [--type python] [--sub-project NAME] [--pipeline-config JSON]
    mage_harness.py [--log FILE] generate project DEST [--platform SUB1,SUB2]
    mage_harness.py [--log FILE] chart FRAME_PARQUET --configs JSON
    mage_harness.py [--log FILE] transformer-actions FRAME_PARQUET --cases JSON --out DIR

JSON arguments take inline JSON, or @PATH to read it from a file.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

HARNESS_VERSION = 1

# --------------------------------------------------------------------------------------------
# stdout discipline: keep the real stdout for our one JSON document, point fd 1 at stderr
# (or at --log) so that Mage's prints, and those of the processes it forks, never reach it.
# --------------------------------------------------------------------------------------------
_JSON_OUT = None


def _isolate_stdout(log_path: str | None) -> None:
    global _JSON_OUT
    sys.stdout.flush()
    _JSON_OUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


def _emit(doc: dict) -> None:
    try:
        from importlib.metadata import version

        doc.setdefault("mage_ai_version", version("mage-ai"))
    except Exception:  # noqa: BLE001
        doc.setdefault("mage_ai_version", None)
    doc.setdefault("harness_version", HARNESS_VERSION)
    text = json.dumps(doc, default=_json_default, sort_keys=False)
    out = _JSON_OUT or sys.__stdout__
    out.write(text + "\n")
    out.flush()


def _json_default(o):
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    if hasattr(o, "value") and isinstance(o.value, (str, int)):
        return o.value  # enums
    return repr(o)


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def _json_arg(value: str | None, default=None):
    if value is None:
        return default
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            return json.load(f)
    return json.loads(value)


# --------------------------------------------------------------------------------------------
# Environment: must be set BEFORE the first mage_ai import (mage_ai.orchestration.db builds
# its engine, and mage_ai.settings.platform reads settings.yaml, at import time).
# --------------------------------------------------------------------------------------------


def _prepare_env(
    repo_path: str | None, data_dir: str | None, db_path: str | None = None, mage_env: str | None = None
) -> None:
    # Mage's "data dir" (MAGE_DATA_DIR): variables, logs, .settings.yaml; and its sqlite DB.
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
        os.environ["MAGE_DATA_DIR"] = data_dir
    else:
        os.environ.pop("MAGE_DATA_DIR", None)
    db_path = db_path or os.path.join(data_dir, "mage-ai.db")
    os.environ["MAGE_DATABASE_CONNECTION_URL"] = f"sqlite:///{db_path}"
    if repo_path:
        os.environ["MAGE_REPO_PATH"] = repo_path
    # Nothing from the caller's environment may redirect Mage elsewhere or change its mode.
    for var in (
        "ENV",
        "DEBUG",
        "DB_USER",
        "DB_PASS",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "AWS_DB_SECRETS_NAME",
        "AZURE_SECRET_DB_CONN_URL",
        "REDIS_URL",
        "SENTRY_DSN",
        "NEW_RELIC_CONFIG_PATH",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "QUEUE_CONFIG",
        "MAGE_PRESENTERS_DIRECTORY",
    ):
        os.environ.pop(var, None)
    if mage_env:
        os.environ["ENV"] = mage_env
    os.environ.setdefault("DISABLE_DATABASE_TERMINAL_OUTPUT", "1")
    # mage_ai.shared.environments.is_test_mage() looks for 'unittest' anywhere in sys.argv.
    sys.argv = [sys.argv[0]]


def _sandbox_network() -> None:
    """No usage statistics or notifications leave this machine: both are stubbed in-process
    (forked workers inherit the stubs). Notifications are recorded instead."""
    from mage_ai.usage_statistics.logger import UsageStatisticLogger

    async def _no_send(self, *args, **kwargs):
        return False

    def _no_send_sync(self, *args, **kwargs):
        return False

    UsageStatisticLogger._UsageStatisticLogger__send_message = _no_send
    UsageStatisticLogger._UsageStatisticLogger__send_message_sync = _no_send_sync

    from mage_ai.orchestration.notification.sender import NotificationSender

    def _record(self, title=None, summary=None, details=None):
        if summary is None:
            return
        NOTIFICATIONS.append(dict(title=title, summary=summary))

    NotificationSender.send = _record


NOTIFICATIONS: list = []


def _sub_project_of(repo_path: str) -> str | None:
    from mage_ai.settings.platform import project_platform_activated
    from mage_ai.settings.utils import base_repo_path

    if not project_platform_activated():
        return None
    try:
        rel = os.path.relpath(os.path.abspath(repo_path), os.path.abspath(base_repo_path()))
    except ValueError:
        return None
    return None if rel in (".", "") else rel


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def cmd_load(args) -> dict:
    root = os.path.abspath(args.project_root)
    tmp = tempfile.mkdtemp(prefix="mage-harness-load-")
    try:
        _prepare_env(root, os.path.join(tmp, "mage_data"))
        if len(args.pipeline_uuid) == 1:
            return _load(root, args.pipeline_uuid[0])
        # several pipelines of one project in one process: importing mage_ai alone takes ~2 s
        return dict(pipelines={uuid: _load(root, uuid) for uuid in args.pipeline_uuid})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cmd_load_batch(args) -> dict:
    """`load` for many (project root, pipeline) pairs in one process: importing mage_ai alone
    takes ~2 s. Each pair is loaded as `load` loads it, after switching Mage's repo path."""
    import signal

    class TooSlow(BaseException):  # not an Exception: Mage's own `except Exception` must not swallow it
        pass

    def _too_slow(signum, frame):
        raise TooSlow(f"Mage did not load it within {args.item_timeout:g} s (it hangs on some inputs)")

    pairs = _json_arg(args.manifest, [])
    tmp = tempfile.mkdtemp(prefix="mage-harness-load-")
    results = []
    signal.signal(signal.SIGALRM, _too_slow)
    try:
        for root, pipeline_uuid in pairs:
            root = os.path.abspath(root)
            _prepare_env(root, os.path.join(tmp, "mage_data"))
            os.chdir(os.path.dirname(root))  # as `load` is run: from the folder holding the project
            signal.setitimer(signal.ITIMER_REAL, args.item_timeout)
            started = time.monotonic()
            try:
                if results:  # what importing mage_ai does with the root's metadata.yaml, for this root too
                    from mage_ai.data_preparation.repo_manager import set_project_uuid_from_metadata

                    set_project_uuid_from_metadata()
                results.append(_load(root, pipeline_uuid))
                results[-1]["seconds"] = round(time.monotonic() - started, 2)
            except BaseException as e:  # noqa: BLE001  one broken project must not hide the others
                results.append(dict(loaded=False, error=_err(e)))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        return dict(results=results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_pipeline_like_trigger(pipeline_uuid: str):
    """How mage_ai.orchestration.triggers.api.trigger_pipeline (and the API trigger endpoint)
    resolves a pipeline: Pipeline.get on the active project, searching every sub-project of
    the platform when settings.yaml exists."""
    from mage_ai.data_preparation.models.pipeline import Pipeline
    from mage_ai.settings.platform import project_platform_activated
    from mage_ai.settings.repo import get_repo_path

    return Pipeline.get(
        pipeline_uuid,
        all_projects=project_platform_activated(),
        repo_path=get_repo_path(),
        use_repo_path=False,
    )


def _load(root: str, pipeline_uuid: str) -> dict:
    import asyncio

    from mage_ai.settings.repo import set_repo_path

    set_repo_path(root)
    _sandbox_network()

    from mage_ai.data_preparation.models.pipeline import Pipeline
    from mage_ai.settings.platform import activate_project, project_platform_activated
    from mage_ai.settings.platform.utils import (
        get_pipeline_from_platform,
        get_pipeline_from_platform_async,
    )

    if "/" in pipeline_uuid and project_platform_activated():
        # `<sub-project>/<uuid>`: the copy in that sub-project (pipeline uuids are folder names:
        # they hold no '/'). Mage looks in its active project first, so that one is activated.
        sub, pipeline_uuid = pipeline_uuid.split("/", 1)
        activate_project(sub)
    from mage_ai.settings.repo import get_repo_path

    result = dict(
        loaded=False,
        error=None,
        blocks=[],
        sub_project=None,
        platform=project_platform_activated(),
        repo_path=None,
        pipeline_type=None,
        callbacks=[],
        conditionals=[],
        checks={},
        triggers=[],
        trigger_error=None,
        trigger_configs=[],
        global_data_products={},
        global_data_product_error=None,
        warnings=[],
    )

    # 1. The trigger path (trigger_pipeline / the API trigger endpoint): searches the active
    # project first, then every sub-project of the platform.
    pipeline = None
    try:
        pipeline = _load_pipeline_like_trigger(pipeline_uuid)
        result["checks"]["trigger"] = None
    except Exception as e:  # noqa: BLE001
        result["checks"]["trigger"] = _err(e)

    # 2. The scheduler's reload of that pipeline for every block run
    # (PipelineScheduler.__init__ -> get_pipeline_from_platform with the schedule's repo_path).
    if pipeline is not None:
        try:
            pipeline = get_pipeline_from_platform(pipeline_uuid, repo_path=pipeline.repo_path)
            result["checks"]["scheduler"] = None
        except Exception as e:  # noqa: BLE001
            result["checks"]["scheduler"] = _err(e)
            pipeline = None

    # 3. The server (UI / API) path: PipelineResource.member -> __fetch_model, which only sees
    # the ACTIVE project of a platform; so the pipeline's own sub-project is activated first
    # (as a user switching projects in the UI does; in the throwaway data dir).
    try:
        if pipeline is not None and project_platform_activated():
            sub = _sub_project_of(pipeline.repo_path)
            if sub:
                from mage_ai.settings.platform import activate_project

                activate_project(sub)
        repo_path = get_repo_path()
        if project_platform_activated():
            coro = get_pipeline_from_platform_async(pipeline_uuid, repo_path=repo_path)
        else:
            coro = Pipeline.get_async(pipeline_uuid, all_projects=False, repo_path=repo_path)
        asyncio.run(coro)
        result["checks"]["server"] = None
    except Exception as e:  # noqa: BLE001
        result["checks"]["server"] = _err(e)

    errors = [v for v in result["checks"].values() if v]
    if errors:
        result["error"] = errors[0]
    if pipeline is None:
        return result

    result["loaded"] = not errors
    result["repo_path"] = pipeline.repo_path
    result["sub_project"] = _sub_project_of(pipeline.repo_path)
    result["pipeline_type"] = str(getattr(pipeline.type, "value", pipeline.type))
    result["blocks"] = list(pipeline.blocks_by_uuid.keys())
    result["callbacks"] = list(pipeline.callbacks_by_uuid.keys())
    result["conditionals"] = list(pipeline.conditionals_by_uuid.keys())

    # Harness-derived observations (NOT Mage errors): what Mage silently accepts.
    all_uuids = (
        set(result["blocks"])
        | set(result["callbacks"])
        | set(result["conditionals"])
        | set(pipeline.widgets_by_uuid.keys())
    )
    for c in pipeline.block_configs + pipeline.callback_configs + pipeline.conditional_configs:
        for key in ("upstream_blocks", "downstream_blocks"):
            for ref in c.get(key) or []:
                if ref not in all_uuids:
                    result["warnings"].append(
                        f"block '{c.get('uuid')}' {key} names unknown block '{ref}' (Mage drops the reference)"
                    )
    for block in pipeline.blocks_by_uuid.values():
        try:
            fp = block.file_path
            if (
                fp
                and block.type not in ("global_data_product",)
                and not block.replicated_block
                and not os.path.exists(fp)
            ):
                result["warnings"].append(
                    f"block '{block.uuid}' file does not exist: {fp} (Mage fails only when the block runs)"
                )
        except Exception as e:  # noqa: BLE001
            result["warnings"].append(f"block '{block.uuid}' file path: {_err(e)}")

    _load_triggers(pipeline, result)
    _load_global_data_products(pipeline, result)
    return result


def _load_triggers(pipeline, result: dict) -> None:
    from mage_ai.data_preparation.models.triggers import (
        get_triggers_by_pipeline,
        load_trigger_configs,
        load_triggers_file_content,
    )

    # What the UI's trigger list and the scheduler's sync_schedules see: lenient (a trigger
    # that fails to parse is printed and dropped; a file that fails to parse gives []).
    try:
        triggers = get_triggers_by_pipeline(pipeline.uuid, repo_path=pipeline.repo_path)
        result["triggers"] = [t.name for t in triggers]
        result["trigger_configs"] = [dict(t.to_dict(), envs=t.envs, repo_path=t.repo_path) for t in triggers]
    except Exception as e:  # noqa: BLE001
        result["trigger_error"] = _err(e)
        return
    # What Mage's file editor enforces when triggers.yaml is saved (File.validate_content):
    # strict, the first invalid trigger raises.
    try:
        content = load_triggers_file_content(pipeline.uuid, repo_path=pipeline.repo_path)
        if content is not None:
            load_trigger_configs(
                content,
                pipeline_uuid=pipeline.uuid,
                repo_path=pipeline.repo_path,
                raise_exception=True,
            )
    except Exception as e:  # noqa: BLE001
        result["trigger_error"] = _err(e)


def _load_global_data_products(pipeline, result: dict) -> None:
    from mage_ai.data_preparation.models.constants import BlockType

    for block in pipeline.blocks_by_uuid.values():
        if block.type != BlockType.GLOBAL_DATA_PRODUCT:
            continue
        info = dict(uuid=None, object_type=None, object_uuid=None, blocks=[], error=None)
        result["global_data_products"][block.uuid] = info
        try:
            conf = (block.configuration or {}).get("global_data_product") or {}
            info["uuid"] = conf.get("uuid")
            gdp = block.get_global_data_product()
            if gdp is None:
                raise Exception(f"Global data product '{conf.get('uuid')}' not found in global_data_products.yaml")
            info["object_type"] = gdp.object_type
            info["object_uuid"] = gdp.object_uuid
            target = gdp.pipeline
            if target is None:
                raise Exception(f"Global data product '{gdp.uuid}' has no pipeline (object_type={gdp.object_type!r})")
            for b_uuid, b in zip((gdp.settings or {}).keys(), gdp.get_blocks()):
                if b is None:
                    raise Exception(
                        f"Global data product '{gdp.uuid}' names block '{b_uuid}' missing from pipeline '{target.uuid}'"
                    )
                info["blocks"].append(b.uuid)
        except Exception as e:  # noqa: BLE001
            info["error"] = _err(e)
            if result["global_data_product_error"] is None:
                result["global_data_product_error"] = f"{block.uuid}: {_err(e)}"


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------

TERMINAL_RUN = ("completed", "failed", "cancelled")


def cmd_run(args) -> dict:
    root = os.path.abspath(args.project_root)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    data_dir = os.path.join(out, "mage_data")
    _clean_previous_run(out)
    _prepare_env(root, data_dir, mage_env=args.env)
    t0 = time.monotonic()
    try:
        doc = _run(root, args, out)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        doc = dict(status="error", blocks={}, error=_err(e))
    doc["seconds"] = round(time.monotonic() - t0, 3)
    with open(os.path.join(out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, default=_json_default)
    return doc


def _clean_previous_run(out: str) -> None:
    """A reused --out DIR starts empty of what an earlier run of the harness wrote there."""
    previous = os.path.join(out, "result.json")
    if os.path.exists(previous):
        try:
            with open(previous, encoding="utf-8") as f:
                doc = json.load(f)
            for entry in (doc.get("blocks") or {}).values():
                d = entry.get("dir")
                if d and os.sep not in d and d not in (".", ".."):
                    shutil.rmtree(os.path.join(out, d), ignore_errors=True)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        os.remove(previous)
    shutil.rmtree(os.path.join(out, "mage_data"), ignore_errors=True)


def _run(root: str, args, out: str) -> dict:
    from mage_ai.settings.repo import set_repo_path

    set_repo_path(root)
    _sandbox_network()

    timings = {}
    t = time.monotonic()
    # As mage_ai.server.scheduler_manager.run_scheduler: migrate the DB, start the job queue.
    from mage_ai.orchestration.db import db_connection
    from mage_ai.orchestration.db.database_manager import database_manager

    database_manager.run_migrations(log_level="WARNING")
    timings["migrations"] = round(time.monotonic() - t, 3)

    from mage_ai.data_preparation.models.triggers import (
        ScheduleStatus,
        ScheduleType,
        get_triggers_by_pipeline,
    )
    from mage_ai.orchestration.db.models.schedules import BlockRun, PipelineRun, PipelineSchedule
    from mage_ai.orchestration.job_manager import get_job_manager
    from mage_ai.orchestration.pipeline_scheduler import (
        PipelineScheduler,
        schedule_generic_jobs,
    )
    from mage_ai.orchestration.triggers.constants import (
        TRIGGER_NAME_FOR_TRIGGER_CREATED_FROM_CODE,
    )
    from mage_ai.orchestration.triggers.utils import create_and_start_pipeline_run

    db_connection.start_session()

    t = time.monotonic()
    pipeline_uuid = args.pipeline_uuid
    if "/" in pipeline_uuid:  # `<sub-project>/<uuid>`, as `load` takes it: that sub-project active
        from mage_ai.settings.platform import activate_project

        sub, pipeline_uuid = pipeline_uuid.split("/", 1)
        activate_project(sub)
    pipeline = _load_pipeline_like_trigger(pipeline_uuid)
    variables = _json_arg(args.variables, {}) or {}
    settings = _json_arg(args.settings, None)

    if args.trigger:
        triggers = {tr.name: tr for tr in get_triggers_by_pipeline(pipeline.uuid, repo_path=pipeline.repo_path)}
        if args.trigger not in triggers:
            raise Exception(
                f"Trigger '{args.trigger}' not found in triggers.yaml of '{pipeline.uuid}' (found: {sorted(triggers)})"
            )
        tr = triggers[args.trigger]
        from mage_ai.shared.environments import get_env

        if tr.envs and get_env() not in tr.envs:
            # sync_schedules never puts such a trigger in the database.
            raise Exception(
                f"Trigger '{tr.name}' has envs {tr.envs}; Mage's env is "
                f"'{get_env()}', so sync_schedules skips it (use --env)"
            )
        # The columns sync_schedules -> PipelineSchedule.create_or_update_batch writes
        # (without its write-back of last_enabled_at into the project's triggers.yaml).
        schedule = PipelineSchedule.create(
            description=tr.description,
            last_enabled_at=tr.last_enabled_at or _dt.datetime.now(tz=_dt.UTC),
            name=tr.name,
            pipeline_uuid=tr.pipeline_uuid,
            repo_path=tr.repo_path,
            schedule_interval=tr.schedule_interval,
            schedule_type=tr.schedule_type,
            settings=settings if settings is not None else tr.settings,
            sla=tr.sla,
            start_time=tr.start_time,
            status=ScheduleStatus.ACTIVE,
            token=tr.token,
            variables=tr.variables,
        )
    else:
        # As trigger_pipeline's __fetch_or_create_pipeline_schedule -> PipelineScheduleResource
        # .create (without its optional save-trigger-in-code callback).
        schedule = PipelineSchedule.create(
            name=TRIGGER_NAME_FOR_TRIGGER_CREATED_FROM_CODE,
            pipeline_uuid=pipeline.uuid,
            repo_path=pipeline.repo_path,
            schedule_type=ScheduleType.API,
            start_time=_dt.datetime.utcnow(),
            status=ScheduleStatus.ACTIVE,
            last_enabled_at=_dt.datetime.now(tz=_dt.UTC),
            settings=settings,
        )

    payload = dict(variables=variables)
    if args.execution_date:
        payload["execution_date"] = args.execution_date
    elif schedule.schedule_type == ScheduleType.TIME and schedule.schedule_interval:
        # What schedule_all puts in the payload of a scheduled run.
        payload["execution_date"] = schedule.current_execution_date()
    pipeline_run = create_and_start_pipeline_run(pipeline, schedule, payload, should_schedule=False)
    run_id = pipeline_run.id
    timings["create_run"] = round(time.monotonic() - t, 3)

    # The scheduler loop (LoopTimeTrigger -> schedule_all), restricted to our one run and
    # ticking every --tick seconds instead of SCHEDULER_TRIGGER_INTERVAL: start the run, then
    # PipelineScheduler(run).schedule(), schedule_generic_jobs(), job_manager.clean_up_jobs().
    job_manager = get_job_manager()
    job_manager.start()
    t = time.monotonic()
    deadline = t + args.timeout
    started = False
    timed_out = False
    while True:
        db_connection.session.expire_all()
        run = PipelineRun.query.filter(PipelineRun.id == run_id).first()
        status = str(getattr(run.status, "value", run.status))
        if status in TERMINAL_RUN:
            break
        if time.monotonic() > deadline:
            timed_out = True
            break
        try:
            if not started:
                PipelineScheduler(run).start()
                started = True
            else:
                PipelineScheduler(run).schedule()
        except Exception:  # noqa: BLE001 - schedule_all logs and goes on, so do we
            traceback.print_exc()
        try:
            schedule_generic_jobs()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        job_manager.clean_up_jobs()
        time.sleep(args.tick)

    if timed_out:
        # As the UI's "cancel run": status cancelled, block runs cancelled, jobs killed.
        try:
            from mage_ai.orchestration.pipeline_scheduler import stop_pipeline_run

            stop_pipeline_run(PipelineRun.query.filter(PipelineRun.id == run_id).first(), pipeline)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    # Let the last jobs finish (callbacks run in the worker after the block run is marked
    # completed; cancellation hooks are generic jobs).
    try:
        schedule_generic_jobs()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    _wait_for_workers(job_manager, deadline=time.monotonic() + 30)
    timings["execute"] = round(time.monotonic() - t, 3)
    try:
        job_manager.stop()
    except Exception:  # noqa: BLE001
        traceback.print_exc()

    t = time.monotonic()
    db_connection.session.expire_all()
    run = PipelineRun.query.filter(PipelineRun.id == run_id).first()
    block_runs = BlockRun.query.filter(BlockRun.pipeline_run_id == run_id).order_by(BlockRun.id).all()
    status = str(getattr(run.status, "value", run.status))
    blocks = {}
    errors = []
    for br in block_runs:
        br_status = str(getattr(br.status, "value", br.status))
        entry = dict(
            status=br_status,
            outputs=[],
            dir=br.block_uuid.replace("/", "__"),
            id=br.id,
            started_at=br.started_at,
            completed_at=br.completed_at,
        )
        if br.metrics and br.metrics.get("error"):
            err = br.metrics["error"]
            entry["error"] = err.get("error")
            if br_status == "failed":
                errors.append(f"{br.block_uuid}: {err.get('error')}")
        try:
            if not args.no_outputs:
                entry["outputs"], entry["formats"] = _dump_outputs(pipeline, run, br, out)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            entry["output_error"] = _err(e)
        blocks[br.block_uuid] = entry
    timings["outputs"] = round(time.monotonic() - t, 3)

    variables_seen = run.get_variables()
    error = None
    if timed_out:
        error = f"timed out after {args.timeout}s (run status {status})"
    elif status != "completed":
        error = "; ".join(errors) or f"pipeline run {status}"
    return dict(
        status="completed" if status == "completed" else "failed",
        run_status=status,
        blocks=blocks,
        error=error,
        pipeline_run_id=run.id,
        pipeline_schedule_id=schedule.id,
        trigger_name=schedule.name,
        execution_date=run.execution_date,
        execution_partition=run.execution_partition,
        variables=_jsonable_or_repr(variables_seen),
        notifications=NOTIFICATIONS,
        timings=timings,
        data_dir=os.environ["MAGE_DATA_DIR"],
        sub_project=_sub_project_of(pipeline.repo_path),
    )


def _wait_for_workers(job_manager, deadline: float) -> None:
    queue = job_manager.queue
    while time.monotonic() < deadline:
        busy = False
        try:
            if queue.is_worker_pool_alive():
                busy = True
        except Exception:  # noqa: BLE001
            pass
        if not busy:
            return
        time.sleep(0.1)


def _jsonable_or_repr(value):
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except Exception:  # noqa: BLE001
        return repr(value)


# ---- outputs ------------------------------------------------------------------------------


def _dump_outputs(pipeline, run, block_run, out: str):
    """Read every output_<i> variable Mage stored for this block run back with Mage's own
    variable code (the reader a downstream block's input goes through) and write it in neutral
    formats. A dynamic child's block run ('<uuid>:<suffix>') keeps its outputs under
    <uuid>/<dynamic_block_index>/output_<i> in Mage's variables dir."""
    from mage_ai.data_preparation.models.block.dynamic.variables import get_variable_objects
    from mage_ai.data_preparation.models.variables.utils import is_output_variable

    block_uuid = block_run.block_uuid
    block = pipeline.get_block(block_uuid)
    if block is None and ":" in block_uuid:
        block = pipeline.get_block(block_uuid.split(":")[0])
    if block is None:
        return [], []
    metrics = block_run.metrics or {}
    index = metrics.get("dynamic_block_index")
    if index is None and block_uuid != block.uuid and ":" in block_uuid:
        return [], []  # data integration controllers etc.: nothing of their own
    variables = [
        v
        for v in get_variable_objects(block, execution_partition=run.execution_partition, dynamic_block_index=index)
        if is_output_variable(v.uuid)
    ]
    variables.sort(key=lambda v: int(v.uuid.rsplit("_", 1)[-1]) if v.uuid.rsplit("_", 1)[-1].isdigit() else 10**9)
    dest = os.path.join(out, block_uuid.replace("/", "__"))
    files = []
    formats = []
    for variable in variables:
        value = variable.read_data(raise_exception=True)
        os.makedirs(dest, exist_ok=True)
        written, kind = _write_value(dest, variable.uuid, value)
        files.extend(written)
        formats.append(dict(variable=variable.uuid, type=kind, files=written))
    return files, formats


def _write_value(dest: str, name: str, value):
    import pickle

    written = []
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    base = os.path.join(dest, name)
    try:
        with open(base + ".pkl", "wb") as f:
            pickle.dump(value, f, protocol=4)
        written.append(name + ".pkl")
    except Exception as e:  # noqa: BLE001
        if os.path.exists(base + ".pkl"):
            os.remove(base + ".pkl")
        with open(base + ".repr.txt", "w", encoding="utf-8") as f:
            f.write(f"{_err(e)}\n{value!r}\n")
        written.append(name + ".repr.txt")

    try:
        import pandas as pd
    except Exception:  # noqa: BLE001
        pd = None
    try:
        import polars as pl
    except Exception:  # noqa: BLE001
        pl = None

    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        try:
            frame.to_parquet(base + ".parquet")
            written.append(name + ".parquet")
        except Exception:  # noqa: BLE001
            frame.to_csv(base + ".csv", index=True)
            with open(base + ".dtypes.json", "w", encoding="utf-8") as f:
                json.dump(
                    dict(
                        columns=[str(c) for c in frame.columns],
                        dtypes={str(c): str(t) for c, t in frame.dtypes.items()},
                        index_dtype=str(frame.index.dtype),
                        series=isinstance(value, pd.Series),
                    ),
                    f,
                    indent=2,
                )
            written.extend([name + ".csv", name + ".dtypes.json"])
    elif pl is not None and isinstance(value, pl.DataFrame):
        value.write_parquet(base + ".parquet")
        written.append(name + ".parquet")
    elif type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
        import numpy as np

        try:
            np.save(base + ".npy", value, allow_pickle=False)
            written.append(name + ".npy")
        except Exception:  # noqa: BLE001
            pass
    else:
        try:
            text = json.dumps(value)
            if json.loads(text) == value:  # lossless only (no tuples, numpy scalars, ...)
                with open(base + ".json", "w", encoding="utf-8") as f:
                    f.write(text)
                written.append(name + ".json")
        except Exception:  # noqa: BLE001
            pass
    return written, kind


# --------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------


def cmd_generate(args) -> dict:
    tmp = tempfile.mkdtemp(prefix="mage-harness-gen-")
    try:
        # Mage writes its data dir into metadata.yaml files (a pipeline's `variables_dir`), so
        # generate uses Mage's default data dir (or --data-dir), never a throwaway one; the
        # database, which generate does not need, is throwaway.
        data_dir = os.path.abspath(os.path.expanduser(args.data_dir)) if args.data_dir else None
        db_path = os.path.join(tmp, "mage-ai.db")
        if args.kind == "triggers":
            _prepare_env(None, data_dir, db_path=db_path)
            return _gen_triggers(args)
        if args.kind == "pipeline":
            root = os.path.abspath(args.project_root)
            _prepare_env(root, data_dir, db_path=db_path)
            return _gen_pipeline(root, args)
        if args.kind == "project":
            dest = os.path.abspath(args.dest)
            _prepare_env(dest if args.platform else None, data_dir, db_path=db_path)
            return _gen_project(dest, args)
        raise SystemExit(f"unknown kind {args.kind}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _parse_dt(value):
    if value is None or isinstance(value, _dt.datetime):
        return value
    s = str(value)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return _dt.datetime.fromisoformat(s)


def _gen_triggers(args) -> dict:
    import yaml
    from mage_ai.data_preparation.models.triggers import Trigger
    from mage_ai.shared.io import safe_write

    dest = os.path.abspath(args.dest)
    spec = _json_arg(args.spec, [])
    if isinstance(spec, dict):
        spec = spec.get("triggers", [spec])
    default_uuid = args.pipeline_uuid or os.path.basename(os.path.dirname(dest))
    configs = []
    for item in spec:
        item = dict(item)
        item.setdefault("pipeline_uuid", default_uuid)
        item.setdefault("start_time", None)
        item.setdefault("schedule_interval", None)
        for key in ("start_time", "last_enabled_at"):
            item[key] = _parse_dt(item.get(key))
        trigger = Trigger(**item)
        configs.append(trigger.to_dict())
    # Exactly update_triggers_for_pipeline_and_persist / add_or_update_trigger_..._and_persist.
    content = yaml.safe_dump(dict(triggers=configs))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    safe_write(dest, content)
    return dict(written=[dest], triggers=[c["name"] for c in configs], error=None)


def _gen_pipeline(root: str, args) -> dict:
    from mage_ai.settings.repo import set_repo_path

    set_repo_path(root)
    _sandbox_network()

    from mage_ai.settings.platform import activate_project, project_platform_activated
    from mage_ai.settings.repo import get_repo_path

    if args.sub_project and not project_platform_activated():
        raise SystemExit(f"--sub-project given but {root} has no settings.yaml")
    restore = None
    if project_platform_activated():
        # The active project lives in <data dir>/<root>/.settings.yaml; put it back afterwards
        # so that generating leaves no state behind in the (non-throwaway) data dir.
        from mage_ai.settings.platform import local_platform_settings_full_path

        path = local_platform_settings_full_path()
        restore = (path, open(path, encoding="utf-8").read() if os.path.exists(path) else None)
    try:
        if args.sub_project:
            activate_project(args.sub_project)
        return _gen_pipeline_in(get_repo_path(), args)
    finally:
        if restore is not None:
            path, content = restore
            if content is None:
                if os.path.exists(path):
                    os.remove(path)
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(content)


def _gen_pipeline_in(repo_path: str, args) -> dict:
    # repo_path: the active project, as PipelineResource.create / BlockResource.create use.
    from mage_ai.data_preparation.models.block import Block
    from mage_ai.data_preparation.models.pipeline import Pipeline
    from mage_ai.shared.utils import clean_name

    blocks_spec = _json_arg(args.blocks, []) or []
    if clean_name(args.name or args.uuid) != args.uuid:
        raise SystemExit(
            f"pipeline name {args.name or args.uuid!r} gives uuid "
            f"{clean_name(args.name or args.uuid)!r}, not {args.uuid!r}"
        )
    pipeline = Pipeline.create(
        args.name or args.uuid,
        repo_path=repo_path,
        description=args.description,
        pipeline_type=args.type,
        tags=None,
    )

    created = []
    for spec in blocks_spec:
        spec = dict(spec)
        name = spec.get("name") or spec.get("uuid")
        block = Block.create(
            name,
            spec["type"],
            repo_path,
            color=spec.get("color"),
            config=spec.get("config") or {},
            configuration=spec.get("configuration"),
            extension_uuid=spec.get("extension_uuid"),
            language=spec.get("language"),
            pipeline=pipeline,
            priority=spec.get("priority"),
            upstream_block_uuids=spec.get("upstream_blocks") or [],
            downstream_block_uuids=spec.get("downstream_blocks") or [],
        )
        if spec.get("content") is not None:
            block.update_content(spec["content"])  # as BlockResource.create with 'content'
        # Attributes the UI sets with a later PUT (BlockResource.update -> Block.update).
        update = {k: spec[k] for k in ("retry_config", "timeout", "executor_type", "has_callback") if k in spec}
        if update:
            block.update(update)
        created.append(dict(uuid=block.uuid, type=block.type, file_path=block.file_path))

    extra = _json_arg(args.pipeline_config, None)
    pipeline = Pipeline.get(pipeline.uuid, repo_path=repo_path)
    if extra:
        # Pipeline-level settings the UI's pipeline settings page saves (PipelineResource
        # .update -> Pipeline.update / save).
        import yaml

        with open(pipeline.config_path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        config.update(extra)
        pipeline.load_config(config)
    pipeline.save()

    return dict(
        written=[pipeline.config_path]
        + [b["file_path"] for b in created if b["file_path"] and os.path.exists(b["file_path"])],
        pipeline=pipeline.uuid,
        repo_path=repo_path,
        sub_project=_sub_project_of(repo_path),
        blocks=[b["uuid"] for b in created],
        error=None,
    )


def _gen_project(dest: str, args) -> dict:
    from mage_ai.data_preparation.repo_manager import ProjectType, init_repo

    written = []
    # `mage init DEST`
    init_repo(dest, project_type=ProjectType.STANDALONE)
    written.append(dest)
    subs = []
    if args.platform:
        p = args.platform.strip()
        subs = json.loads(p) if p.startswith("[") else [s for s in p.split(",") if s]
        from mage_ai.settings.platform import update_settings
        from mage_ai.settings.repo import set_repo_path

        set_repo_path(dest)
        for sub in subs:
            # ProjectResource.create(type='standalone', uuid=sub, repo_path='')
            init_repo(os.path.join(dest, sub), project_type=ProjectType.STANDALONE, project_uuid=sub)
            written.append(os.path.join(dest, sub))
        # ProjectResource.update(root_project=True, platform_settings=...) -> update_settings
        update_settings(dict(projects={sub: {} for sub in subs}))
        written.append(os.path.join(dest, "settings.yaml"))
    return dict(written=written, project=dest, sub_projects=subs, error=None)


# --------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors are JSON documents too (exit 2)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        _emit(dict(error=f"usage: {message}"))
        sys.exit(2)


def cmd_backfill_plan(args) -> dict:
    """The pipeline runs' variables Mage's backfill service builds (service.__build_variables_list)
    for a date-and-time-window backfill from START to END every UNITS INTERVAL_TYPE."""
    import types

    from dateutil.parser import parse
    from mage_ai.orchestration.backfills import service
    from mage_ai.orchestration.db.models.schedules import Backfill

    backfill = types.SimpleNamespace(
        block_uuid=None,
        start_datetime=parse(args.start),
        end_datetime=parse(args.end),
        interval_type=Backfill.IntervalType(args.interval_type),
        interval_units=args.units,
    )
    return dict(runs=getattr(service, "__build_variables_list")(backfill))


def cmd_chart(args) -> dict:
    """What Mage's chart builder computes (Widget.post_process_variables, no chart code) for each
    configuration, over the DataFrame in a parquet file, as the upstream block's output."""
    import numpy as np
    import pandas as pd
    from mage_ai.data_preparation.models.widget import Widget

    def plain(value):
        if isinstance(value, np.ndarray):
            return plain(value.tolist())
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value.item() if hasattr(value, "item") else value

    frame = pd.read_parquet(args.frame)
    drawn = []
    for configuration in _json_arg(args.configs, []):
        widget = Widget("chart", "chart", "chart", configuration=configuration)
        data = widget.post_process_variables(
            {},
            chart_type=configuration.get("chart_type"),
            group_by_columns=configuration.get("group_by"),
            metrics=configuration.get("metrics"),
            results={"source": frame.copy()},
            upstream_block_uuids=["source"],
        )
        drawn.append(plain(data))
    return dict(charts=drawn)


def cmd_transformer_actions(args) -> dict:
    """Each case through Mage's transformer actions, as a transformer-action block runs it:
    ``action = build_transformer_action(df, **build)`` then ``BaseAction(action).execute(df)``, on
    the same freshly read frame, with action_type/axis/strategy as Mage's enums (as plain strings
    if the case has ``"strings": true``). The output goes to OUT/<i>.parquet, index included."""
    import pkgutil

    from mage_ai.data_cleaner.transformer_actions import udf
    from mage_ai.data_cleaner.transformer_actions.base import FUNCTION_MAPPING

    os.makedirs(args.out, exist_ok=True)
    frames_dir = os.path.dirname(os.path.abspath(args.frame))
    results = []
    for i, case in enumerate(_json_arg(args.cases, [])):
        results.append(_transformer_action(case, args.frame, frames_dir, os.path.join(args.out, f"{i}.parquet")))
    return dict(
        cases=results,
        actions={str(axis): sorted(str(action) for action in actions) for axis, actions in FUNCTION_MAPPING.items()},
        udfs=sorted(module.name for module in pkgutil.iter_modules(udf.__path__) if module.name != "base"),
    )


def _with_enums(spec: dict) -> dict:
    """action_type, axis and an impute strategy as Mage's enums, as its templates write them."""
    from mage_ai.data_cleaner.transformer_actions.constants import ActionType, Axis, ImputationStrategy

    spec = {**spec, "action_type": ActionType(spec["action_type"]), "axis": Axis(spec.get("axis", "column"))}
    if "strategy" in spec.get("options", {}):
        spec["options"] = {**spec["options"], "strategy": ImputationStrategy(spec["options"]["strategy"])}
    return spec


def _transformer_action(case: dict, frame: str, frames_dir: str, dest: str) -> dict:
    """One case: the inferred column types, ok or Mage's exception, whether the input frame was
    changed in place, and the output's pandas dtypes (Mage's own, before parquet)."""
    import pandas as pd
    from mage_ai.data_cleaner.transformer_actions.base import BaseAction
    from mage_ai.data_cleaner.transformer_actions.utils import build_transformer_action

    def read(name: str | None):
        return pd.read_parquet(os.path.join(frames_dir, f"{name}.parquet") if name else frame)

    def build(spec: dict) -> dict:
        return build_transformer_action(df, **(spec if case.get("strings") else _with_enums(spec)))

    df = read(case.get("frame"))
    pristine = df.copy()
    result: dict = {}
    started = time.perf_counter()
    try:
        action = build(case["build"])
        result["column_types"] = {
            name: variable["feature"]["column_type"] for name, variable in action["action_variables"].items()
        }
        if "children" in case:  # the group action's child actions, built on the whole frame
            action["child_actions"] = [build(child) for child in case["children"]]
        kwargs = dict(df_to_join=read(case["join"])) if case.get("join") else {}
        output = BaseAction(action).execute(df, **kwargs)
    except Exception as e:  # noqa: BLE001
        result["error"] = _err(e)
    else:
        result["dtypes"] = {str(name): str(dtype) for name, dtype in getattr(output, "dtypes", {}).items()}
        try:
            output.to_parquet(dest)
            result["ok"] = True
        except Exception as e:  # noqa: BLE001  (not a DataFrame, or one parquet cannot hold)
            result["unwritable"] = _err(e)
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["mutated_input"] = not (df.columns.equals(pristine.columns) and df.equals(pristine))
    return result


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mage_harness.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", help="file for Mage's own output (default: stderr)")
    sub = p.add_subparsers(dest="command", required=True)

    ld = sub.add_parser("load", help="load a pipeline as Mage does")
    ld.add_argument("project_root")
    ld.add_argument("pipeline_uuid", nargs="+")

    lb = sub.add_parser("load-batch", help="load many (project root, pipeline) pairs in one process")
    lb.add_argument("manifest", help="JSON list of [project_root, pipeline_uuid] pairs (or @file)")
    lb.add_argument(
        "--item-timeout",
        type=float,
        default=10.0,
        help="seconds per pair; Mage hangs on some inputs (a billion-laughs YAML)",
    )

    bf = sub.add_parser("backfill-plan", help="the runs' variables of a date-and-time-window backfill")
    bf.add_argument("start")
    bf.add_argument("end")
    bf.add_argument("interval_type")
    bf.add_argument("units", type=int)
    ch = sub.add_parser("chart", help="the data of chart-builder charts over a parquet DataFrame")
    ch.add_argument("frame")
    ch.add_argument("--configs", required=True, help="JSON list of chart configurations (or @file)")

    ta = sub.add_parser("transformer-actions", help="Mage's transformer actions over a parquet DataFrame")
    ta.add_argument("frame", help="the input frame; a case's `frame`/`join` name other parquet files beside it")
    ta.add_argument("--cases", required=True, help="JSON list of cases (or @file)")
    ta.add_argument("--out", required=True, help="folder for the outputs, <i>.parquet")

    rn = sub.add_parser("run", help="a trigger-mode run by Mage's own scheduler")
    rn.add_argument("project_root")
    rn.add_argument("pipeline_uuid")
    rn.add_argument("--out", required=True)
    rn.add_argument("--variables", help="JSON object: the run payload variables")
    rn.add_argument("--execution-date", help="ISO datetime (default: now, UTC)")
    rn.add_argument(
        "--trigger",
        help="run as this trigger of triggers.yaml (its variables, settings, type) instead of an API trigger",
    )
    rn.add_argument("--settings", help="JSON: the trigger's settings (allow_blocks_to_fail, timeout, ...)")
    rn.add_argument("--env", help="Mage's ENV for the run (default: unset, i.e. 'dev')")
    rn.add_argument("--timeout", type=float, default=300.0)
    rn.add_argument("--no-outputs", action="store_true", help="do not write the block outputs to --out (benchmarks)")
    rn.add_argument(
        "--tick", type=float, default=0.2, help="scheduler tick in seconds (Mage: SCHEDULER_TRIGGER_INTERVAL=10)"
    )

    gn = sub.add_parser("generate", help="write fixtures with Mage's own code")
    common = _Parser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="MAGE_DATA_DIR while generating (default: unset, i.e. the project's variables_dir, ~/.mage_data)",
    )
    gsub = gn.add_subparsers(dest="kind", required=True)
    gt = gsub.add_parser("triggers", parents=[common])
    gt.add_argument("dest")
    gt.add_argument("--spec", required=True, help="JSON list of Trigger fields")
    gt.add_argument("--pipeline-uuid")
    gp = gsub.add_parser("pipeline", parents=[common])
    gp.add_argument("project_root")
    gp.add_argument("uuid")
    gp.add_argument("--blocks", required=True, help="JSON list of block specs")
    gp.add_argument("--name")
    gp.add_argument("--description")
    gp.add_argument("--type", default="python")
    gp.add_argument("--sub-project")
    gp.add_argument("--pipeline-config", help="JSON merged into metadata.yaml before save")
    gj = gsub.add_parser("project", parents=[common])
    gj.add_argument("dest")
    gj.add_argument("--platform", help="sub-project names: a,b or a JSON list")
    return p


def main(argv=None) -> int:
    """Exit 0 when the command did its job, whatever Mage said (loaded=false, a failed run);
    1 when the harness itself failed (the document has "error" and nothing else to judge);
    2 on a usage error."""
    args = build_parser().parse_args(argv)
    _isolate_stdout(args.log)
    ok = True
    try:
        if args.command == "load":
            doc = cmd_load(args)
        elif args.command == "load-batch":
            doc = cmd_load_batch(args)
        elif args.command == "backfill-plan":
            doc = cmd_backfill_plan(args)
        elif args.command == "chart":
            doc = cmd_chart(args)
        elif args.command == "transformer-actions":
            doc = cmd_transformer_actions(args)
        elif args.command == "run":
            doc = cmd_run(args)
            ok = doc.get("status") in ("completed", "failed")
        else:
            doc = cmd_generate(args)
            ok = not doc.get("error")
    except SystemExit as e:
        doc, ok = dict(error=str(e.code)), False
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        doc, ok = dict(error=_err(e)), False
    _emit(doc)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
