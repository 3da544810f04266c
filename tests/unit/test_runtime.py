"""runtime/: executing one block the Mage way, without Prefect."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from mage_prefect.project.loader import read_project
from mage_prefect.runtime.arguments import block_kwargs, own_copy, shape_input, split_outputs
from mage_prefect.runtime.execute import BlockFailed, BlockTimeout, execute_block

from .conftest import EXECUTION_DATE, PLATFORM, PROJECTS, RUNTIME, inline_block, line_of, runtime_block

pytestmark = pytest.mark.usefixtures("isolated_imports")


def run(block, run_context, inputs=(), **options):
    return execute_block(block, list(inputs), run_context, **options)


# -- outputs and inputs (Mage §3.3-3.4) --------------------------------------------------------


def test_none_means_no_outputs_and_downstream_receives_an_empty_list():
    assert split_outputs(None) == []
    assert shape_input(split_outputs(None)) == []


def test_tuple_and_list_are_split_into_one_output_per_item():
    assert split_outputs((1, "a")) == [1, "a"]
    assert split_outputs([1, 2, 3]) == [1, 2, 3]
    assert split_outputs([]) == []


def test_anything_else_is_a_single_output():
    assert split_outputs({"a": 1}) == [{"a": 1}]
    assert split_outputs("text") == ["text"]


def test_return_list_of_one_dataframe_is_the_same_as_returning_it():
    frame = pd.DataFrame({"x": [1]})
    assert shape_input(split_outputs([frame])) is frame
    assert shape_input(split_outputs(frame)) is frame


def test_several_outputs_reach_downstream_as_one_list():
    assert shape_input(split_outputs((1, [2], "3"))) == [1, [2], "3"]


# -- own_copy ----------------------------------------------------------------------------------


def test_mutating_a_copied_dict_leaves_the_original_unchanged():
    original = {"items": [1, 2], "nested": {"k": "v"}}
    copied = own_copy(original)
    copied["items"].append(3)
    copied["nested"]["k"] = "changed"
    copied["new"] = True
    assert original == {"items": [1, 2], "nested": {"k": "v"}}


def test_mutating_a_copied_dataframe_leaves_the_original_unchanged():
    original = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    copied = own_copy(original)
    copied.loc[0, "x"] = 100
    copied["y"] = copied["y"].str.upper()
    copied["z"] = 0
    copied.iloc[2, 0] = 7
    assert original.equals(pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}))


def test_dataframe_copy_shares_data_until_written_under_copy_on_write():
    original = pd.DataFrame({"x": np.arange(5)})
    copied = own_copy(original)
    assert copied is not original
    if int(pd.__version__.split(".")[0]) >= 3:  # copy-on-write is always on: the copy is lazy
        assert np.shares_memory(copied["x"].to_numpy(), original["x"].to_numpy())
    copied.loc[0, "x"] = -1
    assert original["x"].tolist() == [0, 1, 2, 3, 4]


def test_immutable_values_are_not_copied():
    text = "x" * 100
    assert own_copy(text) is text


# -- kwargs (Mage §3.5) ------------------------------------------------------------------------


def test_block_kwargs_are_those_of_a_mage_trigger_run(run_context):
    block = runtime_block("data_loaders/report_kwargs.py", "data_loader", configuration={"table": "customers"})
    context = replace(run_context, event={"source": "api"}, pipeline_run_id="run-1", trigger_name="hourly")
    logger = logging.getLogger("unit")
    kwargs = block_kwargs(block, context, attempt=2, logger=logger)
    assert kwargs == {
        "threshold": 0.5,
        "ds": "2024-05-16",
        "hr": "07",
        "env": "prod",
        "event": {"source": "api"},
        "execution_date": EXECUTION_DATE,
        "pipeline_run_id": "run-1",
        "trigger_name": "hourly",
        "interval_start_datetime": EXECUTION_DATE,
        "interval_end_datetime": None,
        "interval_seconds": None,
        "interval_start_datetime_previous": None,
        "retry": {"attempts": 2},
        "configuration": {"table": "customers"},
        "context": {},
        "pipeline_uuid": "unit_pipeline",
        "block_uuid": "report_kwargs",
        "repo_path": str(RUNTIME),
        "logger": logger,
    }


def test_variables_supply_intervals_and_context_but_not_identity(run_context):
    end = datetime(2024, 5, 17, tzinfo=UTC)
    context = replace(run_context, variables={"interval_end_datetime": end, "context": {"k": 1}, "block_uuid": "x"})
    kwargs = block_kwargs(runtime_block("data_loaders/report_kwargs.py", "data_loader"), context, 1, None)
    assert (kwargs["interval_end_datetime"], kwargs["context"], kwargs["block_uuid"]) == (
        end,
        {"k": 1},
        "report_kwargs",
    )


def test_kwargs_are_copies(run_context):
    block = runtime_block("data_loaders/report_kwargs.py", "data_loader", configuration={"tags": ["a"]})
    context = replace(run_context, variables={"limits": [1]})
    kwargs = block_kwargs(block, context, 1, None)
    kwargs["configuration"]["tags"].append("b")
    kwargs["limits"].append(2)
    assert block.configuration == {"tags": ["a"]} and context.variables == {"limits": [1]}


def test_a_function_with_kwargs_receives_them(run_context):
    [kwargs] = run(runtime_block("data_loaders/report_kwargs.py", "data_loader"), run_context, attempt=3)
    assert kwargs["threshold"] == 0.5 and kwargs["retry"] == {"attempts": 3}
    assert kwargs["block_uuid"] == "report_kwargs" and kwargs["execution_date"] == EXECUTION_DATE


def test_a_function_without_kwargs_gets_only_its_positional_arguments(run_context):
    assert run(runtime_block("data_loaders/no_kwargs.py", "data_loader"), run_context) == ["called without kwargs"]


# -- loading block code (Mage §3.1-3.2) --------------------------------------------------------


def test_template_block_with_the_globals_idiom_runs_with_its_test(run_context, caplog):
    caplog.set_level(logging.INFO)
    assert run(runtime_block("data_loaders/template_idiom.py", "data_loader"), run_context) == [{"rows": 3}]
    assert "1 test(s) passed for block template_idiom" in caplog.text


def test_a_file_that_never_imports_decorators_works(run_context):
    block = runtime_block("data_loaders/no_imports.py", "data_loader")
    assert run(block, run_context) == ["loaded without importing any decorator"]


def test_only_the_first_function_with_the_block_type_decorator_runs(run_context):
    assert run(runtime_block("data_loaders/two_functions.py", "data_loader"), run_context) == ["first"]


def test_undecorated_functions_are_not_the_block_function(run_context):
    assert run(runtime_block("data_loaders/helper_first.py", "data_loader"), run_context) == ["decorated"]


def test_a_function_with_another_blocks_decorator_is_not_run(run_context):
    block = runtime_block("transformers/wrong_decorator.py", "transformer", ["load"])
    with pytest.raises(BlockFailed, match="Block wrong_decorator does not have any decorated functions"):
        run(block, run_context, [[1]])


def test_mage_ai_imports_work_without_mage_ai_installed(run_context):
    with pytest.raises(ImportError):  # the real package is absent; only the shim serves these imports
        __import__("mage_ai.data_preparation.models.pipeline")
    [result] = run(runtime_block("data_loaders/mage_imports.py", "data_loader"), run_context)
    assert result == {
        "callback_is_identity": True,
        "extension_is_identity": True,
        "repo_path": str(RUNTIME),
        "root_path": str(RUNTIME),
        "legacy_repo_path": str(RUNTIME),
    }


def test_the_shim_leaves_mage_prefects_own_modules_intact(run_context):
    from mage_prefect.runtime.compat import repo

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "__package__ != __spec__.parent" from a re-stamped module
        [result] = run(runtime_block("data_loaders/mage_imports.py", "data_loader"), run_context)
    assert result["repo_path"] == str(RUNTIME)
    assert repo.__spec__.name == "mage_prefect.runtime.compat.repo"


def test_get_repo_path_is_the_sub_project_and_root_project_is_the_root(run_context):
    project, _ = read_project(PLATFORM)
    pipeline = project.pipeline("deploying_to_production")
    context = replace(run_context, pipeline_uuid=pipeline.uuid, repo_path=pipeline.repo_path, root_path=project.root)
    [paths] = run(pipeline.block("repo_paths"), context)
    sub_project = PLATFORM / "unit_3_observability"
    assert paths == {
        "repo_path": str(sub_project),
        "root_path": str(PLATFORM),
        "cache_dir": str(sub_project / ".cache"),
    }


def test_an_unknown_mage_ai_import_fails_naming_the_module(run_context):
    with pytest.raises(BlockFailed) as raised:
        run(runtime_block("data_loaders/unknown_mage_import.py", "data_loader"), run_context)
    assert "mage_ai.some_unknown_module" in str(raised.value)
    assert "ModuleNotFoundError" in str(raised.value)


def test_the_project_is_importable_by_its_folder_name(run_context):
    sys.path[:] = [p for p in sys.path if p != str(PROJECTS)]
    with pytest.raises(ImportError):
        __import__("runtime_project.utils.numbers")
    assert run(runtime_block("data_loaders/project_import.py", "data_loader"), run_context) == [42]


def test_upstream_outputs_are_also_injected_as_globals(run_context):
    block = runtime_block("transformers/injected_globals.py", "transformer", ["load_numbers", "load_settings"])
    [result] = run(block, run_context, [[[1, 2]], [{"depth": 3}, "extra"]])
    assert result == {"df_1": [1, 2], "df_2": [{"depth": 3}, "extra"], "by_uuid": [{"depth": 3}, "extra"]}


def test_inline_content_is_executed_instead_of_a_file(run_context):
    block = inline_block("inline", "custom", "@custom\ndef f(*args, **kwargs):\n    return kwargs['block_uuid']\n")
    assert run(block, run_context) == ["inline"]


# -- positional arguments and arity (Mage §3.3) ------------------------------------------------


def test_each_upstream_is_one_positional_argument_shaped_like_mage(run_context):
    block = runtime_block("transformers/echo_inputs.py", "transformer", ["a", "b", "c"])
    [result] = run(block, run_context, [[{"one": 1}], [1, 2], []])
    assert result == {"first": {"one": 1}, "rest": [[1, 2], []]}


def test_block_does_not_mutate_upstream_outputs(run_context):
    record, frame = {"items": []}, pd.DataFrame({"x": [1, 2]})
    block = runtime_block("transformers/mutates_input.py", "transformer", ["a", "b"])
    new_record, new_frame = run(block, run_context, [[record], [frame]])
    assert new_record == {"items": ["added"], "seen": True} and new_frame["x"].tolist() == [-1, 200]
    assert record == {"items": []} and frame["x"].tolist() == [1, 2]


def test_more_parameters_than_upstreams_is_an_arity_error(run_context):
    block = runtime_block("transformers/two_positional.py", "transformer", ["a"])
    with pytest.raises(BlockFailed, match="takes 2 positional argument.*1 upstream.*missing upstream dependencies"):
        run(block, run_context, [[1]])


def test_fewer_parameters_than_upstreams_without_star_args_is_an_arity_error(run_context):
    block = runtime_block("transformers/two_positional.py", "transformer", ["a", "b", "c"])
    with pytest.raises(BlockFailed, match="takes 2 positional argument.*3 upstream.*too many upstream dependencies"):
        run(block, run_context, [[1], [2], [3]])


def test_exact_arity_without_kwargs_works(run_context):
    block = runtime_block("transformers/two_positional.py", "transformer", ["a", "b"])
    assert run(block, run_context, [[1], ["m"]]) == [1, "m"]


# -- return values end to end ------------------------------------------------------------------


def test_returning_none_gives_no_outputs(run_context):
    assert run(runtime_block("data_loaders/returns_none.py", "data_loader"), run_context) == []


def test_returning_a_list_with_one_dataframe_gives_one_output(run_context):
    [frame] = run(runtime_block("data_loaders/returns_frame_in_list.py", "data_loader"), run_context)
    assert frame["x"].tolist() == [1, 2, 3]


# -- @test functions (Mage §3.6) ---------------------------------------------------------------


def test_tests_receive_every_output_as_a_positional_argument(run_context, caplog):
    caplog.set_level(logging.INFO)
    block = runtime_block("transformers/three_outputs_tested.py", "transformer", ["load"])
    assert run(block, run_context, [[[1, 2, 3]]]) == [[1, 2, 3], [1], [2, 3]]
    assert "3 test(s) passed for block three_outputs_tested" in caplog.text


def test_all_tests_run_and_assertion_failures_fail_the_block_afterwards(run_context, caplog):
    block = runtime_block("transformers/failing_tests.py", "transformer", ["load"])
    with pytest.raises(BlockFailed, match="Failed to pass tests for block failing_tests"):
        run(block, run_context, [["value"]])
    failures = [r.getMessage().splitlines()[0] for r in caplog.records if r.levelno == logging.ERROR]
    assert failures == [
        "FAIL: test_first_fails (block: failing_tests)",
        "FAIL: test_second_fails (block: failing_tests)",
    ]
    assert "AssertionError: second assertion" in caplog.text


def test_other_exceptions_in_tests_propagate(run_context):
    block = runtime_block("transformers/erroring_test.py", "transformer", ["load"])
    with pytest.raises(BlockFailed) as raised:
        run(block, run_context, [["value"]])
    assert "ValueError: the test itself is broken" in str(raised.value)
    assert "Failed to pass tests" not in str(raised.value)
    assert isinstance(raised.value.__cause__, ValueError)


# -- failures and timeouts ---------------------------------------------------------------------


def test_a_failing_block_names_uuid_file_line_and_original_error(run_context):
    block = runtime_block("data_loaders/fails.py", "data_loader")
    with pytest.raises(BlockFailed) as raised:
        run(block, run_context)
    line = line_of(block.file, "return total / count")
    assert str(raised.value) == (f"Block 'fails' failed at {block.file}:{line}: ZeroDivisionError: division by zero")
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_a_failing_inline_block_names_its_line(run_context):
    block = inline_block("inline", "custom", "@custom\ndef f(*args, **kwargs):\n    raise KeyError('k')\n")
    with pytest.raises(BlockFailed, match=r"Block 'inline' failed at <inline content of block inline>:3: KeyError"):
        run(block, run_context)


def test_a_block_running_past_its_timeout_fails_with_block_timeout(run_context):
    block = runtime_block("data_loaders/sleepy.py", "data_loader", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(BlockTimeout, match="Block 'sleepy' timed out after 0.2 s"):
        run(block, run_context)
    assert time.monotonic() - started < 1.0


def test_a_block_within_its_timeout_returns_normally(run_context):
    block = runtime_block("data_loaders/no_imports.py", "data_loader", timeout=5)
    assert run(block, run_context) == ["loaded without importing any decorator"]


def test_own_copy_shares_values_that_cannot_be_copied():
    import threading

    from mage_prefect.runtime.arguments import own_copy

    client = {"connection": threading.Lock()}  # deepcopy raises TypeError on a lock
    assert own_copy(client) is client


def test_a_run_context_pickles_with_its_halt_as_it_stands(run_context):
    """A block run in another process (a Dask or Ray worker) gets the run's context by pickle: the
    halt arrives as it was when the block was submitted, and setting the copy leaves the original."""
    import cloudpickle

    from mage_prefect.runtime.context import Halt

    running, halted = replace(run_context, halt=Halt()), replace(run_context, halt=Halt())
    halted.halt.set()
    copies = [cloudpickle.loads(cloudpickle.dumps(context)) for context in (running, halted)]
    assert [copy.halt.is_set() for copy in copies] == [False, True]
    copies[0].halt.set()
    assert not running.halt.is_set()
    assert copies[0].variables == run_context.variables


def test_a_final_failure_halts_the_run_before_its_failure_callbacks_run(run_context, caplog):
    from mage_prefect.runtime.context import Halt

    context = replace(run_context, halt=Halt())
    failing = inline_block("boom", "transformer", "@transformer\ndef f(*a, **k):\n    raise ValueError('no')\n")
    callback = inline_block(
        "alert",
        "callback",
        (
            "from mage_prefect.runtime.compat import ACTIVE\n"
            "@callback('failure')\n"
            "def on_failure(parent_block_data, **kwargs):\n"
            "    kwargs['logger'].info(f'halted when alerted: {ACTIVE.get().halt.is_set()}')\n"
        ),
    )

    with pytest.raises(BlockFailed):
        run(failing, context, final_attempt=False, callbacks=[callback])
    assert not context.halt.is_set()  # a retry is coming: nothing halts
    with caplog.at_level(logging.INFO), pytest.raises(BlockFailed):
        run(failing, context, callbacks=[callback])
    assert "halted when alerted: True" in caplog.text
