"""Values from secret sources — `env_var` and `mage_secret_var` in a project's templates,
`get_secret_value`, Prefect Secret blocks the shim reads — are remembered here when they are read,
and replaced with `***` wherever mage-prefect writes text: run and task logs (a logging filter),
block error messages, the outputs artifact's previews."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

MASK = "***"
MIN_LENGTH = 4  # shorter values ("1", "dev") would mask ordinary words: they are not hidden
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")

_secrets: set[str] = set()
_lock = threading.Lock()


def remember(value: Any) -> Any:
    """Remember a value read from a secret source; returns it unchanged."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH:
        with _lock:
            _secrets.add(value)
    return value


def redact(text: str) -> str:
    """`text` with every remembered secret replaced by ***, longest first."""
    if not _secrets or not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def known_secret(value: Any) -> bool:
    return isinstance(value, str) and value in _secrets


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg, record.args = redact(record.getMessage()), ()
            if record.exc_info:
                record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
                record.exc_info = None
        return True


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Put the filter on Prefect's run and task loggers (idempotent)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
