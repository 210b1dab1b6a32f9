"""Experiments catalog endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from seedlab.experiments import catalog
from seedlab.experiments import service as experiments_service

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


@router.get("")
def list_experiments() -> list[dict[str, Any]]:
    """Every experiment agents can run, with its parameter JSON schema and defaults."""
    return [experiments_service.catalog_entry(spec) for spec in catalog.list_experiments()]


@router.get("/{name}")
def get_experiment(name: str) -> dict[str, Any]:
    """One experiment with its parameter JSON schema."""
    return experiments_service.catalog_entry(experiments_service.find_experiment(name=name))
