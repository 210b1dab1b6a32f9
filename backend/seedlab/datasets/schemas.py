"""Data set API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DatasetColumn(BaseModel):
    """One column as inferred from the file."""

    name: str
    type: Literal["number", "string"] = Field(
        description="number when every non-empty value is a finite number, else string"
    )
    missing: int = Field(description="empty values")
    distinct: int | None = Field(
        description="distinct non-empty values; null when more than 1,000"
    )
    values: list[float | str] | None = Field(
        description="the distinct values, sorted, when there are at most 20"
    )


class DatasetRead(BaseModel):
    """An uploaded data set."""

    id: int
    name: str
    sha256: str
    size_bytes: int
    rows: int
    columns: list[DatasetColumn]
    created_at: datetime
