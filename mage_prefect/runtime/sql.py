"""SQL blocks the Mage way (mage-format.md §4): `{{ df_N }}` → upstream tables, Jinja with the run's
variables, upstream inputs exported, the query materialised as the block's table and read back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import jinja2

from ..project.models import Block, clean_name
from ..project.templating import TEMPLATE_FUNCTIONS
from .compat.io_config import ConfigFileLoader
from .compat.io_sql import QUERY_ROW_LIMIT, BaseSQL, DuckDB, Postgres
from .compat.secrets import get_secret_value

PROVIDERS: dict[str, type[BaseSQL]] = {"duckdb": DuckDB, "postgres": Postgres}
DF_REFERENCE = re.compile(r"\{\{\s*df_(\d+)\s*\}\}")
WRITES = re.compile(r"\b(create|insert|drop|update)\b", re.IGNORECASE)
WRITTEN_TABLE = re.compile(
    r"\b(?:create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?table\s+(?:if\s+not\s+exists\s+)?|insert\s+into\s+)"
    r"([\w.\"]+)", re.IGNORECASE)
RAW_ROW_LIMIT = 1000  # Mage previews raw SQL results with LIMIT 1000, in runs too


def table_name(block: Block, pipeline_uuid: str, env: str) -> str:
    """Mage's `Block.table_name`: `<pipeline>_<block>_v1`, `dev_`/`test_` prefixed by env."""
    if block.configuration.get("data_provider_table"):
        return str(block.configuration["data_provider_table"])
    name = f"{pipeline_uuid}_{clean_name(block.uuid)}_v1"
    return f"{env}_{name}" if env in ("dev", "test") else name


def run_sql_block(block: Block, source: str, upstreams: Sequence[Block], inputs: list[list[Any]],
                  kwargs: dict[str, Any], repo_path: Path, logger) -> list[Any]:
    """Execute a SQL block; its outputs: the materialised table's rows (or the last raw result)."""
    config = block.configuration
    pipeline_uuid, env = kwargs["pipeline_uuid"], kwargs["env"]
    provider = config.get("data_provider")
    if provider not in PROVIDERS:
        raise ValueError(f"data_provider {provider!r} is not supported; use one of {', '.join(PROVIDERS)}")
    profile = render(str(config.get("data_provider_profile") or "default"), kwargs)
    with PROVIDERS[provider].with_config(ConfigFileLoader(repo_path / "io_config.yaml", profile)) as database:
        referenced = {int(number) for number in DF_REFERENCE.findall(source)}
        references = []
        for number, (upstream, outputs) in enumerate(zip(upstreams, inputs), start=1):
            same_database = upstream.language == "sql" and _source(upstream) == (provider, profile)
            owner = upstream if upstream.language == "sql" else block
            references.append(_qualified(database, owner.configuration, table_name(upstream, pipeline_uuid, env)))
            if number in referenced and not same_database and upstream.type != "sensor":
                _export_input(database, outputs, owner.configuration, table_name(upstream, pipeline_uuid, env), logger)
        query = render(_with_tables(source, references, block), kwargs)
        if config.get("disable_query_preprocessing"):
            database.execute_query_raw(query)
            return []
        if config.get("use_raw_sql"):
            return _run_raw(database, query, table_name(block, pipeline_uuid, env))
        schema, table = _schema(database, config), table_name(block, pipeline_uuid, env)
        database.export(None, schema, table, query_string=query, if_exists=config.get("export_write_policy") or "append",
                        drop_table_on_replace=True)
        limit = min(int(config.get("limit_in_pipeline_run") or QUERY_ROW_LIMIT), QUERY_ROW_LIMIT)
        logger.info(f"SQL block {block.uuid}: materialised {schema}.{table}")
        return [database.load(f"SELECT * FROM {schema}.{table}", limit=limit)]


def render(text: str, kwargs: dict[str, Any]) -> str:
    """Jinja with StrictUndefined: every kwarg as a name, `variables()`, and the template functions."""
    def variables(name: str, parse=None):
        value = kwargs.get(name)
        return parse(value) if parse else value

    names = {**kwargs, **TEMPLATE_FUNCTIONS, "variables": variables, "mage_secret_var": get_secret_value}
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(**names)


def _with_tables(source: str, references: list[str], block: Block) -> str:
    def table(match: re.Match) -> str:
        number = int(match.group(1))
        if not 1 <= number <= len(references):
            raise ValueError(f"{match.group(0)} names upstream {number}, but block '{block.uuid}' has "
                             f"{len(references)} upstream block(s)")
        return references[number - 1]

    return DF_REFERENCE.sub(table, source)


def _source(block: Block) -> tuple[str | None, str]:
    return block.configuration.get("data_provider"), str(block.configuration.get("data_provider_profile") or "default")


def _qualified(database: BaseSQL, config: dict[str, Any], table: str) -> str:
    """`[db.]schema.table`, the schema being the block's, else the connection's default."""
    parts = [config.get("data_provider_database"), _schema(database, config), table]
    return ".".join(str(part) for part in parts if part)


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
    database.export(value, _schema(database, config), table, if_exists="replace",
                    drop_table_on_replace=True)
    logger.info(f"exported the upstream input to table {table} ({len(value)} rows)")


def _run_raw(database: BaseSQL, query: str, own_table: str) -> list[Any]:
    """Mage's `execute_raw_sql`: statements split on ';'; the output is the last result."""
    statements = [statement.strip() for statement in query.split(";") if statement.strip()]
    if WRITES.search(query):
        queries, fetch = list(statements), [False] * len(statements)
        written = WRITTEN_TABLE.findall(query)
        if written:
            queries.append(f"SELECT * FROM {written[-1]} LIMIT {RAW_ROW_LIMIT}")
            fetch.append(True)
    else:
        queries = [f"SELECT * FROM ({s}) AS {own_table}__limit LIMIT {RAW_ROW_LIMIT}" for s in statements]
        fetch = [True] * len(statements)
    results = database.execute_queries(queries, commit=True, fetch_query_at_indexes=fetch)
    return [results[-1]] if fetch and fetch[-1] else []
