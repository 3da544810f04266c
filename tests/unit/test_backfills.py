"""The backfill runner's refusals before anything runs: a trigger the pipeline does not have and a
concurrency below 1 (the e2e tier runs backfills on a server, locally and on a worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mage_prefect.backfills import backfill
from mage_prefect.project.backfill import BackfillError
from mage_prefect.project.errors import NotFound

PROJECT = Path(__file__).parents[1] / "e2e" / "projects" / "scheduled"
WINDOW = dict(start="2023-01-01", end="2023-01-03", every="1d")


def test_an_unknown_trigger_is_refused_with_a_suggestion():
    with pytest.raises(NotFound, match="pipeline 'hello' has no trigger 'nightlly'; did you mean 'nightly'"):
        backfill(PROJECT, "hello", trigger="nightlly", **WINDOW)


def test_a_concurrency_below_one_is_refused():
    with pytest.raises(BackfillError, match="--concurrency 0: give at least 1"):
        backfill(PROJECT, "hello", concurrency=0, **WINDOW)
