"""Static checks of a SQL block: its provider and driver, write policy, connection profile in
io_config.yaml (secrets are never looked up), Jinja syntax and `{{ df_N }}` references."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .block_checks import block_code_text, df_reference_problems, position
from .capabilities import EXPORT_POLICIES, SQL_PROVIDERS, missing_settings
from .errors import Diagnostic
from .io_config import IoConfigError, profile_settings, read_io_config
from .models import Block, Pipeline


@dataclass
class _Problems:
    """The diagnostics of one SQL block, at its entry (`key`) in the pipeline's metadata.yaml."""

    block: Block
    key: str
    found: list[Diagnostic] = field(default_factory=list)

    def add(self, key_path: str, message: str, hint: str, severity: str = "error") -> None:
        source = self.block.source
        self.found.append(
            Diagnostic(
                file=source.file,
                line=source.line,
                column=source.column,
                key_path=f"{self.key}.{key_path}",
                message=message,
                hint=hint,
                severity=severity,
            )
        )


def check_sql_block(block: Block, key: str, pipeline: Pipeline, dynamic_children: set[str]) -> list[Diagnostic]:
    """A SQL block's provider, driver, write policy, io_config.yaml, template syntax and `{{ df_N }}`."""
    problems = _Problems(block, key)
    _check_provider(block, problems)
    _check_connection(block, pipeline.repo_path / "io_config.yaml", problems)
    if block.dynamic or block.uuid in dynamic_children:
        problems.add(
            "configuration",
            f"SQL block '{block.uuid}' is a dynamic block; dynamic SQL blocks are not supported yet",
            "make the dynamic parent and its children Python blocks",
        )
    code = block_code_text(block)
    if not isinstance(code, tuple):
        return problems.found + ([code] if code is not None else [])
    return problems.found + _check_source(block, *code)


def _check_provider(block: Block, problems: _Problems) -> None:
    provider, policy = block.configuration.get("data_provider"), block.configuration.get("export_write_policy")
    if provider not in SQL_PROVIDERS:
        problems.add(
            "configuration.data_provider",
            f"SQL block '{block.uuid}' has data_provider {provider!r}; mage-prefect "
            f"supports {', '.join(SQL_PROVIDERS)} (others: not supported yet)",
            f"set configuration.data_provider to one of {', '.join(SQL_PROVIDERS)}",
        )
    elif importlib.util.find_spec(SQL_PROVIDERS[provider].driver) is None:  # this machine's concern, not the project's
        problems.add(
            "configuration.data_provider",
            f"SQL block '{block.uuid}' needs the Python package '{SQL_PROVIDERS[provider].driver}', which is not "
            "installed here",
            "pip install 'mage-prefect[sql]'",
            severity="warning",
        )
    if policy is not None and policy not in EXPORT_POLICIES:
        problems.add(
            "configuration.export_write_policy",
            f"export_write_policy {policy!r} is not one of {', '.join(EXPORT_POLICIES)}",
            "Mage's default is append",
        )


def _check_connection(block: Block, io_config: Path, problems: _Problems) -> None:
    """The profile the block names exists in io_config.yaml and sets what its provider needs."""
    provider, profile = (
        block.configuration.get("data_provider"),
        str(block.configuration.get("data_provider_profile") or "default"),
    )
    if not io_config.is_file():
        problems.add(
            "configuration",
            f"SQL block '{block.uuid}' needs {io_config} for its connection, and it is missing",
            "create io_config.yaml with the profile the block names (data_provider_profile, default: 'default')",
        )
        return
    if provider not in SQL_PROVIDERS or "{" in profile:  # a templated profile is known only at run time
        return
    try:  # secrets are not looked up: validate reaches no service
        settings = profile_settings(
            io_config, read_io_config(io_config, lambda name: "<secret>", problems.found), profile
        )
    except IoConfigError as exc:
        problems.found.append(exc.diagnostic)
        return
    except (ValueError, KeyError) as exc:
        problems.add("configuration.data_provider_profile", str(exc), "fix io_config.yaml or data_provider_profile")
        return
    missing = missing_settings(provider, settings)
    unset = [key for key in missing if settings.get(key) == "None"]  # env_var() of an unset variable
    if set(missing) - set(unset):
        problems.add(
            "configuration.data_provider_profile",
            f"{io_config}, profile '{profile}': sets no "
            f"{', '.join(sorted(set(missing) - set(unset)))}, which {provider} needs",
            "add them to that profile",
        )
    if unset:
        problems.add(
            "configuration.data_provider_profile",
            f"{io_config}, profile '{profile}': "
            f"{', '.join(unset)} renders as 'None' here (an unset environment variable?)",
            "set the variables it reads where the pipeline runs",
            severity="warning",
        )


def _check_source(block: Block, source: str, file: Path) -> list[Diagnostic]:
    """Jinja syntax, `{{ df_N }}` that name no upstream, and Mage features not supported yet."""
    found = []
    try:
        jinja2.Environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        found.append(
            Diagnostic(
                file=file,
                line=exc.lineno,
                column=1,
                message=f"template syntax error: {exc.message}",
                hint=f"fix the Jinja in block '{block.uuid}'",
            )
        )
    for offset, message in df_reference_problems(source, len(block.upstream_blocks), block.uuid):
        found.append(
            Diagnostic(
                file=file,
                **position(source, offset),
                message=message,
                hint="df_N is the N-th entry of upstream_blocks, counting from 1",
            )
        )
    if "block_output(" in source:
        found.append(
            Diagnostic(
                file=file,
                **position(source, source.index("block_output(")),
                message=f"block '{block.uuid}' uses block_output(), which is not supported yet",
                hint="reference the upstream's table with {{ df_N }} instead",
            )
        )
    return found
