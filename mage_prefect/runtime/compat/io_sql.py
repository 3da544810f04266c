"""`mage_ai.io.duckdb.DuckDB` and `mage_ai.io.postgres.Postgres`: Mage's SQL connectors, and what SQL
blocks run on. Export semantics are Mage's `BaseSQL.export` (fail / replace / append, CREATE TABLE AS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...project.capabilities import EXPORT_POLICIES, missing_settings

QUERY_ROW_LIMIT = 10_000_000

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
# DuckDB shares one database instance per file in a process and drops it with its last connection:
# a connect racing that close gets an instance without its pandas scan ("pandas_scan does not exist").
_DUCKDB_INSTANCES = threading.Lock()
# DuckDB refuses a second process a file another holds: a process waits for the file's lock before
# its first connection and frees it with its last (blocks on Dask or Ray workers are processes)
_DUCKDB_FILES: dict[str, list] = {}  # resolved file → [FileLock, connections open in this process]


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(
            f"SQL blocks and mage_ai.io connectors need '{module}': pip install 'mage-prefect[sql]'"
        ) from None


class BaseSQL:
    """A connection used as a context manager; `load`, `export`, `execute` as Mage's `BaseSQL`."""

    PROVIDER = ""  # its name in capabilities.SQL_PROVIDERS

    def __init__(self, schema: str | None, identity: str) -> None:
        self.schema, self._identity = schema, identity
        self._running: set = set()  # what `interrupt` cancels
        self._interrupted = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def default_schema(self) -> str:
        raise NotImplementedError

    # -- Mage's API ------------------------------------------------------------------------------
    def load(
        self,
        query_string: str,
        limit: int = QUERY_ROW_LIMIT,
        display_query: str | None = None,
        verbose: bool = True,
        **kwargs,
    ):
        """The query's rows as a DataFrame, at most `limit` of them."""
        return self.execute_queries([enforce_limit(query_string, limit)], fetch_query_at_indexes=[True])[0]

    def export(
        self,
        df,
        schema_name: str | None = None,
        table_name: str | None = None,
        if_exists: str = "replace",
        index: bool = False,
        verbose: bool = True,
        query_string: str | None = None,
        drop_table_on_replace: bool = False,
        **kwargs,
    ) -> None:
        """Write `df` (or the result of `query_string`) to the table, as Mage's `BaseSQL.export`."""
        if if_exists not in EXPORT_POLICIES:
            raise ValueError(f"if_exists must be one of {', '.join(EXPORT_POLICIES)}, not {if_exists!r}")
        schema = self.identifier(schema_name or self.schema or self.default_schema())
        table = self.identifier(str(table_name))
        full_name = self.qualified(schema, table)
        self._refuse_if_interrupted()
        with self._transaction(commit=True) as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}")
            create = not self._table_exists(cursor, schema, table)
            if not create and if_exists == "fail":
                raise ValueError(f'Table "{schema}.{table}" already exists in database.')  # Mage's message
            if not create and if_exists == "replace":
                cursor.execute(f"DROP TABLE {full_name}" if drop_table_on_replace else f"DELETE FROM {full_name}")
                create = drop_table_on_replace
            if query_string is None:
                self._insert(cursor, df.reset_index() if index else df, schema, table, create)
            else:
                verb = f"CREATE TABLE {full_name} AS" if create else f"INSERT INTO {full_name}"
                cursor.execute(f"{verb}\n{query_string.strip().rstrip(';')}")

    def execute(self, query_string: str, **query_vars) -> None:
        """Run one statement; `query_vars` are the driver's named parameters (psycopg `%(name)s`,
        DuckDB `$name`)."""
        self._refuse_if_interrupted()
        with self._transaction(commit=True) as cursor:
            cursor.execute(query_string, query_vars or None)

    execute_query_raw = execute

    def execute_queries(
        self,
        queries: Sequence[str],
        commit: bool = True,
        fetch_query_at_indexes: Sequence[bool] | None = None,
        **kwargs,
    ) -> list[Any]:
        """Run the queries in one transaction; for each one to fetch, its rows as a DataFrame (None for
        a statement that returns no rows)."""
        fetch = fetch_query_at_indexes or [False] * len(queries)
        self._refuse_if_interrupted()
        with self._transaction(commit) as cursor:
            results = []
            for query, wanted in zip(queries, fetch):
                cursor.execute(query)
                results.append(self._frame(cursor) if wanted and cursor.description is not None else None)
            return results

    # -- for SQL blocks --------------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One SQL block at a time per database in this process: DuckDB allows one writer, and blocks
        reading one upstream would export its table concurrently."""
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(self._identity, threading.Lock())
        with lock:
            yield

    def interrupt(self) -> None:
        """Cancel the statements running now and refuse new ones: a timed-out block must not commit later."""
        self._interrupted = True
        self._cancel_running()

    def _refuse_if_interrupted(self) -> None:
        if self._interrupted:
            raise TimeoutError("the block timed out: its SQL statements were cancelled")

    def _cancel_running(self) -> None:
        raise NotImplementedError

    def identifier(self, name: str) -> str:
        """A schema or table name as the database stores it unquoted."""
        return name

    def quote(self, name: str) -> str:
        """A name as a quoted SQL identifier (a pipeline `my pipe` makes table `my pipe_block_v1`)."""
        return '"{}"'.format(self.identifier(str(name)).replace('"', '""'))

    def qualified(self, *names: str) -> str:
        """`"schema"."table"` (or `"db"."schema"."table"`), each part quoted."""
        return ".".join(self.quote(name) for name in names)

    # -- what each database does -------------------------------------------------------------------
    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        raise NotImplementedError

    def _table_exists(self, cursor, schema: str, table: str) -> bool:
        cursor.execute(
            f"SELECT 1 FROM information_schema.tables WHERE table_schema = '{_quoted(schema)}' "
            f"AND table_name = '{_quoted(table)}'"
        )
        return cursor.fetchone() is not None

    def _frame(self, cursor):
        raise NotImplementedError

    def _insert(self, cursor, frame, schema: str, table: str, create: bool) -> None:
        raise NotImplementedError


class DuckDB(BaseSQL):
    """`DuckDB(database, motherduck_token=None, schema=None)`: a file (created with its folder), ':memory:'
    or MotherDuck's 'md:…'."""

    def __init__(
        self,
        database: str,
        motherduck_token: str | None = None,
        schema: str | None = None,
        verbose: bool = True,
        **kwargs,
    ) -> None:
        duckdb = _require("duckdb")
        config = {"motherduck_token": motherduck_token} if motherduck_token else {}
        database = str(database)
        if database != ":memory:" and not database.startswith("md:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(schema, f"duckdb:{database}")
        self._file = None if database == ":memory:" or database.startswith("md:") else str(Path(database).resolve())
        with _DUCKDB_INSTANCES:
            self._hold_file()
            try:
                self._connection = duckdb.connect(database, read_only=False, config=config)
            except BaseException:
                self._free_file()
                raise

    PROVIDER = "duckdb"

    @classmethod
    def with_config(cls, config, **kwargs) -> DuckDB:
        _check_required(cls, config)
        return cls(config["DUCKDB_DATABASE"], config.get("MOTHERDUCK_TOKEN"), config.get("DUCKDB_SCHEMA"), **kwargs)

    def close(self) -> None:
        with _DUCKDB_INSTANCES:
            self._connection.close()
            self._free_file()

    def _hold_file(self) -> None:
        if self._file is None:
            return
        if self._file not in _DUCKDB_FILES:
            from filelock import FileLock

            lock = FileLock(f"{self._file}.lock", thread_local=False)  # freed by whichever thread closes last
            lock.acquire()  # no other connection of this process is open: none waits on this one
            _DUCKDB_FILES[self._file] = [lock, 0]
        _DUCKDB_FILES[self._file][1] += 1

    def _free_file(self) -> None:
        held = _DUCKDB_FILES.get(self._file) if self._file else None
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            held[0].release()
            del _DUCKDB_FILES[self._file]

    def default_schema(self) -> str:
        return "main"

    def _cancel_running(self) -> None:
        for cursor in list(self._running):
            cursor.interrupt()

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        cursor = self._connection.cursor()
        self._running.add(cursor)
        try:
            cursor.begin()
            yield cursor
            cursor.commit() if commit else cursor.rollback()
        except BaseException:
            cursor.rollback()
            raise
        finally:
            self._running.discard(cursor)
            cursor.close()

    def _frame(self, cursor):
        return cursor.df()

    def _insert(self, cursor, frame, schema, table, create) -> None:
        cursor.register("__mage_prefect_frame", frame)
        verb = "CREATE TABLE {} AS" if create else "INSERT INTO {}"
        cursor.execute(f"{verb.format(self.qualified(schema, table))} SELECT * FROM __mage_prefect_frame")
        cursor.unregister("__mage_prefect_frame")


class Postgres(BaseSQL):
    """`Postgres(dbname, user, password, host, port=None, schema=None)` over psycopg; frames are
    written with COPY into a table SQLAlchemy's dialect types."""

    def __init__(
        self,
        dbname: str,
        user: str,
        password: str | None,
        host: str,
        port: int | str | None = None,
        schema: str | None = None,
        connection_method: str = "direct",
        verbose: bool = True,
        connect_timeout: int | None = None,
        **kwargs,
    ) -> None:
        if connection_method != "direct":
            raise ValueError(f"POSTGRES_CONNECTION_METHOD '{connection_method}' is not supported; use 'direct'")
        _require("psycopg")
        from sqlalchemy import URL, create_engine
        from sqlalchemy.pool import NullPool

        url = URL.create(
            "postgresql+psycopg",
            username=user,
            password=password or None,
            host=host,
            port=int(port) if port else None,
            database=dbname,
        )
        super().__init__(schema, url.render_as_string(hide_password=True))
        args = {"connect_timeout": int(connect_timeout)} if connect_timeout else {}
        self._engine = create_engine(url, connect_args=args, poolclass=NullPool)

    PROVIDER = "postgres"

    @classmethod
    def with_config(cls, config, **kwargs) -> Postgres:
        _check_required(cls, config)
        return cls(
            dbname=config.get("POSTGRES_DBNAME"),
            user=config.get("POSTGRES_USER"),
            password=config.get("POSTGRES_PASSWORD"),
            host=config.get("POSTGRES_HOST"),
            port=config.get("POSTGRES_PORT"),
            schema=config.get("POSTGRES_SCHEMA"),
            connection_method=config.get("POSTGRES_CONNECTION_METHOD") or "direct",
            connect_timeout=config.get("POSTGRES_CONNECT_TIMEOUT"),
            **kwargs,
        )

    def close(self) -> None:
        self._engine.dispose()

    def default_schema(self) -> str:
        return self.schema or "public"

    def identifier(self, name: str) -> str:
        return name.lower()  # what PostgreSQL makes of an unquoted name

    def _cancel_running(self) -> None:
        for connection in list(self._running):
            connection.cancel_safe()

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        connection = self._engine.raw_connection()
        self._running.add(connection.driver_connection)
        try:
            # psycopg's own cursor: without parameters it leaves '%' alone
            with connection.cursor() as cursor:
                yield cursor
            connection.commit() if commit else connection.rollback()
        except BaseException:
            connection.rollback()
            raise
        finally:
            self._running.discard(connection.driver_connection)
            connection.close()

    def _table_exists(self, cursor, schema, table) -> bool:
        cursor.execute(f"SELECT to_regclass('{_quoted(self.qualified(schema, table))}')")
        return cursor.fetchone()[0] is not None

    def _frame(self, cursor):
        import pandas

        return pandas.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])

    def _insert(self, cursor, frame, schema, table, create) -> None:
        from pandas.io.sql import get_schema

        if create:
            cursor.execute(get_schema(frame, table, con=self._engine, schema=schema))
        columns = ", ".join('"{}"'.format(str(column).replace('"', '""')) for column in frame.columns)
        values = frame.astype(object).where(frame.notna(), None)
        with cursor.copy(f"COPY {self.qualified(schema, table)} ({columns}) FROM STDIN") as copy:
            for row in values.itertuples(index=False, name=None):
                copy.write_row(row)


def _check_required(connector: type[BaseSQL], config) -> None:
    missing = missing_settings(connector.PROVIDER, config)
    if missing:
        describe = getattr(config, "describe", None)
        raise ValueError(
            f"{describe() if describe else 'the connection settings'}: sets no {', '.join(missing)} "
            "(or sets 'None': is the environment variable it reads set?)"
        )


def enforce_limit(query: str, limit: int) -> str:
    """Mage's `BaseIO._enforce_limit`: the query as a subquery, capped at `limit` rows."""
    return f"WITH subquery AS (\n{query.strip().rstrip(';')}\n)\nSELECT * FROM subquery LIMIT {int(limit)}"


def _quoted(value: str) -> str:
    return value.replace("'", "''")
