"""Differential: real Mage 0.9.80 loads a pipeline ⇔ mage-prefect accepts it.

"Accepts" means no error other than an explicit "not supported yet". Where mage-prefect refuses what
Mage loads, the refusal must be one the project documents: Mage would fail at run time, or misread
the input silently (README, "Where mage-prefect is stricter than Mage").
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mage_prefect.project.loader import ProjectReader
from mage_prefect.project.validate import check_project
from tests.bad_inputs import CASES
from tests.compat.conftest import REPO, mage
from tests.compat.make_fixtures import make_mlops

NOT_YET = ("not support",)  # "... mage-prefect does not support this yet", "... are not supported"
# Fixture pipelines Mage loads and mage-prefect refuses, with the words of the refusal.
STRICTER = {
    ("unsupported_project", "sql_and_r"): "needs",  # a SQL block without io_config.yaml: Mage fails when it runs
    ("bad_triggers", "p"): "trigger",  # triggers Mage drops one by one (or whose schedule sync fails)
}
PROJECTS = sorted(
    p
    for p in [
        *REPO.glob("tests/fixtures/projects/*"),
        *REPO.glob("tests/e2e/projects/*"),
        REPO / "pipelines" / "mlops_demo",
    ]
    if ProjectReader(p).read().of_pipeline
)


def verdict(root: Path, key: str) -> list[str]:
    """mage-prefect's errors for the pipeline, other than "not supported yet"."""
    _, diagnostics = check_project(root, key)
    return [d.format(root) for d in diagnostics if d.severity == "error" and not any(w in d.message for w in NOT_YET)]


def mage_loads(root: Path, keys: list[str]) -> dict[str, dict]:
    answer = mage("load", str(root), *keys, cwd=root.parent)
    return answer["pipelines"] if len(keys) > 1 else {keys[0]: answer}


@pytest.fixture(scope="module")
def fresh_mlops(tmp_path_factory):
    """The seed's platform, written by Mage's own code just now (not the committed copy)."""
    return make_mlops(tmp_path_factory.mktemp("fresh"))


@pytest.mark.parametrize("root", PROJECTS, ids=[p.name for p in PROJECTS])
def test_every_fixture_pipeline_gets_the_same_verdict_from_mage(root):
    keys = sorted(ProjectReader(root).read().of_pipeline)
    for key, answer in mage_loads(root, keys).items():
        ours = verdict(root, key)
        expected = STRICTER.get((root.name, key))
        if expected:
            assert answer["loaded"] and any(expected in error for error in ours), (key, answer["error"], ours)
        else:
            assert answer["loaded"] == (not ours), (
                f"{root.name}/{key}: Mage {answer['error'] or 'loads it'}; mage-prefect: {ours or 'accepts it'}"
            )


def test_a_fresh_mage_written_platform_loads_in_both(fresh_mlops):
    keys = sorted(ProjectReader(fresh_mlops).read().of_pipeline)
    assert "unit_0_setup/example_pipeline" in keys and "unit_1_data_preparation/example_pipeline" in keys
    for key, answer in mage_loads(fresh_mlops, keys).items():
        assert answer["loaded"], (key, answer["error"])
        assert verdict(fresh_mlops, key) == [], key
        assert answer["sub_project"] == (key.split("/")[0] if "/" in key else "unit_3_observability")
    triggers = mage_loads(fresh_mlops, ["data_preparation"])["data_preparation"]["triggers"]
    ours = ProjectReader(fresh_mlops).read().project.pipeline("data_preparation").triggers
    assert triggers == [t.name for t in ours] == ["daily_refresh", "on_demand"]  # settings: null, variables: null


def test_every_case_of_the_bad_input_corpus_mage_refuses_is_refused(tmp_path):
    """For each case: Mage refuses ⇒ mage-prefect refuses (or the case says why not: `lenient`);
    mage-prefect refuses what Mage loads ⇒ the case says why (`stricter`). Mage refuses when a load path
    fails, when its strict trigger reader fails (what its editor runs when triggers.yaml is saved), or
    when a product does not resolve."""
    roots = [case.build(tmp_path / case.name) for case in CASES]
    pairs = [[str(root), case.pipeline] for root, case in zip(roots, CASES)]
    halves = [pairs[::2], pairs[1::2]]  # two Mage processes, on two cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(_load_batch, halves, [tmp_path] * 2)
    answers = [answer for both in zip(first, second) for answer in both] + first[len(second) :]
    problems = []
    for case, root, answer in zip(CASES, roots, answers):
        ours = verdict(root, case.pipeline)
        mage_refuses = (
            not answer.get("loaded")
            or bool(answer.get("trigger_error"))
            or bool(answer.get("global_data_product_error"))
        )
        if mage_refuses and not ours and not case.lenient:
            why = answer.get("error") or answer.get("trigger_error") or answer.get("global_data_product_error")
            problems.append(f"{case.name}: Mage refuses it ({why}), mage-prefect accepts it")
        if not mage_refuses and ours and not case.stricter:
            problems.append(
                f"{case.name}: Mage loads it, mage-prefect refuses it without a documented reason: {ours[0]}"
            )
        if not mage_refuses and not ours and case.stricter:
            problems.append(f"{case.name}: both accept it, yet it claims mage-prefect is stricter ({case.stricter})")
        if case.lenient and not (mage_refuses and not ours):
            problems.append(f"{case.name}: it claims mage-prefect is more lenient ({case.lenient}), but it is not")
    assert not problems, "\n".join(problems)


def _load_batch(pairs: list[list[str]], folder: Path) -> list[dict]:
    manifest = folder / f"manifest-{id(pairs)}.json"
    manifest.write_text(json.dumps(pairs))
    return mage("load-batch", f"@{manifest}", cwd=folder, timeout=900)["results"]
