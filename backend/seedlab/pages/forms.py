"""The new-job form, generated from each experiment's parameter JSON schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seedlab.controls import CONTROLS, PRESET_HELP
from seedlab.datasets.params import COLUMN_WIDGET, COLUMNS_WIDGET, DATASET_WIDGET, SOURCE, WIDGET
from seedlab.experiments.service import CatalogItem
from seedlab.jobs.schemas import JobCreate
from seedlab.jobs.seedplan import SeedPlan
from seedlab.profiles import PRESETS, TOGGLES, ProfileSpec

DEFAULT_SEEDS = "42:5x2"
# Parameters that refer to uploaded data sets get a select of them, and of their columns.
DATASET_KINDS = {DATASET_WIDGET: "dataset", COLUMN_WIDGET: "column", COLUMNS_WIDGET: "columns"}

# The preset and toggle texts come from the control table (seedlab/controls.py).
TOGGLE_HELP = {row.name: row.help for row in CONTROLS}


@dataclass(frozen=True)
class FormField:
    """One parameter input derived from a JSON-schema property."""

    name: str
    label: str
    kind: str  # integer | number | select | checkbox | text | dataset | column | columns
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    options: list[Any] = field(default_factory=list)
    nullable: bool = False
    # For data-set widgets: the parameter naming the data set whose columns are offered.
    source: str | None = None

    @property
    def step(self) -> str:
        """The input's step: whole numbers for integers, anything for floats."""
        return "1" if self.kind == "integer" else "any"


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property with $ref and Optional (anyOf [..., null]) unwrapped, and its nullability."""
    merged = dict(prop)
    nullable = False
    if "anyOf" in merged:
        choices = [c for c in merged.pop("anyOf") if c.get("type") != "null"]
        nullable = len(choices) == 1
        if choices:
            merged = {**choices[0], **merged}
    ref = merged.pop("$ref", None)
    if isinstance(ref, str):
        merged = {**defs.get(ref.rsplit("/", 1)[-1], {}), **merged}
    return merged, nullable


def form_fields(schema: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[FormField]:
    """Inputs for every property of a pydantic JSON schema, in declaration order."""
    defs = schema.get("$defs", {})
    out: list[FormField] = []
    for name, raw in schema.get("properties", {}).items():
        prop, nullable = _resolve(raw, defs)
        kind = {"integer": "integer", "number": "number", "boolean": "checkbox"}.get(
            prop.get("type", ""), "text"
        )
        if "enum" in prop or "const" in prop:
            kind = "select"
        kind = DATASET_KINDS.get(prop.get(WIDGET, ""), kind)
        out.append(
            FormField(
                name=name,
                label=prop.get("title") or name.replace("_", " ").capitalize(),
                kind=kind,
                default=defaults.get(name, prop.get("default")),
                help=prop.get("description", ""),
                minimum=prop.get("minimum", prop.get("exclusiveMinimum")),
                maximum=prop.get("maximum", prop.get("exclusiveMaximum")),
                options=list(prop.get("enum", [prop["const"]] if "const" in prop else [])),
                nullable=nullable,
                source=prop.get(SOURCE),
            )
        )
    return out


def clone_values(clone: JobCreate) -> dict[str, Any]:
    """The form's values taken from an existing job's submission (Clone on the job page)."""
    seeds = clone.seeds
    if isinstance(seeds, dict):
        seeds = SeedPlan(tuple(seeds["seeds"]), int(seeds["repeats"])).text()
    elif isinstance(seeds, list):
        seeds = ",".join(str(s) for s in seeds)
    profile = clone.profile if isinstance(clone.profile, ProfileSpec) else None
    preset = profile.preset if profile else str(clone.profile)
    toggles = {name: bool(PRESETS[preset][name]) for name in TOGGLES}
    customised = False
    if profile is not None:
        for name in TOGGLES:
            value = getattr(profile, name)
            if value is not None and value != toggles[name]:
                toggles[name] = bool(value)
                customised = True
    return {
        "seeds": seeds,
        "preset": preset,
        "customise": customised,
        "toggles": toggles,
        "trace": bool(profile and profile.trace),
        "label": clone.label or "",
        "tolerance": ", ".join(f"{k}={v:g}" for k, v in (clone.tolerance or {}).items()),
        "until": clone.until or "",
        "max_seeds": clone.max_seeds if clone.max_seeds is not None else "",
    }


def new_job_context(
    experiment: str | None, items: list[CatalogItem], clone: JobCreate | None = None
) -> dict[str, Any]:
    """Every catalog experiment with its fields and whether it is online; presets; toggles
    (pre-filled from a cloned job's submission when one is given)."""
    names = [item.name for item in items]
    default = "credit_risk_mlp" if "credit_risk_mlp" in names else (names[0] if names else None)
    if clone is not None and clone.experiment in names:
        experiment = clone.experiment
    values = (
        clone_values(clone)
        if clone is not None
        else {
            "seeds": DEFAULT_SEEDS,
            "preset": "full",
            "customise": False,
            "toggles": {name: bool(PRESETS["full"][name]) for name in TOGGLES},
            "trace": False,
            "label": "",
            "tolerance": "",
            "until": "",
            "max_seeds": "",
        }
    )

    def defaults(item: CatalogItem) -> dict[str, Any]:
        base = dict(item.defaults)
        if clone is not None and item.name == clone.experiment:
            base.update(clone.params)
        return base

    return {
        "experiments": [
            {
                "name": item.name,
                "version": item.version,
                "description": item.description,
                "online": item.online,
                "agents": item.agents,
                "source": item.source,
                "fields": form_fields(item.params_schema, defaults(item)),
            }
            for item in items
        ],
        "selected": experiment if experiment in names else default,
        "default_seeds": values["seeds"],
        "values": values,
        "presets": PRESETS,
        "preset_help": PRESET_HELP,
        "toggles": [(name, TOGGLE_HELP.get(name, "")) for name in TOGGLES],
    }
