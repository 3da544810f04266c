"""What mage-prefect reports to a user: diagnostics (problems found in a project, reported all at
once like a compiler) and the exceptions that carry them.

Every mistake of a user (a broken project, an unknown name, a request that cannot be honoured) is a
`MagePrefectError`: the CLI prints its message and exits 1. Any other exception is a bug of ours."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one file, with where it is and how to fix it."""

    file: Path
    message: str
    line: int | None = None
    column: int | None = None
    key_path: str = ""
    hint: str = ""
    severity: Severity = "error"

    def format(self, relative_to: Path | None = None) -> str:
        """`path:line:col: error: message [key]` plus an indented hint line."""
        path = self.file
        if relative_to is not None:
            try:
                path = self.file.relative_to(relative_to)
            except ValueError:
                pass
        where = ":".join(str(p) for p in (path, self.line, self.column) if p is not None)
        key = f" (at {self.key_path})" if self.key_path else ""
        text = f"{where}: {self.severity}: {self.message}{key}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text

    def to_dict(self) -> dict:
        return {**asdict(self), "file": str(self.file)}


class MagePrefectError(Exception):
    """The root of the errors a user can fix: the message says what is wrong and how to fix it."""


class NotFound(MagePrefectError, LookupError):
    """A pipeline, block, run, output or product the request names does not exist."""


class InvalidRequest(MagePrefectError, ValueError):
    """A request or setting mage-prefect cannot honour (a partial-run selection, an event payload,
    a results location)."""


class RunFailed(MagePrefectError, RuntimeError):
    """A step outside block code failed: `prefect deploy`, a global data product's pipeline."""


class ProjectError(MagePrefectError):
    """Raised when a project has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint for a misspelt name, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def format_report(diagnostics: list[Diagnostic], fmt: str, relative_to: Path | None = None) -> str:
    """Render diagnostics as compiler-style text or as a JSON document."""
    if fmt == "json":
        return json.dumps(
            {
                "errors": sum(d.severity == "error" for d in diagnostics),
                "warnings": sum(d.severity == "warning" for d in diagnostics),
                "diagnostics": [d.to_dict() for d in diagnostics],
            },
            indent=2,
        )
    lines = [d.format(relative_to) for d in diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)
