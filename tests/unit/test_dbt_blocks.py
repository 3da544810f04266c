"""dbt blocks: what `validate` finds without running dbt, and the dbt commands a block runs (Mage
0.9.80's argument order), with a recording stand-in for dbt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mage_prefect.project.validate import check_project
from mage_prefect.runtime.dbt import run_dbt_block, variables_json

SHOP = Path(__file__).parents[1] / "e2e" / "projects" / "dbt_shop"


@pytest.fixture()
def shop(tmp_path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "dbt_shop"))


def _messages(root: Path) -> list[str]:
    return [f"{d.key_path}: {d.message}" for d in check_project(root)[1] if d.severity == "error"]


def test_a_dbt_project_with_sql_and_yaml_blocks_validates(shop):
    project, diagnostics = check_project(shop)
    assert [d for d in diagnostics if d.severity == "error"] == []
    blocks = {block.uuid: block for block in project.pipelines["shop"].blocks}
    assert blocks["dbt/shop/models/orders"].file == (shop / "dbt/shop/models/orders.sql").resolve()
    assert blocks["refresh"].language == "yaml" and blocks["refresh"].file.name == "refresh.yaml"


def test_a_model_outside_any_dbt_project_is_an_error(shop):
    (shop / "dbt" / "shop" / "dbt_project.yml").unlink()
    assert any(
        "configuration.file_path" in message and "no dbt_project.yml above its model file" in message
        for message in _messages(shop)
    )


def test_a_dbt_project_without_profiles_yml_is_an_error(shop):
    (shop / "dbt" / "shop" / "profiles.yml").unlink()
    assert sum("has no profiles.yml" in message for message in _messages(shop)) == 4  # three models, one command


def test_a_yaml_block_naming_no_dbt_project_is_an_error(shop):
    metadata = shop / "pipelines" / "shop" / "metadata.yaml"
    metadata.write_text(metadata.read_text().replace("dbt_project_name: dbt/shop", "dbt_project_name: dbt/shopp"))
    assert any("no dbt project 'dbt/shopp'" in message for message in _messages(shop))


def test_a_dbt_block_in_another_language_is_refused(shop):
    metadata = shop / "pipelines" / "shop" / "metadata.yaml"
    metadata.write_text(metadata.read_text().replace("  language: yaml\n", "  language: r\n"))
    assert any("dbt blocks are SQL models or YAML commands, not r" in message for message in _messages(shop))


def _recorded_run(shop: Path, uuid: str, kwargs: dict, upstreams=()) -> list[list[str]]:
    """The dbt argument lists the block runs, each answered as a success showing one row."""
    kwargs = {"pipeline_uuid": "shop", **kwargs}
    block = _block(shop, uuid)
    calls: list[list[str]] = []
    row = SimpleNamespace(dict=lambda: {"customer": "alice"})
    shown = SimpleNamespace(results=[SimpleNamespace(agate_table=SimpleNamespace(rows=[row]))])

    def invoke(args, project_dir, profiles_dir):
        calls.append([str(profiles_dir) if arg == str(profiles_dir) else arg for arg in args])
        calls[-1].append((profiles_dir / "profiles.yml").read_text())  # rendered while dbt runs
        return SimpleNamespace(success=True, result=shown, exception=None)

    outputs = run_dbt_block(block, kwargs, shop, invoke, SimpleNamespace(info=lambda message: None), True, upstreams)
    return calls, outputs


def _block(shop: Path, uuid: str):
    return next(block for block in check_project(shop)[0].pipelines["shop"].blocks if block.uuid == uuid)


def test_a_sql_block_builds_its_model_then_shows_its_rows(shop, monkeypatch):
    monkeypatch.setenv("SHOP_DUCKDB", "/data/shop.duckdb")
    calls, outputs = _recorded_run(shop, "dbt/shop/models/revenue", {"min_amount": 10, "logger": object()})
    project = str((shop / "dbt" / "shop").resolve())
    vars_json = json.dumps({"pipeline_uuid": "shop", "min_amount": 10})
    assert [call[:7] for call in calls] == [
        ["build", "--project-dir", project, "--select", "revenue", "--vars", vars_json],
        ["show", "--project-dir", project, "--select", "revenue", "--vars", vars_json],
    ]
    assert calls[1][7:9][0] == "--profiles-dir" and calls[1][9:11] == ["--limit", "-1"]
    assert 'path: "/data/shop.duckdb"' in calls[0][-1]  # profiles.yml rendered with env_var()
    assert outputs[0].to_dict("list") == {"customer": ["alice"]}


def test_a_yaml_block_runs_its_command_with_its_arguments_and_rendered_target(shop):
    calls, outputs = _recorded_run(shop, "refresh", {"refresh_target": "other"})
    assert calls[0][:5] == ["run", "--select", "orders", "revenue", "--project-dir"]
    assert calls[0][6:10] == [
        "--vars",
        json.dumps({"pipeline_uuid": "shop", "refresh_target": "other"}),
        "--target",
        "other",
    ]
    assert outputs == []


def test_a_python_upstream_the_model_reads_as_a_source_is_seeded_first(shop):
    import pandas as pd

    frame = pd.DataFrame({"customer": ["alice"], "tier": ["gold"]})
    seed = shop / "dbt" / "shop" / "seeds" / "mage_shop" / "mage_shop_load_customers.csv"
    upstreams = [(_block(shop, "dbt/shop/models/revenue"), [None]), (_block(shop, "load_customers"), [frame])]
    calls, _ = _recorded_run(shop, "dbt/shop/models/tiers", {}, upstreams)
    assert [call[0] for call in calls] == ["seed", "build", "show"]
    assert calls[0][calls[0].index("--select") + 1] == "mage_shop_load_customers" and "--full-refresh" in calls[0]
    assert not seed.exists()  # written for dbt seed, removed after it, as Mage does


def test_the_vars_are_the_plain_variables_of_the_run():
    from datetime import datetime

    given = {"a": 1, "b": "x", "when": datetime(2026, 1, 2), "none": None, "object": object(), "__mage_variables": {}}
    assert json.loads(variables_json(given)) == {"a": 1, "b": "x", "when": "2026-01-02T00:00:00"}


def test_a_yaml_blocks_own_vars_are_merged_over_the_runs(shop):
    content = shop / "dbts" / "refresh.yaml"
    content.write_text('--select revenue --vars \'{"min_amount": {{ variables("floor") }}}\'\n')
    calls, _ = _recorded_run(shop, "refresh", {"floor": 20, "refresh_target": "other"})
    given = json.loads(calls[0][calls[0].index("--vars") + 1])
    assert given == {"pipeline_uuid": "shop", "floor": 20, "refresh_target": "other", "min_amount": 20}
    assert calls[0].count("--vars") == 1


def test_prefects_dates_are_passed_as_vars():
    import pendulum

    assert json.loads(variables_json({"execution_date": pendulum.datetime(2026, 1, 2, tz="UTC")})) == {
        "execution_date": "2026-01-02T00:00:00+00:00"
    }


def test_two_dbt_blocks_in_one_process_run_their_dbt_commands_one_at_a_time(shop):
    import threading
    import time

    running, overlaps = [], []

    def invoke(args, project_dir, profiles_dir):
        running.append(args[0])
        overlaps.append(len(running) > 1)
        time.sleep(0.05)
        running.pop()
        return SimpleNamespace(success=True, result=None, exception=None)

    logger = SimpleNamespace(info=lambda message: None)
    kwargs = {"pipeline_uuid": "shop"}
    threads = [
        threading.Thread(target=run_dbt_block, args=(_block(shop, uuid), kwargs, shop, invoke, logger, False))
        for uuid in ("dbt/shop/models/orders", "dbt/shop/models/revenue")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(overlaps) == 2 and not any(overlaps)


def test_a_failed_dbt_deps_is_a_warning_as_in_mage(shop):
    (shop / "dbt" / "shop" / "packages.yml").write_text("packages: []\n")
    warnings = []

    def invoke(args, project_dir, profiles_dir):
        return SimpleNamespace(success=args[0] != "deps", result=None, exception="no network")

    logger = SimpleNamespace(info=lambda message: None, warning=warnings.append)
    assert run_dbt_block(
        _block(shop, "dbt/shop/models/orders"), {"pipeline_uuid": "shop"}, shop, invoke, logger, False
    ) == [None]
    assert warnings and "dbt deps of block 'dbt/shop/models/orders' failed: no network" in warnings[0]
