"""charts.py: what a chart block draws (its equality with Mage's is tests/compat/test_charts_equal_mages.py)."""

from __future__ import annotations

import logging

import pandas as pd

from mage_prefect.artifacts import _charts
from mage_prefect.charts import chart_rows
from mage_prefect.handoff import BlockResult
from mage_prefect.project.models import Chart, SourceRef

FRAME = pd.DataFrame({"plan": ["a", "b", "a"], "fee": [1.0, 2.0, 4.0]})
RUN_ID = "6f1d7c4e-2b7a-4a53-9d0e-1c2b3a4d5e6f"
BY_PLAN = {"chart_type": "bar chart", "group_by": ["plan"], "metrics": [{"aggregation": "sum", "column": "fee"}]}


def test_a_chart_builder_chart_is_a_row_per_group():
    assert chart_rows(BY_PLAN, FRAME) == [{"plan": "a", "sum(fee)": 5.0}, {"plan": "b", "sum(fee)": 2.0}]


def test_where_mage_draws_nothing_there_is_no_table():
    assert chart_rows({"chart_type": "bar chart", "x": "x", "y": "y"}, FRAME) is None  # drawn by its code
    assert chart_rows({**BY_PLAN, "group_by": ["plna"]}, FRAME) is None  # no such column
    assert chart_rows(BY_PLAN, [1, 2, 3]) is None  # not a DataFrame
    assert chart_rows({"chart_type": "table", "metrics": BY_PLAN["metrics"]}, FRAME) is None  # no columns


def _result(outputs):
    class Store:
        def read(self, key):
            raise AssertionError("read from memory")

    return BlockResult("load", outputs, ["p/r/load/output_0.parquet"], None, Store())


def _chart(configuration):
    return Chart(uuid="fees", upstream_blocks=("load",), configuration=configuration, source=SourceRef(file="m.yaml"))


def test_each_chart_of_a_run_is_a_table_artifact_and_one_that_fails_is_a_warning(caplog):
    broken = _chart({**BY_PLAN, "metrics": [{"aggregation": "sum"}]})  # a metric without its column
    logger = logging.getLogger("test-charts")
    with caplog.at_level(logging.WARNING, logger="test-charts"):
        drawn = _charts("p", (_chart(BY_PLAN), broken), {"load": _result([FRAME])}, RUN_ID, logger)

    assert [artifact.key for artifact in drawn] == ["p-fees-chart"]
    assert "chart 'fees' was not drawn: KeyError" in caplog.text
    assert _charts("p", (_chart(BY_PLAN),), {}, RUN_ID, logger) == []  # its block did not run
