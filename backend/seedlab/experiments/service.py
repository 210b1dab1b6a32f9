"""Experiment catalog access for the server (never imports TensorFlow)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from seedlab.db import utcnow
from seedlab.errors import InvalidInput, NotFound
from seedlab.experiments import catalog
from seedlab.experiments.models import ExperimentRecord
from seedlab.experiments.spec import ExperimentSpec


def find_experiment(*, name: str) -> ExperimentSpec:
    """The named experiment, or NotFound listing the known ones."""
    try:
        return catalog.get_experiment(name)
    except KeyError:
        known = ", ".join(spec.name for spec in catalog.list_experiments())
        raise NotFound(f"unknown experiment {name!r}; known experiments: {known}") from None


def validated_params(*, spec: ExperimentSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters checked against the experiment's schema, with defaults filled in."""
    try:
        return spec.validate_params(params)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "params",
                "rule": err["msg"],
                "input": err.get("input"),
            }
            for err in exc.errors(include_url=False)
        ]
        text = "; ".join(f"params.{p['field']}: {p['rule']}" for p in problems)
        raise InvalidInput(f"invalid parameters for {spec.name}: {text}", detail=problems) from None


def sync_catalog(*, session: Session) -> None:
    """Upsert every catalog experiment into the experiment table."""
    for spec in catalog.list_experiments():
        record = session.get(ExperimentRecord, spec.name)
        if record is None:
            record = ExperimentRecord(name=spec.name)
            session.add(record)
        record.version = spec.version
        record.description = spec.description
        record.entrypoint = spec.entrypoint
        record.params_schema = spec.params_schema()
        record.updated_at = utcnow()


def catalog_entry(spec: ExperimentSpec) -> dict[str, Any]:
    """The catalog entry as the API shows it."""
    return {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "params_schema": spec.params_schema(),
        "defaults": spec.validate_params({}),
    }
