"""Read a project's text files safely: bounded in size, decoded as Mage (YAML) or Python (blocks)
decodes them, and every unreadable byte reported as a Diagnostic with its line and column; and
replace files whole."""

from __future__ import annotations

import codecs
import io
import os
import re
import threading
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import Diagnostic

MAX_BYTES = 10 * 1024 * 1024  # a 1,000-block pipeline's metadata.yaml is well under 1 MB
WIDE_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}
SAVE_AS_UTF8 = "save the file as UTF-8 (your editor's 'encoding' setting)"
COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]")  # PEP 263


def read_text(path: Path, *, python: bool = False) -> str | Diagnostic:
    """The file's text, or a Diagnostic saying why it cannot be read. YAML is UTF-8 (a UTF-8 BOM is
    dropped); a Python file is decoded as Python decodes it, honouring a PEP 263 `coding:` cookie."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)  # bounded even where the size on disk says nothing (a FIFO, /proc)
    except OSError as exc:
        return Diagnostic(file=path, message=f"cannot read file: {exc.strerror or exc}")
    if len(data) > MAX_BYTES:
        size = max(path.stat().st_size, len(data))
        return Diagnostic(
            file=path,
            message=f"file is {size / 2**20:.1f} MiB, above mage-prefect's limit of "
            f"{MAX_BYTES // 2**20} MiB for project files",
            hint="a Mage project file this large is almost certainly not meant to be read; "
            "remove it or move its data out of the project",
        )
    return decode(path, data, python=python)


def decode(path: Path, data: bytes, *, python: bool = False) -> str | Diagnostic:
    """`data` (the content of `path`) as text; see `read_text`."""
    for bom, name in WIDE_BOMS.items():
        if data.startswith(bom):
            return Diagnostic(file=path, line=1, column=1, message=f"file is {name}-encoded", hint=SAVE_AS_UTF8)
    if b"\x00" in data:
        return _at(
            path,
            data,
            data.index(b"\x00"),
            "file contains a NUL byte (is it a binary file?)",
            "remove the NUL bytes, or save the file as UTF-8 text",
        )
    encoding = "utf-8-sig"
    if python:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:  # an unknown `coding:` cookie, or one that contradicts a BOM
            if any(COOKIE.search(line) for line in data.split(b"\n", 2)[:2]):
                return Diagnostic(
                    file=path,
                    line=1,
                    message=f"the file's encoding declaration is refused: {exc}",
                    hint="use '# -*- coding: utf-8 -*-' or remove the cookie",
                )
            # no cookie: undecodable UTF-8 in the first lines, reported below with its position
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        return _at(
            path,
            data,
            exc.start,
            f"file is not valid {encoding.upper().removesuffix('-SIG')}: "
            f"byte {data[exc.start : exc.start + 1]!r} cannot be decoded",
            SAVE_AS_UTF8,
        )


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` whole: readers (other processes, a second CI step) never see half a file."""
    with writing_atomically(path) as file:
        file.write(data)


@contextmanager
def writing_atomically(path: Path) -> Iterator[BinaryIO]:
    """A file to write `path`'s new content into; it replaces `path` whole when the block ends
    without an error (else it is removed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temporary, "wb") as file:
            yield file
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _at(path: Path, data: bytes, offset: int, message: str, hint: str) -> Diagnostic:
    """A diagnostic at the byte `offset` of `data` (1-based line and column, counted in bytes)."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return Diagnostic(file=path, line=line, column=column, message=message, hint=hint)
