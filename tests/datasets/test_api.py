"""Data set API through the real app and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database

CHURN = Path(__file__).resolve().parents[2] / "examples" / "csv_walkthrough" / "churn.csv"
SMALL = b"x,y,colour,label\n1,2.5,red,0\n2,,blue,1\n3,4,,0\n4,1e3,red,1\n"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def _upload(  # type: ignore[no-untyped-def]
    client: TestClient, content: bytes, name: str | None = "small", filename: str = "s.csv"
):
    params = {"name": name} if name else None
    return client.post(
        "/api/v1/datasets", params=params, files={"file": (filename, content, "text/csv")}
    )


def test_multipart_upload_stores_by_sha256_and_infers_columns(
    client: TestClient, settings: Settings
) -> None:
    response = _upload(client, SMALL)
    assert response.status_code == 201, response.text
    body = response.json()
    sha = hashlib.sha256(SMALL).hexdigest()
    assert body["sha256"] == sha and body["name"] == "small"
    assert body["rows"] == 4 and body["size_bytes"] == len(SMALL)
    assert body["columns"] == [
        {"name": "x", "type": "number", "missing": 0, "distinct": 4, "values": [1, 2, 3, 4]},
        {"name": "y", "type": "number", "missing": 1, "distinct": 3, "values": [2.5, 4, 1000]},
        {"name": "colour", "type": "string", "missing": 1, "distinct": 2,
         "values": ["blue", "red"]},
        {"name": "label", "type": "number", "missing": 0, "distinct": 2, "values": [0, 1]},
    ]
    stored = settings.data_dir / "datasets" / f"{sha}.csv"
    assert stored.read_bytes() == SMALL
    assert list((settings.data_dir / "datasets" / "tmp").iterdir()) == []  # no temp file left
    # Metadata by name and by sha256, the list, and the raw content.
    assert client.get("/api/v1/datasets/small").json() == body
    assert client.get(f"/api/v1/datasets/{sha}").json() == body
    assert [d["sha256"] for d in client.get("/api/v1/datasets").json()] == [sha]
    content = client.get(f"/api/v1/datasets/{sha}/content")
    assert content.status_code == 200 and content.content == SMALL
    assert content.headers["content-type"].startswith("text/csv")


def test_raw_csv_body_with_name(client: TestClient) -> None:
    data = CHURN.read_bytes()
    response = client.post(
        "/api/v1/datasets?name=churn", content=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rows"] == 200 and body["sha256"] == hashlib.sha256(data).hexdigest()
    types = {c["name"]: (c["type"], c["missing"] > 0) for c in body["columns"]}
    assert types == {
        "tenure_months": ("number", True),
        "monthly_charges": ("number", False),
        "support_calls": ("number", False),
        "age": ("number", False),
        "plan": ("string", False),
        "churned": ("string", False),
    }
    no_name = client.post(
        "/api/v1/datasets", content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}
    )
    assert no_name.status_code == 422 and "needs a name" in no_name.json()["detail"]


def test_default_name_is_the_file_name(client: TestClient) -> None:
    response = _upload(client, SMALL, name=None, filename="My export (3).csv")
    assert response.status_code == 201 and response.json()["name"] == "My-export-3"


def test_identical_upload_is_idempotent_and_names_conflict(client: TestClient) -> None:
    first = _upload(client, SMALL).json()
    again = _upload(client, SMALL)
    assert again.status_code == 200 and again.json() == first
    # Same content without an explicit name: the stored data set, whatever the file name.
    assert _upload(client, SMALL, name=None, filename="other.csv").json() == first
    # Same content, another explicit name: refused, naming the existing one.
    renamed = _upload(client, SMALL, name="renamed")
    assert renamed.status_code == 409
    assert "already stored as data set 'small'" in renamed.json()["detail"]
    # The name taken by other content.
    other = _upload(client, b"a,b\n1,2\n", name="small")
    assert other.status_code == 409
    detail = other.json()["detail"]
    assert "'small' is already used by other content" in detail and first["sha256"] in detail
    assert len(client.get("/api/v1/datasets").json()) == 1


def test_size_limit_is_a_413_naming_the_limit(
    settings: Settings, tmp_path: Path
) -> None:
    small = settings.model_copy(update={"max_dataset_bytes": 40})
    app = create_app(small, Database(small.resolved_database_url()))
    with TestClient(app) as client:
        response = _upload(client, SMALL)  # 62 bytes, in a multipart body
        assert response.status_code == 413
        assert "limit of 40 bytes" in response.json()["detail"]
        assert "SEEDLAB_MAX_DATASET_BYTES" in response.json()["detail"]
        raw = client.post(
            "/api/v1/datasets?name=x", content=SMALL, headers={"Content-Type": "text/csv"}
        )
        assert raw.status_code == 413
        assert _upload(client, b"a,b\n1,2\n", name="tiny").status_code == 201
        assert list((small.data_dir / "datasets" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"a,b\n", "header but no data rows"),
        (b"a,b\n1,2\n3\n", "line 3: 1 values, but the header has 2 columns (a, b)"),
        (b"a,,c\n1,2,3\n", "column 2 has no name"),
        (b"a,a\n1,2\n", "column name 'a' appears twice"),
        (b'a,b\n1,"2\n', "not valid CSV"),
        (b"a,b\n1,\xff\n", "line 2, column 3: not UTF-8 text (byte 0xff"),
        # A long first line: the old reader named a byte offset "of a chunk", not the line.
        (b"a,b\n" + b"1,2\n" * 5000 + b"3,caf\xe9\n", "line 5002, column 6: not UTF-8"),
        (b"\xef\xbb\xbfa,b\n\xe9,2\n", "line 2, column 1: not UTF-8"),
        (b"label\n0\n1\n", "the file has one column (label); training needs a target column"),
        (b"a\x00b,y\n1,0\n", "line 1, column 1: a NUL character"),
        (b"a,y\n1,x\x00\n", "line 2, column 2: a NUL character"),
    ],
)
def test_malformed_csv_is_a_422_naming_the_line(
    client: TestClient, content: bytes, message: str
) -> None:
    response = _upload(client, content)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert client.get("/api/v1/datasets").json() == []


def test_bad_names_and_content_types(client: TestClient) -> None:
    bad = _upload(client, SMALL, name="has space")
    assert bad.status_code == 422 and "invalid data set name" in bad.json()["detail"]
    hexname = _upload(client, SMALL, name="a" * 64)
    assert hexname.status_code == 422
    wrong = client.post("/api/v1/datasets", json={"a": 1})
    assert wrong.status_code == 422 and "Content-Type" in wrong.json()["detail"]
    no_file = client.post("/api/v1/datasets", data={"name": "x"}, files={"other": ("a", b"1")})
    assert no_file.status_code == 422 and "no 'file' part" in no_file.json()["detail"]


def test_unknown_data_set_lists_the_uploaded_ones(client: TestClient) -> None:
    _upload(client, SMALL)
    response = client.get("/api/v1/datasets/nope")
    assert response.status_code == 404
    assert "unknown data set 'nope'; uploaded data sets: small" in response.json()["detail"]
    assert client.get(f"/api/v1/datasets/{'0' * 64}/content").status_code == 404


def _submit(client: TestClient, **params: object):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/jobs",
        json={"experiment": "tabular_csv", "params": params, "seeds": "1:2x2", "profile": "full"},
    )


def test_tabular_csv_submission_resolves_the_name_to_sha256(client: TestClient) -> None:
    dataset = _upload(client, SMALL).json()
    job = _submit(client, dataset="small", target="label", features=["x", "colour"], epochs=1)
    assert job.status_code == 201, job.text
    params = job.json()["params"]
    assert params["dataset"] == dataset["sha256"]  # a later upload cannot change what it runs
    assert params["features"] == ["x", "colour"] and params["split_seed"] == 0
    by_sha = _submit(client, dataset=dataset["sha256"], target="label")
    assert by_sha.status_code == 201 and by_sha.json()["params"]["dataset"] == dataset["sha256"]


def test_tabular_csv_submission_errors_name_the_problem(client: TestClient) -> None:
    _upload(client, SMALL)
    missing = _submit(client, target="label")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "dataset"
    unknown = _submit(client, dataset="nope", target="label")
    assert unknown.status_code == 422
    assert "unknown data set 'nope'; uploaded data sets: small" in unknown.json()["detail"]
    no_column = _submit(client, dataset="small", target="churn")
    assert no_column.status_code == 422
    body = no_column.json()
    assert "'churn' is not a column of data set 'small'; its columns: x, y, colour, label" in (
        body["detail"]
    )
    assert body["errors"][0]["field"] == "target"
    feature = _submit(client, dataset="small", target="label", features=["x", "z"])
    assert feature.status_code == 422 and "'z' is not a column" in feature.json()["detail"]
    not_binary = _submit(client, dataset="small", target="x")
    assert not_binary.status_code == 422
    detail = not_binary.json()["detail"]
    assert "column 'x' (number: 1, 2, 3, 4) is not a binary target" in detail
    assert "binary columns of 'small': label" in detail
    with_missing = _submit(client, dataset="small", target="colour")
    assert with_missing.status_code == 422 and "1 missing values" in with_missing.json()["detail"]
    overlap = _submit(client, dataset="small", target="label", features=["label"])
    assert overlap.status_code == 422 and "must not include the target" in overlap.text
    assert client.get("/api/v1/jobs").json()["total"] == 0
