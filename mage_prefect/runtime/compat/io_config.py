"""`mage_ai.io.config`: the connection settings of `io_config.yaml`, one profile at a time."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from ...project.errors import Diagnostic
from ...project.templating import render
from ...project.yamlfile import read_document
from .secrets import get_secret_value


class ConfigKey(str, Enum):
    """The standard (flat) keys of the connectors mage-prefect serves."""

    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
    AWS_REGION = "AWS_REGION"
    AWS_ENDPOINT = "AWS_ENDPOINT"
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


# Mage's legacy verbose sections, flattened to the standard keys (mage_ai/io/config.py KEY_MAP).
VERBOSE_SECTIONS = {
    "PostgreSQL": {"database": "POSTGRES_DBNAME", "user": "POSTGRES_USER", "password": "POSTGRES_PASSWORD",
                   "host": "POSTGRES_HOST", "port": "POSTGRES_PORT", "schema": "POSTGRES_SCHEMA"},
    "Duck DB": {"database": "DUCKDB_DATABASE", "schema": "DUCKDB_SCHEMA", "motherduck_token": "MOTHERDUCK_TOKEN"},
    "AWS": {"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY",
            "session_token": "AWS_SESSION_TOKEN", "region": "AWS_REGION", "endpoint": "AWS_ENDPOINT"},
}


class ProfileNotFound(KeyError):
    """Mage raises KeyError for a missing profile; this one reads as a sentence."""

    def __str__(self) -> str:
        return str(self.args[0])


class ConfigFileLoader:
    """One profile of `io_config.yaml` (default: the running block's project), Jinja-rendered first."""

    def __init__(self, filepath: str | os.PathLike | None = None, profile: str = "default",
                 config: dict[str, Any] | None = None) -> None:
        if config is not None:
            self.path, self.profile, self.version, self.config = None, profile, None, dict(config)
            return
        from .repo import get_repo_path

        path = Path(filepath) if filepath else Path(get_repo_path()) / "io_config.yaml"
        document = read_io_config(path)
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


class IoConfigError(ValueError):
    """io_config.yaml cannot be read; `diagnostic` says where and why."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic
        super().__init__(diagnostic.format())


def read_io_config(path: Path, secret: Callable[[str], Any] = get_secret_value,
                   warnings: list[Diagnostic] | None = None) -> dict[str, Any]:
    """The rendered document (`mage_secret_var` calls `secret`), read as the project's other files
    are (bounded, sandboxed); IoConfigError names the file and line of a problem, and what Mage
    accepts with a warning (duplicate keys) goes to `warnings`."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no io_config.yaml; create it with the profiles SQL blocks name")
    problems: list[Diagnostic] = []
    document = read_document(path, problems, render=lambda text: render(text, {"mage_secret_var": secret}))
    if document is None:
        raise IoConfigError(next(p for p in problems if p.severity == "error"))
    if warnings is not None:
        warnings.extend(problems)
    return document.data if isinstance(document.data, dict) else {}


def profile_settings(path: Path, document: dict[str, Any], profile: str) -> dict[str, Any]:
    """One profile's settings under the standard keys; ProfileNotFound names the profiles there are."""
    if not isinstance(document.get(profile), dict):
        known = ", ".join(sorted(k for k, v in document.items() if isinstance(v, dict))) or "none"
        raise ProfileNotFound(f"{path}: no profile '{profile}' (profiles: {known}); add it or name another "
                              f"with data_provider_profile")
    return _flatten_verbose(document[profile])


def _name(key: str | ConfigKey) -> str:
    return key.value if isinstance(key, ConfigKey) else key


def _flatten_verbose(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile with verbose sections (`PostgreSQL: {host: …}`) as standard keys (`POSTGRES_HOST`)."""
    flat = {}
    for key, value in profile.items():
        if key in VERBOSE_SECTIONS and isinstance(value, dict):
            flat.update({VERBOSE_SECTIONS[key][k]: v for k, v in value.items() if k in VERBOSE_SECTIONS[key]})
        else:
            flat[key] = value
    return flat
