"""Read a Mage project from disk into the immutable model, collecting diagnostics.

Nothing here runs block code: block files are only located, never opened for execution.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import templating
from .errors import Diagnostic, did_you_mean
from .models import (
    ADD_ON_TYPES,
    EXECUTABLE_TYPES,
    KNOWN_TYPES,
    LANGUAGE_EXTENSIONS,
    RUNNABLE_TYPES,
    SKIPPED_TYPES,
    TEMPLATE_NAMES,
    WEBHOOK_CHANNELS,
    Block,
    GlobalDataProduct,
    NotificationConfig,
    Pipeline,
    Project,
    RetryConfig,
    SourceRef,
    Trigger,
    clean_name,
    type_directory,
)
from .yamlfile import KeyPath, YamlDocument, read_yaml

PIPELINE_KEYS = {
    "uuid", "name", "description", "tags", "created_at", "updated_at", "type", "blocks", "callbacks",
    "conditionals", "widgets", "extensions", "variables", "variables_dir", "remote_variables_dir",
    "concurrency_config", "retry_config", "executor_type", "executor_config", "executor_count",
    "run_pipeline_in_one_process", "cache_block_output_in_memory", "notification_config", "settings",
    "spark_config", "data_integration", "execution_framework", "state_store_config", "version",
}
BLOCK_KEYS = {
    "uuid", "type", "language", "upstream_blocks", "downstream_blocks", "configuration", "retry_config",
    "timeout", "executor_type", "executor_config", "has_callback", "replicated_block", "extension_uuid",
    "content", "groups", "name", "color", "status", "all_upstream_blocks_executed", "callback_blocks",
    "conditional_blocks", "pipelines", "tags",
}
SUPPORTED_PIPELINE_TYPES = ("python",)
NOT_YET = "mage-prefect does not support this yet"
UNSUPPORTED_CHANNELS = ("telegram_config", "opsgenie_config")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mage_prefect"}


class ProjectReader:
    """Reads one project root; `read()` returns the model and every diagnostic."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.diagnostics: list[Diagnostic] = []

    # -- project level -------------------------------------------------------------------------
    def read(self) -> Project | None:
        metadata = self.root / "metadata.yaml"
        if not metadata.is_file():
            self.diagnostics.append(
                Diagnostic(
                    file=metadata,
                    message="not a Mage project: metadata.yaml is missing",
                    hint="point at the folder that holds the project's metadata.yaml",
                )
            )
            return None
        root_doc = self._read_mapping_doc(metadata, rendered=True)
        root_config = root_doc.data if root_doc else {}
        sub_projects = self._read_platform_settings()
        repos = dict(sub_projects) if sub_projects else {self.root.name: self.root}
        pipelines: dict[str, Pipeline] = {}
        products: dict[str, GlobalDataProduct] = {}
        for repo_path in repos.values():
            products.update(self._read_global_data_products(repo_path / "global_data_products.yaml"))
            doc = root_doc if repo_path == self.root else self._read_mapping_doc(repo_path / "metadata.yaml", rendered=True)
            config = doc.data if doc else {}
            project_retry = config.get("retry_config") if isinstance(config.get("retry_config"), dict) else {}
            notifications = self._notification_config(doc, config.get("notification_config")) if doc else {}
            for pipeline in self._read_pipelines(repo_path, project_retry, notifications, platform=bool(sub_projects)):
                if pipeline.uuid in pipelines:
                    self.diagnostics.append(
                        Diagnostic(
                            file=pipeline.source.file,
                            message=f"pipeline '{pipeline.uuid}' is also defined in {pipelines[pipeline.uuid].source.file}",
                            hint="pipeline uuids must be unique across sub-projects; rename one",
                        )
                    )
                    continue
                pipelines[pipeline.uuid] = pipeline
        settings = root_config.get("mage_prefect") or {}
        return Project(
            root=self.root,
            name=self.root.name,
            platform=bool(sub_projects),
            sub_projects=sub_projects,
            pipelines=pipelines,
            global_data_products=products,
            settings=settings if isinstance(settings, dict) else {},
        )

    def _read_platform_settings(self) -> dict[str, Path]:
        """Mage's multi-project platform: active iff `<root>/settings.yaml` exists."""
        path = self.root / "settings.yaml"
        if not path.is_file():
            return {}
        doc = self._read_doc(path, rendered=True)
        if doc is None:
            return {}
        projects = (doc.data or {}).get("projects") if isinstance(doc.data, dict) else None
        if not isinstance(projects, dict) or not projects:
            self.diagnostics.append(
                doc.diagnostic(("projects",), "settings.yaml has no 'projects' mapping",
                               "list sub-projects as 'projects: {name: {path: dir}}'")
            )
            return {}
        found: dict[str, Path] = {}
        for name, options in projects.items():
            if options is not None and not isinstance(options, dict):
                self.diagnostics.append(
                    doc.diagnostic(("projects", name), f"sub-project '{name}' must be a mapping, not {options!r}",
                                   f"write '{name}: {{}}', or '{name}: {{path: <dir>}}' for another folder")
                )
                continue
            sub_path = self.root / str((options or {}).get("path") or name)
            if (sub_path / "metadata.yaml").is_file() or (sub_path / "pipelines").is_dir():
                found[str(name)] = sub_path
            else:
                self.diagnostics.append(
                    doc.diagnostic(("projects", name), f"sub-project '{name}' does not exist at {sub_path}",
                                   "remove it from settings.yaml or create the folder", severity="warning")
                )
        return found

    def _read_global_data_products(self, path: Path) -> dict[str, GlobalDataProduct]:
        if not path.is_file():
            return {}
        doc = self._read_doc(path)
        if doc is None or not isinstance(doc.data, dict):
            return {}
        products = {}
        for uuid, raw in doc.data.items():
            raw = raw if isinstance(raw, dict) else {}
            if raw.get("object_type", "pipeline") != "pipeline" or not raw.get("object_uuid"):
                self.diagnostics.append(doc.diagnostic((uuid,), f"global data product '{uuid}' must name a pipeline",
                                                       "set object_type: pipeline and object_uuid: <pipeline uuid>"))
                continue
            try:
                products[str(uuid)] = GlobalDataProduct(
                    uuid=str(uuid), object_uuid=raw["object_uuid"], outdated_after=raw.get("outdated_after") or {},
                    settings=raw.get("settings") or {})
                products[str(uuid)].max_age_seconds()
            except (ValidationError, KeyError) as exc:
                self.diagnostics.append(doc.diagnostic((uuid, "outdated_after"), f"invalid outdated_after: {exc}",
                                                       "use seconds, minutes, hours, days, weeks, months or years"))
                products.pop(str(uuid), None)
        return products

    # -- pipelines -----------------------------------------------------------------------------
    def _read_pipelines(self, repo_path: Path, project_retry: dict, notifications: dict, platform: bool) -> list[Pipeline]:
        pipelines_dir = repo_path / "pipelines"
        if not pipelines_dir.is_dir():
            return []
        result = []
        for folder in sorted(pipelines_dir.iterdir()):
            metadata = folder / "metadata.yaml"
            if folder.is_dir() and metadata.is_file():
                pipeline = self._read_pipeline(folder.name, metadata, repo_path, project_retry, notifications, platform)
                if pipeline is not None:
                    result.append(pipeline)
        return result

    def _read_pipeline(self, uuid: str, path: Path, repo_path: Path, project_retry: dict, notifications: dict,
                       platform: bool):
        doc = self._read_doc(path)
        if doc is None:
            return None
        data = doc.data or {}
        if not isinstance(data, dict):
            self.diagnostics.append(doc.diagnostic((), "a pipeline metadata.yaml must be a mapping"))
            return None
        self._unknown_keys(doc, (), data, PIPELINE_KEYS)
        pipeline_type = data.get("type") or "python"
        if pipeline_type not in SUPPORTED_PIPELINE_TYPES:
            self.diagnostics.append(
                doc.diagnostic(("type",), f"pipeline type '{pipeline_type}' is not supported; {NOT_YET}",
                               "only batch pipelines (type: python) run on Prefect for now")
            )
        if data.get("extensions"):
            self.diagnostics.append(
                doc.diagnostic(("extensions",), f"pipeline extensions (Great Expectations) are not supported; {NOT_YET}",
                               "remove 'extensions' to run this pipeline, or wait for support")
            )
        variables = data.get("variables")
        if variables is not None and not isinstance(variables, dict):
            self.diagnostics.append(doc.diagnostic(("variables",), "'variables' must be a mapping of name: value"))
            variables = {}
        sections = {}
        for section in ("blocks", *ADD_ON_TYPES):
            raw_blocks = data.get(section) or []
            if not isinstance(raw_blocks, list):
                self.diagnostics.append(doc.diagnostic((section,), f"'{section}' must be a list"))
                raw_blocks = []
            parents = {block.uuid for block in sections.get("blocks", ())}
            sections[section] = self._read_blocks(doc, section, raw_blocks, repo_path, project_retry, platform,
                                                  parents if section != "blocks" else None)
        line, column = doc.positions.get((), (None, None))
        concurrency = data.get("concurrency_config")
        return Pipeline(
            uuid=uuid,
            name=data.get("name"),
            description=data.get("description"),
            type=str(pipeline_type),
            blocks=tuple(sections["blocks"]),
            callbacks=tuple(sections["callbacks"]),
            conditionals=tuple(sections["conditionals"]),
            variables=variables or {},
            concurrency_config=concurrency if isinstance(concurrency, dict) else {},
            triggers=tuple(self._read_triggers(path.parent / "triggers.yaml")),
            notification_config=NotificationConfig.model_validate(
                {**notifications, **self._notification_config(doc, data.get("notification_config"))}),
            repo_path=repo_path,
            source=SourceRef(file=path, line=line, column=column),
        )

    def _read_triggers(self, path: Path) -> list[Trigger]:
        """triggers.yaml: strict like Mage (unknown keys, bad types, bad cron are errors)."""
        if not path.is_file():
            return []
        doc = self._read_doc(path)
        if doc is None:
            return []
        raw_triggers = (doc.data or {}).get("triggers") if isinstance(doc.data, dict) else None
        if not isinstance(raw_triggers, list):
            self.diagnostics.append(doc.diagnostic(("triggers",), "triggers.yaml needs a 'triggers:' list"))
            return []
        triggers, names = [], set()
        for index, raw in enumerate(raw_triggers):
            key = ("triggers", index)
            if not isinstance(raw, dict):
                self.diagnostics.append(doc.diagnostic(key, "a trigger must be a mapping"))
                continue
            try:
                trigger = Trigger(**{name: value for name, value in raw.items()})
            except ValidationError as exc:
                for error in exc.errors():
                    self.diagnostics.append(self._trigger_error(doc, key, error))
                continue
            if trigger.name in names:
                self.diagnostics.append(doc.diagnostic(key + ("name",), f"duplicate trigger name '{trigger.name}'",
                                                       "trigger names must be unique per pipeline"))
                continue
            names.add(trigger.name)
            self._check_schedule(doc, key, trigger)
            triggers.append(trigger)
        return triggers

    @staticmethod
    def _trigger_error(doc: YamlDocument, key: KeyPath, error: dict) -> Diagnostic:
        loc = tuple(error["loc"])
        name = ".".join(map(str, loc))
        if error["type"] == "missing":
            return doc.diagnostic(key, f"trigger is missing '{name}'", f"add '{name}:' (it may be null)")
        if error["type"] == "extra_forbidden":
            known = Trigger.model_fields if len(loc) == 1 else Trigger.model_fields["settings"].annotation.model_fields
            return doc.diagnostic(key + loc, f"unknown trigger key '{name}' (Mage rejects the whole trigger)",
                                  did_you_mean(str(loc[-1]), known) or "remove it")
        return doc.diagnostic(key + loc, f"invalid trigger {name}: {error['msg']}", "see Mage's triggers.yaml format")

    def _check_schedule(self, doc: YamlDocument, key: KeyPath, trigger: Trigger) -> None:
        from croniter import croniter

        interval = trigger.schedule_interval
        where = key + ("schedule_interval",)
        if trigger.schedule_type != "time":
            return
        if not interval:
            self.diagnostics.append(doc.diagnostic(where, f"time trigger '{trigger.name}' has no schedule_interval",
                                                   "use @hourly, @daily, @weekly, @monthly, @once or a cron string"))
        elif interval == "@always_on":
            self.diagnostics.append(doc.diagnostic(where, f"@always_on triggers are not supported; {NOT_YET}",
                                                   "use a cron schedule such as '*/5 * * * *'"))
        elif interval == "@once" and trigger.start_time is None:
            self.diagnostics.append(doc.diagnostic(where, f"@once trigger '{trigger.name}' needs a start_time",
                                                   "set start_time to when it should run"))
        elif trigger.cron and not croniter.is_valid(trigger.cron):
            self.diagnostics.append(doc.diagnostic(where, f"invalid cron expression '{interval}'",
                                                   "use 5 fields (minute hour day month weekday) or a preset such as @daily"))

    # -- blocks --------------------------------------------------------------------------------
    def _read_blocks(self, doc: YamlDocument, section: str, raw_blocks: list, repo_path: Path, project_retry: dict,
                     platform: bool, parents: set[str] | None) -> list[Block]:
        """One list of a pipeline: `blocks`, or the add-ons (`callbacks`, `conditionals`) of `parents`."""
        entries: list[tuple[int, dict]] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_blocks):
            key = (section, index)
            if not isinstance(raw, dict) or not isinstance(raw.get("uuid"), str) or not raw.get("uuid"):
                self.diagnostics.append(doc.diagnostic(key, "a block needs a 'uuid' string",
                                                       "give every block a unique 'uuid'"))
                continue
            uuid = raw["uuid"]
            if uuid in seen:
                self.diagnostics.append(
                    doc.diagnostic(key + ("uuid",), f"duplicate block uuid '{uuid}' (first at {section}[{seen[uuid]}])",
                                   "block uuids must be unique within a pipeline")
                )
                continue
            seen[uuid] = index
            self._unknown_keys(doc, key, raw, BLOCK_KEYS)
            block_type = raw.get("type")
            if block_type not in KNOWN_TYPES:
                self.diagnostics.append(
                    doc.diagnostic(key + ("type",), f"invalid block type '{block_type}'",
                                   did_you_mean(str(block_type), KNOWN_TYPES) or f"use one of {', '.join(RUNNABLE_TYPES)}")
                )
                continue
            if block_type in SKIPPED_TYPES:
                continue  # charts, markdown and scratchpads never run in Mage pipeline runs
            entries.append((index, raw))

        runnable = parents if parents is not None else {raw["uuid"] for _, raw in entries}
        files: dict[str, Path | None] = {}
        blocks: list[Block] = []
        for index, raw in sorted(entries, key=lambda entry: bool(entry[1].get("replicated_block"))):
            block = self._read_block(doc, (section, index), raw, repo_path, project_retry, platform, runnable, files)
            if block is not None:
                files[block.uuid] = block.file
                blocks.append(block)
        order = {raw["uuid"]: index for index, raw in entries}
        return sorted(blocks, key=lambda block: order[block.uuid])

    def _read_block(self, doc, key: KeyPath, raw: dict, repo_path: Path, project_retry: dict, platform: bool,
                    runnable: set[str], files: dict[str, Path | None]) -> Block | None:
        uuid, block_type = raw["uuid"], raw["type"]
        language = raw.get("language") or "python"
        configuration = raw.get("configuration") or {}
        if not isinstance(configuration, dict):
            self.diagnostics.append(doc.diagnostic(key + ("configuration",), "'configuration' must be a mapping"))
            configuration = {}
        self._unsupported_features(doc, key, raw, block_type, language, configuration)

        upstreams = raw.get("upstream_blocks") or []
        if not isinstance(upstreams, list) or not all(isinstance(u, str) for u in upstreams):
            self.diagnostics.append(doc.diagnostic(key + ("upstream_blocks",), "'upstream_blocks' must be a list of block uuids"))
            upstreams = []
        for position, upstream in enumerate(upstreams):
            if upstream not in runnable:
                self.diagnostics.append(
                    doc.diagnostic(key + ("upstream_blocks", position),
                                   f"block '{uuid}' names unknown upstream block '{upstream}'",
                                   did_you_mean(upstream, runnable) or "add that block to 'blocks' or remove the reference")
                )
        upstreams = [u for u in upstreams if u in runnable]

        timeout = raw.get("timeout")
        if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
            self.diagnostics.append(doc.diagnostic(key + ("timeout",), f"'timeout' must be a positive number of seconds, not {timeout!r}"))
            timeout = None

        replicated = raw.get("replicated_block")
        file = None
        content = raw.get("content") if isinstance(raw.get("content"), str) and raw.get("content").strip() else None
        if content is None and block_type != "global_data_product":
            if replicated:
                if replicated not in files or files[replicated] is None:
                    self.diagnostics.append(
                        doc.diagnostic(key + ("replicated_block",), f"block '{uuid}' replicates unknown block '{replicated}'",
                                       did_you_mean(replicated, files) or "name a block of this pipeline")
                    )
                else:
                    file = files[replicated]
            else:
                file = self._block_file(doc, key, uuid, block_type, language, configuration, repo_path, platform)
        callback_file = None
        if raw.get("has_callback"):
            callback_file = self._block_file(doc, key + ("has_callback",), f"{clean_name(uuid)}_callback", "callback",
                                             "python", {}, repo_path, platform)
        if block_type == "global_data_product":
            product = (configuration.get("global_data_product") or {}).get("uuid") if isinstance(
                configuration.get("global_data_product"), dict) else None
            if not product:
                self.diagnostics.append(doc.diagnostic(key + ("configuration",), f"global data product block '{uuid}' names no product",
                                                       "set configuration.global_data_product.uuid"))
        line, column = doc.positions.get(key, (None, None))
        return Block(
            uuid=uuid,
            type=block_type,
            language=language,
            upstream_blocks=tuple(upstreams),
            configuration=configuration,
            retry_config=self._block_retry(doc, key, raw.get("retry_config"), project_retry),
            timeout=timeout,
            replicated_block=replicated or None,
            content=content,
            file=file,
            callback_file=callback_file,
            source=SourceRef(file=doc.path, line=line, column=column),
        )

    def _unsupported_features(self, doc, key, raw, block_type, language, configuration) -> None:
        section = key[0]
        allowed = (ADD_ON_TYPES[section],) if section in ADD_ON_TYPES else EXECUTABLE_TYPES
        problems = []
        if block_type not in allowed:
            problems.append((("type",), f"'{block_type}' blocks are not supported in '{section}'; {NOT_YET}"))
        if language == "sql" and block_type not in RUNNABLE_TYPES:
            problems.append((("language",), f"SQL {block_type} blocks are not supported; {NOT_YET}"))
        elif language not in ("python", "sql") and block_type != "global_data_product":
            problems.append((("language",), f"{language} blocks are not supported; {NOT_YET}"))
        if isinstance(configuration.get("dynamic"), dict):
            problems.append((("configuration", "dynamic"), f"dynamic blocks v2 (a mapping) are not supported; {NOT_YET}"))
        for sub_key, message in problems:
            self.diagnostics.append(doc.diagnostic(key + sub_key, message, "see the README's list of supported Mage features"))

    def _block_file(self, doc, key, uuid, block_type, language, configuration, repo_path, platform) -> Path | None:
        """Mage's resolution: file_source.path (platform only), file_path, then the default path."""
        extension = LANGUAGE_EXTENSIONS.get(language, "py")
        default = repo_path / type_directory(block_type) / f"{uuid}.{extension}"
        candidates = []
        file_source = configuration.get("file_source") or {}
        if platform and isinstance(file_source, dict) and file_source.get("path"):
            candidates.append(str(file_source["path"]))
        if configuration.get("file_path"):
            candidates.append(str(configuration["file_path"]))
        for configured in candidates:
            resolved = self._absolute_path(configured)
            if resolved is not None:
                return resolved
        if default.is_file():
            return default
        tried = ", ".join(candidates + [str(default.relative_to(self.root))])
        self.diagnostics.append(
            doc.diagnostic(key, f"block file for '{uuid}' not found (tried: {tried})",
                           f"create {default.relative_to(self.root)} or fix configuration.file_path")
        )
        return None

    def _absolute_path(self, configured: str) -> Path | None:
        """Mage's `add_absolute_path`, keeping only paths that exist (stale ones fall back)."""
        path = Path(configured)
        if path.is_absolute():
            return path if path.is_file() else None
        parts = path.parts
        candidates = []
        if parts[0] == self.root.name:
            candidates.append(self.root.joinpath(*parts[1:]))
        candidates += [self.root / path, self.root / "dbt" / path]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(names):
                full = Path(folder) / name
                if str(full).endswith(os.sep + str(path)):
                    return full
        return None

    # -- helpers -------------------------------------------------------------------------------
    def _block_retry(self, doc: YamlDocument, key: KeyPath, raw: Any, project_retry: dict) -> RetryConfig:
        """The block's retry_config merged over the project's, as Mage merges them."""
        try:
            return RetryConfig(**{**project_retry, **(raw if isinstance(raw, dict) else {})})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            self.diagnostics.append(
                doc.diagnostic(key + ("retry_config",), f"invalid retry_config: {where}: {error['msg']}",
                               "retry_config takes retries, delay, max_delay and exponential_backoff")
            )
            return RetryConfig()

    def _unknown_keys(self, doc: YamlDocument, key: KeyPath, data: dict, known: set[str]) -> None:
        for name in data:
            if name not in known:
                self.diagnostics.append(
                    doc.diagnostic(key + (name,), f"unknown key '{name}' (Mage ignores it)",
                                   did_you_mean(name, known) or "remove it", severity="warning")
                )

    def _read_doc(self, path: Path, rendered: bool = False) -> YamlDocument | None:
        text = None
        if rendered:
            try:
                text = templating.render(path.read_text(encoding="utf-8"))
            except Exception as exc:  # jinja syntax errors and failing template functions
                line = getattr(exc, "lineno", None)
                self.diagnostics.append(Diagnostic(file=path, line=line, message=f"cannot render template: {exc}",
                                                   hint="check the {{ ... }} expressions"))
                return None
        result = read_yaml(path, text)
        if isinstance(result, Diagnostic):
            self.diagnostics.append(result)
            return None
        return result

    def _read_mapping_doc(self, path: Path, rendered: bool = False) -> YamlDocument | None:
        """A YAML file that must hold a mapping (its data is {} when empty); None when absent or bad."""
        if not path.is_file():
            return None
        doc = self._read_doc(path, rendered)
        if doc is None:
            return None
        if doc.data is not None and not isinstance(doc.data, dict):
            self.diagnostics.append(doc.diagnostic((), "this file must be a YAML mapping"))
            return None
        return doc if doc.data is not None else YamlDocument(doc.path, {}, doc.positions)

    def _notification_config(self, doc: YamlDocument, raw: Any) -> dict:
        """A `notification_config` mapping, checked (problems reported); {} when absent or unusable."""
        key: KeyPath = ("notification_config",)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.diagnostics.append(doc.diagnostic(key, "'notification_config' must be a mapping"))
            return {}
        for name in raw:
            if name in UNSUPPORTED_CHANNELS:
                self.diagnostics.append(doc.diagnostic(key + (name,), f"{name} notifications are not sent; {NOT_YET}",
                                                       f"use one of {', '.join(WEBHOOK_CHANNELS)} or email_config",
                                                       severity="warning"))
            elif name not in NotificationConfig.model_fields:
                self.diagnostics.append(doc.diagnostic(key + (name,), f"unknown notification_config key '{name}'",
                                                       did_you_mean(name, NotificationConfig.model_fields) or "remove it",
                                                       severity="warning"))
        try:
            config = NotificationConfig.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                where = key + tuple(error["loc"])
                self.diagnostics.append(doc.diagnostic(where, f"invalid notification_config: "
                                                       f"{'.'.join(map(str, error['loc']))}: {error['msg']}",
                                                       "see Mage's notification_config format"))
            return {}
        for event, template in config.message_templates.items():
            for part in ("subject", "summary", "details"):
                problem = _template_problem(getattr(template, part) or "")
                if problem:
                    self.diagnostics.append(doc.diagnostic(key + ("message_templates", event, part), problem,
                                                           "write {{ and }} for literal braces", severity="warning"))
        for channel in WEBHOOK_CHANNELS:
            if getattr(config, channel) is not None and getattr(config, channel).webhook_url in ("None", ""):
                self.diagnostics.append(doc.diagnostic(
                    key + (channel, "webhook_url"), f"{channel}.webhook_url is empty or 'None' (what an unset "
                    "env_var() renders): nothing can be sent", "set the environment variable it reads",
                    severity="warning"))
        return raw


def _template_problem(text: str) -> str | None:
    """Why a message template would not be filled in as written: only plain `{name}` fields of
    TEMPLATE_NAMES are. At run time other names are sent as written, and a template that cannot be
    filled in at all is replaced by Mage's default message."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as exc:
        return f"message template {text!r} cannot be filled in: {exc}"
    for name, spec, conversion in fields:
        if name not in TEMPLATE_NAMES or spec or conversion:
            return (f"message template field '{{{name}}}' is not filled in: use plain {{name}} fields of "
                    f"{', '.join(TEMPLATE_NAMES)}")
    return None


def read_project(root: str | Path) -> tuple[Project | None, list[Diagnostic]]:
    """Read the project at `root`; returns the model (None if unreadable) and diagnostics."""
    reader = ProjectReader(Path(root))
    project = reader.read()
    return project, reader.diagnostics
