"""project/validate.py and the `validate` command: every problem at once, never running block code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mage_prefect.cli import app
from mage_prefect.project.errors import ProjectError
from mage_prefect.project.validate import check_project, load_project

from .conftest import BROKEN, PLATFORM, STANDALONE, line_of

EVERYTHING_WRONG = BROKEN / "pipelines" / "everything_wrong" / "metadata.yaml"
BAD_YAML = BROKEN / "pipelines" / "bad_yaml" / "metadata.yaml"
STREAMING = BROKEN / "pipelines" / "streaming_events" / "metadata.yaml"
TRANSFORMERS = BROKEN / "transformers"


@pytest.fixture(scope="module")
def broken():
    return check_project(BROKEN)


def find(diagnostics, file, text):
    """The only diagnostic of `file` whose message contains `text`."""
    matching = [d for d in diagnostics if d.file == file and text in d.message]
    assert len(matching) == 1, [d.format() for d in diagnostics]
    return matching[0]


def test_every_problem_of_the_project_is_reported_at_once(broken):
    _, diagnostics = broken
    where = sorted((str(d.file.relative_to(BROKEN)), d.line, d.severity) for d in diagnostics)
    wrong = "pipelines/everything_wrong/metadata.yaml"
    assert where == sorted(
        [
            ("pipelines/bad_yaml/metadata.yaml", 7, "error"),
            (wrong, line_of(EVERYTHING_WRONG, "- load_dta"), "error"),  # unknown upstream
            (wrong, 9, "error"),  # duplicate uuid
            (wrong, line_of(EVERYTHING_WRONG, "uuid: step_a"), "error"),  # cycle
            (wrong, line_of(EVERYTHING_WRONG, "uuid: missing_file"), "error"),  # missing block file
            (wrong, line_of(EVERYTHING_WRONG, "type: transfomer"), "error"),  # invalid block type
            (wrong, line_of(EVERYTHING_WRONG, "upstream_block:"), "warning"),  # unknown block key
            (wrong, line_of(EVERYTHING_WRONG, "varaibles:"), "warning"),  # unknown pipeline key
            ("pipelines/streaming_events/metadata.yaml", line_of(STREAMING, "type: streaming"), "error"),
            ("transformers/syntax_error.py", 7, "error"),
            ("transformers/wrong_arity.py", 6, "error"),
            ("transformers/wrong_decorator.py", line_of(TRANSFORMERS / "wrong_decorator.py", "def load"), "error"),
        ]
    )


def test_every_diagnostic_has_a_hint(broken):
    _, diagnostics = broken
    assert all(d.hint for d in diagnostics), [d.format() for d in diagnostics if not d.hint]


def test_cycle(broken):
    found = find(broken[1], EVERYTHING_WRONG, "dependency cycle")
    assert re.search(r"dependency cycle: (step_a -> step_b -> step_a|step_b -> step_a -> step_b)", found.message)
    first = found.message.split(": ")[1].split(" -> ")[0]
    assert found.line == line_of(EVERYTHING_WRONG, f"uuid: {first}")


def test_duplicate_uuid_points_at_the_second_definition(broken):
    found = find(broken[1], EVERYTHING_WRONG, "duplicate block uuid 'load_data'")
    assert (found.line, found.column, found.key_path) == (9, 3, "blocks[2].uuid")
    assert "blocks[0]" in found.message


def test_unknown_upstream_has_a_did_you_mean_hint(broken):
    found = find(broken[1], EVERYTHING_WRONG, "unknown upstream block 'load_dta'")
    assert (found.line, found.column, found.key_path) == (8, 5, "blocks[1].upstream_blocks[0]")
    assert found.hint == "did you mean 'load_data'?"


def test_unknown_keys_are_warnings_with_did_you_mean(broken):
    block_key = find(broken[1], EVERYTHING_WRONG, "unknown key 'upstream_block'")
    pipeline_key = find(broken[1], EVERYTHING_WRONG, "unknown key 'varaibles'")
    assert (block_key.severity, block_key.hint) == ("warning", "did you mean 'upstream_blocks'?")
    assert (pipeline_key.severity, pipeline_key.hint) == ("warning", "did you mean 'variables'?")
    assert (pipeline_key.line, pipeline_key.column) == (line_of(EVERYTHING_WRONG, "varaibles:"), 1)


def test_missing_block_file(broken):
    found = find(broken[1], EVERYTHING_WRONG, "block file for 'missing_file' not found")
    assert "transformers/missing_file.py" in found.message and "transformers/missing_file.py" in found.hint


def test_invalid_block_type(broken):
    found = find(broken[1], EVERYTHING_WRONG, "block 'bad_type': 'type' is 'transfomer'; expected 'callback'")
    assert found.hint == "did you mean 'transformer'?"
    assert found.key_path == "blocks[6].type"


def test_function_without_the_block_type_decorator(broken):
    found = find(broken[1], TRANSFORMERS / "wrong_decorator.py", "has no function decorated with @transformer")
    assert "@data_loader" in found.hint
    assert found.line == line_of(TRANSFORMERS / "wrong_decorator.py", "def load")  # points at the function


def test_syntax_error_with_its_line(broken):
    found = find(broken[1], TRANSFORMERS / "syntax_error.py", "syntax error")
    assert found.line == line_of(TRANSFORMERS / "syntax_error.py", "total = sum(data")


def test_wrong_arity_points_at_the_function(broken):
    found = find(broken[1], TRANSFORMERS / "wrong_arity.py", "takes 2 positional argument(s) but has 1 upstream")
    assert found.line == line_of(TRANSFORMERS / "wrong_arity.py", "def transform(data, model")


def test_unsupported_pipeline_type(broken):
    found = find(broken[1], STREAMING, "pipeline type 'streaming' is not supported")
    assert found.key_path == "type"


def test_invalid_yaml_with_its_line(broken):
    found = find(broken[1], BAD_YAML, "invalid YAML")
    assert (found.line, found.column) == (line_of(BAD_YAML, "   upstream_blocks:"), 19)
    assert "mapping values are not allowed in this context" in found.message  # libyaml's words


def test_correct_blocks_get_no_diagnostic(broken):
    _, diagnostics = broken
    assert not [d for d in diagnostics if d.file.name in ("load_data.py", "clean.py", "side_effects.py")]


def test_validate_never_executes_block_code(monkeypatch, tmp_path):
    marker = tmp_path / "executed"
    monkeypatch.setenv("MAGE_PREFECT_TEST_MARKER", str(marker))
    side_effects = BROKEN / "data_exporters" / "side_effects.py"
    # the fixture works: running the file's top level does leave the marker and raise
    with pytest.raises(RuntimeError, match="validation executed block code"):
        exec(compile(side_effects.read_text(), str(side_effects), "exec"), {})
    assert marker.exists()
    marker.unlink()

    project, _ = check_project(BROKEN)
    assert project.pipeline("everything_wrong").block("side_effects").file == side_effects
    assert not marker.exists()


def test_load_project_raises_with_every_error_and_no_warning():
    with pytest.raises(ProjectError) as raised:
        load_project(BROKEN)
    assert len(raised.value.diagnostics) == 10
    assert {d.severity for d in raised.value.diagnostics} == {"error"}


def test_checking_one_pipeline_ignores_problems_of_the_others():
    _, diagnostics = check_project(BROKEN, "streaming_events")
    assert [(d.file, d.severity) for d in diagnostics] == [(STREAMING, "error")]


def test_a_pipeline_with_unparseable_yaml_does_not_block_the_others(tmp_path):
    project_copy = Path(shutil.copytree(STANDALONE, tmp_path / "standalone_project"))
    broken = project_copy / "pipelines" / "half_written" / "metadata.yaml"
    broken.parent.mkdir()
    broken.write_text("blocks:\n- uuid: [unclosed\n")

    assert [d.file for d in check_project(project_copy)[1]] == [broken]
    assert check_project(project_copy, "etl")[1] == []
    assert load_project(project_copy, "etl").pipeline("etl").blocks


def test_unknown_pipeline_name_has_a_did_you_mean_hint():
    _, diagnostics = check_project(STANDALONE, "etll")
    assert [d.message for d in diagnostics] == ["no pipeline 'etll' in this project"]
    assert diagnostics[0].hint == "did you mean 'etl'?"


def test_clean_projects_have_no_errors():
    assert check_project(STANDALONE)[1] == []
    assert {d.severity for d in check_project(PLATFORM)[1]} == {"warning"}


# -- the `validate` command --------------------------------------------------------------------

runner = CliRunner()


def test_cli_text_output_is_compiler_style_and_exits_1(monkeypatch):
    monkeypatch.chdir(BROKEN)
    result = runner.invoke(app, ["validate", str(BROKEN)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    located = [line for line in lines if re.match(r"^\S+:\d+:\d+: (error|warning): ", line)]
    assert len(located) == 12
    assert (
        "pipelines/everything_wrong/metadata.yaml:8:5: error: block 'clean' names unknown upstream block 'load_dta'"
        in result.stdout
    )
    assert "transformers/syntax_error.py:7:16: error: syntax error" in result.stdout
    assert "    hint: did you mean 'load_data'?" in lines
    assert lines[-1] == "10 error(s), 2 warning(s)"


def test_cli_json_output_is_parseable(monkeypatch):
    monkeypatch.chdir(BROKEN)
    result = runner.invoke(app, ["validate", str(BROKEN), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["errors"], report["warnings"]) == (10, 2)
    duplicate = next(d for d in report["diagnostics"] if "duplicate block uuid" in d["message"])
    assert duplicate == {
        "file": str(EVERYTHING_WRONG),
        "message": "duplicate block uuid 'load_data' (first at blocks[0])",
        "line": 9,
        "column": 3,
        "key_path": "blocks[2].uuid",
        "hint": "block uuids must be unique within a pipeline",
        "severity": "error",
    }


def test_cli_exits_0_on_a_clean_project():
    result = runner.invoke(app, ["validate", str(STANDALONE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 error(s), 0 warning(s)"


def test_cli_warnings_alone_do_not_fail():
    result = runner.invoke(app, ["validate", str(PLATFORM)])
    assert result.exit_code == 0, result.output
    assert "warning: sub-project 'unit_1_data_preparation' does not exist" in result.stdout


@pytest.mark.parametrize("target", [BROKEN, BROKEN / "pipelines"])
def test_cli_never_shows_a_traceback_for_a_broken_project(target):
    result = runner.invoke(app, ["validate", str(target)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_pipelines_that_would_be_one_prefect_flow_are_an_error(tmp_path):
    for name in ("a&b", "a-b"):
        folder = tmp_path / "pipelines" / name
        folder.mkdir(parents=True)
        (folder / "metadata.yaml").write_text("blocks: []\n")
    _, diagnostics = check_project(tmp_path)
    assert sorted(d.message for d in diagnostics) == [
        "pipeline 'a&b' and 'a-b' would both be the Prefect flow 'a-b'",
        "pipeline 'a-b' and 'a&b' would both be the Prefect flow 'a-b'",
    ]


def test_a_uuid_in_several_sub_projects_is_named_by_its_sub_project(tmp_path):
    from tests.bad_inputs import PLATFORM, Case

    root = Case("platform", {}, base=PLATFORM).build(tmp_path)
    project = load_project(root)
    assert sorted(project.pipelines) == ["one/p", "one/q", "two/p", "two/q"]
    assert project.pipeline("p", near=root / "two").key == "two/p"  # Mage's active project first
    assert project.pipeline("one/p").repo_path == root / "one"
    assert project.pipeline("one/p").flow_name == "one-p"
    with pytest.raises(LookupError, match="in several sub-projects.*name one of one/p, two/p"):
        project.pipeline("p")
    _, diagnostics = check_project(root, "p")
    assert [d.message for d in diagnostics] == ["pipeline 'p' is in several sub-projects: name one of one/p, two/p"]
    assert diagnostics[0].hint == "name it <sub-project>/<uuid>"
    assert check_project(root, "p", near=root / "two")[1] == []  # Mage's active project first
    (root / "one" / "pipelines" / "p" / "metadata.yaml").write_text("blocks: [\n")  # one copy does not read:
    with pytest.raises(ProjectError, match="several sub-projects"):  # still ambiguous, not the other one
        load_project(root, "p")
    with pytest.raises(ProjectError, match="invalid YAML"):
        load_project(root, "p", near=root / "one")


def test_a_problem_blocks_only_the_pipelines_it_concerns(tmp_path):
    from tests.bad_inputs import BASE, PLATFORM, PRODUCTS, Case

    platform = Case("sibling", {"two/metadata.yaml": "retry_config: [1]\n"}, base=PLATFORM).build(tmp_path / "a")
    assert [d.file for d in check_project(platform)[1] if d.severity == "error"] == [platform / "two" / "metadata.yaml"]
    assert check_project(platform, "one/p")[1] == []  # a sibling sub-project's broken metadata.yaml
    assert load_project(platform, "one/p").pipeline("one/p").key == "one/p"
    with pytest.raises(ProjectError, match="retry_config"):
        load_project(platform, "two/p")

    standalone = Case("products", {PRODUCTS: BASE[PRODUCTS].replace("object_uuid: p", "object_uuid: [p]")}).build(
        tmp_path / "b"
    )
    assert check_project(standalone, "p")[1] == []  # p uses no product
    assert [d.severity for d in check_project(standalone, "q")[1]] == ["error"]  # q uses the broken one


def test_a_chart_on_an_unknown_block_is_a_warning_with_its_line(tmp_path):
    project = tmp_path / "standalone_project"
    shutil.copytree(STANDALONE, project)
    metadata = project / "pipelines" / "etl" / "metadata.yaml"
    metadata.write_text(
        metadata.read_text().replace(
            "  upstream_blocks:\n  - load_numbers\n  uuid: numbers_chart",
            "  upstream_blocks:\n  - load_numbrs\n  uuid: numbers_chart",
        )
    )

    loaded, diagnostics = check_project(project, "etl")

    found = find(diagnostics, metadata, "chart 'numbers_chart' names unknown upstream block 'load_numbrs'")
    assert found.severity == "warning" and found.hint == "did you mean 'load_numbers'?"
    assert found.line == line_of(metadata, "widgets:") + 1  # the chart's entry
    assert [chart.uuid for chart in loaded.pipeline("etl").charts] == ["numbers_chart"]
