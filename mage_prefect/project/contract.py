"""The contract of every Mage project file: what Mage 0.9.80 reads, and what it does with it.

One model per file (or per entry of a file), derived from Mage's own models and loaders (paths are
`mage_ai/...` of mage-ai 0.9.80). The rules, applied the same way everywhere:

* **null is the default** wherever Mage defaults it (its serializers write `null` for every unset
  field). Fields listed in a model's `NOT_NULL` are those where Mage fails on `null`
  (`upstream_blocks: null` is a TypeError when Mage loads the pipeline): there null is an error.
* **A wrong type is an error** where Mage fails later at run time (`language: 5`, `retry_config: [..]`)
  or silently misreads it (`dynamic: "yes"` is *not* dynamic to Mage, `timeout: "abc"` no timeout).
  Fields in `WARN_ONLY` are ones Mage stores and never uses in a run: a wrong type there is a warning.
* **Unknown keys are warnings** (Mage ignores them), except where Mage refuses them: a trigger with an
  unknown key is dropped, a `retry_config` or `notification_config` with one fails at run time.

entries.py turns every validation problem into a diagnostic at its line; loader.py and pipelines.py
apply these models file by file, entry by entry. The README's "The input contract" section
summarises them for users. io_config.yaml is read where a block uses it (runtime/compat/io_config.py):
a mapping of profile names to settings, like the files above bounded and rendered in the sandbox.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)


def _not_a_bool(value: Any) -> Any:
    """Numbers Mage converts with int() accept "30"; true and false are no numbers (`timeout: true`)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {value}")
    return value


Bool = Annotated[bool, Strict()]  # Mage tests `is True` or truthiness: "yes" and "no" would both misread
Count = Annotated[int, Strict(), Field(ge=1)]
Number = Annotated[float, BeforeValidator(_not_a_bool), Field(allow_inf_nan=False)]
Whole = Annotated[int, BeforeValidator(_not_a_bool)]
Seconds = Annotated[Number, Field(gt=0)]  # `timeout: "abc"` is no timeout to Mage


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("holds a NUL character, which no file name or Mage value may hold")
    return value


Text = Annotated[str, Strict(), AfterValidator(_no_nul)]
Mapping = dict[Text, Any]  # non-string keys are refused: Mage's kwargs and JSON need names


class Entry(BaseModel):
    """A mapping of a Mage file. `null` values take the field's default (unless in NOT_NULL)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    NOT_NULL: ClassVar[frozenset[str]] = frozenset()  # where Mage fails on null
    WARN_ONLY: ClassVar[frozenset[str]] = frozenset()  # stored by Mage, never used in a run
    WARN_IF_NOT_A_MAPPING: ClassVar[frozenset[str]] = frozenset()  # Mage takes every default then
    IGNORED_BY: ClassVar[str] = "Mage"  # who ignores an unknown key

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if value is not None or key in cls.NOT_NULL or key in fields and fields[key].is_required()
        }


class Closed(Entry):
    """An entry whose unknown keys Mage refuses (a dataclass built with `**config`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# -- shared parts -------------------------------------------------------------------------------------
class RetryConfigEntry(Closed):
    """`retry_config` of the project or a block (mage_ai/data_preparation/shared/retry.py RetryConfig);
    the block's is merged over the project's when a block runs."""

    retries: Annotated[int, Strict(), Field(ge=0)] = 0
    delay: Annotated[Number, Field(ge=0)] = 5
    max_delay: Annotated[Number, Field(ge=0)] = 60
    exponential_backoff: Bool = True

    def given(self) -> dict[str, Any]:
        """The keys it sets (a block's are merged over the project's, key by key, as Mage merges them)."""
        return self.model_dump(exclude_unset=True)


class WebhookEntry(Closed):
    """A Slack, Discord, Google Chat or Telegram channel (mage_ai/services/<channel>/config.py). Mage
    sends nothing when `webhook_url` is unset or 'None' (what an unset env_var renders)."""

    webhook_url: Text | None = None


class TeamsEntry(Closed):
    """Teams takes one webhook URL or a list of them (mage_ai/services/teams/config.py)."""

    webhook_url: Text | list[Text] | None = None


class EmailEntry(Closed):
    """mage_ai/services/email/config.py: `smtp_host` and `smtp_mail_from` have no default there (an
    email_config without them is silently dropped by Mage)."""

    smtp_host: Text
    smtp_mail_from: Text
    smtp_user: Text | None = None
    smtp_password: Text | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_starttls: Bool = True
    smtp_ssl: Bool = False
    to_emails: list[Text] = Field(default_factory=list)


class MessageTemplateEntry(Closed):
    """Mage 0.9.80's MessageTemplate has `title`, `summary` and `details`; `subject` is mage-prefect's
    earlier name for `title`, still read (with a warning)."""

    title: Text | None = None
    subject: Text | None = None
    summary: Text | None = None
    details: Text | None = None


class MessageTemplatesEntry(Closed):
    success: MessageTemplateEntry | None = None
    failure: MessageTemplateEntry | None = None
    passed_sla: MessageTemplateEntry | None = None


AlertOn = Literal["trigger_failure", "trigger_success", "trigger_passed_sla"]
WEBHOOK_CHANNELS = ("slack_config", "teams_config", "discord_config", "google_chat_config")
UNSENT_CHANNELS = ("telegram_config", "opsgenie_config")  # Mage knows them; mage-prefect does not send them


class NotificationEntry(Closed):
    """`notification_config` (mage_ai/orchestration/notification/config.py): an unknown key is a
    TypeError when Mage sends a message, so it is refused here."""

    alert_on: list[AlertOn] = Field(default_factory=lambda: ["trigger_failure", "trigger_passed_sla"])
    email_config: EmailEntry | None = None
    slack_config: WebhookEntry | None = None
    teams_config: TeamsEntry | None = None
    discord_config: WebhookEntry | None = None
    google_chat_config: WebhookEntry | None = None
    telegram_config: WebhookEntry | None = None
    opsgenie_config: dict[Text, Any] | None = None
    message_templates: MessageTemplatesEntry | None = None


# -- mage-prefect's own section of the project metadata.yaml ------------------------------------------------
class MlflowSettings(Entry):
    IGNORED_BY: ClassVar[str] = "mage-prefect"

    experiment: Text | None = None
    tracking_uri: Text | None = None
    blocks: list[Text] | None = None
    autolog: Bool = True
    log_params: Bool = True
    artifact_location: Text | None = None


TaskRunnerType = Literal["threads", "dask", "ray"]


class TaskRunnerSettings(Entry):
    """Where a run's blocks run: threads of the flow's process (the default), or processes of a
    Dask or Ray cluster: a local one of `workers` processes, or the one at `address`."""

    IGNORED_BY: ClassVar[str] = "mage-prefect"

    type: TaskRunnerType = "threads"
    address: Text | None = None  # a Dask scheduler (tcp://host:8786) or a Ray cluster (ray://host:10001)
    workers: Count | None = None  # a local cluster's worker processes (default: one per core)


class EventTriggerSettings(Entry):
    IGNORED_BY: ClassVar[str] = "mage-prefect"

    match: Mapping = Field(default_factory=dict)
    expect: list[Text] = Field(default_factory=list)


class DeploymentSettings(Entry):
    IGNORED_BY: ClassVar[str] = "mage-prefect"

    work_pool: Text | None = None
    work_queue: Text | None = None
    image: Text | None = None
    job_variables: Mapping = Field(default_factory=dict)
    tags: list[Text] = Field(default_factory=list)  # `tags: team` would be four tags t, e, a, m
    pull: list[dict[Text, Any]] | None = None
    event_triggers: dict[Text, EventTriggerSettings] = Field(default_factory=dict)


class MagePrefectSettings(Entry):
    """`mage_prefect:` in the project's metadata.yaml (Mage ignores the section). settings.py adds
    the environment's overrides (ENVIRONMENT) to what the file says."""

    IGNORED_BY: ClassVar[str] = "mage-prefect"
    ENVIRONMENT: ClassVar[dict[str, str]] = {
        "results": "MAGE_PREFECT_RESULTS",
        "sensor_interval": "MAGE_PREFECT_SENSOR_INTERVAL",
        "max_dynamic_children": "MAGE_PREFECT_MAX_DYNAMIC_CHILDREN",
        "task_runner": "MAGE_PREFECT_TASK_RUNNER",
    }
    results: Text | None = None  # default: <project>/.mage_prefect/results
    sensor_interval: Seconds = 60.0
    max_dynamic_children: Count = 1000
    incremental: Bool = False  # runs skip blocks whose fingerprint is unchanged (run --incremental)
    mlflow: Bool | MlflowSettings | None = None
    task_runner: TaskRunnerType | TaskRunnerSettings | None = None  # `dask`: every default of a Dask cluster
    deployments: DeploymentSettings = DeploymentSettings()

    @property
    def runner(self) -> TaskRunnerSettings:
        """The task runner section (`task_runner: ray`, or unset: every default of that type)."""
        if isinstance(self.task_runner, TaskRunnerSettings):
            return self.task_runner
        return TaskRunnerSettings(type=self.task_runner or "threads")

    @property
    def tracking(self) -> MlflowSettings | None:
        """The MLflow section when tracking is on (`mlflow: true`: every default), else None."""
        if self.mlflow is True:
            return MlflowSettings()
        return self.mlflow or None


# -- project metadata.yaml (mage_ai/data_preparation/repo_manager.py RepoConfig) ----------------------------
class ProjectMetadata(Entry):
    """The project's metadata.yaml, rendered with Jinja first. Absent or empty: every default."""

    NOT_NULL = frozenset({"logging_config"})  # `logging_config: null` fails every Mage run
    WARN_ONLY = frozenset(
        {
            "project_uuid",
            "project_type",
            "variables_retention_period",
            "help_improve_mage",
            "cluster_type",
            "openai_api_key",
        }
    )
    project_uuid: Text | None = None
    project_type: Literal["main", "sub", "standalone"] | None = None
    variables_dir: Text | None = None  # not a string: Mage silently loses the whole file
    remote_variables_dir: Text | None = None
    variables_retention_period: Text | None = None
    features: dict[Text, Any] = Field(default_factory=dict)  # a list fails every Mage run
    retry_config: RetryConfigEntry | None = None
    notification_config: Any = None  # a NotificationEntry, checked by notification_config.py
    logging_config: dict[Text, Any] = Field(default_factory=dict)
    help_improve_mage: Any = None
    cluster_type: Any = None
    openai_api_key: Any = None
    # operational settings of Mage's own server and executors: read, never used by a pipeline run here
    emr_config: Any = None
    spark_config: Any = None
    ecs_config: Any = None
    gcp_cloud_run_config: Any = None
    azure_container_instance_config: Any = None
    k8s_executor_config: Any = None
    queue_config: Any = None
    settings_backend: Any = None
    ldap_config: Any = None
    ai_config: Any = None
    workspace_config_defaults: Any = None
    workspace_initial_metadata: Any = None
    pipelines: Any = None
    mage_prefect: MagePrefectSettings = MagePrefectSettings()


# -- settings.yaml of a multi-project platform (mage_ai/settings/platform/__init__.py) ----------------------
class SubProjectEntry(Entry):
    path: Text | None = None  # relative to the platform root; default: the project's name
    is_project: Bool | None = None  # false: not a project
    active: Any = None
    git: Any = None
    database: Any = None


class PlatformSettings(Entry):
    """A null sub-project entry (`unit_1:` with no value) stops Mage from starting: it is an error."""

    projects: dict[Text, SubProjectEntry] = Field(default_factory=dict)
    features: Any = None
    version_control: Any = None


# -- pipeline metadata.yaml (mage_ai/data_preparation/models/pipeline.py Pipeline.load_config) --------------
PipelineType = Literal["python", "integration", "streaming", "pyspark", "databricks", "execution_framework"]
BlockType = Literal[
    "callback",
    "conditional",
    "chart",
    "custom",
    "data_exporter",
    "data_loader",
    "dbt",
    "extension",
    "global_data_product",
    "markdown",
    "scratchpad",
    "sensor",
    "transformer",
    "group",
    "pipeline",
]
Language = Literal["python", "sql", "r", "yaml", "markdown"]


class ConcurrencyEntry(Entry):
    """mage_ai/orchestration/concurrency.py ConcurrencyConfig (the scheduler does arithmetic on them)."""

    block_run_limit: Count | None = None
    pipeline_run_limit: Count | None = None
    pipeline_run_limit_all_triggers: Count | None = None
    on_pipeline_run_limit_reached: Literal["wait", "skip"] | None = None


class TriggerSaving(Entry):
    save_in_code_automatically: Bool | None = None


class PipelineSettingsEntry(Entry):
    triggers: TriggerSaving | None = None


class PipelineFile(Entry):
    """A pipeline's metadata.yaml. Not rendered with Jinja. Its `uuid` key is not read: the folder
    name is the pipeline's uuid. `blocks`, `callbacks`, `conditionals` and `widgets` are validated
    entry by entry (BlockEntry), so one bad block does not hide the others' problems."""

    NOT_NULL = frozenset({"extensions"})  # `extensions: null` fails Mage's load
    WARN_IF_NOT_A_MAPPING = frozenset({"concurrency_config"})
    WARN_ONLY = frozenset(
        {
            "uuid",
            "name",
            "description",
            "tags",
            "created_at",
            "updated_at",
            "retry_config",
            "executor_type",
            "executor_config",
            "executor_count",
            "spark_config",
            "version",
            "cache_block_output_in_memory",
            "run_pipeline_in_one_process",
            "execution_framework",
            "variables_dir",
            "remote_variables_dir",
            "data_integration",
            "state_store_config",
        }
    )
    uuid: Text | None = None
    name: Text | None = None
    description: Text | None = None
    tags: list[Text] = Field(default_factory=list)  # a string is iterated letter by letter by Mage
    type: PipelineType = "python"
    blocks: list[Any] = Field(default_factory=list)
    callbacks: list[Any] = Field(default_factory=list)
    conditionals: list[Any] = Field(default_factory=list)
    widgets: list[Any] = Field(default_factory=list)
    extensions: dict[Text, Any] = Field(default_factory=dict)
    variables: Mapping = Field(default_factory=dict)  # a list or string fails Mage's runs
    concurrency_config: ConcurrencyEntry = ConcurrencyEntry()
    notification_config: Any = None  # a NotificationEntry, checked by notification_config.py
    settings: PipelineSettingsEntry = PipelineSettingsEntry()
    retry_config: Any = None  # read only by Mage's streaming executor
    created_at: Any = None
    updated_at: Any = None
    executor_type: Any = None
    executor_config: Any = None
    executor_count: Any = None
    spark_config: Any = None
    cache_block_output_in_memory: Bool | None = None
    run_pipeline_in_one_process: Bool | None = None
    execution_framework: Any = None
    variables_dir: Any = None
    remote_variables_dir: Any = None
    data_integration: Any = None
    state_store_config: Any = None
    version: Any = None


def _uuid_text(value: Any) -> Any:
    """Mage takes an int uuid as written (`123` → data_loaders/123.py)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class FileSource(Entry):
    path: Text | None = None  # relative to the platform root
    project_path: Text | None = None


class GlobalDataProductRef(Entry):
    uuid: Text
    project: Text | None = None
    outdated_after: dict[Text, Any] | None = None
    outdated_starting_at: dict[Text, Any] | None = None
    settings: dict[Text, Any] | None = None


class BlockConfiguration(Entry):
    """The `configuration` keys whose meaning is fixed; the mapping itself reaches block code as the
    `configuration` kwarg, as written. Unknown keys are not reported: block kinds add their own."""

    dynamic: Bool | dict[Text, Any] | None = None  # Mage: `isinstance(dynamic, bool)`, else not dynamic
    reduce_output: Bool | None = None
    file_path: Text | None = None
    file_source: FileSource | None = None
    global_data_product: GlobalDataProductRef | None = None
    use_raw_sql: Bool | None = None
    disable_query_preprocessing: Bool | None = None
    limit_in_pipeline_run: Annotated[Whole, Field(ge=0)] | None = None


class BlockEntry(Entry):
    """An entry of `blocks`, `callbacks` or `conditionals` (Pipeline.load_config, Block.__init__)."""

    NOT_NULL = frozenset({"upstream_blocks", "downstream_blocks"})  # TypeError in Mage's load
    WARN_ONLY = frozenset(
        {
            "name",
            "color",
            "status",
            "executor_type",
            "executor_config",
            "groups",
            "tags",
            "all_upstream_blocks_executed",
            "extension_uuid",
            "callback_blocks",
            "conditional_blocks",
            "pipelines",
            "retry_config_override",
        }
    )
    uuid: Annotated[Text, BeforeValidator(_uuid_text), Field(min_length=1)]
    type: BlockType
    language: Language = "python"  # `5` or `Python` fail Mage's runs (KeyError)
    upstream_blocks: list[Text] = Field(default_factory=list)  # a string would be its letters to Mage
    downstream_blocks: list[Any] = Field(default_factory=list)  # Mage's in-process runs; not used here
    configuration: BlockConfiguration = BlockConfiguration()
    content: Text | None = None
    retry_config: RetryConfigEntry | None = None
    timeout: Annotated[Number, Field(ge=0)] | None = None  # 0: none; negative: fails at once
    has_callback: Bool | None = None  # "no" would be truthy to Mage
    replicated_block: Text | None = None
    name: Any = None
    color: Text | None = None
    status: Text | None = None
    executor_type: Any = None
    executor_config: Any = None
    groups: Any = None
    tags: Any = None
    all_upstream_blocks_executed: Any = None
    extension_uuid: Text | None = None
    callback_blocks: Any = None
    conditional_blocks: Any = None
    pipelines: Any = None


# -- triggers.yaml (mage_ai/data_preparation/models/triggers/__init__.py) -------------------------------------
Env = Literal["prod", "dev", "staging", "test", "test_mage"]
RunStatus = Literal["initial", "running", "completed", "failed", "cancelled"]


def _timestamp(value: Any) -> Any:
    """YAML timestamps only, as Mage stores them: a quoted string or a number fails Mage's sync of
    every pipeline's schedules into its database."""
    if value is None or isinstance(value, (datetime, date)):
        return (
            value
            if not isinstance(value, date) or isinstance(value, datetime)
            else datetime(value.year, value.month, value.day)
        )
    raise ValueError(
        f"{value!r} is not a YAML timestamp (Mage's schedule sync fails on it); write it unquoted, "
        "as 2024-05-16 07:00:00"
    )


Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]


class TriggerSettingsEntry(Closed):
    """A trigger's `settings` (SettingsConfig): unknown keys fail Mage's scheduler (TypeError)."""

    skip_if_previous_running: Bool = False
    allow_blocks_to_fail: Bool = False
    create_initial_pipeline_run: Bool = False
    landing_time_enabled: Bool = False
    pipeline_run_limit: Annotated[Whole, Field(ge=1)] | None = None  # Mage applies int(): "3" works
    timeout: Annotated[Whole, Field(ge=1)] | None = None  # Mage applies int(): "abc" is silently no timeout
    timeout_status: RunStatus | None = None
    invalid_schedule_interval: Bool | None = None  # written by Mage itself


class TriggerEntry(Closed):
    """An entry of triggers.yaml: Mage builds `Trigger(**entry)`, so an unknown key drops the trigger;
    `name`, `schedule_type`, `schedule_interval` and `start_time` must be present (they may be null)."""

    NOT_NULL = frozenset({"envs", "schedule_type"})  # null envs is a TypeError; a null type never runs
    name: Text
    schedule_type: Literal["time", "api", "event"]
    schedule_interval: Text | None
    start_time: Timestamp
    status: Literal["active", "inactive"] = "inactive"
    variables: Mapping = Field(default_factory=dict)
    sla: Annotated[int, Strict(), Field(ge=1)] | None = None
    settings: TriggerSettingsEntry = TriggerSettingsEntry()
    envs: list[Env] = Field(default_factory=list)  # a string is its letters to Mage
    description: Text | None = None
    token: Text | None = None
    last_enabled_at: Timestamp = None
    repo_path: Text | None = None
    pipeline_uuid: Text | None = None  # Mage overwrites it with the folder's uuid


class TriggersFile(Entry):
    """triggers.yaml: `triggers:` is a list of mappings (one non-mapping entry drops them all in Mage)."""

    triggers: list[Any] = Field(default_factory=list)


# -- global_data_products.yaml (mage_ai/data_preparation/models/global_data_product/__init__.py) -------------
# Mage's get_outdated_at_delta reads only these units of `outdated_after` (relativedelta arguments).
OUTDATED_UNITS = ("seconds", "weeks", "months", "years")
IGNORED_UNITS = ("minutes", "hours", "days")
StartingAt = Literal[
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour_of_day",
    "minute_of_hour",
    "month_of_year",
    "second_of_minute",
    "week_of_month",
    "week_of_year",
]


class PartitionSettings(Entry):
    partitions: Annotated[Whole, Field(ge=1)] | None = None


class GlobalDataProductEntry(Entry):
    """One product. Mage reads the file only when a pipeline uses a product, so a problem here
    concerns only the pipelines that use this product."""

    object_type: Literal["pipeline"] = "pipeline"  # `block` products never resolve in Mage 0.9.80
    object_uuid: Text
    outdated_after: dict[Text, Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )  # a string fails Mage's relativedelta
    outdated_starting_at: dict[StartingAt, Annotated[int, Strict()]] = Field(default_factory=dict)
    settings: dict[Text, PartitionSettings] = Field(default_factory=dict)
    repo_path: Text | None = None
    project: Text | None = None

    @field_validator("outdated_after", "outdated_starting_at", mode="before")
    @classmethod
    def _drop_null_units(cls, value: Any) -> Any:
        """Mage skips units set to null (`weeks: null`, `day_of_month: null`)."""
        return (
            {unit: amount for unit, amount in value.items() if amount is not None} if isinstance(value, dict) else value
        )

    @field_validator("outdated_after")
    @classmethod
    def _whole_months(cls, value: dict[str, float]) -> dict[str, float]:
        for unit in ("months", "years"):
            if unit in value and value[unit] != int(value[unit]):
                raise ValueError(f"has {unit}: {value[unit]}, and Mage's relativedelta takes whole {unit} only")
        return value
