"""Data sets: staging uploads, content-addressed storage, lookup, and job-parameter checks."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from seedlab.config import Settings
from seedlab.datasets import csvfile
from seedlab.datasets import repository as datasets_repository
from seedlab.datasets.models import Dataset
from seedlab.datasets.params import COLUMN_RULE, DATASET_WIDGET, SOURCE, WIDGET, dataset_fields
from seedlab.datasets.schemas import DatasetRead
from seedlab.datasets.upload import (
    ENVELOPE_BYTES,
    StagedFile,
    stage_multipart,
    stage_raw,
    too_large,
)
from seedlab.db import utcnow
from seedlab.errors import Conflict, InvalidInput, NotFound

SHA256 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = (
    "1 to 100 characters: letters, digits, '.', '_' or '-', starting with a letter or digit, "
    "and not 64 hex digits (that spells a sha256)"
)
LISTED_NAMES = 20


@dataclass
class Upload:
    """A staged upload with what its content says: rows and columns."""

    staged: StagedFile
    rows: int
    columns: list[dict[str, Any]]


def store_dir(settings: Settings) -> Path:
    """Where data sets live: <data dir>/datasets/<sha256>.csv."""
    return settings.data_dir / "datasets"


def content_path(*, settings: Settings, sha256: str) -> Path:
    """The stored file of a data set."""
    return store_dir(settings) / f"{sha256}.csv"


async def stage_upload(
    *,
    chunks: AsyncIterator[bytes],
    content_type: str,
    content_length: int | None,
    settings: Settings,
) -> Upload:
    """Stream a multipart or raw CSV body to a temporary file, then read its columns."""
    limit = settings.max_dataset_bytes
    if content_length is not None and content_length > limit + ENVELOPE_BYTES:
        raise too_large(limit)  # refused before a byte is read
    directory = store_dir(settings) / "tmp"
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        staged = await stage_multipart(
            chunks, content_type=content_type, directory=directory, limit=limit
        )
    elif kind in ("text/csv", "application/csv", "text/plain", "application/octet-stream"):
        staged = await stage_raw(chunks, directory=directory, limit=limit)
    else:
        raise InvalidInput(
            f"unsupported Content-Type {kind or '(none)'!r}: upload multipart/form-data with the "
            "CSV in the field 'file', or a text/csv body"
        )
    try:
        # Parsing up to the size limit takes seconds: off the event loop, and before the
        # request's write transaction opens, so no writer waits for it.
        rows, columns = await run_in_threadpool(csvfile.inspect_csv, staged.path)
    except csvfile.CsvError as exc:
        staged.path.unlink(missing_ok=True)
        raise InvalidInput(f"not a usable CSV file: {exc}") from None
    except BaseException:
        staged.path.unlink(missing_ok=True)
        raise
    return Upload(staged=staged, rows=rows, columns=columns)


def default_name(filename: str | None) -> str | None:
    """A data set name from an uploaded file's name (its stem, unusual characters replaced)."""
    if not filename:
        return None
    stem = Path(filename.replace("\\", "/")).name
    stem = stem[:-4] if stem.lower().endswith(".csv") else stem
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:100]
    return cleaned or None


def check_name(name: str) -> str:
    """The name when it is allowed, else InvalidInput with the rule."""
    if not NAME.fullmatch(name) or SHA256.fullmatch(name.lower()):
        raise InvalidInput(f"invalid data set name {name!r}: {NAME_RULE}")
    return name


def add_dataset(
    *, session: Session, upload: Upload, name: str | None, settings: Settings
) -> tuple[Dataset, bool]:
    """Store a staged upload under its sha256; (data set, created). Identical content is kept once.

    An explicit name that differs from the name the same content already has, or a name
    already given to other content, is a Conflict.
    """
    staged = upload.staged
    explicit = name is not None and name != ""
    wanted = check_name(name) if explicit and name else default_name(staged.filename)
    existing = datasets_repository.by_sha256(session=session, sha256=staged.sha256)
    if existing is not None:
        staged.path.unlink(missing_ok=True)
        if explicit and wanted != existing.name:
            raise Conflict(
                f"this content is already stored as data set {existing.name!r} (sha256 "
                f"{existing.sha256}); refer to it by that name or by its sha256"
            )
        return existing, False
    if wanted is None:
        raise InvalidInput(
            "the data set needs a name: give ?name= (or the form field 'name'), "
            f"or upload a file with a file name; names are {NAME_RULE}"
        )
    taken = datasets_repository.by_name(session=session, name=wanted)
    if taken is not None:
        raise Conflict(
            f"the name {wanted!r} is already used by other content (sha256 {taken.sha256}); "
            "choose another name, or refer to the stored one by its sha256"
        )
    final = content_path(settings=settings, sha256=staged.sha256)
    # The rename is atomic and the name is the hash: a file at the final path is complete.
    os.replace(staged.path, final)
    dataset = Dataset(
        name=wanted,
        sha256=staged.sha256,
        size_bytes=staged.size_bytes,
        rows=upload.rows,
        columns=upload.columns,
        created_at=utcnow(),
    )
    try:
        datasets_repository.add_guarded(session=session, dataset=dataset)
    except IntegrityError:
        # A concurrent upload (PostgreSQL) stored the same content or took the name first.
        winner = datasets_repository.by_sha256(session=session, sha256=staged.sha256)
        if winner is not None and not (explicit and wanted != winner.name):
            return winner, False
        raise Conflict(
            f"a concurrent upload took the name {wanted!r}"
            + (f" or stored this content as {winner.name!r}" if winner is not None else "")
            + "; list the data sets and choose another name"
        ) from None
    return dataset, True


def list_datasets(*, session: Session) -> list[Dataset]:
    """Every data set, newest first."""
    return datasets_repository.newest_first(session=session)


def find_dataset(*, session: Session, ref: str) -> Dataset:
    """A data set by name or sha256; NotFound names the uploaded ones."""
    ref = ref.strip()
    if SHA256.fullmatch(ref.lower()):
        found = datasets_repository.by_sha256(session=session, sha256=ref.lower())
    else:
        found = datasets_repository.by_name(session=session, name=ref)
    if found is None:
        names = datasets_repository.names(session=session)
        known = (
            ", ".join(names[:LISTED_NAMES]) + (" ..." if len(names) > LISTED_NAMES else "")
            if names
            else "none yet"
        )
        raise NotFound(
            f"unknown data set {ref!r}; uploaded data sets: {known} (upload one with "
            "POST /api/v1/datasets or `seedlab data add FILE`)"
        )
    return found


def stored_file(*, session: Session, sha256: str, settings: Settings) -> Path:
    """The file of a data set, for download by agents."""
    dataset = find_dataset(session=session, ref=sha256)
    path = content_path(settings=settings, sha256=dataset.sha256)
    if not path.is_file():
        raise NotFound(f"data set {dataset.name!r} is registered but its file {path} is missing")
    return path


def describe(dataset: Dataset) -> DatasetRead:
    """A data set as the API shows it."""
    return DatasetRead.model_validate(dataset, from_attributes=True)


def is_binary(column: Mapping[str, Any]) -> bool:
    """Numeric 0/1, or exactly two string labels (missing values aside)."""
    values = column.get("values")
    if values is None:
        return False
    if column["type"] == "number":
        return sorted(values) == [0.0, 1.0]
    return len(values) == 2


def _column_problem(field: str, value: Any, rule: str) -> InvalidInput:
    return InvalidInput(
        f"params.{field}: {rule}", detail=[{"field": field, "rule": rule, "input": value}]
    )


def resolve_params(
    *, session: Session, schema: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Data-set parameters checked against the stored data sets; names become sha256s.

    A job records the sha256, so a later upload under another name cannot change what it runs.
    """
    fields = dataset_fields(schema)
    if not fields:
        return params
    resolved = dict(params)
    datasets: dict[str, Dataset] = {}
    for name, prop in fields.items():
        if prop[WIDGET] != DATASET_WIDGET:
            continue
        ref = str(params.get(name) or "").strip()
        if not ref:
            raise _column_problem(
                name, ref, "name or sha256 of an uploaded data set is required"
            )
        try:
            dataset = find_dataset(session=session, ref=ref)
        except NotFound as exc:
            raise _column_problem(name, ref, exc.message) from None
        if len(dataset.columns) < 2:  # stored before uploads were checked for this
            raise _column_problem(
                name,
                ref,
                f"data set {dataset.name!r} has one column; training needs a target column "
                "and at least one feature column",
            )
        datasets[name] = dataset
        resolved[name] = dataset.sha256
    for name, prop in fields.items():
        source = prop.get(SOURCE)
        if source not in datasets:
            continue
        dataset = datasets[source]
        by_name = {column["name"]: column for column in dataset.columns}
        allowed = ", ".join(by_name)
        value = params.get(name)
        chosen = value if isinstance(value, list) else [] if value is None else [value]
        for column_name in chosen:
            if column_name not in by_name:
                rule = (
                    f"{column_name!r} is not a column of data set {dataset.name!r}; "
                    f"its columns: {allowed}"
                    if column_name
                    else f"choose a column of data set {dataset.name!r}: {allowed}"
                )
                raise _column_problem(name, value, rule)
            column = by_name[column_name]
            if prop.get(COLUMN_RULE) == "binary":
                _check_binary_target(name, column, dataset)
    return resolved


def _check_binary_target(field: str, column: Mapping[str, Any], dataset: Dataset) -> None:
    values = column.get("values")
    if column["missing"]:
        raise _column_problem(
            field,
            column["name"],
            f"column {column['name']!r} has {column['missing']} missing values; every row "
            "needs a label",
        )
    if not is_binary(column):
        seen = (
            ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
            if values is not None
            else f"{column['distinct'] or 'more than 1,000'} distinct values"
        )
        binary = [c["name"] for c in dataset.columns if is_binary(c) and not c["missing"]]
        raise _column_problem(
            field,
            column["name"],
            f"column {column['name']!r} ({column['type']}: {seen}) is not a binary target; "
            "a target is numeric 0/1 or has exactly two string labels"
            + (f"; binary columns of {dataset.name!r}: {', '.join(binary)}" if binary else ""),
        )


def form_choices(*, session: Session) -> list[dict[str, Any]]:
    """Data sets for the new-job form: name, sha256 and columns (binary ones marked)."""
    return [
        {
            "name": dataset.name,
            "sha256": dataset.sha256,
            "rows": dataset.rows,
            "columns": [
                {"name": c["name"], "type": c["type"], "binary": is_binary(c) and not c["missing"]}
                for c in dataset.columns
            ],
        }
        for dataset in list_datasets(session=session)
    ]
