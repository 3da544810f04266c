"""Block code that would end the process fails its block instead.

Mage runs each block run in a process of its own, so a block calling `os._exit()` or `sys.exit()`
ends only that block run. Here blocks are threads of the run's process: `os._exit(0)` would end the
whole run with exit status 0 and no summary. While a block runs, both raise `ProcessExit`.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

IN_BLOCK: contextvars.ContextVar[bool] = contextvars.ContextVar("in_block", default=False)
_real_exit = os._exit
_install_lock = threading.Lock()
_installed_in: int | None = None  # the pid whose os._exit is guarded


class ProcessExit(Exception):
    """Block code asked to end the process."""


def as_failure(exit: SystemExit) -> ProcessExit:
    failure = ProcessExit(
        f"the block called sys.exit({exit.code!r}), which would end the whole run; "
        "raise an exception to fail the block, or return to end it"
    )
    return failure.with_traceback(exit.__traceback__)


def _guarded_exit(status: int) -> None:
    if IN_BLOCK.get() and os.getpid() == _installed_in:  # a forked child exits for real
        raise ProcessExit(f"the block called os._exit({status!r}), which would end the whole run")
    _real_exit(status)


@contextmanager
def guarded() -> Iterator[None]:
    """Within this context (and threads started with its contextvars), os._exit raises."""
    global _installed_in
    with _install_lock:
        if _installed_in is None:
            os._exit, _installed_in = _guarded_exit, os.getpid()
    token = IN_BLOCK.set(True)
    try:
        yield
    finally:
        IN_BLOCK.reset(token)
