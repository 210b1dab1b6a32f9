"""ExperimentSpec: a named, versioned training function with a parameter schema (TF-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

# The separate sources of randomness a run context seeds (see runner/context.py): weight
# initialisation (the global seeds), data order (shuffles), the train/validation split.
SEED_SOURCES: tuple[str, ...] = ("init", "order", "split")
# What an experiment that declares nothing has: everything follows the global seeds.
DEFAULT_SEED_SOURCES: tuple[str, ...] = ("init",)


def check_seed_sources(sources: Any, *, where: str) -> tuple[str, ...]:
    """The declared sources in canonical order; ValueError naming the allowed ones."""
    if isinstance(sources, str) or not all(isinstance(s, str) for s in sources or ()):
        raise ValueError(f"{where}: seed_sources is a list drawn from {list(SEED_SOURCES)}")
    unknown = sorted(set(sources) - set(SEED_SOURCES))
    if unknown or "init" not in sources:
        raise ValueError(
            f"{where}: seed_sources {list(sources)} must include 'init' and name only "
            f"{list(SEED_SOURCES)}"
        )
    return tuple(s for s in SEED_SOURCES if s in sources)


# Metrics an experiment may declare bounded in [0, 1], beyond those bounded by name
# (analysis/spread.is_bounded_metric): as many and as long as a run's final metrics allow.
MAX_BOUNDED_METRICS = 100
MAX_METRIC_NAME = 100


def check_bounded_metrics(metrics: Any, *, where: str) -> tuple[str, ...]:
    """The declared [0, 1] metric names, sorted and unique; ValueError saying what is allowed."""
    allowed = (
        f"a list of metric names (at most {MAX_BOUNDED_METRICS}, each 1 to {MAX_METRIC_NAME} "
        "characters) such as ['dice', 'hit_rate']"
    )
    if isinstance(metrics, str | bytes) or not isinstance(metrics, list | tuple):
        raise ValueError(f"{where}: bounded_metrics is {allowed}, got {metrics!r}")
    bad = [m for m in metrics if not isinstance(m, str) or not 0 < len(m) <= MAX_METRIC_NAME]
    if bad or len(metrics) > MAX_BOUNDED_METRICS:
        shown = repr(bad[0])[:120] if bad else f"{len(metrics)} names"
        raise ValueError(f"{where}: bounded_metrics is {allowed}, got {shown}")
    return tuple(sorted(set(metrics)))


if TYPE_CHECKING:
    from seedlab.experiments.project import CommandSpec


@dataclass(frozen=True)
class ExperimentSpec:
    """A named, versioned training function with a parameter schema."""

    name: str
    version: str
    description: str
    params_model: type[BaseModel]
    entrypoint: str
    # Where it was loaded from, for people: "builtin", "entry point NAME (VALUE)",
    # "module my_models", "file /abs/my_model.py", "project /abs/seedlab.toml".
    source: str = "builtin"
    # Set for an experiment declared as a command in a project file (run by the launcher as a
    # script, never imported); None for a training function.
    command: CommandSpec | None = None
    # The sources of randomness it seeds separately (ctx.init_seed, ctx.order_seed,
    # ctx.split_seed): a decompose job varies each one; one not listed follows the init seed.
    seed_sources: tuple[str, ...] = DEFAULT_SEED_SOURCES
    # Metrics it declares bounded in [0, 1] besides those bounded by name (accuracy, AUC, ...):
    # the report gives them an interval that stays inside the bounds.
    bounded_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"experiment {self.name!r}"
        checked = check_seed_sources(self.seed_sources, where=where)
        object.__setattr__(self, "seed_sources", checked)  # frozen: canonical order once
        bounded = check_bounded_metrics(self.bounded_metrics, where=where)
        object.__setattr__(self, "bounded_metrics", bounded)

    def params_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (drives the browser form)."""
        return self.params_model.model_json_schema()

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises pydantic.ValidationError."""
        return self.params_model.model_validate(params).model_dump()
