"""CSV reading shared by the server and the run process (pure standard library)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from seedlab.datasets import csvfile
from seedlab.runner.context import RunContext
from seedlab.runner.events import EventWriter


def test_numbers_are_finite_and_plain() -> None:
    assert csvfile.parse_number("1e3") == 1000.0 and csvfile.parse_number("-0.5") == -0.5
    for text in ("nan", "inf", "-Infinity", "1_000", "12a", "yes"):
        assert csvfile.parse_number(text) is None, text
    assert csvfile.column_type(["1", "", "2.5"]) == "number"
    assert csvfile.column_type(["1", "nan"]) == "string"
    assert csvfile.column_type(["", ""]) == "string"  # nothing to call a number


def test_inspect_handles_bom_quotes_blank_lines_and_whitespace() -> None:
    data = '\ufeffid,"city, country",v\n1,"Paris, FR", 2 \n\n2,  ,3\n'.encode()
    rows, columns = csvfile.inspect_bytes(data)
    assert rows == 2
    assert [c["name"] for c in columns] == ["id", "city, country", "v"]
    assert columns[1] == {
        "name": "city, country", "type": "string", "missing": 1, "distinct": 1,
        "values": ["Paris, FR"],
    }
    assert columns[2]["values"] == [2.0, 3.0]  # " 2 " is the number 2
    assert csvfile.read_columns(data) == {
        "id": ["1", "2"], "city, country": ["Paris, FR", ""], "v": ["2", "3"],
    }


def test_many_distinct_values_are_not_kept() -> None:
    lines = ["id,group"] + [f"{i},{'ab'[i % 2]}" for i in range(csvfile.DISTINCT_LIMIT + 5)]
    _rows, (ids, group) = csvfile.inspect_bytes("\n".join(lines).encode())
    assert ids["distinct"] is None and ids["values"] is None
    assert group["distinct"] == 2 and group["values"] == ["a", "b"]
    lines = ["id,y"] + [f"{i},0" for i in range(30)]
    _rows, (column, _y) = csvfile.inspect_bytes("\n".join(lines).encode())
    assert column["distinct"] == 30 and column["values"] is None  # counted, not listed


def test_too_many_columns_is_refused() -> None:
    header = ",".join(f"c{i}" for i in range(csvfile.MAX_COLUMNS + 1))
    with pytest.raises(csvfile.CsvError, match=f"at most {csvfile.MAX_COLUMNS}"):
        csvfile.inspect_bytes(f"{header}\n".encode())


def _context(datasets: dict[str, str]) -> tuple[RunContext, int]:
    read_fd, write_fd = os.pipe()
    context = RunContext(
        seed=1,
        shuffle_seed=1,
        events=EventWriter(write_fd),
        fingerprint={"experiment": {"name": "tabular_csv"}},
        datasets=datasets,
    )
    return context, read_fd


def test_run_context_reads_a_data_set_checks_it_and_fingerprints_it(tmp_path: Path) -> None:
    content = b"a,b\n1,2\n"
    sha = hashlib.sha256(content).hexdigest()
    path = tmp_path / f"{sha}.csv"
    path.write_bytes(content)
    context, read_fd = _context({sha: str(path)})
    assert context.read_dataset(sha) == content
    context.set_data_hash(b"x")
    with os.fdopen(read_fd) as events:
        event = json.loads(events.readline())
    assert event["event"] == "fingerprint"
    assert event["data"]["experiment"] == {"name": "tabular_csv", "dataset_sha256": sha}
    with pytest.raises(RuntimeError, match="before set_data_hash"):
        context.read_dataset(sha)  # the fingerprint has gone out without it

    other, _fd = _context({sha: str(path)})
    with pytest.raises(RuntimeError, match="was not fetched for this run"):
        other.read_dataset("0" * 64)
    path.write_bytes(b"a,b\n1,3\n")
    with pytest.raises(RuntimeError, match=f"expected {sha}"):
        other.read_dataset(sha)
