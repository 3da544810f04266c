"""`io_config.yaml`: the connection profiles of SQL blocks and Mage's io classes, read the way the
project's other files are (bounded, Jinja-rendered in the sandbox). Secrets are looked up through
the `secret` function the caller passes: the runtime's, or a placeholder when validating."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import Diagnostic
from .templating import render
from .yamlfile import read_document

# Mage's legacy verbose sections, flattened to the standard keys (mage_ai/io/config.py KEY_MAP).
VERBOSE_SECTIONS = {
    "PostgreSQL": {
        "database": "POSTGRES_DBNAME",
        "user": "POSTGRES_USER",
        "password": "POSTGRES_PASSWORD",
        "host": "POSTGRES_HOST",
        "port": "POSTGRES_PORT",
        "schema": "POSTGRES_SCHEMA",
    },
    "Duck DB": {"database": "DUCKDB_DATABASE", "schema": "DUCKDB_SCHEMA", "motherduck_token": "MOTHERDUCK_TOKEN"},
    "AWS": {
        "access_key_id": "AWS_ACCESS_KEY_ID",
        "secret_access_key": "AWS_SECRET_ACCESS_KEY",
        "session_token": "AWS_SESSION_TOKEN",
        "region": "AWS_REGION",
        "endpoint": "AWS_ENDPOINT",
    },
    "BigQuery": {  # Mage keeps the Google keys (GCS's too) under its BigQuery section
        "location": "GOOGLE_LOCATION",
        "credentials_mapping": "GOOGLE_SERVICE_ACC_KEY",
        "path_to_credentials": "GOOGLE_SERVICE_ACC_KEY_FILEPATH",
    },
    "Snowflake": {
        name: f"SNOWFLAKE_{key}"
        for name, key in {
            "account": "ACCOUNT",
            "database": "DEFAULT_DB",
            "schema": "DEFAULT_SCHEMA",
            "warehouse": "DEFAULT_WH",
            "password": "PASSWORD",
            "private_key_passphrase": "PRIVATE_KEY_PASSPHRASE",
            "private_key_path": "PRIVATE_KEY_PATH",
            "role": "ROLE",
            "timeout": "TIMEOUT",
            "user": "USER",
        }.items()
    },
}


class ProfileNotFound(KeyError):
    """Mage raises KeyError for a missing profile; this one reads as a sentence."""

    def __str__(self) -> str:
        return str(self.args[0])


class IoConfigError(ValueError):
    """io_config.yaml cannot be read; `diagnostic` says where and why."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic
        super().__init__(diagnostic.format())


def read_io_config(
    path: Path, secret: Callable[[str], Any], warnings: list[Diagnostic] | None = None
) -> dict[str, Any]:
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
        raise ProfileNotFound(
            f"{path}: no profile '{profile}' (profiles: {known}); add it or name another with data_provider_profile"
        )
    return _flatten_verbose(document[profile])


def _flatten_verbose(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile with verbose sections (`PostgreSQL: {host: …}`) as standard keys (`POSTGRES_HOST`)."""
    flat = {}
    for key, value in profile.items():
        if key in VERBOSE_SECTIONS and isinstance(value, dict):
            flat.update({VERBOSE_SECTIONS[key][k]: v for k, v in value.items() if k in VERBOSE_SECTIONS[key]})
        else:
            flat[key] = value
    return flat
