"""Data set storage under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from seedlab.config import Settings
from seedlab.datasets import csvfile
from seedlab.datasets import service as datasets_service
from seedlab.datasets.upload import StagedFile
from seedlab.db import Database

CONTENT = b"a,label\n1,0\n2,1\n"


def _upload(settings: Settings, tag: str) -> datasets_service.Upload:
    directory = datasets_service.store_dir(settings) / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{tag}.part"
    path.write_bytes(CONTENT)
    rows, columns = csvfile.inspect_csv(path)
    staged = StagedFile(path, hashlib.sha256(CONTENT).hexdigest(), len(CONTENT), "same.csv")
    return datasets_service.Upload(staged=staged, rows=rows, columns=columns)


def test_concurrent_identical_uploads_store_one_data_set(
    database: Database, settings: Settings
) -> None:
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with database.write() as session:
                dataset, created = datasets_service.add_dataset(
                    session=session, upload=_upload(settings, "b"), name=None, settings=settings
                )
                results.append((dataset.id, created))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with database.write() as session:
        first, created = datasets_service.add_dataset(
            session=session, upload=_upload(settings, "a"), name=None, settings=settings
        )
        assert created
        # The second upload starts while the first is not committed: on PostgreSQL it waits on
        # the unique index, on SQLite on the write lock; either way it must end with the row.
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        first_id = first.id
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors, errors
    assert results == [(first_id, False)]
    with database.read() as session:
        assert [d.name for d in datasets_service.list_datasets(session=session)] == ["same"]
    assert sorted(p.name for p in Path(settings.data_dir, "datasets").glob("*.csv")) == [
        f"{hashlib.sha256(CONTENT).hexdigest()}.csv"
    ]
