"""Read one pipeline folder — metadata.yaml, its blocks and triggers.yaml — into the model.

Every entry is checked against its contract (contract.py) and reported all at once; then what the
model needs across entries: unique and non-colliding block uuids, known upstreams, block files,
and what mage-prefect does not support yet (refused with a diagnostic, never mis-run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .block_files import BlockFiles
from .contract import BlockEntry, NotificationEntry, PipelineFile, TriggersFile
from .entries import checked
from .errors import Diagnostic, did_you_mean
from .models import (
    ADD_ON_TYPES,
    EXECUTABLE_TYPES,
    RUNNABLE_TYPES,
    SKIPPED_TYPES,
    Block,
    Chart,
    Pipeline,
    RetryConfig,
    SourceRef,
    Trigger,
    clean_name,
)
from .notification_config import read_notification_config
from .yamlfile import KeyPath, YamlDocument, format_key_path, read_document

NOT_YET = "mage-prefect does not support this yet"
SECTIONS = ("blocks", *ADD_ON_TYPES)


@dataclass(frozen=True)
class Repo:
    """The (sub-)project a pipeline belongs to, and the settings its blocks inherit from it."""

    path: Path
    retry_config: dict[str, Any] = field(default_factory=dict)  # checked; merged under each block's
    notification_config: dict[str, Any] = field(default_factory=dict)  # checked; the pipeline's is merged over it


class PipelineReader:
    def __init__(self, files: BlockFiles, platform: bool):
        self.files, self.platform = files, platform

    def read(self, uuid: str, key: str, path: Path, repo: Repo, into: list[Diagnostic]) -> Pipeline | None:
        """The pipeline in folder `uuid` (its metadata.yaml at `path`), or None when it cannot be
        read. With errors `into` the list, the pipeline is what could be read, for further checks:
        it must not run (load_project refuses it)."""
        doc = read_document(path, into)
        if doc is None:
            return None
        data = doc.data
        if not isinstance(data, dict) or not data:
            what = "is empty" if not data else f"must be a mapping, not a {type(data).__name__}"
            into.append(
                doc.diagnostic(
                    (),
                    f"pipeline '{uuid}': metadata.yaml {what} (Mage refuses it: Invalid pipeline config)",
                    "list the pipeline's blocks under 'blocks:'",
                )
            )
            return None
        entry = checked(PipelineFile, data, doc, (), into, partial=True)  # the blocks are checked either way
        self._pipeline_level(doc, uuid, entry, into)
        sections = self._sections(doc, data, repo, into)
        triggers = self._triggers(path.parent / "triggers.yaml", into)
        notifications = read_notification_config(doc, data.get("notification_config"), into)
        line, column = doc.positions.get((), (None, None))
        return Pipeline(
            uuid=uuid,
            key=key,
            name=entry.name,
            description=entry.description,
            type=entry.type,
            blocks=sections["blocks"],
            callbacks=sections["callbacks"],
            conditionals=sections["conditionals"],
            charts=sections["widgets"],
            variables=entry.variables,
            concurrency_config=entry.concurrency_config.model_dump(exclude_none=True),
            triggers=triggers,
            notification_config=NotificationEntry.model_validate({**repo.notification_config, **notifications}),
            repo_path=repo.path,
            executor_type=entry.executor_type if isinstance(entry.executor_type, str) else None,
            source=SourceRef(file=path, line=line, column=column),
        )

    def _pipeline_level(self, doc: YamlDocument, uuid: str, entry: PipelineFile, into: list[Diagnostic]) -> None:
        if entry.uuid is not None and entry.uuid != uuid:
            into.append(
                doc.diagnostic(
                    ("uuid",),
                    f"pipeline uuid '{entry.uuid}' differs from its folder name "
                    f"'{uuid}'; Mage (and mage-prefect) use the folder name",
                    f"rename the folder or set uuid: {uuid}",
                    severity="warning",
                )
            )
        if entry.type != "python":
            into.append(
                doc.diagnostic(
                    ("type",),
                    f"pipeline type '{entry.type}' is not supported; {NOT_YET}",
                    "only batch pipelines (type: python) run on Prefect for now",
                )
            )
        if entry.extensions:
            into.append(
                doc.diagnostic(
                    ("extensions",),
                    f"pipeline extensions (Great Expectations) are not supported; {NOT_YET}",
                    "remove 'extensions' to run this pipeline",
                )
            )

    # -- blocks --------------------------------------------------------------------------------
    def _sections(self, doc: YamlDocument, data: dict, repo: Repo, into: list[Diagnostic]) -> dict[str, tuple]:
        """`blocks` and the add-ons (`callbacks`, `conditionals`) of those blocks, as Block models."""
        entries = {section: self._entries(doc, section, data.get(section), into) for section in (*SECTIONS, "widgets")}
        self._unique_uuids(doc, entries, into)
        runnable = {entry.uuid for _, entry, _ in entries["blocks"] if entry.type not in SKIPPED_TYPES}
        sections: dict[str, tuple] = {}
        for section in SECTIONS:
            kept = [item for item in entries[section] if item[1].type not in SKIPPED_TYPES]
            built: dict[str, Block] = {}  # replicas come last: they take their original's code
            blocks = {}
            for index, entry, raw in sorted(kept, key=lambda item: item[1].replicated_block is not None):
                key = (section, index)
                blocks[index] = (
                    self._block(doc, key, entry, raw, repo, runnable, built, into)
                    if raw is not None
                    else _stand_in(doc, key, entry)
                )
                built[entry.uuid] = blocks[index]
            sections[section] = tuple(blocks[index] for index in sorted(blocks))
        sections["widgets"] = tuple(
            Chart(
                uuid=entry.uuid,
                upstream_blocks=tuple(entry.upstream_blocks),
                configuration=raw.get("configuration") or {},
                source=_source_of(doc, ("widgets", index)),
            )
            for index, entry, raw in entries["widgets"]
            if raw is not None and entry.type == "chart"
        )
        return sections

    def _entries(
        self, doc: YamlDocument, section: str, raw: Any, into: list[Diagnostic]
    ) -> list[tuple[int, BlockEntry, dict | None]]:
        """Each entry of a section with its raw mapping; an entry with errors but a uuid comes with
        None instead, and stands in for its block so that others may still name it (its errors are
        reported; the pipeline does not run)."""
        if not isinstance(raw, list):
            return []  # absent or null; any other type is reported by the PipelineFile check
        entries = []
        for index, item in enumerate(raw):
            name = item.get("uuid") if isinstance(item, dict) else None
            what = f"block '{name}'" if isinstance(name, str) else f"{section}[{index}]"
            if not isinstance(item, dict):
                into.append(
                    doc.diagnostic(
                        (section, index),
                        f"{what} must be a mapping, not {item!r}",
                        "give every block at least 'uuid' and 'type'",
                    )
                )
                continue
            entry = checked(BlockEntry, item, doc, (section, index), into, what=what)
            if entry is not None:
                entries.append((index, entry, item))
            elif isinstance(item.get("uuid"), (str, int)) and not isinstance(item.get("uuid"), bool):
                upstreams = item.get("upstream_blocks")
                entries.append(
                    (
                        index,
                        BlockEntry.model_construct(
                            uuid=str(item["uuid"]),
                            type=item["type"] if item.get("type") in EXECUTABLE_TYPES else "custom",
                            upstream_blocks=[u for u in upstreams if isinstance(u, str)]
                            if isinstance(upstreams, list)
                            else [],
                        ),
                        None,
                    )
                )
        return entries

    @staticmethod
    def _unique_uuids(doc: YamlDocument, entries: dict[str, list], into: list[Diagnostic]) -> None:
        """Mage refuses duplicate uuids across all sections; uuids that Mage's `clean_name` makes equal
        (`a-b`/`a_b`, `Load`/`load`) overwrite each other's stored outputs, in Mage too."""
        seen: dict[str, str] = {}
        cleaned: dict[str, str] = {}
        for section, items in entries.items():
            for index, entry, _ in items:
                where = f"{section}[{index}]"
                if entry.uuid in seen:
                    into.append(
                        doc.diagnostic(
                            (section, index, "uuid"),
                            f"duplicate block uuid '{entry.uuid}' (first at {seen[entry.uuid]})",
                            "block uuids must be unique within a pipeline",
                        )
                    )
                    continue
                seen[entry.uuid] = where
                if section == "widgets" or entry.type in SKIPPED_TYPES:
                    continue  # charts, markdown and scratchpads store no outputs
                name = clean_name(entry.uuid)
                if name in cleaned:
                    into.append(
                        doc.diagnostic(
                            (section, index, "uuid"),
                            f"block uuid '{entry.uuid}' collides with "
                            f"'{cleaned[name]}': both store their outputs as '{name}'",
                            "rename one of them",
                        )
                    )
                cleaned.setdefault(name, entry.uuid)

    def _block(
        self,
        doc: YamlDocument,
        key: KeyPath,
        entry: BlockEntry,
        raw: dict,
        repo: Repo,
        runnable: set[str],
        built: dict[str, Block],
        into: list[Diagnostic],
    ) -> Block:
        """The block, as far as it can be resolved (its problems go `into` the list)."""
        uuid = entry.uuid
        if entry.type == "dbt" and raw.get("language") is None:  # Mage's dbt blocks are SQL by default
            entry = entry.model_copy(update={"language": "sql"})
        self._unsupported(doc, key, entry, into)
        upstreams = self._upstreams(doc, key, entry, runnable, into)
        configuration = raw.get("configuration") or {}  # block code gets it as written
        file, content = self._code(doc, key, entry, configuration, repo, built, into)
        callback_file = None
        if entry.has_callback:
            callback_file = self.files.find(
                doc,
                key + ("has_callback",),
                f"{clean_name(uuid)}_callback",
                "callback",
                "python",
                {},
                repo.path,
                self.platform,
                into,
            )
        if entry.type == "global_data_product" and entry.configuration.global_data_product is None:
            into.append(
                doc.diagnostic(
                    key + ("configuration",),
                    f"global data product block '{uuid}' names no product",
                    "set configuration.global_data_product.uuid",
                )
            )
        return Block(
            uuid=uuid,
            type=entry.type,
            language=entry.language,
            upstream_blocks=tuple(upstreams),
            configuration=configuration,
            retry_config=RetryConfig.model_validate(
                {**repo.retry_config, **(entry.retry_config.given() if entry.retry_config else {})}
            ),
            timeout=entry.timeout or None,  # 0: no timeout, as in Mage
            replicated_block=entry.replicated_block,
            content=content,
            file=file,
            callback_file=callback_file,
            executor_type=entry.executor_type if isinstance(entry.executor_type, str) else None,
            source=_source_of(doc, key),
        )

    @staticmethod
    def _upstreams(
        doc: YamlDocument, key: KeyPath, entry: BlockEntry, runnable: set[str], into: list[Diagnostic]
    ) -> list[str]:
        """The block's upstream blocks that exist; each unknown one is an error."""
        upstreams = []
        for position, upstream in enumerate(entry.upstream_blocks):
            if upstream in runnable:
                upstreams.append(upstream)
            else:
                into.append(
                    doc.diagnostic(
                        key + ("upstream_blocks", position),
                        f"block '{entry.uuid}' names unknown upstream block '{upstream}'",
                        did_you_mean(upstream, runnable) or "add that block to 'blocks' or remove the reference",
                    )
                )
        return upstreams

    def _code(
        self,
        doc: YamlDocument,
        key: KeyPath,
        entry: BlockEntry,
        configuration: dict,
        repo: Repo,
        built: dict[str, Block],
        into: list[Diagnostic],
    ) -> tuple[Path | None, str | None]:
        """Where the block's code is: (its file, its inline content); a replica runs its original's."""
        content = entry.content if entry.content and entry.content.strip() else None
        if entry.replicated_block is not None:
            original = built.get(entry.replicated_block)
            if original is not None:
                return original.file, original.content
            into.append(
                doc.diagnostic(
                    key + ("replicated_block",),
                    f"block '{entry.uuid}' replicates unknown block '{entry.replicated_block}'",
                    did_you_mean(entry.replicated_block, built) or "name a block of this section of the pipeline",
                )
            )
            return None, content
        if content is None and entry.type != "global_data_product":  # a product has no code
            file = self.files.find(
                doc, key, entry.uuid, entry.type, entry.language, configuration, repo.path, self.platform, into
            )
            return file, None
        return None, content

    @staticmethod
    def _unsupported(doc: YamlDocument, key: KeyPath, entry: BlockEntry, into: list[Diagnostic]) -> None:
        section = key[0]
        allowed = (ADD_ON_TYPES[section],) if section in ADD_ON_TYPES else EXECUTABLE_TYPES
        problems = []
        if entry.type not in allowed:
            problems.append((("type",), f"'{entry.type}' blocks are not supported in '{section}'; {NOT_YET}"))
        if entry.type == "dbt":
            if entry.language not in ("sql", "yaml"):
                problems.append((("language",), f"dbt blocks are SQL models or YAML commands, not {entry.language}"))
        elif entry.language == "sql" and entry.type not in RUNNABLE_TYPES:
            problems.append((("language",), f"SQL {entry.type} blocks are not supported; {NOT_YET}"))
        elif entry.language not in ("python", "sql") and entry.type != "global_data_product":
            problems.append((("language",), f"{entry.language} blocks are not supported; {NOT_YET}"))
        if isinstance(entry.configuration.dynamic, dict):
            problems.append(
                (("configuration", "dynamic"), f"dynamic blocks v2 (a mapping) are not supported; {NOT_YET}")
            )
        for sub_key, message in problems:
            into.append(doc.diagnostic(key + sub_key, message, "see the README's list of supported Mage features"))

    # -- triggers --------------------------------------------------------------------------------
    def _triggers(self, path: Path, into: list[Diagnostic]) -> tuple[Trigger, ...]:
        """triggers.yaml: each entry as strict as Mage, which drops a trigger with an unknown key or a
        wrong value; a cron Mage cannot read fails its schedule sync for every pipeline."""
        if not path.is_file():
            return ()
        doc = read_document(path, into)
        if doc is None:
            return ()
        if doc.data is not None and not isinstance(doc.data, dict):
            into.append(
                doc.diagnostic(
                    (),
                    "triggers.yaml must be a mapping with a 'triggers:' list (Mage drops every trigger of this file)",
                    "write 'triggers:' followed by a list",
                )
            )
            return ()
        file = checked(TriggersFile, doc.data or {}, doc, (), into)
        triggers: list[Trigger] = []
        for index, raw in enumerate(file.triggers if file else []):
            key = ("triggers", index)
            if not isinstance(raw, dict):
                into.append(
                    doc.diagnostic(
                        key,
                        f"a trigger must be a mapping, not {raw!r} (Mage drops every trigger of this file)",
                        "give each trigger name, schedule_type, schedule_interval and start_time",
                    )
                )
                continue
            name = raw.get("name")
            trigger = checked(Trigger, raw, doc, key, into, what=f"trigger '{name}'" if isinstance(name, str) else "")
            if trigger is None:
                continue
            clash = next((t for t in triggers if t.deployment_name == trigger.deployment_name), None)
            if clash is not None:
                same = (
                    "duplicate trigger name"
                    if clash.name == trigger.name
                    else "trigger names that make one deployment name"
                )
                into.append(
                    doc.diagnostic(
                        key + ("name",),
                        f"{same}: '{trigger.name}' and '{clash.name}' both deploy as '{trigger.deployment_name}'",
                        "trigger names must be unique per pipeline (/, %, &, <, > become -)",
                    )
                )
                continue
            if self._schedule_ok(doc, key, trigger, into):
                triggers.append(trigger)
        return tuple(triggers)

    @staticmethod
    def _schedule_ok(doc: YamlDocument, key: KeyPath, trigger: Trigger, into: list[Diagnostic]) -> bool:
        from croniter import croniter

        interval, where = trigger.schedule_interval, key + ("schedule_interval",)
        problem = None
        if trigger.schedule_type == "time" and not interval:
            problem = (
                f"time trigger '{trigger.name}' has no schedule_interval",
                "use @hourly, @daily, @weekly, @monthly, @once or a cron string",
            )
        elif interval == "@always_on":
            problem = (f"@always_on triggers are not supported; {NOT_YET}", "use a cron schedule such as '*/5 * * * *'")
        elif interval == "@once" and trigger.start_time is None:
            problem = (f"@once trigger '{trigger.name}' needs a start_time", "set start_time to when it should run")
        elif interval and interval != "@once" and not croniter.is_valid(trigger.cron):
            problem = (
                f"invalid cron expression '{interval}' (Mage's schedule sync fails on it, for every pipeline)",
                "use 5 fields (minute hour day month weekday) or a preset such as @daily",
            )
        if problem:
            into.append(doc.diagnostic(where, *problem))
        return problem is None


def _stand_in(doc: YamlDocument, key: KeyPath, entry: BlockEntry) -> Block:
    """A block whose entry has errors, as far as other blocks see it: its uuid and upstreams."""
    return Block(
        uuid=entry.uuid, type=entry.type, upstream_blocks=tuple(entry.upstream_blocks), source=_source_of(doc, key)
    )


def _source_of(doc: YamlDocument, key: KeyPath) -> SourceRef:
    line, column = doc.positions.get(key, (None, None))
    return SourceRef(file=doc.path, line=line, column=column, key_path=format_key_path(key))
