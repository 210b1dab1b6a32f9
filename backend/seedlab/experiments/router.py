"""Experiments catalog endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from seedlab.deps import ReadSession, SettingsDep
from seedlab.experiments import service as experiments_service

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


@router.get("")
def list_experiments(session: ReadSession, settings: SettingsDep) -> list[dict[str, Any]]:
    """Built-ins and advertised experiments: schema, defaults, online, agents, versions."""
    return [
        item.to_dict()
        for item in experiments_service.server_catalog(session=session, settings=settings)
    ]


@router.get("/sources")
def list_sources(session: ReadSession, settings: SettingsDep) -> list[dict[str, Any]]:
    """Where each agent loaded its experiments from: loaded (with which) or failed (with why)."""
    return experiments_service.reported_sources(session=session, settings=settings)


@router.get("/{name}")
def get_experiment(name: str, session: ReadSession, settings: SettingsDep) -> dict[str, Any]:
    """One experiment with its parameter JSON schema."""
    return experiments_service.find_item(session=session, settings=settings, name=name).to_dict()
