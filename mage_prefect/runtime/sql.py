"""SQL blocks the Mage way (Mage's SQLBlock): `{{ df_N }}` → upstream tables, Jinja with the run's
variables, upstream inputs exported, the query materialised as the block's table and read back."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..project.block_checks import DF_REFERENCE, df_reference_problems
from ..project.models import Block, clean_name
from ..project.templating import render
from .block_code import block_source
from .compat.io_config import ConfigFileLoader
from .compat.io_sql import QUERY_ROW_LIMIT, BaseSQL, DuckDB, Postgres
from .compat.secrets import get_secret_value

CONNECTORS: dict[str, type[BaseSQL]] = {connector.PROVIDER: connector for connector in (DuckDB, Postgres)}
COMMENT_LINE = re.compile(r"^\s*--.*$", re.MULTILINE)
WRITES = re.compile(r"\b(create|insert|drop|update)\b", re.IGNORECASE)
WRITTEN_TABLE = re.compile(
    r"\b(?:create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?table\s+(?:if\s+not\s+exists\s+)?|insert\s+into\s+)"
    r"([\w.\"]+)",
    re.IGNORECASE,
)
WRITTEN_ROW_LIMIT = 1000  # Mage reads back the table a raw CREATE/INSERT wrote with LIMIT 1000


def table_name(block: Block, pipeline_uuid: str, env: str) -> str:
    """Mage's `Block.table_name`: `<pipeline>_<block>_v1`, `dev_`/`test_` prefixed by env."""
    if block.configuration.get("data_provider_table"):
        return str(block.configuration["data_provider_table"])
    name = f"{pipeline_uuid}_{clean_name(block.uuid)}_v1"
    return f"{env}_{name}" if env in ("dev", "test") else name


def run_sql_block(
    block: Block,
    source: str,
    upstreams: Sequence[Block],
    inputs: list[list[Any]],
    kwargs: dict[str, Any],
    repo_path: Path,
    logger,
    timeout: float | None = None,
) -> list[Any]:
    """Execute a SQL block; its outputs: the materialised table's rows (or the last raw result).
    After `timeout` seconds its running statement is cancelled and it starts no other, so a timed-out
    block commits nothing more (tables it exported or built before stay)."""
    problems = df_reference_problems(source, len(upstreams), block.uuid)
    if problems:
        raise ValueError(problems[0][1])
    config, pipeline_uuid, env = block.configuration, kwargs["pipeline_uuid"], kwargs["env"]
    provider, profile = config.get("data_provider"), _profile(block, kwargs)
    if provider not in CONNECTORS:
        raise ValueError(f"data_provider {provider!r} is not supported; use one of {', '.join(CONNECTORS)}")
    with (
        CONNECTORS[provider].with_config(ConfigFileLoader(repo_path / "io_config.yaml", profile)) as database,
        _interrupted_after(timeout, database),
        database.exclusive(),
    ):  # the wait for the lock counts too
        referenced = {int(number) for number in DF_REFERENCE.findall(source)}
        references = []
        for number, (upstream, outputs) in enumerate(zip(upstreams, inputs), start=1):
            is_sql = upstream.language == "sql"
            owner, table = (upstream if is_sql else block), table_name(upstream, pipeline_uuid, env)
            same_database = is_sql and (upstream.configuration.get("data_provider"), _profile(upstream, kwargs)) == (
                provider,
                profile,
            )
            references.append(
                (same_database and _raw_subquery(database, upstream, table))
                or _qualified(database, owner.configuration, table)
            )
            if number in referenced and not same_database:
                _export_input(database, outputs, owner.configuration, table, logger)
        query = render_sql(DF_REFERENCE.sub(lambda match: references[int(match.group(1)) - 1], source), kwargs)
        if config.get("disable_query_preprocessing"):
            database.execute_query_raw(query)
            return []
        if config.get("use_raw_sql"):
            return _run_raw(database, query)
        schema, table = _schema(database, config), table_name(block, pipeline_uuid, env)
        database.export(
            None,
            schema,
            table,
            query_string=query,
            if_exists=config.get("export_write_policy") or "append",
            drop_table_on_replace=True,
        )
        limit = min(int(config.get("limit_in_pipeline_run") or QUERY_ROW_LIMIT), QUERY_ROW_LIMIT)
        logger.info(f"SQL block {block.uuid}: materialised {schema}.{table}")
        return [database.load(f"SELECT * FROM {database.qualified(schema, table)}", limit=limit)]


def render_sql(text: str, kwargs: dict[str, Any]) -> str:
    """Mage's SQL templating: strict, every kwarg as a name, `variables()`, and `mage_secret_var`."""

    def variables(name: str, parse=None):
        value = kwargs.get(name)
        return parse(value) if parse else value

    return render(text, {**kwargs, "variables": variables, "mage_secret_var": get_secret_value}, strict=True)


def _profile(block: Block, kwargs: dict[str, Any]) -> str:
    """The io_config profile a SQL block names (rendered: it may be `{{ variables('x') }}`)."""
    return render_sql(str(block.configuration.get("data_provider_profile") or "default"), kwargs)


@contextmanager
def _interrupted_after(timeout: float | None, database: BaseSQL) -> Iterator[None]:
    """Cancel the database's running statements once `timeout` seconds have passed."""
    timer = threading.Timer(timeout, database.interrupt) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _raw_subquery(database: BaseSQL, upstream: Block, table: str) -> str | None:
    """A raw-SQL upstream that writes no table has no table to name: Mage inlines its query as a
    subquery. None for any other upstream."""
    if not upstream.configuration.get("use_raw_sql"):
        return None
    source = block_source(upstream)[0]
    if WRITES.search(source):
        return None
    query = COMMENT_LINE.sub("", source).strip().rstrip(";")
    if DF_REFERENCE.search(query):
        raise ValueError(
            f"raw-SQL upstream '{upstream.uuid}' is inlined as a subquery, and it names its own "
            "upstreams ({{ df_N }}), which mage-prefect cannot inline yet; set use_raw_sql: false on it "
            "so it is materialised as a table"
        )
    return f"(\n{query}\n) AS {database.quote(table)}"


def _qualified(database: BaseSQL, config: dict[str, Any], table: str) -> str:
    """`["db".]"schema"."table"`, the schema being the block's, else the connection's default."""
    parts = [config.get("data_provider_database"), _schema(database, config), table]
    return database.qualified(*(str(part) for part in parts if part))


def _schema(database: BaseSQL, config: dict[str, Any]) -> str:
    return str(config.get("data_provider_schema") or database.schema or database.default_schema())


def _export_input(database: BaseSQL, outputs: list[Any], config: dict[str, Any], table: str, logger) -> None:
    """An upstream's first output as a table, replaced (Mage skips empty data)."""
    import pandas

    value = outputs[0] if outputs else None
    if type(value).__module__.startswith("polars"):
        value = value.to_pandas()
    elif isinstance(value, dict):
        value = pandas.DataFrame([value])
    elif isinstance(value, list):
        value = pandas.DataFrame(value)
    if not isinstance(value, pandas.DataFrame) or value.empty:
        return
    database.export(value, _schema(database, config), table, if_exists="replace", drop_table_on_replace=True)
    logger.info(f"exported the upstream input to table {table} ({len(value)} rows)")


def _run_raw(database: BaseSQL, query: str) -> list[Any]:
    """Mage's `execute_raw_sql`: comment lines dropped, statements split on ';' and run in order. With a
    CREATE/INSERT/DROP/UPDATE the output is the table written (first 1000 rows), else the last result."""
    query = COMMENT_LINE.sub("", query)
    statements = [statement.strip() for statement in query.split(";") if statement.strip()]
    writes = WRITES.search(query)
    fetch = [not writes] * len(statements)
    written = WRITTEN_TABLE.findall(query) if writes else []
    if written:
        statements.append(f"SELECT * FROM {written[-1]} LIMIT {WRITTEN_ROW_LIMIT}")
        fetch.append(True)
    results = [
        result for result in database.execute_queries(statements, fetch_query_at_indexes=fetch) if result is not None
    ]
    return results[-1:]
