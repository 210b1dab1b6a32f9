"""Queries of data sets (the only SQL on the dataset table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from seedlab.datasets.models import Dataset


def by_sha256(*, session: Session, sha256: str) -> Dataset | None:
    """The data set with this content hash (lower-case hex)."""
    return session.scalar(select(Dataset).where(Dataset.sha256 == sha256))


def by_name(*, session: Session, name: str) -> Dataset | None:
    """The data set of this name."""
    return session.scalar(select(Dataset).where(Dataset.name == name))


def newest_first(*, session: Session) -> list[Dataset]:
    """Every data set, newest first."""
    return list(session.scalars(select(Dataset).order_by(Dataset.id.desc())))


def names(*, session: Session) -> list[str]:
    """Every data set's name, sorted."""
    return list(session.scalars(select(Dataset.name).order_by(Dataset.name)))


def add_guarded(*, session: Session, dataset: Dataset) -> None:
    """Insert the data set in a savepoint: an IntegrityError (a concurrent upload took its
    name or content) leaves the caller's transaction usable."""
    with session.begin_nested():
        session.add(dataset)
