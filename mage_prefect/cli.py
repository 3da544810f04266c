"""The `mage-prefect` command line: a thin typer app over the Python API."""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import sys
import threading
import traceback
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, get_args

import click
import typer

from . import collector
from .frames import is_pandas
from .project.contract import TaskRunnerType
from .project.errors import MagePrefectError, ProjectError, format_report, has_errors
from .project.textfile import write_atomically

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Run Mage AI projects, unchanged, on Prefect.")
BUG_EXIT_CODE = 70  # EX_SOFTWARE: an internal error, not the user's
TEMPORARY_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


outputs_app = typer.Typer(no_args_is_help=True, help="List or prune the stored block outputs of a project's runs.")
app.add_typer(outputs_app, name="outputs")
server_app = typer.Typer(
    no_args_is_help=True, help="The local Prefect server (and UI) that runs use when no PREFECT_API_URL is set."
)
app.add_typer(server_app, name="server")


def command(name: str | None = None, on: typer.Typer = app):
    """`@command()` whose errors end the way users expect: a MagePrefectError (a mistake the user
    can fix) as its message and exit 1; any other exception, a bug of ours, as a short traceback and
    a line saying so."""

    def register(function):
        @functools.wraps(function)
        def handled(*args, **kwargs):
            with _reported_errors():
                return function(*args, **kwargs)

        return on.command(name)(handled)

    return register


@contextmanager
def _reported_errors():
    try:
        yield
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except ProjectError as exc:
        typer.echo(format_report(exc.diagnostics, "text", relative_to=Path.cwd()), err=True)
        raise typer.Exit(1) from None
    except MagePrefectError as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        if "connect to ephemeral Prefect API server" not in str(exc):
            raise _bug(exc) from None
        from .background_server import MODE_VARIABLE

        _fail(
            f"Prefect's temporary server did not start within {os.environ.get(TEMPORARY_TIMEOUT)} s; raise "
            f"{TEMPORARY_TIMEOUT}, or use the local server (unset {MODE_VARIABLE}) or PREFECT_API_URL"
        )
    except Exception as exc:
        raise _bug(exc) from None


def _bug(exc: Exception) -> typer.Exit:
    """Print an internal error (a bug of ours) as a short traceback that says so; the exit to raise."""
    frames = "".join(traceback.format_exception(exc, limit=-4))
    typer.echo(frames.rstrip(), err=True)
    typer.secho(
        f"internal error: this is a bug in mage-prefect, not a problem in your project ({type(exc).__name__}); "
        "please report it with the traceback above",
        fg=typer.colors.RED,
        err=True,
    )
    return typer.Exit(BUG_EXIT_CODE)


class TextOrJson(str, Enum):
    text = "text"
    json = "json"


TaskRunnerName = Enum("TaskRunnerName", {name: name for name in get_args(TaskRunnerType)}, type=str)


class TextOrMermaid(str, Enum):
    text = "text"
    mermaid = "mermaid"


ProjectArg = typer.Argument(..., help="The Mage project folder (the one with metadata.yaml).")


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@command()
def validate(
    project: Path = ProjectArg,
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Check only this pipeline."),
    format: TextOrJson = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Check a project statically (never runs block code); exit 1 on errors."""
    from .project.validate import check_project

    _, diagnostics = check_project(project, pipeline)
    typer.echo(format_report(diagnostics, format.value, relative_to=Path.cwd()))
    raise typer.Exit(1 if has_errors(diagnostics) else 0)


def _parse_vars(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is read as JSON when it parses, else kept as a string."""
    variables = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"--var expects KEY=VALUE, got '{pair}'", 2)
        key, value = pair.split("=", 1)
        try:
            variables[key] = json.loads(value)
        except ValueError:
            variables[key] = value
    return variables


@command()
def run(
    project: Path = ProjectArg,
    pipeline: str = typer.Argument(..., help="The pipeline uuid."),
    var: list[str] = typer.Option([], "--var", help="A variable as KEY=VALUE (repeatable)."),
    runtime_vars: str | None = typer.Option(None, "--runtime-vars", help="Runtime variables as a JSON object."),
    execution_date: str | None = typer.Option(None, "--execution-date", help="ISO date-time (default: now, UTC)."),
    results: str | None = typer.Option(None, "--results", help="Where block outputs are stored."),
    skip_sensors: bool = typer.Option(False, "--skip-sensors", help="Do not wait for sensor blocks."),
    allow_blocks_to_fail: bool = typer.Option(
        False, "--allow-blocks-to-fail", help="Keep running independent blocks after a block fails."
    ),
    block: str | None = typer.Option(None, "--block", help="Run this block alone, on its upstreams' stored outputs."),
    start: str | None = typer.Option(None, "--from", help="Run this block and everything below it."),
    end: str | None = typer.Option(None, "--to", help="Run this block and everything above it."),
    resume: str | None = typer.Option(
        None,
        "--resume",
        help="A flow run id, or 'last' (the latest run that failed, was cancelled or crashed): run only what "
        "it did not finish.",
    ),
    incremental: bool | None = typer.Option(
        None,
        "--incremental/--no-incremental",
        help="Skip blocks whose code, imports, configuration, variables and inputs are unchanged since their "
        "latest run (default: the project's mage_prefect.incremental).",
    ),
    refresh: list[str] = typer.Option([], "--refresh", help="With --incremental: run this block anyway (repeatable)."),
    task_runner: TaskRunnerName | None = typer.Option(
        None, "--task-runner", help="Where blocks run (default: the project's mage_prefect.task_runner, else threads)."
    ),
) -> None:
    """Run a pipeline on Prefect: the server in PREFECT_API_URL, else the local one (started if need be)."""
    collector.pause()  # until the flow is built and about to run (run_pipeline resumes it)
    from .project.validate import load_project  # imports no Prefect

    model = load_project(project, pipeline)  # a broken project starts no server
    runtime, variables = _parse_runtime_vars(runtime_vars), _parse_vars(var)
    _warn_misspelt(model.pipeline(pipeline), variables)
    _on_a_server(start=True)
    from .api import run_pipeline  # imports Prefect and builds the flow while the server starts

    outcome = run_pipeline(
        model,
        pipeline,
        variables=variables,
        runtime_variables=runtime,
        execution_date=execution_date,
        results=results,
        skip_sensors=skip_sensors,
        allow_blocks_to_fail=allow_blocks_to_fail,
        block=block,
        start=start,
        end=end,
        resume=resume,
        incremental=incremental,
        refresh=refresh,
        task_runner=task_runner.value if task_runner else None,
    )
    _print_summary(outcome)
    raise typer.Exit(0 if outcome.ok else 1)


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


@command()
def assess(
    project: Path = ProjectArg,
    format: ReportFormat = typer.Option("text", "--format", help="text, json, markdown or html."),
    out: Path | None = typer.Option(None, "--out", help="Write the report to this file instead of printing it."),
) -> None:
    """A migration report: per pipeline, whether it runs on Prefect, the Mage features it uses and what
    each becomes, every blocker with its file:line and fix, and the coverage. Never runs block code."""
    from .project.assess import assess as assessed
    from .project.assess import render

    report = render(assessed(project), format.value)
    if out is None:
        typer.echo(report, nl=False)
        return
    write_atomically(out, report.encode())
    typer.echo(f"wrote {out}")


@command()
def backfill(
    project: Path = ProjectArg,
    pipeline: str = typer.Argument(..., help="The pipeline uuid."),
    start: str | None = typer.Option(
        None, "--start", help="The first run's ISO date-time (UTC unless it has an offset)."
    ),
    end: str | None = typer.Option(
        None, "--end", help="The last possible run's ISO date-time (inclusive, as in Mage)."
    ),
    every: str | None = typer.Option(None, "--every", help="The interval between runs: 2d, 6h, 30min, 1w, 1mo, 1y …"),
    code: Path | None = typer.Option(
        None, "--code", help="Instead of dates: a file (path in the project) whose @custom function returns the runs."
    ),
    var: list[str] = typer.Option([], "--var", help="A variable as KEY=VALUE for every run (repeatable)."),
    trigger: str | None = typer.Option(None, "--trigger", help="Run as this trigger: its variables, its deployment."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="How many runs run at a time."),
    local: bool = typer.Option(False, "--local", help="Run here even if the pipeline is deployed."),
    resume: bool = typer.Option(False, "--resume", help="Make only the runs that did not complete last time."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs and their variables; run nothing."),
) -> None:
    """Backfill a pipeline as Mage does: one run per date from --start to --end, --every apart, each
    with Mage's backfill variables (ds, hr, execution_date, interval_*), oldest first; or one run per
    variables dict that --code returns. When the server has the pipeline's deployment, the runs are
    its flow runs, scheduled at their dates."""
    from .project.validate import load_project
    from .runtime.backfill_plan import Window, named_trigger, plan_backfill

    model = load_project(project, pipeline)
    variables = _parse_vars(var)
    _warn_misspelt(model.pipeline(pipeline), variables)
    window = Window(start, end, every, code)
    if dry_run:  # as --trigger (a deployment's own trigger is known only on the server)
        chosen = named_trigger(model.pipeline(pipeline), trigger) if trigger else None
        for run in plan_backfill(model, model.pipeline(pipeline), window, variables, chosen).runs:
            typer.echo(json.dumps(run.variables, default=str))
        return
    _ready(_on_a_server(start=True))
    from .backfills import backfill as run_backfill

    options = dict(variables=variables, trigger=trigger, concurrency=concurrency, resume=resume, local=local)
    progress = _BackfillProgress()
    try:
        with progress:
            ended = run_backfill(model, pipeline, window, **options, on_start=progress.started, on_run=progress.ended)
    except KeyboardInterrupt:
        where = f" (recorded in {progress.record})" if progress.record else ""
        typer.secho(f"interrupted{where}: rerun with --resume to make the runs that did not complete", err=True)
        raise typer.Exit(130) from None
    _backfill_summary(pipeline, ended)


class _BackfillProgress:
    """A progress bar of a backfill's runs (on a terminal), and a line per run as it ends."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.total, self.record = 0, None
        self.bar = Progress(
            TextColumn("backfill"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
        )
        self.task = self.bar.add_task("runs", total=None)

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def started(self, deployment: str | None, plan, count: int) -> None:
        self.total, self.record = len(plan.runs), plan.record
        self.bar.update(self.task, total=self.total)
        where = f"as flow runs of deployment {deployment}" if deployment else "in this process"
        self.bar.console.print(f"{count} of {self.total} run(s) to make, {where}")

    def ended(self, index: int, run, entry) -> None:
        state = "Completed (earlier)" if entry is None else entry["state"]
        typer.echo(f"[{index + 1}/{self.total}] {run.label} {state}")
        self.bar.advance(self.task)


def _backfill_summary(pipeline: str, ended) -> None:
    typer.echo(f"\nBackfill of '{pipeline}': {len(ended)} run(s)")
    for run, entry in ended:
        ok = entry["state"] == "Completed"
        typer.secho(
            f"  {'✓' if ok else '✗'} {entry['state']:<10} {run.label}  {entry['flow_run_id']}",
            fg=typer.colors.GREEN if ok else typer.colors.RED,
        )
    failed = [run for run, entry in ended if entry["state"] != "Completed"]
    if failed:
        typer.secho(f"{len(failed)} run(s) did not complete: rerun them with --resume", fg=typer.colors.RED)
    raise typer.Exit(1 if failed else 0)


def _parse_runtime_vars(text: str | None) -> dict:
    if not text:
        return {}
    try:
        runtime = json.loads(text)
    except ValueError as exc:
        _fail(f"--runtime-vars is not valid JSON: {exc}", 2)
    if not isinstance(runtime, dict):
        _fail("--runtime-vars must be a JSON object", 2)
    return runtime


def _warn_misspelt(pipeline, variables: dict[str, Any]) -> None:
    """A `--var` the pipeline does not declare is a runtime variable, as in Mage; one close to a
    declared name is more likely a typo."""
    from .project.errors import did_you_mean

    for name in variables:
        hint = "" if name in pipeline.variables else did_you_mean(name, pipeline.variables)
        if hint:
            typer.secho(
                f"warning: --var {name}: pipeline '{pipeline.uuid}' declares no variable '{name}' ({hint}); "
                "it is passed as a runtime variable",
                fg=typer.colors.YELLOW,
                err=True,
            )


def _quiet_prefect() -> None:
    """Before Prefect is imported: no telemetry (its first-run notice, and a 'database is locked'
    traceback when two processes record it at once), and no warning at exit about the events
    still being sent (they are sent)."""
    import logging

    from .background_server import STARTUP_TIMEOUT, ServerNotReady, startup_timeout

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect's own temporary server (MAGE_PREFECT_SERVER=temporary) waits 20 s by default: a new
    # database takes longer to migrate on a busy machine; wait as long as for the local server
    try:
        seconds = startup_timeout()
    except ServerNotReady:  # said when a run waits for a server
        seconds = STARTUP_TIMEOUT
    os.environ.setdefault(TEMPORARY_TIMEOUT, str(math.ceil(seconds)))  # Prefect takes whole seconds
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)


def _on_a_server(start: bool):
    """Before Prefect is imported: unless a server is configured (PREFECT_API_URL, in the
    environment or the Prefect profile), point PREFECT_API_URL at the local background server,
    started if `start` and none runs. The background server used, if any (it may be starting)."""
    from . import background_server

    if background_server.configured_api_url() or not background_server.wanted():
        return None
    server = background_server.running()
    if server is None and start:
        server, new = background_server.start()
        if new:
            typer.echo(
                f"starting a local Prefect server at {server.ui} (PREFECT_HOME {server.home}); later runs and "
                "the UI use it, `mage-prefect server stop` stops it",
                err=True,
            )
    if server is not None:
        os.environ["PREFECT_API_URL"] = server.url
    return server


def _ready(server) -> None:
    if server is not None:
        server.wait_ready()  # ServerNotReady is a user-facing error: one line


def _needs_server(what: str) -> None:
    """`what` (deploy, emit) needs a Prefect server: the configured one, else the local one."""
    server = _on_a_server(start=False)
    _ready(server)
    if server is None and not os.environ.get("PREFECT_API_URL"):
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            _fail(
                f"{what} needs a Prefect server: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api), "
                "or start the local one with `mage-prefect server start`"
            )


@command("start", on=server_app)
def server_start(port: int | None = typer.Option(None, "--port", help="Default: 4200, else a free port.")) -> None:
    """Start the local Prefect server in the background (or find the running one)."""
    from . import background_server

    server, new = background_server.start(port=port)
    _ready(server)
    typer.echo(f"{'started' if new else 'running'}: Prefect UI at {server.ui}, API {server.url} (pid {server.pid})")


@command("stop", on=server_app)
def server_stop() -> None:
    """Stop the local Prefect server."""
    from . import background_server

    server = background_server.stop()
    typer.echo(f"stopped the server at {server.ui}" if server else "no local Prefect server is running")


@command("status", on=server_app)
def server_status() -> None:
    """Whether the local Prefect server runs, and where."""
    from . import background_server

    server = background_server.running()
    if server is None:
        typer.echo(f"no local Prefect server is running (PREFECT_HOME {background_server.prefect_home()})")
        raise typer.Exit(1)
    typer.echo(f"running: Prefect UI at {server.ui}, API {server.url} (pid {server.pid}, PREFECT_HOME {server.home})")


def _print_summary(outcome) -> None:
    typer.echo(f"\nPipeline '{outcome.pipeline}' (flow run {outcome.flow_run_id}): {outcome.state.name}")
    for block, outcome_of_block in outcome.blocks.items():
        ok = outcome_of_block["state"] in ("Completed", "Cached")
        typer.secho(
            f"  {'✓' if ok else '✗'} {outcome_of_block['state']:<10} {block}",
            fg=typer.colors.GREEN if ok else typer.colors.RED,
        )
    if not outcome.ok:
        typer.secho(outcome.state.message or "", fg=typer.colors.RED)


def _load_pipeline(project: Path, pipeline: str):
    from .project.validate import load_project

    return load_project(project, pipeline).pipeline(pipeline)


@command()
def output(
    project: Path = ProjectArg,
    pipeline: str = typer.Argument(..., help="The pipeline uuid."),
    block: str = typer.Argument(..., help="The block uuid."),
    run: str = typer.Option("latest", "--run", help="'latest' or a flow run id."),
    index: int | None = typer.Option(None, "--index", help="Only output_<index>."),
    format: TextOrJson = typer.Option("text", "--format", help="text or json."),
    results: str | None = typer.Option(None, "--results", help="Where block outputs are stored."),
) -> None:
    """Print a block's stored output as a downstream block would receive it."""
    from .api import get_output

    value = get_output(project, pipeline, block, run=run, index=index, results=results)
    typer.echo(_to_json(value) if format is TextOrJson.json else _to_text(value))


def _to_json(value: Any) -> str:
    """Machine-readable JSON; DataFrames as a JSON table (schema + rows)."""
    return json.dumps(_jsonable(value), indent=2, default=str)


def _jsonable(value: Any) -> Any:
    if is_pandas(value):
        return json.loads(value.to_json(orient="table", date_format="iso"))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _to_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if not hasattr(value, "to_string") else value.to_string()


@command()
def graph(
    project: Path = ProjectArg,
    pipeline: str = typer.Argument(..., help="The pipeline uuid."),
    format: TextOrMermaid = typer.Option("text", "--format", help="text or mermaid."),
) -> None:
    """Print a pipeline's block graph."""
    from .project.graph import render_mermaid, render_text

    item = _load_pipeline(project, pipeline)
    typer.echo(render_mermaid(item) if format is TextOrMermaid.mermaid else render_text(item))


@command("compile")
def compile_(
    project: Path = ProjectArg,
    out: Path = typer.Option(Path("deployments"), "--out", help="Where prefect.yaml and flows.py go."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 with a diff if --out is stale."),
    work_pool: str | None = typer.Option(None, "--work-pool", help="Work pool of every deployment."),
    env: str | None = typer.Option(None, "--env", help="Mage env for trigger `envs` (default: $ENV or prod)."),
    image: str | None = typer.Option(None, "--image", help="Container image of every deployment (`dockerfile`)."),
) -> None:
    """Validate, then compile every pipeline's triggers into Prefect deployments (prefect.yaml)."""
    _, compiled = _compile(project, out, work_pool, env, image)
    from .deployments import stale, write

    if check:
        diff = stale(compiled, out)
        if diff:
            typer.echo(diff)
            _fail(f"{out} is stale: run `mage-prefect compile {project} --out {out}` and commit the result")
        typer.echo(f"{out} is up to date")
        return
    write(compiled, out)
    names = ", ".join(sorted(compiled.files))
    typer.echo(f"wrote {names} to {out}")


def _compile(project: Path, out: Path, work_pool: str | None, env: str | None, image: str | None = None):
    """Every diagnostic first (exit 1 on errors), then the project and its compiled files."""
    from .deployments import compile_project
    from .project.validate import check_project

    model, diagnostics = check_project(project)
    if model is None or has_errors(diagnostics):
        typer.echo(format_report(diagnostics, "text", relative_to=Path.cwd()), err=True)
        raise typer.Exit(1)
    compiled = compile_project(model, out, work_pool=work_pool, env=env, image=image)
    warnings = diagnostics + compiled.diagnostics
    if warnings:
        typer.echo(format_report(warnings, "text", relative_to=Path.cwd()), err=True)
    return model, compiled


@command()
def dockerfile(
    project: Path = ProjectArg,
    out: Path | None = typer.Option(None, "--out", help="Default: Dockerfile in the folder holding the project."),
    force: bool = typer.Option(False, "--force", help="Replace a Dockerfile that differs."),
) -> None:
    """Write a Dockerfile for the project's deployments on Docker, Kubernetes or ECS work pools."""
    from .dockerfile import DOCKERIGNORE
    from .dockerfile import dockerfile as render
    from .project.validate import load_project

    model = load_project(project)
    target = out or model.root.parent / "Dockerfile"
    text = render(model)
    if target.is_file() and target.read_text(encoding="utf-8") != text and not force:
        _fail(f"{target} exists and differs: pass --force to replace it, or --out to write elsewhere")
    write_atomically(target, text.encode())
    ignore = model.root.parent / ".dockerignore"
    if not ignore.exists():  # a team's own is kept
        write_atomically(ignore, DOCKERIGNORE.encode())
    typer.echo(f"wrote {target}; build the image with: docker build -t IMAGE -f {target} {model.root.parent}")


@command()
def deploy(
    project: Path = ProjectArg,
    out: Path = typer.Option(Path("deployments"), "--out", help="Where prefect.yaml and flows.py go."),
    plan_only: bool = typer.Option(False, "--plan", help="Only show what would be created, changed, deleted."),
    prune: bool = typer.Option(False, "--prune", help="Delete this project's deployments whose trigger is gone."),
    work_pool: str | None = typer.Option(None, "--work-pool", help="Work pool of every deployment."),
    env: str | None = typer.Option(None, "--env", help="Mage env for trigger `envs` (default: $ENV or prod)."),
    image: str | None = typer.Option(None, "--image", help="Container image of every deployment (`dockerfile`)."),
) -> None:
    """Compile, then register what changed on the Prefect server in PREFECT_API_URL (or the local one)."""
    _needs_server("deploy")
    from . import deployments

    model, compiled = _compile(project, out, work_pool, env, image)
    changes = deployments.plan(model, compiled)
    for change in changes:
        kept = change.action != "delete" or prune or plan_only
        typer.echo(f"{change}" + ("" if kept else "  (kept: pass --prune to delete)"))
    if plan_only:
        return
    deployments.write(compiled, out)
    started = deployments.apply(
        changes,
        out,
        model,
        prune=prune,
        work_pools=deployments.work_pools(compiled),
        initial_runs=compiled.initial_runs,
    )
    for name in started:
        typer.echo(f"started the first run of {name} (create_initial_pipeline_run)")
    counts = {action: sum(c.action == action for c in changes) for action in ("create", "update", "delete")}
    typer.echo(
        f"deployed: {counts['create']} created, {counts['update']} updated, {counts['delete'] if prune else 0} deleted"
    )


@command()
def emit(
    project: Path = ProjectArg,
    pipeline: str = typer.Argument(..., help="The pipeline uuid."),
    trigger: str | None = typer.Option(None, "--trigger", help="The event trigger (default: the only one)."),
    var: list[str] = typer.Option([], "--var", help="A runtime variable as KEY=VALUE (repeatable)."),
    payload: str | None = typer.Option(None, "--payload", help="More event payload as a JSON object."),
) -> None:
    """Emit the Prefect event that starts a pipeline's event trigger."""
    _needs_server("emit")
    from .deployments import emit_trigger
    from .project.validate import load_project

    model = load_project(project, pipeline)
    item = model.pipeline(pipeline)
    names = [t.name for t in item.triggers if t.schedule_type == "event"]
    if trigger is None and len(names) != 1:
        _fail(
            f"pipeline '{pipeline}' has {len(names)} event triggers ({', '.join(names) or 'none'}); "
            "name one with --trigger"
        )
    if trigger is not None and trigger not in names:
        _fail(f"pipeline '{pipeline}' has no event trigger '{trigger}' (event triggers: {', '.join(names) or 'none'})")
    try:
        extra = json.loads(payload) if payload else {}
    except ValueError as exc:
        _fail(f"--payload is not valid JSON: {exc}", 2)
    custom = model.settings.deployments.event_triggers
    event = emit_trigger(item.key, trigger or names[0], _parse_vars(var), extra, custom)
    typer.echo(f"emitted {event.event if event else 'event'} for {pipeline}/{trigger or names[0]}")


@command("list", on=outputs_app)
def outputs_list(
    project: Path = ProjectArg,
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only this pipeline."),
    results: str | None = typer.Option(None, "--results", help="Where block outputs are stored."),
) -> None:
    """Every stored run: its state, files, size, and why it is kept."""
    from .results.housekeeping import stored_runs

    _, store, keys = _stored_pipelines(project, pipeline, results)
    for key in keys:
        typer.echo(f"pipeline {key}")
        for run in stored_runs(store, key, None):
            started = datetime.fromtimestamp(run.started_at, UTC).strftime("%Y-%m-%d %H:%M")
            typer.echo(
                f"  {run.run_id}  {started} UTC  {run.state:<9} {run.files:>5} files {_size(run.size):>10}  {run.kept}"
            )


@command("prune", on=outputs_app)
def outputs_prune(
    project: Path = ProjectArg,
    older_than: str | None = typer.Option(
        None, "--older-than", help="e.g. 30d, 12h, 2w (default: the project's variables_retention_period)."
    ),
    pipeline: str | None = typer.Option(None, "--pipeline", "-p", help="Only this pipeline."),
    results: str | None = typer.Option(None, "--results", help="Where block outputs are stored."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be deleted."),
) -> None:
    """Delete the outputs of runs older than the retention period, except those a block's latest
    reads, a run going on, and the run `--resume last` would resume."""
    from .results.housekeeping import delete_unkept, retention, stored_runs

    model, store, keys = _stored_pipelines(project, pipeline, results)
    period = older_than or model.retention_period
    if period is None:
        _fail("say how old a run must be: --older-than 30d, or variables_retention_period in metadata.yaml", 2)
    age = retention(period, "--older-than" if older_than else "variables_retention_period")
    for key in keys:
        runs = stored_runs(store, key, age)
        gone = [run for run in runs if not run.kept] if dry_run else delete_unkept(store, key, runs)
        for run in gone:
            typer.echo(f"{'would delete' if dry_run else 'deleted'} {key}/{run.run_id} ({_size(run.size)})")
        typer.echo(
            f"pipeline {key}: {len(gone)} run(s) {'to delete' if dry_run else 'deleted'}, {len(runs) - len(gone)} kept"
        )


def _stored_pipelines(project: Path, pipeline: str | None, results: str | None):
    """The project, its output store, and the keys of the pipelines asked for (all by default)."""
    from .project.validate import load_project
    from .results.store import OutputStore, results_location

    model = load_project(project, pipeline)
    keys = [model.pipeline(pipeline).key] if pipeline else sorted(model.pipelines)
    return model, OutputStore(results_location(model, results)), keys


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def main() -> None:
    _quiet_prefect()
    try:
        app()
    except SystemExit as done:
        _exit(done.code)


def _exit(code: int | str | None) -> None:
    """Exit without the interpreter's teardown once Prefect is loaded: freeing its modules costs
    about half a second after every command. What exit must do runs first: the threads Python
    joins (the outputs artifact) and its exit hooks (Prefect's log and event workers drain, logging
    flushes), then the streams are flushed."""
    if "prefect" not in sys.modules:
        sys.exit(code)
    threading._shutdown()
    atexit._run_exitfuncs()
    if isinstance(code, str):
        print(code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
