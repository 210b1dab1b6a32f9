"""Data sets: an uploaded CSV file, stored once per content (sha256)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from seedlab.db import Base, UTCDateTime, utcnow


class Dataset(Base):
    """One uploaded CSV: its name, content hash, size, row count and inferred columns."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int]
    # [{name, type: "number"|"string", missing, distinct, values}] in header order.
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
