"""runtime/sql.py, the mage_ai.io shim (config, DuckDB, FileIO) and SQL checks of the validator.

DuckDB is embedded, so these run a real database without a server; PostgreSQL is in the e2e tests."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from mage_prefect.project.models import Block, SourceRef
from mage_prefect.project.validate import check_project
from mage_prefect.runtime.compat.io_config import ConfigFileLoader, ConfigKey
from mage_prefect.runtime.compat.io_file import FileIO, GoogleCloudStorage
from mage_prefect.runtime.compat.io_snowflake import Snowflake
from mage_prefect.runtime.compat.io_sql import DuckDB
from mage_prefect.runtime.context import RunContext
from mage_prefect.runtime.execute import BlockFailed, execute_block
from mage_prefect.runtime.sql import render_sql, table_name

LOG = logging.getLogger("test")


def sql_block(uuid: str, upstream=(), content: str = "SELECT 1 AS one", **configuration) -> Block:
    return Block(
        uuid=uuid,
        type="transformer",
        language="sql",
        upstream_blocks=tuple(upstream),
        content=content,
        configuration={"data_provider": "duckdb", **configuration},
        source=SourceRef(file=Path("m.yaml")),
    )


def python_block(uuid: str) -> Block:
    return Block(uuid=uuid, type="data_loader", content="x", source=SourceRef(file=Path("m.yaml")))


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "io_config.yaml").write_text(
        "version: 0.1.1\ndefault:\n  DUCKDB_DATABASE: \"{{ env_var('TEST_DUCKDB') }}\"\n"
        "verbose:\n  Duck DB:\n    database: other.duckdb\n    schema: staging\n"
    )
    return tmp_path


@pytest.fixture()
def database(project, monkeypatch):
    path = project / "warehouse.duckdb"
    monkeypatch.setenv("TEST_DUCKDB", str(path))
    return path


def run(block: Block, project: Path, inputs=(), upstreams=(), env: str = "prod", **variables):
    context = RunContext(
        pipeline_uuid="shop",
        repo_path=project,
        root_path=project,
        env=env,
        execution_date=datetime(2026, 11, 27, tzinfo=UTC),
        variables=variables,
    )
    return execute_block(block, [list(i) for i in inputs], context, upstreams=upstreams, logger=LOG)


def rows(path: Path, query: str):
    with DuckDB(str(path)) as connection:
        return connection.load(query).to_dict("list")


def test_table_names_follow_mage_with_env_prefix_and_override():
    block = sql_block("Daily/Revenue")
    assert table_name(block, "shop", "prod") == "shop_daily_revenue_v1"
    assert table_name(block, "shop", "dev") == "dev_shop_daily_revenue_v1"
    assert table_name(block, "shop", "test") == "test_shop_daily_revenue_v1"
    assert table_name(sql_block("x", data_provider_table="facts"), "shop", "dev") == "facts"


def test_render_gives_kwargs_variables_and_template_functions_and_is_strict(monkeypatch):
    monkeypatch.setenv("REGION", "eu")
    text = "{{ ds }} {{ variables('n') }} {{ variables('n') | int + 1 }} {{ env_var('REGION') }}"
    assert render_sql(text, {"ds": "2026-11-27", "n": "4"}) == "2026-11-27 4 5 eu"
    with pytest.raises(jinja2.UndefinedError, match="missing"):
        render_sql("{{ missing }}", {})


def test_a_sql_block_exports_its_python_input_materialises_and_reads_back(project, database):
    orders = pd.DataFrame({"day": ["a", "a", "b"], "amount": [1.0, 2.0, 5.0]})
    block = sql_block(
        "totals",
        ["orders"],
        "SELECT day, SUM(amount) * {{ k }} AS total FROM {{ df_1 }} GROUP BY day ORDER BY day",
        export_write_policy="replace",
    )

    outputs = run(block, project, inputs=[[orders]], upstreams=[python_block("orders")], k=10)

    assert [frame.to_dict("list") for frame in outputs] == [{"day": ["a", "b"], "total": [30.0, 50.0]}]
    assert rows(database, "SELECT COUNT(*) AS n FROM main.shop_orders_v1") == {"n": [3]}
    assert rows(database, "SELECT total FROM main.shop_totals_v1 ORDER BY day") == {"total": [30.0, 50.0]}


@pytest.mark.parametrize("policy, second_run_rows", [("append", 2), ("replace", 1), (None, 2)])
def test_export_write_policy_of_a_second_run(project, database, policy, second_run_rows):
    block = sql_block("one", export_write_policy=policy) if policy else sql_block("one")
    run(block, project)
    assert len(run(block, project)[0]) == second_run_rows  # Mage's default is append


def test_export_write_policy_fail_fails_the_second_run(project, database):
    block = sql_block("one", export_write_policy="fail")
    run(block, project)
    with pytest.raises(BlockFailed, match='Table "main.shop_one_v1" already exists'):
        run(block, project)


@pytest.mark.parametrize("profile", ["default", "{{ variables('warehouse') }}"])
def test_a_sql_upstream_on_the_same_database_is_referenced_not_exported(project, database, profile):
    first = sql_block("first", content="SELECT 41 AS n", export_write_policy="replace", data_provider_profile=profile)
    second = sql_block("second", ["first"], "SELECT n + 1 AS n FROM {{ df_1 }}", export_write_policy="replace")
    run(first, project, env="dev", warehouse="default")
    other_value = [pd.DataFrame({"n": [0]})]  # an export would overwrite the table with this

    outputs = run(second, project, inputs=[other_value], upstreams=[first], env="dev", warehouse="default")

    assert outputs[0].to_dict("list") == {"n": [42]}
    tables = rows(database, "SELECT table_name FROM information_schema.tables ORDER BY 1")["table_name"]
    assert tables == ["dev_shop_first_v1", "dev_shop_second_v1"]


def test_a_raw_sql_upstream_without_writes_is_inlined_as_a_subquery(project, database):
    upstream = sql_block(
        "recent", content="-- the latest\nSELECT range AS n FROM range({{ count }});", use_raw_sql=True
    )
    block = sql_block("total", ["recent"], "SELECT SUM(n) AS total FROM {{ df_1 }}", export_write_policy="replace")

    outputs = run(block, project, inputs=[run(upstream, project, count=5)], upstreams=[upstream], count=5)

    assert outputs[0].to_dict("list") == {"total": [10]}  # 0+1+2+3+4; the upstream wrote no table
    nested = sql_block("nested", ["total"], "SELECT * FROM {{ df_1 }}", use_raw_sql=True)
    with pytest.raises(BlockFailed, match="cannot inline yet"):
        run(sql_block("top", ["nested"], "SELECT * FROM {{ df_1 }}"), project, inputs=[[]], upstreams=[nested])


def test_inputs_are_exported_only_when_referenced_and_not_empty_into_the_blocks_schema(project, database):
    used, unused, empty = (pd.DataFrame({"n": [1, 2]}), pd.DataFrame({"n": [3]}), pd.DataFrame({"n": []}))
    block = sql_block(
        "pick",
        ["used", "unused", "empty"],
        "SELECT SUM(n) AS n FROM {{ df_1 }}",
        data_provider_schema="staging",
        limit_in_pipeline_run=1,
    )

    outputs = run(
        block,
        project,
        inputs=[[used], [unused], [empty]],
        upstreams=[python_block("used"), python_block("unused"), python_block("empty")],
    )

    assert outputs[0].to_dict("list") == {"n": [3]}
    tables = rows(database, "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1")
    assert tables["t"] == ["staging.shop_pick_v1", "staging.shop_used_v1"]


def test_the_read_back_is_capped_by_limit_in_pipeline_run(project, database):
    block = sql_block("many", content="SELECT range AS n FROM range(50)", limit_in_pipeline_run=7)
    assert len(run(block, project)[0]) == 7
    assert rows(database, "SELECT COUNT(*) AS c FROM main.shop_many_v1") == {"c": [50]}  # the table has all


def test_disable_query_preprocessing_runs_the_text_once_without_output(project, database):
    block = sql_block(
        "setup", content="CREATE TABLE t AS SELECT 1 AS a; INSERT INTO t VALUES (2)", disable_query_preprocessing=True
    )
    assert run(block, project) == []
    assert rows(database, "SELECT a FROM t ORDER BY a") == {"a": [1, 2]}


def test_sql_blocks_on_one_database_in_parallel_threads_all_succeed(project, database):
    import threading

    orders = pd.DataFrame({"a": range(20_000)})
    blocks = [sql_block(f"count{i}", ["orders"], "SELECT COUNT(*) AS c FROM {{ df_1 }}") for i in range(4)]
    outcomes: dict[str, object] = {}

    def execute(block):
        try:
            outcomes[block.uuid] = run(block, project, inputs=[[orders]], upstreams=[python_block("orders")])[0]["c"][0]
        except BlockFailed as exc:
            outcomes[block.uuid] = str(exc)

    threads = [threading.Thread(target=execute, args=(block,)) for block in blocks]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert outcomes == {block.uuid: 20_000 for block in blocks}


def test_a_timed_out_sql_block_is_cancelled_and_commits_nothing(project, database):
    import threading
    import time

    slow = sql_block("slow", content="SELECT SUM(a.range * b.range) AS s FROM range(40000) a, range(40000) b")
    with pytest.raises(BlockFailed, match="timed out after 0.5 s"):
        run(slow.model_copy(update={"timeout": 0.5}), project)
    deadline = time.monotonic() + 20
    while any(t.name == "block-slow" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(t.name == "block-slow" for t in threading.enumerate())  # the query was interrupted
    assert rows(database, "SELECT table_name FROM information_schema.tables") == {"table_name": []}


def test_a_block_that_times_out_waiting_for_the_database_never_starts(project, database):
    import threading
    import time

    slow = sql_block("slow", content="SELECT SUM(a.range * b.range) AS s FROM range(40000) a, range(40000) b")
    holder = threading.Thread(
        target=lambda: pytest.raises(BlockFailed, run, slow.model_copy(update={"timeout": 2}), project)
    )
    holder.start()
    time.sleep(0.3)  # the slow block holds the database's lock
    with pytest.raises(BlockFailed, match="timed out after 0.5 s"):
        run(sql_block("quick").model_copy(update={"timeout": 0.5}), project)
    holder.join()
    deadline = time.monotonic() + 20
    while any(t.name == "block-quick" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows(database, "SELECT table_name FROM information_schema.tables") == {"table_name": []}


def test_raw_sql_runs_every_statement_and_outputs_the_written_table(project, database):
    block = sql_block(
        "raw",
        use_raw_sql=True,
        content=("-- a log of runs\nCREATE TABLE IF NOT EXISTS log (d TEXT); INSERT INTO log VALUES ('{{ ds }}');"),
    )
    run(block, project)
    assert run(block, project)[0].to_dict("list") == {"d": ["2026-11-27", "2026-11-27"]}
    big = sql_block("big", use_raw_sql=True, content="CREATE TABLE big AS SELECT range AS n FROM range(1500)")
    assert len(run(big, project)[0]) == 1000  # Mage reads a written table back with LIMIT 1000
    select = sql_block(
        "select", use_raw_sql=True, content="SET threads = 1; SELECT 1 AS a; SELECT range FROM range(1200)"
    )
    assert len(run(select, project)[0]) == 1200  # the last result, fetched as written


def test_sql_errors_name_the_block(project, database):
    with pytest.raises(BlockFailed, match=r"Block 'bad' failed .*UndefinedError: 'nope' is undefined"):
        run(sql_block("bad", content="SELECT {{ nope }}"), project)
    with pytest.raises(BlockFailed, match=r"\{\{ df_2 \}\} names upstream 2, but block 'two' has 0"):
        run(sql_block("two", content="SELECT * FROM {{ df_2 }}"), project)
    with pytest.raises(BlockFailed, match="no profile 'nowhere' \\(profiles: default, verbose\\)"):
        run(sql_block("p", data_provider_profile="nowhere"), project)


def test_config_file_loader_renders_profiles_and_flattens_the_verbose_format(project, monkeypatch):
    monkeypatch.setenv("TEST_DUCKDB", "/data/w.duckdb")
    config = ConfigFileLoader(project / "io_config.yaml")
    assert config[ConfigKey.DUCKDB_DATABASE] == config.get("DUCKDB_DATABASE") == "/data/w.duckdb"
    assert "DUCKDB_SCHEMA" not in config and config["POSTGRES_HOST"] is None
    verbose = ConfigFileLoader(project / "io_config.yaml", "verbose")
    assert (verbose["DUCKDB_DATABASE"], verbose["DUCKDB_SCHEMA"]) == ("other.duckdb", "staging")
    assert ConfigFileLoader(config={"A": 1}).get("A") == 1
    with pytest.raises(FileNotFoundError, match="no io_config.yaml"):
        ConfigFileLoader(project / "missing.yaml")


@pytest.mark.parametrize("name", ["frame.csv", "frame.parquet", "frame.json"])
def test_file_io_round_trips_by_extension(tmp_path, name):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    path = tmp_path / "out" / name
    FileIO().export(frame, path)
    assert FileIO().exists(path)
    # as in Mage: pandas' defaults, so a CSV keeps the index and reads it back as a column
    index = {"Unnamed: 0": [0, 1]} if name.endswith(".csv") else {}
    assert FileIO().load(path).to_dict("list") == {**index, **frame.to_dict("list")}
    with pytest.raises(ValueError, match="unknown file format"):
        FileIO().load(tmp_path / "frame.txt")


def test_gcs_with_config_takes_mages_keys_and_says_when_there_are_none(monkeypatch):
    chosen = []
    monkeypatch.setattr(GoogleCloudStorage, "__init__", lambda self, **kwargs: chosen.append(kwargs))
    both = {"GOOGLE_SERVICE_ACC_KEY": {"type": "service_account"}, "GOOGLE_SERVICE_ACC_KEY_FILEPATH": "/k.json"}
    GoogleCloudStorage.with_config(ConfigFileLoader(config=both))  # as Mage: the key mapping first
    GoogleCloudStorage.with_config(ConfigFileLoader(config={"GOOGLE_SERVICE_ACC_KEY_FILEPATH": "/k.json"}))
    assert chosen == [{"credentials_mapping": {"type": "service_account"}}, {"path_to_credentials": "/k.json"}]
    with pytest.raises(ValueError, match="either your service account key or the filepath"):
        GoogleCloudStorage.with_config(ConfigFileLoader(config={"AWS_REGION": "eu-west-1"}))


def test_snowflake_with_config_builds_mages_connect_arguments(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    profile = {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_USER": "u", "SNOWFLAKE_DEFAULT_WH": "WH"}
    profile |= {"SNOWFLAKE_DEFAULT_DB": "DB", "SNOWFLAKE_DEFAULT_SCHEMA": "S", "SNOWFLAKE_ROLE": "R"}
    with_password = Snowflake.with_config(ConfigFileLoader(config={**profile, "SNOWFLAKE_PASSWORD": "p"}), schema="X")
    assert with_password.settings == {
        **{"account": "acme", "database": "DB", "schema": "X", "user": "u", "warehouse": "WH", "role": "R"},
        **{"password": "p", "login_timeout": 20, "network_timeout": 300},  # Mage's timeouts
    }
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    (tmp_path / "key.p8").write_bytes(pem)
    keyed = {**profile, "SNOWFLAKE_PRIVATE_KEY_PATH": str(tmp_path / "key.p8")}
    keyed |= {"SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "pw", "SNOWFLAKE_TIMEOUT": 30}
    settings = Snowflake.with_config(ConfigFileLoader(config=keyed), network_timeout=5).settings
    assert settings["network_timeout"] == 5 and "password" not in settings  # kwargs win, as in Mage
    assert serialization.load_der_private_key(settings["private_key"], None).private_numbers() == key.private_numbers()


def test_validate_reports_sql_problems_without_running_anything(tmp_path):
    (tmp_path / "metadata.yaml").write_text("project_type: standalone\n")
    (tmp_path / "transformers").mkdir()
    (tmp_path / "transformers" / "bad.sql").write_text("SELECT *\nFROM {{ df_2 }}\nWHERE {% if %}")
    (tmp_path / "transformers" / "gdp.sql").write_text("SELECT {{ block_output('x') }}")
    (tmp_path / "pipelines" / "p").mkdir(parents=True)
    (tmp_path / "pipelines" / "p" / "metadata.yaml").write_text(
        "uuid: p\nblocks:\n"
        "- {uuid: bad, type: transformer, language: sql, upstream_blocks: [],"
        " configuration: {data_provider: bigquery, export_write_policy: overwrite}}\n"
        "- {uuid: gdp, type: transformer, language: sql, upstream_blocks: [], configuration: {data_provider: duckdb}}\n"
        "- {uuid: cond, type: sensor, language: sql, upstream_blocks: []}\n"
        "- {uuid: fan, type: transformer, language: sql, upstream_blocks: [], content: 'SELECT 1',"
        " configuration: {data_provider: duckdb, dynamic: true}}\n"
        "- {uuid: nowhere, type: transformer, language: sql, upstream_blocks: [], content: 'SELECT 1',"
        " configuration: {data_provider: duckdb, data_provider_profile: nowhere}}\n"
        "- {uuid: pg, type: transformer, language: sql, upstream_blocks: [], content: 'SELECT 1',"
        " configuration: {data_provider: postgres}}\n"
        "- {uuid: unset, type: transformer, language: sql, upstream_blocks: [], content: 'SELECT 1',"
        " configuration: {data_provider: duckdb, data_provider_profile: from_env}}\n"
        "- {uuid: later, type: transformer, language: sql, upstream_blocks: [], content: 'SELECT 1',"
        " configuration: {data_provider: duckdb, data_provider_profile: \"{{ variables('p') }}\"}}\n"
        "conditionals:\n- {uuid: gate, type: conditional, language: sql, upstream_blocks: [bad]}\n"
    )

    _, diagnostics = check_project(tmp_path)

    messages = {(d.file.name, d.line, d.message) for d in diagnostics}
    bad, metadata = "bad.sql", "metadata.yaml"
    assert any(f == metadata and "data_provider 'bigquery'" in m for f, _, m in messages)
    assert any(f == metadata and "export_write_policy 'overwrite'" in m for f, _, m in messages)
    assert any(f == metadata and "io_config.yaml" in m and "missing" in m for f, _, m in messages)
    assert (bad, 2, "{{ df_2 }} names upstream 2, but block 'bad' has 0 upstream block(s)") in messages
    assert any(f == bad and line == 3 and "template syntax error" in m for f, line, m in messages)
    assert any(f == "gdp.sql" and "block_output()" in m for f, _, m in messages)
    assert any(f == metadata and "SQL sensor blocks are not supported" in m for f, _, m in messages)
    assert any(f == metadata and "SQL conditional blocks are not supported" in m for f, _, m in messages)
    assert any(f == metadata and "'fan' is a dynamic block" in m for f, _, m in messages)

    (tmp_path / "io_config.yaml").write_text(
        "default:\n  POSTGRES_HOST: db\n  DUCKDB_DATABASE: w.duckdb\n"
        "other:\n  DUCKDB_DATABASE: x.duckdb\n"
        "from_env:\n  DUCKDB_DATABASE: \"{{ env_var('NO_SUCH_VARIABLE') }}\"\n"
    )
    _, diagnostics = check_project(tmp_path)
    by_key = {d.key_path: d.message for d in diagnostics if d.key_path and d.key_path.endswith("data_provider_profile")}
    io_config = tmp_path / "io_config.yaml"
    assert by_key == {
        "blocks[4].configuration.data_provider_profile": f"{io_config}: no profile 'nowhere' (profiles: default, "
        "from_env, other); add it or name another with data_provider_profile",
        "blocks[5].configuration.data_provider_profile": f"{io_config}, profile 'default': sets no POSTGRES_DBNAME, "
        "POSTGRES_USER, which postgres needs",
        "blocks[6].configuration.data_provider_profile": f"{io_config}, profile 'from_env': DUCKDB_DATABASE renders "
        "as 'None' here (an unset environment variable?)",
    }  # a templated profile ('later') is checked when the block runs
    assert [d.severity for d in diagnostics if d.key_path == "blocks[6].configuration.data_provider_profile"] == [
        "warning"
    ]  # CI compiles without production's environment


@pytest.mark.parametrize("pipeline", ["my pipe", "a..b", 'quo"te'])
def test_tables_of_pipelines_with_any_name_mage_allows_are_quoted(project, database, pipeline):
    upstream, block = sql_block("first"), sql_block("second", upstream=["first"], content="SELECT * FROM {{ df_1 }}")
    context = RunContext(
        pipeline_uuid=pipeline,
        repo_path=project,
        root_path=project,
        env="prod",
        execution_date=datetime(2026, 11, 27, tzinfo=UTC),
    )
    execute_block(upstream, [], context, logger=LOG)
    [frame] = execute_block(block, [[None]], context, upstreams=[upstream], logger=LOG)
    assert frame.to_dict("list") == {"one": [1]}
    assert rows(database, f'SELECT * FROM main."{pipeline.replace(chr(34), 2 * chr(34))}_second_v1"') == {"one": [1]}
