"""The server's experiment catalog: built-ins plus what agents advertise (never imports TF).

The server knows the built-in experiments from code. Every other experiment comes from the
agents' advertisements: its parameters are validated against the advertised JSON schema, so
the server never imports user code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import re2
from jsonschema import SchemaError, validators
from jsonschema.exceptions import ValidationError as SchemaViolation
from jsonschema.validators import validator_for
from pydantic import ValidationError
from sqlalchemy.orm import Session

from seedlab.config import Settings
from seedlab.db import utcnow
from seedlab.errors import InvalidInput, NotFound
from seedlab.experiments import catalog
from seedlab.experiments import repository as experiments_repository
from seedlab.experiments.spec import ExperimentSpec

# An agent is live when it was seen within this many lease periods: an idle agent polls for
# work several times a second and a busy one heartbeats three times per lease.
LIVE_LEASES = 3


@dataclass(frozen=True)
class CatalogItem:
    """One experiment the server serves: from code (built-ins) or from agents' advertisements."""

    name: str
    version: str
    description: str
    params_schema: dict[str, Any]
    defaults: dict[str, Any]
    source: str
    builtin: bool
    online: bool
    agents: int
    versions: list[str] = field(default_factory=list)
    # The built-in's code spec; None for advertised experiments (validated by their schema).
    spec: ExperimentSpec | None = None
    # The seed sources it declares (init, order, split): what a decompose job varies.
    seed_sources: tuple[str, ...] = ("init",)
    # Metrics it declares bounded in [0, 1] besides those bounded by name.
    bounded_metrics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The entry as the API shows it (the fields of the original catalog entry first)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "params_schema": self.params_schema,
            "defaults": self.defaults,
            "source": self.source,
            "builtin": self.builtin,
            "online": self.online,
            "agents": self.agents,
            "versions": list(self.versions),
            "seed_sources": list(self.seed_sources),
            "bounded_metrics": list(self.bounded_metrics),
        }


def live_since(*, settings: Settings, now: datetime | None = None) -> datetime:
    """The oldest last-seen time that still counts as live."""
    return (now or utcnow()) - timedelta(seconds=LIVE_LEASES * settings.lease_seconds)


def _from_spec(spec: ExperimentSpec, *, online: bool, agents: int) -> CatalogItem:
    return CatalogItem(
        name=spec.name,
        version=spec.version,
        description=spec.description,
        params_schema=spec.params_schema(),
        defaults=spec.validate_params({}),
        source="builtin",
        builtin=True,
        online=online,
        agents=agents,
        versions=[spec.version],
        spec=spec,
        seed_sources=spec.seed_sources,
        bounded_metrics=spec.bounded_metrics,
    )


def server_catalog(*, session: Session, settings: Settings) -> list[CatalogItem]:
    """Built-ins (online while any agent is) and every advertised experiment, by name."""
    since = live_since(settings=settings)
    live_agents = experiments_repository.live_agent_count(session=session, live_since=since)
    items = {
        spec.name: _from_spec(spec, online=live_agents > 0, agents=live_agents)
        for spec in catalog.builtin_specs()
    }
    adverts: dict[str, list[experiments_repository.Advertised]] = {}
    for advert in experiments_repository.advertised(session=session, live_since=since):
        if advert.name not in items:  # a built-in's name always means the built-in
            adverts.setdefault(advert.name, []).append(advert)
    for name, found in adverts.items():
        live = [a for a in found if a.live]
        # Newest first: the newest live advertisement wins, else the newest of any agent.
        chosen = (live or found)[0]
        items[name] = CatalogItem(
            name=name,
            version=chosen.version,
            description=chosen.description,
            params_schema=chosen.params_schema,
            defaults=chosen.defaults,
            source=chosen.source,
            builtin=False,
            online=bool(live),
            agents=len({a.agent_id for a in live}),
            versions=list(dict.fromkeys(a.version for a in [*live, *found])),
            seed_sources=chosen.seed_sources,
            bounded_metrics=chosen.bounded_metrics,
        )
    return [items[name] for name in sorted(items)]


def find_item(*, session: Session, settings: Settings, name: str) -> CatalogItem:
    """The named experiment of the server's catalog, or NotFound listing the known ones."""
    items = server_catalog(session=session, settings=settings)
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(item.name for item in items)
    raise NotFound(f"unknown experiment {name!r}; known experiments: {known}")


def _invalid(name: str, problems: list[dict[str, Any]]) -> InvalidInput:
    text = "; ".join(f"params.{p['field']}: {p['rule']}" for p in problems)
    return InvalidInput(f"invalid parameters for {name}: {text}", detail=problems)


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field's type takes true/false (bool itself, or a union or literal with one)."""
    if annotation is bool:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _accepts_bool(get_args(annotation)[0])
    if origin is Literal:
        return any(isinstance(arg, bool) for arg in get_args(annotation))
    if origin is Union or origin is UnionType:
        return any(_accepts_bool(arg) for arg in get_args(annotation))
    return annotation is Any


def _kind(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", str: "text"}
    return names.get(annotation, "a value of its type") if isinstance(annotation, type) else (
        "a value of its type"
    )


def validated_params(*, spec: ExperimentSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters checked against the experiment's schema, with defaults filled in."""
    # Pydantic's lax mode reads true as 1 and false as 0; JSON schema (and so every advertised
    # experiment) says a boolean is not a number: one rule for both.
    fields = spec.params_model.model_fields
    booleans = [
        {
            "field": name,
            "rule": f"must be {_kind(fields[name].annotation)}, not a boolean (true/false)",
            "input": value,
        }
        for name, value in sorted(params.items())
        if isinstance(value, bool) and name in fields and not _accepts_bool(fields[name].annotation)
    ]
    if booleans:
        raise _invalid(spec.name, booleans)
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
        raise _invalid(spec.name, problems) from None


# Agents advertise parameter schemas; their `pattern`s run against what users submit. Python's
# backtracking `re` takes exponential time on patterns like ^(a+)+$ (while holding the GIL, so
# every request waits), so patterns run on RE2, whose time is linear in the text, and a pattern
# RE2 cannot run (backreferences, lookaround) is refused when it is advertised.
MAX_PATTERN = 1000
# Keywords whose value is a schema, or a list or name->schema map of schemas.
_SUBSCHEMA = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
     "unevaluatedProperties", "unevaluatedItems", "additionalItems"}
)
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SUBSCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the agent's error, told in the answer
    return options


@functools.lru_cache(maxsize=512)
def linear_pattern(pattern: str) -> re2._Regexp:
    """The pattern compiled for RE2 (linear time); re2.error when RE2 cannot run it."""
    if len(pattern) > MAX_PATTERN:
        raise re2.error(f"longer than {MAX_PATTERN} characters")
    return re2.compile(pattern, _re2_options())


def unsafe_schema_parts(schema: Any, where: str = "params_schema") -> list[str]:
    """Where a schema has a regular expression that cannot be run in linear time, and why."""
    problems: list[str] = []
    if not isinstance(schema, dict):
        return problems
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            try:
                linear_pattern(value)
            except re2.error as exc:
                reason = exc.args[0].decode() if isinstance(exc.args[0], bytes) else exc.args[0]
                problems.append(
                    f"{where}.pattern {value[:100]!r} cannot be run in linear time ({reason}); "
                    "use a pattern without backreferences or lookaround"
                )
        elif key == "patternProperties":
            problems.append(
                f"{where}.patternProperties is not supported: declare each parameter under "
                "properties"
            )
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                problems.extend(unsafe_schema_parts(sub, f"{where}.{key}.{name}"))
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            for index, sub in enumerate(value):
                problems.extend(unsafe_schema_parts(sub, f"{where}.{key}[{index}]"))
        elif key in _SUBSCHEMA:
            problems.extend(unsafe_schema_parts(value, f"{where}.{key}"))
    return problems


def _linear_pattern_keyword(
    validator: Any, pattern: str, instance: Any, _schema: dict[str, Any]
) -> Iterator[SchemaViolation]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = linear_pattern(pattern).search(instance)
    except re2.error:
        yield SchemaViolation(f"the schema's pattern {pattern[:100]!r} cannot be run safely")
        return
    if found is None:
        yield SchemaViolation(f"{instance[:100]!r} does not match {pattern[:100]!r}")


def _validator(schema: dict[str, Any]) -> Any:
    """A validator of the schema's draft whose `pattern` runs on RE2."""
    base = validator_for(schema)
    linear = validators.extend(base, {"pattern": _linear_pattern_keyword})
    return linear(schema)


def schema_problems(
    schema: dict[str, Any],
    params: dict[str, Any],
    *,
    given: Sequence[str] | None = None,
    partial: bool = False,
) -> list[dict[str, Any]]:
    """What breaks the JSON schema: unknown names first, then each rule, as {field, rule, input}."""
    # An undeclared name is an error unless the schema explicitly allows extra properties: a
    # typo must not silently fall back to the default.
    declared = schema.get("properties", {})
    problems: list[dict[str, Any]] = []
    extra = schema.get("additionalProperties")
    if extra is None or extra is False:
        allowed = ", ".join(declared) or "none"
        problems.extend(
            {"field": key, "rule": f"unknown parameter; allowed: {allowed}", "input": params[key]}
            for key in sorted(set(given if given is not None else params) - set(declared))
        )
    unsafe = unsafe_schema_parts(schema)
    if unsafe:  # stored before advertisements were checked for it
        return [
            *problems,
            *({"field": "params", "rule": f"the experiment's {u}", "input": None} for u in unsafe),
        ]
    validator = _validator(schema)
    for error in sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.path]):
        if error.validator == "additionalProperties" or (partial and error.validator == "required"):
            continue  # named one by one above; partial: required values come with each job
        path = ".".join(str(p) for p in error.path)
        if error.validator == "required" and not path:
            required = error.validator_value if isinstance(error.validator_value, list) else []
            missing = [n for n in required if n not in params]
            path = missing[0] if missing else ""
        problems.append({"field": path or "params", "rule": error.message, "input": error.instance})
    return problems


def advertised_params(*, item: CatalogItem, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters checked against an advertised JSON schema, with the advertised defaults."""
    declared = item.params_schema.get("properties", {})
    schema_defaults = {
        name: prop["default"]
        for name, prop in declared.items()
        if isinstance(prop, dict) and "default" in prop
    }
    merged = {**schema_defaults, **item.defaults, **params}
    problems = schema_problems(item.params_schema, merged, given=list(params))
    if problems:
        raise _invalid(item.name, problems)
    return merged


def item_params(*, item: CatalogItem, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters of a job of this catalog item, validated the way its origin allows."""
    if item.spec is not None:
        return validated_params(spec=item.spec, params=params)
    return advertised_params(item=item, params=params)


def check_advert(
    *, name: str, params_schema: dict[str, Any], defaults: dict[str, Any]
) -> None:
    """InvalidInput naming the experiment when its schema or its defaults are unusable."""
    # Every job of it would fail, so the agent hears it when it registers.
    try:
        validator_for(params_schema).check_schema(params_schema)
    except SchemaError as exc:
        raise InvalidInput(
            f"experiment {name!r}: params_schema is not a valid JSON schema: {exc.message}"
        ) from None
    unsafe = unsafe_schema_parts(params_schema)
    if unsafe:
        raise InvalidInput(f"experiment {name!r}: {'; '.join(unsafe[:5])}")
    problems = schema_problems(params_schema, defaults, partial=True)
    if problems:
        text = "; ".join(f"defaults.{p['field']}: {p['rule']}" for p in problems)
        raise InvalidInput(f"experiment {name!r}: its defaults break its schema: {text}")


def ensure_record(*, session: Session, item: CatalogItem) -> None:
    """Upsert the experiment row a job refers to (advertised experiments get theirs here)."""
    record = experiments_repository.get_record(session=session, name=item.name)
    if record is None:
        record = experiments_repository.add_record(session=session, name=item.name)
    elif item.builtin:
        return  # synced from code at start
    record.version = item.version
    record.description = item.description
    record.entrypoint = (
        item.spec.entrypoint if item.spec is not None else f"advertised: {item.source}"
    )[:300]
    record.params_schema = item.params_schema
    record.bounded_metrics = list(item.bounded_metrics)
    record.updated_at = utcnow()
    session.flush()


def bounded_metrics(*, session: Session, name: str, version: str) -> tuple[str, ...]:
    """The metrics this experiment version declares bounded in [0, 1] (besides those by name)."""
    for spec in catalog.builtin_specs():
        if spec.name == name:
            return spec.bounded_metrics
    declared = experiments_repository.advertised_bounded_metrics(
        session=session, name=name, version=version
    )
    if declared is None:
        # No agent advertises the version any more: the declaration stored with its newest job.
        record = experiments_repository.get_record(session=session, name=name)
        declared = (record.bounded_metrics or []) if record is not None else []
    return tuple(declared)


def sync_catalog(*, session: Session) -> None:
    """Upsert every built-in experiment into the experiment table (advertised ones get their
    row with their first job)."""
    for spec in catalog.builtin_specs():
        record = experiments_repository.get_record(session=session, name=spec.name)
        if record is None:
            record = experiments_repository.add_record(session=session, name=spec.name)
        record.version = spec.version
        record.description = spec.description
        record.entrypoint = spec.entrypoint
        record.params_schema = spec.params_schema()
        record.bounded_metrics = list(spec.bounded_metrics)
        record.updated_at = utcnow()


def reported_sources(*, session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every source the agents reported, live agents first, each with its agent."""
    found = experiments_repository.reported_sources(
        session=session, live_since=live_since(settings=settings)
    )
    found.sort(key=lambda s: not s.live)  # stable: newest advertisement first within each
    return [
        {
            "source": s.source,
            "ok": s.ok,
            "error": s.error,
            "experiments": s.experiments,
            "agent_id": s.agent_id,
            "agent": s.agent_name,
            "live": s.live,
        }
        for s in found
    ]


def failed_sources(*, session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Sources that failed to load on a live agent: the jobs page's banner."""
    return [
        s for s in reported_sources(session=session, settings=settings) if s["live"] and not s["ok"]
    ]
