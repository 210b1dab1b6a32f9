"""ExperimentSpec: a named, versioned training function with a parameter schema (TF-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

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

    def params_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (drives the browser form)."""
        return self.params_model.model_json_schema()

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated parameters with defaults filled in; raises pydantic.ValidationError."""
        return self.params_model.model_validate(params).model_dump()
