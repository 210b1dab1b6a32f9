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

    def __post_init__(self) -> None:
        checked = check_seed_sources(self.seed_sources, where=f"experiment {self.name!r}")
        object.__setattr__(self, "seed_sources", checked)  # frozen: canonical order once

    def params_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (drives the browser form)."""
        return self.params_model.model_json_schema()

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises pydantic.ValidationError."""
        return self.params_model.model_validate(params).model_dump()
