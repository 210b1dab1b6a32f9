"""Every ORM relationship loads with lazy="raise": a hidden query fails loudly."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import InvalidRequestError

import seedlab.models  # noqa: F401 - every ORM model, so the registry is complete
from seedlab.config import Settings
from seedlab.db import Base, Database
from seedlab.jobs.models import Job
from tests.factory import create_job


def test_every_relationship_is_lazy_raise() -> None:
    relationships = [
        (mapper.class_.__name__, rel.key, rel.lazy)
        for mapper in Base.registry.mappers
        for rel in inspect(mapper).relationships
    ]
    assert relationships, "no relationship found: the models were not imported"
    assert [r for r in relationships if r[2] != "raise"] == []


def test_reading_an_unloaded_relationship_raises(database: Database, settings: Settings) -> None:
    job_id, _runs = create_job(database, settings)
    with database.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = job.runs
