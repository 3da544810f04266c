"""`mage_ai.io.config`: the connection settings of `io_config.yaml`, one profile at a time."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

from ...project.io_config import profile_settings, read_io_config
from .secrets import get_secret_value


class ConfigKey(str, Enum):
    """The standard (flat) keys of the connectors mage-prefect serves."""

    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
    AWS_REGION = "AWS_REGION"
    AWS_ENDPOINT = "AWS_ENDPOINT"
    GOOGLE_LOCATION = "GOOGLE_LOCATION"
    GOOGLE_SERVICE_ACC_KEY = "GOOGLE_SERVICE_ACC_KEY"
    GOOGLE_SERVICE_ACC_KEY_FILEPATH = "GOOGLE_SERVICE_ACC_KEY_FILEPATH"
    DUCKDB_DATABASE = "DUCKDB_DATABASE"
    DUCKDB_SCHEMA = "DUCKDB_SCHEMA"
    MOTHERDUCK_TOKEN = "MOTHERDUCK_TOKEN"
    POSTGRES_CONNECT_TIMEOUT = "POSTGRES_CONNECT_TIMEOUT"
    POSTGRES_CONNECTION_METHOD = "POSTGRES_CONNECTION_METHOD"
    POSTGRES_DBNAME = "POSTGRES_DBNAME"
    POSTGRES_HOST = "POSTGRES_HOST"
    POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
    POSTGRES_PORT = "POSTGRES_PORT"
    POSTGRES_SCHEMA = "POSTGRES_SCHEMA"
    POSTGRES_USER = "POSTGRES_USER"
    SNOWFLAKE_ACCOUNT = "SNOWFLAKE_ACCOUNT"
    SNOWFLAKE_DEFAULT_DB = "SNOWFLAKE_DEFAULT_DB"
    SNOWFLAKE_DEFAULT_SCHEMA = "SNOWFLAKE_DEFAULT_SCHEMA"
    SNOWFLAKE_DEFAULT_WH = "SNOWFLAKE_DEFAULT_WH"
    SNOWFLAKE_PASSWORD = "SNOWFLAKE_PASSWORD"
    SNOWFLAKE_PRIVATE_KEY_PASSPHRASE = "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"
    SNOWFLAKE_PRIVATE_KEY_PATH = "SNOWFLAKE_PRIVATE_KEY_PATH"
    SNOWFLAKE_ROLE = "SNOWFLAKE_ROLE"
    SNOWFLAKE_TIMEOUT = "SNOWFLAKE_TIMEOUT"
    SNOWFLAKE_USER = "SNOWFLAKE_USER"


class ConfigFileLoader:
    """One profile of `io_config.yaml` (default: the running block's project), Jinja-rendered first."""

    def __init__(
        self, filepath: str | os.PathLike | None = None, profile: str = "default", config: dict[str, Any] | None = None
    ) -> None:
        if config is not None:
            self.path, self.profile, self.version, self.config = None, profile, None, dict(config)
            return
        from .repo import get_repo_path

        path = Path(filepath) if filepath else Path(get_repo_path()) / "io_config.yaml"
        document = read_io_config(path, get_secret_value)
        self.path, self.profile = path, profile
        self.version = document.get("version")
        self.config = profile_settings(path, document, profile)

    def get(self, key: str | ConfigKey) -> Any:
        return self.config.get(_name(key))

    def contains(self, key: str | ConfigKey) -> bool:
        return _name(key) in self.config

    __getitem__ = get
    __contains__ = contains

    def describe(self) -> str:
        """Where the settings came from, for error messages."""
        return f"{self.path}, profile '{self.profile}'" if self.path else "the given config"


def _name(key: str | ConfigKey) -> str:
    return key.value if isinstance(key, ConfigKey) else key
