"""project/loader.py: reading Mage projects from disk into the model, with diagnostics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mage_prefect.project.loader import read_project
from mage_prefect.project.models import RetryConfig
from mage_prefect.results.store import results_location

from .conftest import PLATFORM, STANDALONE, UNSUPPORTED, line_of


@pytest.fixture(scope="module")
def standalone():
    return read_project(STANDALONE)


@pytest.fixture(scope="module")
def platform():
    project, diagnostics = read_project(PLATFORM)
    return project, diagnostics


def etl_block(standalone, uuid):
    project, _ = standalone
    return project.pipeline("etl").block(uuid)


# -- standalone project ------------------------------------------------------------------------


def test_standalone_project_reads_without_any_diagnostic(standalone):
    project, diagnostics = standalone
    assert diagnostics == []
    assert (project.root, project.name, project.platform, project.sub_projects) == (
        STANDALONE,
        "standalone_project",
        False,
        {},
    )
    etl = project.pipeline("etl")
    assert list(project.pipelines) == ["etl"]
    assert (etl.repo_path, etl.type, etl.variables) == (STANDALONE, "python", {"factor": 3})
    assert etl.source.file == STANDALONE / "pipelines" / "etl" / "metadata.yaml"


def test_blocks_keep_file_order_and_upstreams(standalone):
    etl = standalone[0].pipeline("etl")
    assert [(b.uuid, b.type, b.upstream_blocks) for b in etl.blocks] == [
        ("load_numbers", "data_loader", ()),
        ("double_numbers", "transformer", ("load_numbers",)),
        ("hyperparameter_tuning/xgboost", "transformer", ("double_numbers",)),
        ("double_numbers_again", "transformer", ("load_numbers",)),
        ("summarize", "custom", ("double_numbers_again", "hyperparameter_tuning/xgboost")),
        ("summary_report", "custom", ()),
        ("export_summary", "data_exporter", ("summarize", "summary_report")),
    ]


def test_chart_markdown_and_scratchpad_blocks_are_skipped(standalone):
    uuids = {block.uuid for block in standalone[0].pipeline("etl").blocks}
    assert not uuids & {"notes", "scratch", "numbers_chart"}


def test_default_file_path_is_type_folder_and_uuid(standalone):
    assert etl_block(standalone, "load_numbers").file == STANDALONE / "data_loaders" / "load_numbers.py"


def test_uuid_with_slash_resolves_to_a_nested_folder(standalone):
    block = etl_block(standalone, "hyperparameter_tuning/xgboost")
    assert block.file == STANDALONE / "transformers" / "hyperparameter_tuning" / "xgboost.py"


def test_language_defaults_to_python(standalone):
    # the xgboost block has no `language` key at all
    assert "language:" not in _block_yaml("hyperparameter_tuning/xgboost")
    assert etl_block(standalone, "hyperparameter_tuning/xgboost").language == "python"


def test_replicated_block_uses_the_replicated_file_and_is_named_uuid_colon_replicated(standalone):
    block = etl_block(standalone, "double_numbers_again")
    assert block.file == STANDALONE / "transformers" / "double_numbers.py"
    assert block.replicated_block == "double_numbers"
    assert block.run_name == "double_numbers_again:double_numbers"
    assert etl_block(standalone, "double_numbers").run_name == "double_numbers"


def test_inline_content_replaces_the_file(standalone):
    block = etl_block(standalone, "summarize")
    assert block.file is None
    assert block.content.startswith("@custom\ndef summarize(numbers, tuned, *args, **kwargs):")
    assert block.code_location == "<inline content of block summarize>"


def test_configuration_file_path_is_used(standalone):
    # file_path starts with the project's folder name, as Mage writes it; custom/summary_report.py does not exist
    block = etl_block(standalone, "summary_report")
    assert block.file == STANDALONE / "custom" / "reports" / "summary_report.py"
    assert block.configuration["file_path"] == "standalone_project/custom/reports/summary_report.py"


def test_configured_path_is_also_found_by_its_ending_anywhere_in_the_root(tmp_path):
    # Mage's add_absolute_path: when no folder matches, the first file whose path ends with it
    root = Path(shutil.copytree(STANDALONE, tmp_path / "standalone_project"))
    pipeline = root / "pipelines" / "by_suffix" / "metadata.yaml"
    pipeline.parent.mkdir()
    pipeline.write_text(
        "blocks:\n- uuid: report\n  type: custom\n  configuration:\n    file_path: reports/summary_report.py\n"
    )
    project, diagnostics = read_project(root)
    assert project.pipeline("by_suffix").block("report").file == root / "custom" / "reports" / "summary_report.py"
    assert diagnostics == []


def test_file_source_path_is_ignored_outside_the_project_platform(standalone):
    block = etl_block(standalone, "double_numbers")
    assert (STANDALONE / "alternative_sources" / "double_numbers.py").is_file()
    assert block.file == STANDALONE / "transformers" / "double_numbers.py"


def test_project_retry_config_is_merged_under_the_block_retry_config(standalone):
    # project: retries 2, delay 3, max_delay 100; double_numbers overrides retries: 5
    assert etl_block(standalone, "load_numbers").retry_config == RetryConfig(retries=2, delay=3, max_delay=100)
    assert etl_block(standalone, "double_numbers").retry_config == RetryConfig(retries=5, delay=3, max_delay=100)


def test_block_timeout_is_read(standalone):
    assert etl_block(standalone, "double_numbers").timeout == 30
    assert etl_block(standalone, "load_numbers").timeout is None


def test_project_metadata_is_rendered_with_jinja_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("STANDALONE_RESULTS_DIR", str(tmp_path))
    project, _ = read_project(STANDALONE)
    assert project.settings.model_dump(exclude_defaults=True) == {"results": f"{tmp_path}/outputs"}


def test_unset_env_var_renders_as_none_like_mage(monkeypatch):
    monkeypatch.delenv("STANDALONE_RESULTS_DIR", raising=False)
    project, _ = read_project(STANDALONE)
    project, diagnostics = read_project(STANDALONE)
    assert project.settings.model_dump(exclude_defaults=True) == {"results": "None/outputs"}  # as Mage renders it
    assert [d.message for d in diagnostics] == [
        "mage_prefect.results renders as 'None/outputs' here (an unset env_var()?); a run refuses it"
    ]
    with pytest.raises(ValueError, match="holds 'None', what an unset env_var"):
        results_location(project)


def test_a_folder_without_metadata_yaml_is_not_a_project(tmp_path):
    project, diagnostics = read_project(tmp_path)
    assert project is None
    assert [(d.file, d.severity) for d in diagnostics] == [(tmp_path / "metadata.yaml", "error")]
    assert "not a Mage project" in diagnostics[0].message


# -- multi-project platform --------------------------------------------------------------------


def test_platform_root_lists_existing_sub_projects(platform):
    project, _ = platform
    assert project.platform is True
    assert project.sub_projects == {
        "unit_0_setup": PLATFORM / "unit_0_setup",
        "unit_3_observability": PLATFORM / "unit_3_observability",
    }


def test_missing_sub_project_is_a_warning_on_its_settings_line(platform):
    _, diagnostics = platform
    assert [(d.severity, d.file, d.line) for d in diagnostics] == [
        ("warning", PLATFORM / "settings.yaml", line_of(PLATFORM / "settings.yaml", "unit_1_data_preparation:")),
    ]
    assert "sub-project 'unit_1_data_preparation' does not exist" in diagnostics[0].message


def test_a_malformed_sub_project_entry_is_a_diagnostic_not_a_crash(tmp_path):
    root = Path(shutil.copytree(PLATFORM, tmp_path / "platform_root"))
    (root / "settings.yaml").write_text("projects:\n  unit_0_setup: unit_0_setup\n  unit_3_observability: {}\n")
    project, diagnostics = read_project(root)
    assert [(d.severity, d.line, d.key_path) for d in diagnostics] == [("error", 2, "projects.unit_0_setup")]
    assert "must be a mapping" in diagnostics[0].message


def test_pipelines_are_found_inside_sub_projects_with_their_repo_path(platform):
    project, _ = platform
    assert {uuid: p.repo_path for uuid, p in project.pipelines.items()} == {
        "example_pipeline": PLATFORM / "unit_0_setup",
        "data_preparation": PLATFORM / "unit_3_observability",
        "deploying_to_production": PLATFORM / "unit_3_observability",
    }
    loader = project.pipeline("example_pipeline").block("load_titanic")
    assert loader.file == PLATFORM / "unit_0_setup" / "data_loaders" / "load_titanic.py"


def test_stale_file_source_path_falls_back_to_the_default_path(platform):
    # like Mage's mlops course: file_source.path points into unit_1_data_preparation, which does not exist
    block = platform[0].pipeline("data_preparation").block("ingest")
    assert block.configuration["file_source"]["path"] == "unit_1_data_preparation/data_loaders/ingest.py"
    assert block.file == PLATFORM / "unit_3_observability" / "data_loaders" / "ingest.py"


def test_file_source_path_is_relative_to_the_root_project(platform):
    pipeline = platform[0].pipeline("data_preparation")
    assert pipeline.block("prepare").file == PLATFORM / "unit_3_observability" / "transformers" / "prepare.py"
    # a block of unit_3 whose code lives in another sub-project
    assert pipeline.block("fill_in_missing_values").file == (
        PLATFORM / "unit_0_setup" / "transformers" / "fill_in_missing_values.py"
    )


def test_file_path_with_null_file_source_in_a_sub_project(platform):
    block = platform[0].pipeline("deploying_to_production").block("setup_permissions")
    assert block.file == PLATFORM / "unit_3_observability" / "custom" / "permissions.py"


def test_markdown_blocks_of_sub_projects_are_skipped(platform):
    uuids = [b.uuid for b in platform[0].pipeline("deploying_to_production").blocks]
    assert uuids == ["setup_permissions", "repo_paths"]


def test_retry_config_comes_from_the_sub_projects_metadata(platform):
    pipeline = platform[0].pipeline("data_preparation")
    assert pipeline.block("ingest").retry_config == RetryConfig(retries=1, delay=10)
    assert pipeline.block("prepare").retry_config == RetryConfig(retries=1, delay=1)
    assert platform[0].pipeline("example_pipeline").block("load_titanic").retry_config == RetryConfig()


# -- features that are refused -----------------------------------------------------------------


@pytest.fixture(scope="module")
def unsupported():
    return read_project(UNSUPPORTED)


@pytest.mark.parametrize(
    ("pipeline", "text_on_line", "key_path", "message"),
    [
        ("streaming_pipeline", "type: streaming", "type", "pipeline type 'streaming' is not supported"),
        ("integration_pipeline", "type: integration", "type", "pipeline type 'integration' is not supported"),
        ("sql_and_r", "language: r", "blocks[2].language", "r blocks are not supported"),
    ],
)
def test_unsupported_features_are_refused_with_a_clear_diagnostic(
    unsupported, pipeline, text_on_line, key_path, message
):
    _, diagnostics = unsupported
    file = UNSUPPORTED / "pipelines" / pipeline / "metadata.yaml"
    matching = [d for d in diagnostics if d.file == file and d.key_path == key_path]
    assert len(matching) == 1, [d.format() for d in diagnostics]
    found = matching[0]
    assert found.severity == "error"
    assert message in found.message and "not support" in found.message
    assert found.line == line_of(file, text_on_line)


def test_every_refused_pipeline_has_an_error(unsupported):
    _, diagnostics = unsupported
    failing = {d.file.parent.name for d in diagnostics if d.severity == "error"}
    assert failing == {"streaming_pipeline", "integration_pipeline", "sql_and_r"}


def test_add_ons_sensors_and_dynamic_blocks_are_read(unsupported):
    project, _ = unsupported
    add_ons = project.pipelines["with_add_ons"]
    assert [c.uuid for c in add_ons.callbacks] == ["notify"] and add_ons.callbacks[0].type == "callback"
    assert add_ons.callbacks[0].file == UNSUPPORTED / "callbacks" / "notify.py"
    assert [c.uuid for c in add_ons.add_ons("conditionals", "load_models")] == ["only_on_weekdays"]
    assert add_ons.block("load_models").callback_file == UNSUPPORTED / "callbacks" / "load_models_callback.py"
    assert add_ons.block("wait_for_file").file == UNSUPPORTED / "sensors" / "wait_for_file.py"
    assert project.pipelines["dynamic_fan_out"].blocks[0].dynamic


def _block_yaml(uuid: str) -> str:
    """The YAML text of one block of the standalone etl pipeline."""
    text = (STANDALONE / "pipelines" / "etl" / "metadata.yaml").read_text()
    entries = text.split("\n- ")
    return next(entry for entry in entries if f"\n  uuid: {uuid}\n" in entry + "\n")
