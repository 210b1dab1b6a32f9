"""Reading uploaded CSV files: validation, column inference, and the table a run trains on.

Pure standard library (csv), shared by the server (what it stores and shows) and the run process
(what it trains on), so both see the same columns, types and missing values.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ColumnType = Literal["number", "string"]
MAX_COLUMNS = 1000
# Distinct values are counted exactly up to this many; beyond it the count is unknown (None).
DISTINCT_LIMIT = 1000
# The distinct values themselves are kept (shown, checked for binary targets) up to this many.
VALUES_LIMIT = 20


class CsvError(ValueError):
    """The file is not a CSV seedlab can use; the message names the line and column."""


def parse_number(text: str) -> float | None:
    """The finite number a (stripped) value spells, or None when it is not one."""
    if "_" in text:  # float() accepts "1_000"; a data file that does is more likely an id
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped values) for the header and every non-blank row, checked."""
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    try:
        for row in reader:
            if not row or (all(not value.strip() for value in row) and len(row) == 1):
                continue  # a blank line
            values = [value.strip() for value in row]
            for index, value in enumerate(values, start=1):
                if "\x00" in value:  # no database stores it (see security/storable.py)
                    raise CsvError(
                        f"line {reader.line_num}, column {index}: a NUL character; CSV text "
                        "cannot hold NUL"
                    )
            if header is None:
                header = values
                _check_header(header, reader.line_num)
            elif len(values) != len(header):
                raise CsvError(
                    f"line {reader.line_num}: {len(values)} values, but the header has "
                    f"{len(header)} columns ({_names(header)}); every row needs one value per "
                    "column (an empty value means missing)"
                )
            yield reader.line_num, values
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    if header is None:
        raise CsvError("the file is empty: a header row naming the columns is needed")


def _names(header: list[str], limit: int = 8) -> str:
    shown = ", ".join(header[:limit])
    return shown + (f", ... ({len(header)} in all)" if len(header) > limit else "")


def _check_header(header: list[str], line: int) -> None:
    if len(header) > MAX_COLUMNS:
        raise CsvError(f"line {line}: {len(header)} columns; at most {MAX_COLUMNS} are allowed")
    for index, name in enumerate(header, start=1):
        if not name:
            raise CsvError(
                f"line {line} (the header): column {index} has no name; every column needs one"
            )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise CsvError(f"line {line} (the header): column name {name!r} appears twice")
        seen.add(name)


@dataclass
class _ColumnStats:
    name: str
    missing: int = 0
    numeric: bool = True
    present: int = 0
    distinct: set[str] | None = field(default_factory=set)

    def add(self, value: str) -> None:
        if not value:
            self.missing += 1
            return
        self.present += 1
        if self.numeric and parse_number(value) is None:
            self.numeric = False
        if self.distinct is not None:
            self.distinct.add(value)
            if len(self.distinct) > DISTINCT_LIMIT:
                self.distinct = None  # an id-like column: stop counting, keep memory bounded

    def info(self) -> dict[str, Any]:
        kind: ColumnType = "number" if self.numeric and self.present else "string"
        values: list[Any] | None = None
        distinct: int | None = None
        if self.distinct is not None:
            if kind == "number":
                numbers = sorted({parse_number(v) or 0.0 for v in self.distinct})
                distinct, values = len(numbers), numbers
            else:
                strings = sorted(self.distinct)
                distinct, values = len(strings), strings
            if distinct > VALUES_LIMIT:
                values = None
        return {
            "name": self.name,
            "type": kind,
            "missing": self.missing,
            "distinct": distinct,
            "values": values,
        }


def _inspect(lines: Iterable[str]) -> tuple[int, list[dict[str, Any]]]:
    stats: list[_ColumnStats] = []
    rows = 0
    for _line, values in _rows(lines):
        if not stats:
            stats = [_ColumnStats(name) for name in values]
            continue
        rows += 1
        for column, value in zip(stats, values, strict=True):
            column.add(value)
    if rows == 0:
        raise CsvError("the file has a header but no data rows")
    if len(stats) < 2:
        raise CsvError(
            f"the file has one column ({stats[0].name}); training needs a target column and at "
            "least one feature column"
        )
    return rows, [column.info() for column in stats]


def inspect_csv(path: Path) -> tuple[int, list[dict[str, Any]]]:
    """Row count and column descriptions (name, type, missing, distinct, values) of a CSV file.

    Raises CsvError naming the line (and column) of the first problem.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            return _inspect(text)
    except UnicodeDecodeError:
        with path.open("rb") as raw:
            raise _not_utf8(raw) from None


def _not_utf8(lines: Iterable[bytes]) -> CsvError:
    """The error naming the line and column (in characters) of the first byte that is not UTF-8."""
    for number, line in enumerate(lines, start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # the byte-order mark the reader skips
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(line[: exc.start].decode("utf-8")) + 1
            return CsvError(
                f"line {number}, column {column}: not UTF-8 text (byte 0x{line[exc.start]:02x}: "
                f"{exc.reason}); save the file as UTF-8 CSV"
            )
    return CsvError("not UTF-8 text; save the file as UTF-8 CSV")


def inspect_bytes(data: bytes) -> tuple[int, list[dict[str, Any]]]:
    """inspect_csv for content already in memory."""
    return _inspect(io.StringIO(_decode(data), newline=""))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(io.BytesIO(data)) from None


def read_columns(data: bytes) -> dict[str, list[str]]:
    """Every column's stripped values (empty = missing), in header order."""
    rows = _rows(io.StringIO(_decode(data), newline=""))
    _line, header = next(rows)
    columns: list[list[str]] = [[] for _ in header]
    for _line, values in rows:
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return dict(zip(header, columns, strict=True))


def column_type(values: Iterable[str]) -> ColumnType:
    """'number' when every non-missing value is a finite number (one at least), else 'string'."""
    present = [v for v in values if v]
    return "number" if present and all(parse_number(v) is not None for v in present) else "string"
