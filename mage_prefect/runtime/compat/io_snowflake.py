"""`mage_ai.io.snowflake.Snowflake`: Mage's Snowflake connector on snowflake-connector-python — `load` with
Mage's row limit, `export` with Mage's write policies through `write_pandas`, `execute`."""

from __future__ import annotations

from typing import Any

from ...project.capabilities import EXPORT_POLICIES
from .io_sql import QUERY_ROW_LIMIT, enforce_limit

# Mage's connection defaults (seconds)
DEFAULT_LOGIN_TIMEOUT = 20
DEFAULT_NETWORK_TIMEOUT = 300


def _connector():
    try:
        import snowflake.connector
        import snowflake.connector.pandas_tools
    except ImportError:
        raise ImportError(
            "mage_ai.io.snowflake needs snowflake-connector-python: pip install 'mage-prefect[snowflake]'"
        ) from None
    return snowflake.connector


class Snowflake:
    """A connection (opened on first use; a context manager) with snowflake.connector's `connect` arguments."""

    def __init__(self, **settings: Any) -> None:
        settings.setdefault("login_timeout", DEFAULT_LOGIN_TIMEOUT)
        settings.setdefault("network_timeout", DEFAULT_NETWORK_TIMEOUT)
        settings.pop("verbose", None)
        self.settings, self._ctx = settings, None

    @classmethod
    def with_config(cls, config, database: str | None = None, schema: str | None = None, **kwargs) -> Snowflake:
        """The profile's SNOWFLAKE_* keys (a password, else a PEM private key file), `kwargs` over them."""
        settings = {
            "account": config.get("SNOWFLAKE_ACCOUNT"),
            "database": database or config.get("SNOWFLAKE_DEFAULT_DB"),
            "schema": schema or config.get("SNOWFLAKE_DEFAULT_SCHEMA"),
            "user": config.get("SNOWFLAKE_USER"),
            "warehouse": config.get("SNOWFLAKE_DEFAULT_WH"),
        }
        for key, argument in (("SNOWFLAKE_TIMEOUT", "network_timeout"), ("SNOWFLAKE_ROLE", "role")):
            if key in config:
                settings[argument] = config.get(key)
        if "SNOWFLAKE_PASSWORD" in config:
            settings["password"] = config.get("SNOWFLAKE_PASSWORD")
        elif "SNOWFLAKE_PRIVATE_KEY_PATH" in config:
            settings["private_key"] = _private_key(config)
        return cls(**{**settings, **kwargs})

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        self._ctx = _connector().connect(**self.settings)

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None

    @property
    def conn(self):
        if self._ctx is None:
            self.open()
        return self._ctx

    def default_database(self) -> str | None:
        return self.settings.get("database")

    def default_schema(self) -> str | None:
        return self.settings.get("schema")

    @property
    def timeout(self) -> int | None:
        return self.settings.get("timeout")

    def execute(self, query_string: str, **kwargs) -> list:
        """Run one statement; its rows."""
        with self.conn.cursor() as cursor:
            return cursor.execute(query_string.strip(" \n\t"), timeout=self.timeout, **kwargs).fetchall()

    def execute_query_raw(self, query: str, **kwargs) -> list:
        with self.conn.cursor() as cursor:
            return cursor.execute(query, timeout=self.timeout).fetchall()

    def execute_queries(self, queries, query_variables=None, fetch_query_at_indexes=None, **kwargs) -> list:
        """Each query with its variables; a DataFrame for those to fetch, else the cursor (as Mage)."""
        import pandas

        results = []
        with self.conn.cursor() as cursor:
            for index, query in enumerate(queries):
                variables = query_variables[index] if query_variables and index < len(query_variables) else {}
                result = cursor.execute(query.strip(" \n\t"), timeout=self.timeout, **variables)
                if fetch_query_at_indexes and index < len(fetch_query_at_indexes) and fetch_query_at_indexes[index]:
                    result = pandas.DataFrame(result.fetchall(), columns=[column[0] for column in cursor.description])
                results.append(result)
        return results

    def load(self, query_string: str, limit: int = QUERY_ROW_LIMIT, display_query=None, verbose=True, *args, **kwargs):
        """The query's rows as a DataFrame, at most `limit`; columns col0… when the driver names none."""
        import pandas

        with self.conn.cursor() as cursor:
            query = enforce_limit(query_string.strip(" \n\t"), limit)
            rows = cursor.execute(query, *args, timeout=self.timeout, **kwargs).fetchall()
            columns = [column[0] for column in cursor.description]
        if not columns and rows:
            columns = [f"col{i}" for i in range(len(rows[0]))]
        return pandas.DataFrame(rows, columns=columns)

    def export(
        self,
        df,
        table_name: str | None = None,
        database: str | None = None,
        schema: str | None = None,
        if_exists: str = "append",
        query_string: str | None = None,
        unique_conflict_method: str | None = None,
        unique_constraints: list[str] | None = None,
        verbose: bool = True,
        **kwargs,
    ) -> None:
        """Write `df` (a dict or list becomes a frame) or `query_string`'s result, as Mage's `export`."""
        if table_name is None:
            raise Exception("Please provide a table_name argument in the export method.")  # Mage's message
        if if_exists not in EXPORT_POLICIES:
            raise ValueError(f"if_exists must be one of {', '.join(EXPORT_POLICIES)}, not {if_exists!r}")
        if unique_constraints and unique_conflict_method:
            raise NotImplementedError("Snowflake.export: unique_constraints (MERGE upserts) are not supported yet")
        database, schema = database or self.default_database(), schema or self.default_schema()
        with self.conn.cursor() as cursor:
            create = self._prepare_table(cursor, database, schema, table_name, if_exists)
            if query_string is not None:
                cursor.execute(f"USE SCHEMA {schema}", timeout=self.timeout)
                verb = "CREATE TABLE IF NOT EXISTS" if create else "INSERT INTO"
                cursor.execute(f'{verb} "{database}"."{schema}"."{table_name}"\n{query_string}', timeout=self.timeout)
                return
        self._write_frame(_frame(df), table_name, database, schema, create, **kwargs)

    def _prepare_table(self, cursor, database, schema, table_name, if_exists) -> bool:
        """Mage's checks before a write: the schema created, a table dropped for `replace`; whether
        the write creates the table."""
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}", timeout=self.timeout)
        cursor.execute(f"USE DATABASE {database}", timeout=self.timeout)
        cursor.execute(
            f"SELECT * FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table_name}'",
            timeout=self.timeout,
        )
        if cursor.rowcount < 1:
            return True
        if cursor.rowcount > 1:
            raise ValueError(f"Two or more tables with the name {table_name} are found.")
        if if_exists == "fail":
            raise RuntimeError(
                f"Table {table_name} already exists in the current warehouse, database, schema scenario."
            )
        if if_exists == "replace":
            cursor.execute(f'DROP TABLE "{schema}"."{table_name}"', timeout=self.timeout)
            return True
        return False

    def _write_frame(self, frame, table_name, database, schema, create: bool, **kwargs) -> None:
        write_pandas = _connector().pandas_tools.write_pandas
        options = {"auto_create_table": create, "database": database, "schema": schema, "use_logical_type": True}
        write_pandas(self.conn, frame, table_name, **{**options, **kwargs})


def _frame(data):
    import pandas

    return pandas.DataFrame([data]) if type(data) is dict else pandas.DataFrame(data) if type(data) is list else data


def _private_key(config) -> bytes:
    """The PEM key file (with its passphrase, if any) as the DER bytes snowflake.connector takes."""
    from cryptography.hazmat.primitives import serialization

    passphrase = (
        config.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE") if "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE" in config else None
    )
    with open(config.get("SNOWFLAKE_PRIVATE_KEY_PATH"), "rb") as key_file:
        key = serialization.load_pem_private_key(key_file.read(), password=passphrase and passphrase.encode())
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
