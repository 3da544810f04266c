"""What a Mage chart block draws, as rows of a table: Mage's own computation (mage-ai 0.9.80,
`data_preparation/models/widget/`) of the data of a chart configured in its chart builder, from
`group_by` and `metrics` over its upstream block's DataFrame, without code. A chart whose data
comes from code (`@x`, `@y`, `@data_source` …) is not drawn here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

MAX_BUCKETS = 40  # Mage's, for histograms, pie charts and time series
TABLE_LIMIT = 10  # Mage's DATAFRAME_SAMPLE_COUNT_PREVIEW
XY_CHARTS = ("bar chart", "line chart")
TIME_SERIES = ("time series bar chart", "time series line chart")
STEPS = {
    "day": relativedelta(days=1),
    "hour": relativedelta(hours=1),
    "minute": relativedelta(minutes=1),
    "month": relativedelta(months=1),
    "second": relativedelta(seconds=1),
    "week": relativedelta(weeks=1),
    "year": relativedelta(years=1),
}


def chart_rows(configuration: dict[str, Any], frame: Any) -> list[dict[str, Any]] | None:
    """The rows of the chart `configuration` over the pandas DataFrame `frame`; None where Mage's
    chart builder would draw nothing (no group_by or metrics, a column that is not there)."""
    import pandas as pd

    kind = configuration.get("chart_type")
    group_by, metrics = configuration.get("group_by") or [], configuration.get("metrics") or []
    if not isinstance(frame, pd.DataFrame) or not (group_by or metrics):
        return None
    if any(column not in frame.columns for column in group_by):
        return None
    if kind in XY_CHARTS and group_by and metrics:
        return _grouped(frame, group_by, metrics)
    if kind == "histogram" and group_by:
        return _histogram(frame[group_by[0]], int(configuration.get("buckets") or MAX_BUCKETS))
    if kind == "pie chart" and group_by:
        return _pie(frame[group_by[0]], int(configuration.get("buckets") or MAX_BUCKETS))
    if kind == "table":
        return _table(frame, configuration, group_by)
    if kind in TIME_SERIES and group_by and metrics:
        return _time_series(frame, group_by[0], configuration.get("time_interval") or "original", metrics)
    return None


def metric_name(metric: dict[str, str]) -> str:
    return f"{metric['aggregation']}({metric['column']})"


def metric_value(series: Any, aggregation: str) -> Any:
    """Mage's aggregation of a series (blank strings and nulls dropped; median: the upper middle)."""
    series = _cleaned(series)
    if len(series) == 0:
        return 0
    if aggregation == "average":
        return sum(series) / len(series)
    if aggregation == "count":
        return len(series)
    if aggregation == "count_distinct":
        return len(series.unique())
    if aggregation == "max":
        return max(series)
    if aggregation == "median":
        return sorted(series)[int(len(series) / 2)]
    if aggregation == "min":
        return min(series)
    if aggregation == "mode":
        return sorted(series.value_counts().items(), key=lambda item: item[1], reverse=True)[0][0]
    if aggregation == "sum":
        return sum(series)
    return 0


def _metrics(frame: Any, metrics: list[dict]) -> dict[str, Any]:
    """Each metric over the rows of `frame` (a group, a time bucket), by its name."""
    return {metric_name(metric): metric_value(frame[metric["column"]], metric["aggregation"]) for metric in metrics}


def _cleaned(series: Any) -> Any:
    import numpy as np

    blank = series.map(lambda value: isinstance(value, str) and (len(value) == 0 or value.isspace()))
    return series.mask(blank.astype(bool), np.nan).dropna()


def _grouped(frame: Any, group_by: list[str], metrics: list[dict]) -> list[dict[str, Any]]:
    """One row a group (in group order, as Mage's x values): its keys (as Python values, which Mage's
    encoding makes of numpy scalars) and each metric."""
    return [
        {**dict(zip(group_by, _python(key if isinstance(key, tuple) else (key,)))), **_metrics(group, metrics)}
        for key, group in frame.groupby(group_by)
    ]


def _python(values: tuple) -> list[Any]:
    return [value.item() if hasattr(value, "item") else value for value in values]


def _histogram(series: Any, buckets: int) -> list[dict[str, Any]] | None:
    import numpy as np

    values = series[series.notna()].tolist()
    if not values:
        return None
    low, high = min(values), max(values)
    edges, width = _buckets(low, high, buckets)
    if width == 0 or not edges:
        return None
    counts, _ = np.histogram(values, bins=[lower for lower, _ in edges] + [edges[-1][1]])
    return [{"min": lower, "max": upper, "count": int(count)} for (lower, upper), count in zip(edges, counts)]


def _buckets(low: Any, high: Any, most: int) -> tuple[list[tuple[Any, Any]], Any]:
    """Mage's histogram buckets: whole-number steps when the range allows, else rounded widths."""
    if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in (low, high)):
        return [], 0
    span = high - low
    total = 1 + span
    width, count = total / most, most
    fraction = str(span).split(".")
    whole = len(fraction) == 1 or int(fraction[1]) == 0
    if whole and total <= most:
        count, width = int(total), 1
    elif width > 1:
        width = math.ceil(width)
    else:
        width = round(width * 100, 1) / 100
    edges = [(low + index * width, low + (index + 1) * width) for index in range(count)]
    return [(lower, upper) for lower, upper in edges if high >= lower], width


def _pie(series: Any, buckets: int) -> list[dict[str, Any]]:
    counts = series[series.notna()].value_counts().to_dict()
    top = sorted(zip(counts.values(), counts.keys()), reverse=True)[:buckets]
    return [{str(series.name): value, "count": count} for count, value in top]


def _table(frame: Any, configuration: dict[str, Any], group_by: list[str]) -> list[dict[str, Any]] | None:
    if not group_by:
        return None
    limit = configuration.get("limit") or TABLE_LIMIT
    order_by = configuration.get("order_by")
    if order_by:
        frame = frame.sort_values(by=order_by, ascending=configuration.get("y_sort_order") != "descending")
    shown = frame.iloc[: int(limit)][group_by].astype(object)
    return shown.where(shown.notna(), None).to_dict(orient="records")  # a missing value shows as None


def _time_series(frame: Any, column: str, interval: str, metrics: list[dict]) -> list[dict[str, Any]] | None:
    """Mage's time buckets: from the first value's interval start to past the last value, at most
    MAX_BUCKETS (wider steps otherwise); each row is a bucket's end and the metrics inside it."""
    import pandas as pd

    stamps = _cleaned(frame[column])
    if stamps.size <= 1:
        return None
    unique = stamps.unique()
    distinct = [_as_datetime(value) for value in unique]
    epoch = all(len(str(value)) == 10 and str(value).isdigit() for value in unique)
    earliest, latest = min(distinct), max(distinct)
    first, second = sorted(distinct)[:2]
    if interval == "original":
        interval = _interval_of((second - first).total_seconds())
    start = _interval_start(earliest, interval)
    seconds = (
        frame[column].apply(lambda value: value if pd.isnull(value) else int(value))
        if epoch
        else (pd.to_datetime(frame[column]).apply(lambda value: value if pd.isnull(value) else value.timestamp()))
    )
    now = datetime.utcnow()
    step = (now + STEPS[interval]).timestamp() - now.timestamp()
    buckets = math.ceil(latest.timestamp() - earliest.timestamp()) / step
    factor = buckets / MAX_BUCKETS if buckets > MAX_BUCKETS else 1
    rows, ends = [], []
    while not ends or ends[-1] <= latest.timestamp():
        low = start.timestamp() if not ends else ends[-1]
        ends.append((datetime.fromtimestamp(low) + timedelta(seconds=step * factor)).timestamp())
        inside = frame[(seconds >= low) & (seconds < ends[-1])]
        rows.append({"bucket end": datetime.fromtimestamp(ends[-1]).isoformat(), **_metrics(inside, metrics)})
    return rows


def _as_datetime(value: Any) -> datetime:
    import dateutil.parser
    import pandas as pd

    if len(str(value)) == 10 and str(value).isdigit():
        return datetime.fromtimestamp(int(value))
    if isinstance(value, str):
        return dateutil.parser.parse(value)
    return pd.Timestamp(value).to_pydatetime()


def _interval_of(seconds: float) -> str:
    for interval, least in (("year", 365), ("month", 30), ("week", 7), ("day", 1), ("hour", 1 / 24)):
        if seconds >= 60 * 60 * 24 * least:
            return interval
    return "second"


def _interval_start(moment: datetime, interval: str) -> datetime:
    if interval == "day":
        return datetime(moment.year, moment.month, moment.day)
    if interval == "hour":
        return datetime(moment.year, moment.month, moment.day, moment.hour)
    if interval in ("minute", "second"):
        return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute)
    if interval == "month":
        return datetime(moment.year, moment.month, 1)
    if interval == "week":
        monday = moment - relativedelta(days=moment.isocalendar()[2])
        return datetime(monday.year, monday.month, monday.day)
    if interval == "year":
        return datetime(moment.year, 1, 1)
    return moment
