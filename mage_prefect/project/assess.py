"""A migration report for a Mage project (`mage-prefect assess`): per pipeline, whether it runs on
Prefect, the Mage features it uses and what each becomes, and every blocker with its place and fix.
Static: it reads the project as `validate` does and never runs block code."""

from __future__ import annotations

import ast
import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .block_checks import block_code_text, imported_modules
from .errors import Diagnostic, ProjectError
from .models import Pipeline
from .validate import check_project

MAPPINGS = {
    "Python blocks": "a Prefect task each, the block's code unchanged",
    "SQL blocks": "a task running the query as Mage's SQLBlock (DuckDB, PostgreSQL)",
    "dbt blocks": "prefect-dbt's runner; each dbt node a task run",
    "dynamic blocks": "a task run per item, named <uuid>:<index>",
    "replicated blocks": "the replicated code as its own task, <uuid>:<replica>",
    "sensors": "a task polling the sensor until it holds",
    "conditionals": "checked before the block; false skips it and its descendants",
    "callbacks": "called after the block succeeds or fails",
    "charts": "drawn from the upstream output into the outputs artifact",
    "global data products": "a subflow run, or the product's fresh stored outputs",
    "retries": "Prefect task retries with Mage's delays",
    "timeouts": "the block stops at its timeout",
    "time triggers": "a deployment schedule",
    "API triggers": "a deployment to run through the Prefect API",
    "event triggers": "a deployment trigger on a Prefect event",
    "notifications": "Mage's messages for deployment runs",
    "transformer actions": "the shim's port of mage_ai.data_cleaner.transformer_actions",
    "mage_ai.io connectors": "the shim's connectors (DuckDB, PostgreSQL, files, S3, GCS, Snowflake)",
}


@dataclass
class PipelineReport:
    pipeline: str
    runs: bool
    blocks: int
    features: dict[str, int] = field(default_factory=dict)
    blockers: list[dict[str, object]] = field(default_factory=list)


def assess(root: str | Path) -> list[PipelineReport]:
    """One report per pipeline of the project, in key order."""
    root = Path(root)
    project, diagnostics = check_project(root)
    if project is None:  # not a project: nothing to assess
        raise ProjectError(diagnostics)
    reports = []
    for key in sorted(project.pipelines):
        pipeline = project.pipelines[key]
        errors = [d for d in check_project(root, key)[1] if d.severity == "error"]
        reports.append(
            PipelineReport(
                key, not errors, len(pipeline.blocks), features(pipeline), [_blocker(d, root) for d in errors]
            )
        )
    return reports


def _blocker(diagnostic: Diagnostic, root: Path) -> dict[str, object]:
    """A diagnostic with the project's paths relative to its root (a report travels)."""
    inside = str(root.resolve()) + "/"
    where = str(diagnostic.file.resolve()).replace(inside, "") if diagnostic.file else None
    return {
        "file": where,
        "line": diagnostic.line,
        "problem": diagnostic.message.replace(inside, ""),
        "fix": (diagnostic.hint or "").replace(inside, ""),
    }


def features(pipeline: Pipeline) -> dict[str, int]:
    """How many of each Mage feature the pipeline uses (only those it uses)."""
    blocks = pipeline.blocks
    found = Counter(
        {
            "Python blocks": sum(b.language == "python" and b.type != "global_data_product" for b in blocks),
            "SQL blocks": sum(b.language == "sql" and b.type != "dbt" for b in blocks),
            "dbt blocks": sum(b.type == "dbt" for b in blocks),
            "dynamic blocks": sum(b.dynamic for b in blocks),
            "replicated blocks": sum(b.replicated_block is not None for b in blocks),
            "sensors": sum(b.type == "sensor" for b in blocks),
            "conditionals": len(pipeline.conditionals),
            "callbacks": len(pipeline.callbacks),
            "charts": len(pipeline.charts),
            "global data products": sum(b.type == "global_data_product" for b in blocks),
            "retries": sum(bool(b.retry_config.retries) for b in blocks),
            "timeouts": sum(b.timeout is not None for b in blocks),
            "time triggers": sum(t.schedule_type == "time" for t in pipeline.triggers),
            "API triggers": sum(t.schedule_type == "api" for t in pipeline.triggers),
            "event triggers": sum(t.schedule_type == "event" for t in pipeline.triggers),
            "notifications": int(pipeline.notification_config != type(pipeline.notification_config)()),
        }
    )
    for block in blocks:
        modules = _mage_imports(block)
        found["transformer actions"] += any(m.startswith("mage_ai.data_cleaner.transformer_actions") for m in modules)
        found["mage_ai.io connectors"] += any(m.startswith("mage_ai.io.") for m in modules)
    return {name: count for name, count in found.items() if count}


def _mage_imports(block) -> list[str]:
    code = block_code_text(block) if block.language == "python" else None
    if not isinstance(code, tuple):
        return []
    try:
        tree = ast.parse(code[0])
    except SyntaxError:
        return []
    return [module for node in ast.walk(tree) for module in imported_modules(node) if module.startswith("mage_ai")]


def coverage(reports: list[PipelineReport]) -> tuple[int, int, int, int]:
    """(pipelines that run, pipelines, blocks in pipelines that run, blocks)."""
    running = [report for report in reports if report.runs]
    return len(running), len(reports), sum(r.blocks for r in running), sum(r.blocks for r in reports)


def _sections(reports: list[PipelineReport]) -> tuple[str, list[tuple[str, list[str]]]]:
    """The report's title, and per pipeline its heading and lines (features, then blockers)."""
    ok, total, ok_blocks, blocks = coverage(reports)
    title = f"Migration to Prefect: {ok} of {total} pipelines run, {ok_blocks} of {blocks} blocks"
    sections = []
    for report in reports:
        state = "runs on Prefect" if report.runs else "blocked"
        heading = f"{report.pipeline}: {state} ({report.blocks} block{'s' if report.blocks != 1 else ''})"
        lines = [f"{name} ×{count}: {MAPPINGS[name]}" for name, count in report.features.items()]
        for blocker in report.blockers:
            place = f"{blocker['file']}:{blocker['line']}" if blocker["line"] else str(blocker["file"])
            lines.append(f"BLOCKER {place}: {blocker['problem']} (fix: {blocker['fix']})")
        sections.append((heading, lines))
    return title, sections


def render(reports: list[PipelineReport], format: str) -> str:
    """The report as text, json, markdown or html."""
    if format == "json":
        ok, total, ok_blocks, blocks = coverage(reports)
        summary = {"pipelines_that_run": ok, "pipelines": total, "blocks_that_run": ok_blocks, "blocks": blocks}
        return json.dumps({"coverage": summary, "pipelines": [asdict(r) for r in reports]}, indent=2) + "\n"
    title, sections = _sections(reports)
    if format == "html":
        body = "".join(
            f"<h2>{html.escape(heading)}</h2><ul>{''.join(f'<li>{html.escape(line)}</li>' for line in lines)}</ul>"
            for heading, lines in sections
        )
        return f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>' + (
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
        )
    markdown = format == "markdown"
    out = [f"# {title}" if markdown else title]
    for heading, lines in sections:
        out += [
            "",
            f"## {heading}" if markdown else heading,
            *[f"- {line}" if markdown else f"  {line}" for line in lines],
        ]
    return "\n".join(out) + "\n"
