"""The immutable project model: Project ─ Pipeline ─ Block, with source positions."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import did_you_mean

# Mage's block-type → folder rule: `<type>s`, except `custom` (constants.BLOCK_TYPE_DIRECTORY_NAME).
RUNNABLE_TYPES = ("data_loader", "transformer", "data_exporter", "custom")
# Blocks of the `blocks:` list that run in a pipeline run; add-ons live in their own lists.
EXECUTABLE_TYPES = RUNNABLE_TYPES + ("sensor", "global_data_product")
ADD_ON_TYPES = {"callbacks": "callback", "conditionals": "conditional"}
SKIPPED_TYPES = ("chart", "markdown", "scratchpad")
KNOWN_TYPES = RUNNABLE_TYPES + SKIPPED_TYPES + (
    "sensor", "dbt", "global_data_product", "extension", "callback", "conditional",
)
LANGUAGE_EXTENSIONS = {"python": "py", "sql": "sql", "r": "r", "yaml": "yaml", "markdown": "md"}


def type_directory(block_type: str) -> str:
    return block_type if block_type == "custom" else f"{block_type}s"


def clean_name(uuid: str) -> str:
    """Mage's `clean_name`: lowercase, non-word characters → '_', no leading digit."""
    name = re.sub(r"\W", "_", uuid.lower())
    return f"letter_{name}" if name[:1].isdigit() else name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class RetryConfig(_Frozen):
    """Mage's RetryConfig; `delays()` reproduces `mage_ai.shared.retry.retry`."""

    retries: int = Field(0, ge=0)
    delay: float = Field(5, ge=0)
    max_delay: float = Field(60, ge=0)
    exponential_backoff: bool = True

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
    """Where a model element is written: the YAML file and its line."""

    file: Path
    line: int | None = None
    column: int | None = None


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


def prefect_name(name: str) -> str:
    """A flow or deployment name: the characters Prefect refuses in names become '-'."""
    return re.sub(r"[/%&><]", "-", name)


# Mage's schedule presets as cron (mage-format.md §7.1); `@once` is a single run at start_time.
SCHEDULE_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 1", "@monthly": "0 0 1 * *"}


class TriggerSettings(_Frozen):
    skip_if_previous_running: bool = False
    allow_blocks_to_fail: bool = False
    create_initial_pipeline_run: bool = False
    landing_time_enabled: bool = False
    pipeline_run_limit: int | None = None
    timeout: int | None = None
    timeout_status: str | None = None


class Trigger(_Frozen):
    """One entry of a pipeline's triggers.yaml (Mage's Trigger dataclass: unknown keys are errors)."""

    name: str
    schedule_type: Literal["time", "api", "event"]
    schedule_interval: str | None
    start_time: datetime | None
    status: Literal["active", "inactive"] = "inactive"
    variables: dict[str, Any] = Field(default_factory=dict)
    sla: int | None = None
    settings: TriggerSettings = TriggerSettings()
    envs: list[str] = Field(default_factory=list)
    description: str | None = None
    token: str | None = None
    last_enabled_at: datetime | None = None
    repo_path: str | None = None
    pipeline_uuid: str | None = None

    @property
    def deployment_name(self) -> str:
        return prefect_name(self.name)

    @property
    def cron(self) -> str | None:
        """The cron of a time trigger (`@once` has none)."""
        interval = self.schedule_interval
        return SCHEDULE_PRESETS.get(interval, interval) if interval and interval != "@once" else None


class _Lenient(BaseModel):
    """Mage's notification dataclasses ignore keys they do not know; the loader warns about them."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class WebhookConfig(_Lenient):
    webhook_url: str


class EmailConfig(_Lenient):
    smtp_host: str = "smtp.gmail.com"
    smtp_mail_from: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    to_emails: tuple[str, ...] = ()


class MessageTemplate(_Lenient):
    subject: str | None = None
    summary: str | None = None
    details: str | None = None


# The names a message template may use (notifications.RunFacts has one field per name).
TEMPLATE_NAMES = ("pipeline_uuid", "pipeline_schedule_name", "execution_time", "pipeline_run_url", "error")
WEBHOOK_CHANNELS = ("slack_config", "teams_config", "discord_config", "google_chat_config")


class NotificationConfig(_Lenient):
    """Mage's `notification_config` (project level, the pipeline's merged over it)."""

    alert_on: tuple[Literal["trigger_failure", "trigger_success", "trigger_passed_sla"], ...] = (
        "trigger_failure", "trigger_passed_sla")
    email_config: EmailConfig | None = None
    slack_config: WebhookConfig | None = None
    teams_config: WebhookConfig | None = None
    discord_config: WebhookConfig | None = None
    google_chat_config: WebhookConfig | None = None
    message_templates: dict[Literal["success", "failure", "passed_sla"], MessageTemplate] = Field(default_factory=dict)


class Pipeline(_Frozen):
    uuid: str
    name: str | None = None
    description: str | None = None
    type: str = "python"
    blocks: tuple[Block, ...] = ()
    callbacks: tuple[Block, ...] = ()
    conditionals: tuple[Block, ...] = ()
    variables: dict[str, Any] = Field(default_factory=dict)
    concurrency_config: dict[str, Any] = Field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    notification_config: NotificationConfig = NotificationConfig()
    repo_path: Path
    source: SourceRef

    @property
    def flow_name(self) -> str:
        return prefect_name(self.uuid)

    def block(self, uuid: str) -> Block:
        for block in self.blocks:
            if block.uuid == uuid:
                return block
        hint = did_you_mean(uuid, [b.uuid for b in self.blocks]) or "run `mage-prefect graph` to list blocks"
        raise LookupError(f"no block '{uuid}' in pipeline '{self.uuid}'; {hint}")

    def add_ons(self, kind: str, parent: str) -> tuple[Block, ...]:
        """The callbacks or conditionals attached to block `parent`."""
        return tuple(a for a in getattr(self, kind) if parent in a.upstream_blocks)

    def trigger_of_deployment(self, name: str) -> Trigger | None:
        return next((trigger for trigger in self.triggers if trigger.deployment_name == name), None)


class GlobalDataProduct(_Frozen):
    """An entry of global_data_products.yaml: a pipeline whose latest outputs are reused while fresh."""

    uuid: str
    object_uuid: str
    outdated_after: dict[str, float] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    def max_age_seconds(self) -> float | None:
        units = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800,
                 "months": 2592000, "years": 31536000}
        if not self.outdated_after:
            return None
        return sum(float(value) * units[unit] for unit, value in self.outdated_after.items())


class Project(_Frozen):
    """A Mage project: the root, and every pipeline of every (sub-)project."""

    root: Path
    name: str
    platform: bool = False
    sub_projects: dict[str, Path] = Field(default_factory=dict)
    pipelines: dict[str, Pipeline] = Field(default_factory=dict)
    global_data_products: dict[str, GlobalDataProduct] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    def pipeline(self, uuid: str) -> Pipeline:
        try:
            return self.pipelines[uuid]
        except KeyError:
            hint = did_you_mean(uuid, self.pipelines) or f"known pipelines: {', '.join(sorted(self.pipelines)) or 'none'}"
            raise LookupError(f"no pipeline '{uuid}' in project {self.root}; {hint}") from None
