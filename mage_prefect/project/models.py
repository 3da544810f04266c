"""The immutable project model: Project ─ Pipeline ─ Block, with source positions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .contract import (
    OUTDATED_UNITS,
    GlobalDataProductEntry,
    MagePrefectSettings,
    NotificationEntry,
    RetryConfigEntry,
    TriggerEntry,
)
from .errors import NotFound, did_you_mean

# Mage's block-type → folder rule: `<type>s`, except `custom` (constants.BLOCK_TYPE_DIRECTORY_NAME).
RUNNABLE_TYPES = ("data_loader", "transformer", "data_exporter", "custom")
# Blocks of the `blocks:` list that run in a pipeline run; add-ons live in their own lists.
EXECUTABLE_TYPES = RUNNABLE_TYPES + ("sensor", "global_data_product", "dbt")
ADD_ON_TYPES = {"callbacks": "callback", "conditionals": "conditional"}
SKIPPED_TYPES = ("chart", "markdown", "scratchpad")
LANGUAGE_EXTENSIONS = {"python": "py", "sql": "sql", "r": "r", "yaml": "yaml", "markdown": "md"}


def type_directory(block_type: str) -> str:
    return block_type if block_type == "custom" else f"{block_type}s"


def clean_name(uuid: str) -> str:
    """Mage's `clean_name`: lowercase, non-word characters → '_', no leading digit."""
    name = re.sub(r"\W", "_", uuid.lower())
    return f"letter_{name}" if name[:1].isdigit() else name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class RetryConfig(RetryConfigEntry):
    """Mage's RetryConfig; `delays()` reproduces `mage_ai.shared.retry.retry`."""

    def delays(self) -> list[float]:
        """Sleep before each retry; Mage stops once total sleep would reach max_delay."""
        delays: list[float] = []
        delay, total = self.delay, 0.0
        while len(delays) < self.retries and total + delay < self.max_delay:
            delays.append(delay)
            total += delay
            if self.exponential_backoff:
                delay *= 2
        return delays


class SourceRef(_Frozen):
    """Where a model element is written: the YAML file, its line and its key path in the file."""

    file: Path
    line: int | None = None
    column: int | None = None
    key_path: str = ""  # e.g. "blocks[3]"


class Block(_Frozen):
    uuid: str
    type: str
    language: str = "python"
    upstream_blocks: tuple[str, ...] = ()
    configuration: dict[str, Any] = Field(default_factory=dict)
    retry_config: RetryConfig = RetryConfig()
    timeout: float | None = None
    replicated_block: str | None = None
    content: str | None = None
    file: Path | None = None
    callback_file: Path | None = None  # legacy `has_callback: true` → callbacks/<uuid>_callback.py
    executor_type: str | None = None  # Mage's per-block executor (k8s, ecs …): reported by compile
    source: SourceRef

    @property
    def dynamic(self) -> bool:
        """A dynamic parent: its first output is a list of items, each fanning out its children."""
        return self.configuration.get("dynamic") is True

    @property
    def reduce_output(self) -> bool:
        return bool(self.configuration.get("reduce_output"))

    @property
    def run_name(self) -> str:
        """The name of the block's runs; Mage names replicas `<uuid>:<replicated uuid>`."""
        return f"{self.uuid}:{self.replicated_block}" if self.replicated_block else self.uuid

    @property
    def code_location(self) -> str:
        return str(self.file) if self.content is None else f"<inline content of block {self.uuid}>"


class Chart(_Frozen):
    """A chart block (a `widgets` entry): drawn from its first upstream block's output."""

    uuid: str
    upstream_blocks: tuple[str, ...] = ()
    configuration: dict[str, Any] = Field(default_factory=dict)
    source: SourceRef


def prefect_name(name: str) -> str:
    """A flow or deployment name: the characters Prefect refuses in names become '-'."""
    return re.sub(r"[/%&><]", "-", name)


# Mage's schedule presets as cron (mage-format.md §7.1); `@once` is a single run at start_time.
SCHEDULE_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 1", "@monthly": "0 0 1 * *"}


class Trigger(TriggerEntry):
    """One entry of a pipeline's triggers.yaml (its contract: contract.TriggerEntry)."""

    @property
    def deployment_name(self) -> str:
        return prefect_name(self.name)

    @property
    def cron(self) -> str | None:
        """The cron of a time trigger (`@once` has none)."""
        interval = self.schedule_interval
        return SCHEDULE_PRESETS.get(interval, interval) if interval and interval != "@once" else None


# The names a message template may use (notifications.RunFacts has one field per name).
TEMPLATE_NAMES = ("pipeline_uuid", "pipeline_schedule_name", "execution_time", "pipeline_run_url", "error")


class Pipeline(_Frozen):
    """A pipeline. `uuid` is Mage's (its folder name); `key` names it in mage-prefect (flows,
    outputs, the CLI): the uuid, or `<sub-project>/<uuid>` when two sub-projects hold that uuid."""

    uuid: str
    key: str
    name: str | None = None
    description: str | None = None
    type: str = "python"
    blocks: tuple[Block, ...] = ()
    callbacks: tuple[Block, ...] = ()
    conditionals: tuple[Block, ...] = ()
    charts: tuple[Chart, ...] = ()
    variables: dict[str, Any] = Field(default_factory=dict)
    concurrency_config: dict[str, Any] = Field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    notification_config: NotificationEntry = NotificationEntry()
    repo_path: Path
    executor_type: str | None = None  # Mage's executor of the whole pipeline: reported by compile
    source: SourceRef

    @model_validator(mode="before")
    @classmethod
    def _key_is_the_uuid(cls, data: Any) -> Any:
        return {**data, "key": data.get("key") or data.get("uuid")} if isinstance(data, dict) else data

    @property
    def flow_name(self) -> str:
        return prefect_name(self.key)

    def block(self, uuid: str) -> Block:
        # an index kept beside the fields (model_copy copies it: it is checked against `blocks`)
        blocks, by_uuid = self.__dict__.get("_blocks_by_uuid", ((), {}))
        if blocks is not self.blocks:
            by_uuid = {block.uuid: block for block in reversed(self.blocks)}  # the first of a repeated uuid
            self.__dict__["_blocks_by_uuid"] = self.blocks, by_uuid
        if uuid in by_uuid:
            return by_uuid[uuid]
        hint = did_you_mean(uuid, [b.uuid for b in self.blocks]) or "run `mage-prefect graph` to list blocks"
        raise NotFound(f"no block '{uuid}' in pipeline '{self.key}'; {hint}")

    def add_ons(self, kind: str, parent: str) -> tuple[Block, ...]:
        """The callbacks or conditionals attached to block `parent`."""
        return tuple(a for a in getattr(self, kind) if parent in a.upstream_blocks)

    def trigger_of_deployment(self, name: str) -> Trigger | None:
        return next((trigger for trigger in self.triggers if trigger.deployment_name == name), None)


class GlobalDataProduct(GlobalDataProductEntry):
    """An entry of a (sub-)project's global_data_products.yaml: a pipeline whose latest outputs are
    reused while fresh."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    uuid: str
    defined_in: Path  # the (sub-)project whose file defines it, where `object_uuid` is looked up

    def overridden_by(self, block_configuration: dict[str, Any]) -> GlobalDataProduct:
        """Mage's GDP block: its own non-empty `outdated_after`, `outdated_starting_at` and `settings`
        replace the product's."""
        reference = block_configuration.get("global_data_product") or {}
        changes = {
            name: reference[name]
            for name in ("outdated_after", "outdated_starting_at", "settings")
            if reference.get(name)
        }
        return self.model_validate({**self.model_dump(), **changes}) if changes else self

    def max_age_seconds(self, now: datetime | None = None) -> float | None:
        """How old its outputs may be: Mage's relativedelta of the units it reads (seconds, weeks,
        months, years); None (never outdated) when none is set."""
        units = {unit: self.outdated_after[unit] for unit in OUTDATED_UNITS if unit in self.outdated_after}
        if not units:
            return None
        now = now or datetime.now(UTC)
        delta = relativedelta(
            seconds=units.get("seconds", 0),
            weeks=units.get("weeks", 0),
            months=int(units.get("months", 0)),
            years=int(units.get("years", 0)),
        )
        return (now - (now - delta)).total_seconds()


class Project(_Frozen):
    """A Mage project: the root, and every pipeline of every (sub-)project."""

    root: Path
    name: str
    platform: bool = False
    sub_projects: dict[str, Path] = Field(default_factory=dict)
    pipelines: dict[str, Pipeline] = Field(default_factory=dict)
    global_data_products: tuple[GlobalDataProduct, ...] = ()
    settings: MagePrefectSettings = MagePrefectSettings()  # mage_prefect:, with environment overrides
    retention_period: str | None = None  # Mage's variables_retention_period (`outputs prune`)

    def pipeline(self, name: str, near: Path | None = None) -> Pipeline:
        """The pipeline of that key, or of that Mage uuid: one of the same uuid in several
        sub-projects is the one in the sub-project `near` (Mage's active project), else ambiguous."""
        if name in self.pipelines:
            return self.pipelines[name]
        same = [pipeline for pipeline in self.pipelines.values() if pipeline.uuid == name]
        nearby = [pipeline for pipeline in same if near is not None and pipeline.repo_path == near]
        if len(same) == 1 or len(nearby) == 1:
            return (nearby or same)[0]
        if same:
            raise NotFound(
                f"pipeline '{name}' is in several sub-projects of {self.root}: name one of "
                f"{', '.join(sorted(p.key for p in same))}"
            )
        hint = did_you_mean(name, self.pipelines) or f"known pipelines: {', '.join(sorted(self.pipelines)) or 'none'}"
        raise NotFound(f"no pipeline '{name}' in project {self.root}; {hint}")

    def product_of(self, pipeline: Pipeline, block: Block) -> GlobalDataProduct | None:
        """The global data product a GDP block of `pipeline` uses, with the block's own overrides."""
        reference = block.configuration["global_data_product"]
        where = product_location(reference, pipeline.repo_path, self.sub_projects)
        found = next(
            (p for p in self.global_data_products if p.uuid == str(reference["uuid"]) and p.defined_in == where), None
        )
        return found.overridden_by(block.configuration) if found is not None else None


def product_location(reference: dict[str, Any], repo_path: Path, sub_projects: dict[str, Path]) -> Path:
    """The (sub-)project whose global_data_products.yaml defines a GDP block's product: the block's
    `project`, else the pipeline's own (Mage's GlobalDataProductBlock.get_global_data_product)."""
    return sub_projects.get(reference.get("project") or "", repo_path)
