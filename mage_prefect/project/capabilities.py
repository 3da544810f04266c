"""What mage-prefect serves of Mage, as plain facts: the validator checks a project against them
and the runtime implements them (this module imports nothing of the runtime)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The `mage_ai` modules block code may import, and the module of mage_prefect.runtime.compat serving each.
SHIM_MODULES = {
    "mage_ai.data_preparation.decorators": "decorators",
    "mage_ai.settings.repo": "repo",
    "mage_ai.data_preparation.repo_manager": "repo",
    "mage_ai.data_preparation.variable_manager": "variables",
    "mage_ai.data_preparation.shared.secrets": "secrets",
    "mage_ai.orchestration.triggers.api": "orchestration",
    "mage_ai.orchestration.run_status_checker": "orchestration",
    "mage_ai.data_cleaner.column_types.column_type_detector": "column_types",
    "mage_ai.data_cleaner.column_types.constants": "column_types",
    "mage_ai.data_cleaner.transformer_actions.base": "transformer_actions.base",
    "mage_ai.data_cleaner.transformer_actions.constants": "transformer_actions.constants",
    "mage_ai.data_cleaner.transformer_actions.utils": "transformer_actions.utils",
    "mage_ai.io.config": "io_config",
    "mage_ai.io.duckdb": "io_sql",
    "mage_ai.io.postgres": "io_sql",
    "mage_ai.io.file": "io_file",
    "mage_ai.io.s3": "io_file",
    "mage_ai.io.google_cloud_storage": "io_file",
    "mage_ai.io.snowflake": "io_snowflake",
}


def shim_serves(module: str) -> bool:
    """Whether `import <module>` works through the shim (a module it serves, or a package above one)."""
    return module in SHIM_MODULES or any(known.startswith(module + ".") for known in SHIM_MODULES)


@dataclass(frozen=True)
class SqlProvider:
    """A SQL block `data_provider` mage-prefect runs."""

    driver: str  # the Python package its connections need
    required: tuple[str, ...]  # the io_config keys a connection needs


SQL_PROVIDERS = {
    "duckdb": SqlProvider("duckdb", ("DUCKDB_DATABASE",)),  # a file path, ':memory:' or 'md:…'
    "postgres": SqlProvider("psycopg", ("POSTGRES_DBNAME", "POSTGRES_USER", "POSTGRES_HOST")),
}
EXPORT_POLICIES = ("append", "replace", "fail")  # Mage's export_write_policy values


def missing_settings(provider: str, config: Mapping[str, Any]) -> list[str]:
    """The provider's required io_config keys that `config` leaves unset (or sets to 'None', what
    Mage's env_var() renders for an unset environment variable)."""
    return [key for key in SQL_PROVIDERS[provider].required if config.get(key) in (None, "", "None")]
