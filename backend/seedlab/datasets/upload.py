"""Streaming an upload to a temporary file: hashed and size-checked while it arrives.

Neither the raw `text/csv` body nor a `multipart/form-data` upload is ever held in memory
whole, and a body past the size limit is refused as soon as the limit is crossed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from seedlab.errors import InvalidInput, PayloadTooLarge

# Room for a multipart envelope (boundaries, part headers, a name field) around the file.
ENVELOPE_BYTES = 64 * 1024
MAX_TEXT_FIELD = 1000


@dataclass
class StagedFile:
    """An upload written to a temporary file next to the store (so a rename moves it)."""

    path: Path
    sha256: str
    size_bytes: int
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _Sink:
    """A temporary file that hashes and counts what it is given, up to a limit."""

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self.path = Path(name)
        self.file: IO[bytes] = os.fdopen(handle, "wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.digest.update(chunk)
        self.file.write(chunk)

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def too_large(limit: int) -> PayloadTooLarge:
    """The error for a data set past the limit, naming the limit and the setting."""
    return PayloadTooLarge(
        f"the data set is larger than the limit of {limit:,} bytes "
        f"({limit / 2**20:.1f} MiB); raise SEEDLAB_MAX_DATASET_BYTES on the server to allow more"
    )


async def stage_raw(chunks: AsyncIterator[bytes], *, directory: Path, limit: int) -> StagedFile:
    """A raw request body (text/csv) written to a temporary file."""
    sink = _Sink(directory, limit)
    try:
        async for chunk in chunks:
            sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    sink.close()
    return StagedFile(path=sink.path, sha256=sink.digest.hexdigest(), size_bytes=sink.size)


class _Multipart:
    """Callbacks of python-multipart's streaming parser: the `file` part goes to the sink."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.header_name = b""
        self.header_value = b""
        self.disposition: dict[bytes, bytes] = {}
        self.target: str | None = None  # "file" or a text field's name
        self.text = bytearray()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.files = 0

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_data,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.disposition, self.target, self.text = {}, None, bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            _kind, self.disposition = parse_options_header(self.header_value)
        self.header_name, self.header_value = b"", b""

    def headers_finished(self) -> None:
        name = self.disposition.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            self.files += 1
            if self.files > 1:
                raise InvalidInput("one file per upload: the form has more than one 'file' part")
            raw = self.disposition.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw else None
        self.target = name

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.target == "file":
            self.sink.write(data[start:end])
        else:
            self.text += data[start:end]
            if len(self.text) > MAX_TEXT_FIELD:
                raise InvalidInput(
                    f"form field {self.target!r} is longer than {MAX_TEXT_FIELD} bytes"
                )

    def part_end(self) -> None:
        if self.target and self.target != "file":
            self.fields[self.target] = self.text.decode("utf-8", "replace")


async def stage_multipart(
    chunks: AsyncIterator[bytes], *, content_type: str, directory: Path, limit: int
) -> StagedFile:
    """The `file` part of a multipart/form-data body written to a temporary file."""
    _kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary in its Content-Type")
    sink = _Sink(directory, limit)
    state = _Multipart(sink)
    parser = MultipartParser(boundary, state.callbacks())
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        sink.discard()
        raise InvalidInput(f"the multipart body cannot be parsed: {exc}") from None
    except BaseException:
        sink.discard()
        raise
    sink.close()
    if state.files == 0:
        sink.discard()
        raise InvalidInput(
            "the form has no 'file' part: send the CSV as the field 'file' "
            "(multipart/form-data), or as a text/csv body with ?name="
        )
    return StagedFile(
        path=sink.path,
        sha256=sink.digest.hexdigest(),
        size_bytes=sink.size,
        filename=state.filename,
        fields=state.fields,
    )
