"""runtime/exits.py: block code that would end the process fails its block instead."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mage_prefect.runtime.execute import BlockFailed, execute_block

from .conftest import inline_block


@pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)", "sys.exit('done')", "exit()"])
def test_a_block_ending_the_process_fails_and_the_process_lives_on(call, run_context, isolated_imports):
    block = inline_block("quits", "data_loader", f"import os, sys\n@data_loader\ndef load(**kwargs):\n    {call}\n")
    with pytest.raises(BlockFailed, match=r"would end the whole run"):
        execute_block(block, [], run_context)
    assert os.getpid()  # still here


def test_os_exit_outside_a_block_and_in_a_forked_child_still_exits(run_context, isolated_imports):
    block = inline_block(
        "forks",
        "data_loader",
        (
            "import os\n@data_loader\ndef load(**kwargs):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(7)\n"
            "    return os.waitpid(pid, 0)[1] >> 8\n"
        ),
    )
    assert execute_block(block, [], run_context) == [7]  # the child exited with its own status
    done = subprocess.run(
        [sys.executable, "-c", "import mage_prefect.runtime.exits as e, os\nwith e.guarded(): pass\nos._exit(3)"]
    )
    assert done.returncode == 3  # outside a block, os._exit is the real one
