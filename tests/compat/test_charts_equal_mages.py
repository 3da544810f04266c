"""A chart block's data, as Mage's chart builder computes it (no chart code), equals ours: the same
DataFrame and configurations through Mage 0.9.80's Widget and through mage_prefect.charts."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from mage_prefect.charts import chart_rows, metric_name
from tests.compat.conftest import mage

FRAME = pd.DataFrame(
    {
        "plan": ["basic", "pro", "basic", "team", "", " ", "pro", None],
        "fee": [10.0, 25.5, 12.0, None, 5.0, 6.0, 30.0, 7.0],
        "seats": [1, 3, 1, 12, 2, 2, 5, 1],
        "signed_up": pd.to_datetime(
            ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08", "2024-01-09", "2024-02-01", None]
        ),
    }
)
AGGREGATIONS = ("average", "count", "count_distinct", "max", "median", "min", "mode", "sum")
CONFIGURATIONS = [
    {"chart_type": kind, "group_by": ["plan"], "metrics": [{"aggregation": a, "column": "fee"} for a in AGGREGATIONS]}
    for kind in ("bar chart", "line chart")
] + [
    {"chart_type": "bar chart", "group_by": ["plan", "seats"], "metrics": [{"aggregation": "sum", "column": "fee"}]},
    {"chart_type": "histogram", "group_by": ["seats"]},
    {"chart_type": "histogram", "group_by": ["fee"], "buckets": 4},
    {"chart_type": "pie chart", "group_by": ["plan"]},
    {"chart_type": "pie chart", "group_by": ["seats"], "buckets": 2},
    {"chart_type": "table", "group_by": ["plan", "seats"], "order_by": ["seats"], "y_sort_order": "descending"},
    {"chart_type": "table", "group_by": ["plan"], "limit": 3},
    *(
        {
            "chart_type": kind,
            "group_by": ["signed_up"],
            "metrics": [{"aggregation": "sum", "column": "seats"}, {"aggregation": "count", "column": "plan"}],
            "time_interval": interval,
        }
        for kind, interval in (
            ("time series line chart", "day"),
            ("time series bar chart", "week"),
            ("time series line chart", "original"),
        )
    ),
]


def _mages_rows(configuration: dict, data: dict) -> list[dict] | None:
    """Mage's chart data as rows in our table's shape."""
    kind, group_by, metrics = configuration["chart_type"], configuration.get("group_by"), configuration.get("metrics")
    if "x" not in data or data["x"] in ([], None):
        return None
    if kind in ("bar chart", "line chart"):
        # Mage's x lists a multi-column group with a null key too (last), its y does not: the rest align
        keys = [key if isinstance(key, list) else [key] for key in data["x"]][: len(data["y"][0])]
        return [
            {**dict(zip(group_by, key)), **{metric_name(m): data["y"][i][row] for i, m in enumerate(metrics)}}
            for row, key in enumerate(keys)
        ]
    if kind == "histogram":
        return [{"min": x["min"], "max": x["max"], "count": y["value"]} for x, y in zip(data["x"], data["y"])]
    if kind == "pie chart":  # Mage's {value: count}, its keys text once in JSON
        return [{group_by[0]: value, "count": count} for value, count in data["x"].items()]
    if kind == "table":
        return [dict(zip(data["x"], row)) for row in data["y"]]
    return [
        {
            "bucket end": datetime.fromtimestamp(end).isoformat(),
            **{metric_name(m): data["y"][i][row] for i, m in enumerate(metrics)},
        }
        for row, end in enumerate(data["x"])
    ]


def _comparable(rows: list[dict] | None) -> str:
    return json.dumps(rows, default=str, sort_keys=True)


def test_every_chart_builder_chart_draws_the_data_mage_draws(tmp_path):
    FRAME.to_parquet(tmp_path / "frame.parquet")
    (tmp_path / "configs.json").write_text(json.dumps(CONFIGURATIONS))
    theirs = mage("chart", str(tmp_path / "frame.parquet"), "--configs", f"@{tmp_path / 'configs.json'}")["charts"]

    assert len(theirs) == len(CONFIGURATIONS)
    for configuration, data in zip(CONFIGURATIONS, theirs):
        expected = _mages_rows(configuration, data)
        ours = chart_rows(configuration, pd.read_parquet(tmp_path / "frame.parquet"))
        if configuration["chart_type"] == "pie chart":
            ours = [{name: str(cell) if name != "count" else cell for name, cell in row.items()} for row in ours]
        assert expected, f"Mage drew nothing for {configuration}"  # every case must draw something
        assert _comparable(ours) == _comparable(expected), configuration
