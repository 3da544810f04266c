"""`mage_ai.io.duckdb.DuckDB` and `mage_ai.io.postgres.Postgres`: Mage's SQL connectors, and what SQL
blocks run on. Export semantics are Mage's `BaseSQL.export` (fail / replace / append, CREATE TABLE AS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

QUERY_ROW_LIMIT = 10_000_000
EXPORT_POLICIES = ("append", "replace", "fail")


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"SQL blocks and mage_ai.io connectors need '{module}': "
                          "pip install 'mage-prefect[sql]'") from None


class BaseSQL:
    """A connection used as a context manager; `load`, `export`, `execute` as Mage's `BaseSQL`."""

    def __init__(self, schema: str | None = None, verbose: bool = True) -> None:
        self.schema, self.verbose = schema, verbose

    @classmethod
    def with_config(cls, config, **kwargs) -> "BaseSQL":
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def default_schema(self) -> str:
        raise NotImplementedError

    # -- Mage's API ------------------------------------------------------------------------------
    def load(self, query_string: str, limit: int = QUERY_ROW_LIMIT, display_query: str | None = None,
             verbose: bool = True, **kwargs):
        """The query's rows as a DataFrame, at most `limit` of them."""
        return self._fetch(enforce_limit(query_string, limit))

    def export(self, df, schema_name: str | None = None, table_name: str | None = None, if_exists: str = "replace",
               index: bool = False, verbose: bool = True, query_string: str | None = None,
               drop_table_on_replace: bool = False, **kwargs) -> None:
        """Write `df` (or the result of `query_string`) to the table, as Mage's `BaseSQL.export`."""
        if if_exists not in EXPORT_POLICIES:
            raise ValueError(f"if_exists must be one of {', '.join(EXPORT_POLICIES)}, not {if_exists!r}")
        schema = schema_name or self.schema or self.default_schema()
        full_name = f"{schema}.{table_name}"
        create = not self._table_exists(schema, table_name)
        statements = []
        if not create and if_exists == "fail":
            raise ValueError(f'Table "{full_name}" already exists in database.')
        if not create and if_exists == "replace":
            statements.append(f"DROP TABLE {full_name}" if drop_table_on_replace or query_string else f"DELETE FROM {full_name}")
            create = bool(drop_table_on_replace or query_string)
        statements.insert(0, f"CREATE SCHEMA IF NOT EXISTS {schema}")
        if query_string is not None:
            verb = "CREATE TABLE {} AS" if create else "INSERT INTO {}"
            self.execute_queries([*statements, f"{verb.format(full_name)}\n{query_string.strip().rstrip(';')}"])
        else:
            self._write_frame(df, schema, table_name, statements, create, index)

    def execute(self, query_string: str, **query_vars) -> None:
        self.execute_queries([query_string])

    def execute_query_raw(self, query: str, **kwargs) -> None:
        self.execute_queries([query])

    def execute_queries(self, queries: Sequence[str], commit: bool = True,
                        fetch_query_at_indexes: Sequence[bool] | None = None, **kwargs) -> list[Any]:
        """Run the queries in one transaction; a DataFrame for each one to fetch, else None."""
        raise NotImplementedError

    # -- what each database does -------------------------------------------------------------------
    def _fetch(self, query: str):
        return self.execute_queries([query], fetch_query_at_indexes=[True])[0]

    def _table_exists(self, schema: str, table: str) -> bool:
        frame = self._fetch(f"SELECT 1 FROM information_schema.tables WHERE table_schema = '{_quoted(schema)}' "
                            f"AND table_name = '{_quoted(table)}'")
        return len(frame) > 0

    def _write_frame(self, df, schema: str, table: str, statements: list[str], create: bool, index: bool) -> None:
        raise NotImplementedError


class DuckDB(BaseSQL):
    """`DuckDB(database, motherduck_token=None, schema=None)`: a file (created with its folder), ':memory:'
    or MotherDuck's 'md:…'."""

    def __init__(self, database: str, motherduck_token: str | None = None, schema: str | None = None,
                 verbose: bool = True, **kwargs) -> None:
        super().__init__(schema, verbose)
        duckdb = _require("duckdb")
        config = {"motherduck_token": motherduck_token} if motherduck_token else {}
        database = str(database)
        if database != ":memory:" and not database.startswith("md:"):
            database = str(_project_relative(Path(database)))
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        self._connection = duckdb.connect(database, read_only=False, config=config)

    @classmethod
    def with_config(cls, config, **kwargs) -> "DuckDB":
        if not config.get("DUCKDB_DATABASE"):
            raise ValueError("io_config.yaml: the profile sets no DUCKDB_DATABASE (a file path, ':memory:' or 'md:…')")
        return cls(config["DUCKDB_DATABASE"], config.get("MOTHERDUCK_TOKEN"), config.get("DUCKDB_SCHEMA"), **kwargs)

    def close(self) -> None:
        self._connection.close()

    def default_schema(self) -> str:
        return "main"

    def execute_queries(self, queries, commit=True, fetch_query_at_indexes=None, **kwargs) -> list[Any]:
        cursor, results = self._connection.cursor(), []
        try:
            cursor.begin()
            for position, query in enumerate(queries):
                fetch = fetch_query_at_indexes is not None and fetch_query_at_indexes[position]
                relation = cursor.execute(query)
                results.append(relation.df() if fetch else None)
            cursor.commit() if commit else cursor.rollback()
        except BaseException:
            cursor.rollback()
            raise
        finally:
            cursor.close()
        return results

    def _write_frame(self, df, schema, table, statements, create, index) -> None:
        frame = df.reset_index() if index else df
        cursor = self._connection.cursor()
        try:
            cursor.register("__mage_prefect_frame", frame)
            verb = "CREATE TABLE {} AS" if create else "INSERT INTO {}"
            cursor.begin()
            for statement in [*statements, f"{verb.format(f'{schema}.{table}')} SELECT * FROM __mage_prefect_frame"]:
                cursor.execute(statement)
            cursor.commit()
        except BaseException:
            cursor.rollback()
            raise
        finally:
            cursor.close()


class Postgres(BaseSQL):
    """`Postgres(dbname, user, password, host, port=None, schema=None)` over SQLAlchemy and psycopg."""

    def __init__(self, dbname: str, user: str, password: str | None, host: str, port: int | str | None = None,
                 schema: str | None = None, connection_method: str = "direct", verbose: bool = True,
                 connect_timeout: int | None = None, **kwargs) -> None:
        super().__init__(schema, verbose)
        if connection_method != "direct":
            raise ValueError(f"POSTGRES_CONNECTION_METHOD '{connection_method}' is not supported; use 'direct'")
        _require("psycopg")
        from sqlalchemy import URL, create_engine
        from sqlalchemy.pool import NullPool

        url = URL.create("postgresql+psycopg", username=user, password=password or None, host=host,
                         port=int(port) if port else None, database=dbname)
        args = {"connect_timeout": int(connect_timeout)} if connect_timeout else {}
        self._engine = create_engine(url, connect_args=args, poolclass=NullPool)

    @classmethod
    def with_config(cls, config, **kwargs) -> "Postgres":
        return cls(dbname=config.get("POSTGRES_DBNAME"), user=config.get("POSTGRES_USER"),
                   password=config.get("POSTGRES_PASSWORD"), host=config.get("POSTGRES_HOST"),
                   port=config.get("POSTGRES_PORT"), schema=config.get("POSTGRES_SCHEMA"),
                   connection_method=config.get("POSTGRES_CONNECTION_METHOD") or "direct",
                   connect_timeout=config.get("POSTGRES_CONNECT_TIMEOUT"), **kwargs)

    def close(self) -> None:
        self._engine.dispose()

    def default_schema(self) -> str:
        return self.schema or "public"

    def execute_queries(self, queries, commit=True, fetch_query_at_indexes=None, **kwargs) -> list[Any]:
        import pandas

        # psycopg's own cursor: without parameters it leaves '%' alone (SQLAlchemy would pass '()')
        connection, results = self._engine.raw_connection(), []
        try:
            with connection.cursor() as cursor:
                for position, query in enumerate(queries):
                    cursor.execute(query)
                    fetch = fetch_query_at_indexes is not None and fetch_query_at_indexes[position]
                    results.append(pandas.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
                                   if fetch else None)
            connection.commit() if commit else connection.rollback()
        finally:
            connection.close()
        return results

    def _write_frame(self, df, schema, table, statements, create, index) -> None:
        with self._engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
            df.to_sql(table, connection, schema=schema, if_exists="append", index=index, method="multi",
                      chunksize=10_000)


def _project_relative(path: Path) -> Path:
    """A relative path in a block run is relative to the folder holding the project: Mage's working
    directory when it serves the project (`mage start <project>`), wherever mage-prefect runs."""
    from . import ACTIVE

    run = ACTIVE.get()
    return path if path.is_absolute() or run is None else run.root_path.parent / path


def enforce_limit(query: str, limit: int) -> str:
    """Mage's `BaseIO._enforce_limit`: the query as a subquery, capped at `limit` rows."""
    return f"WITH subquery AS (\n{query.strip().rstrip(';')}\n)\nSELECT * FROM subquery LIMIT {int(limit)}"


def _quoted(value: str) -> str:
    return value.replace("'", "''")
