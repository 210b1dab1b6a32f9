"""`@seedlab.experiment`: a plain training function becomes a catalog experiment (TF-free).

    from seedlab import experiment, RunContext

    @experiment(name="fraud_mlp", params=FraudParams)
    def train(params: FraudParams, ctx: RunContext) -> None: ...

The function is returned unchanged, with its ExperimentSpec in `__seedlab_experiment__`; the
loader finds it when it imports the module (a file path, a module name or an entry point).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from seedlab.experiments.spec import (
    DEFAULT_SEED_SOURCES,
    ExperimentSpec,
    check_bounded_metrics,
    check_seed_sources,
)
from seedlab.experiments.versioning import source_version

SPEC_ATTRIBUTE = "__seedlab_experiment__"
DECLARED_VERSION_ATTRIBUTE = "__seedlab_declared_version__"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")

F = TypeVar("F", bound=Callable[..., Any])


class NoParams(BaseModel):
    """An experiment without parameters: any given parameter is an error."""

    model_config = ConfigDict(extra="forbid")


def experiment(
    *,
    name: str,
    params: type[BaseModel] = NoParams,
    description: str | None = None,
    version: str | None = None,
    seed_sources: tuple[str, ...] | list[str] = DEFAULT_SEED_SOURCES,
    bounded_metrics: tuple[str, ...] | list[str] = (),
) -> Callable[[F], F]:
    """Declare `def train(params, ctx)` as the experiment `name` with the parameter model
    `params`; the version is the short sha256 of the module's source (prefixed by `version`).

    seed_sources: which of "init", "order", "split" the function seeds separately (from
    ctx.init_seed, ctx.order_seed, ctx.split_seed); a decompose job varies each one.
    bounded_metrics: metrics it reports that lie in [0, 1] (such as "dice"), besides those
    bounded by name (accuracy, AUC, precision, recall, F1): their intervals stay in [0, 1]."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"@experiment(name={name!r}): use a letter, then letters, digits, '_', '.' or '-' "
            "(at most 100 characters)"
        )
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise TypeError(
            f"@experiment(name={name!r}, params=...): params must be a pydantic BaseModel "
            f"subclass (the parameter schema), got {params!r}"
        )

    sources = check_seed_sources(seed_sources, where=f"@experiment(name={name!r})")
    bounded = check_bounded_metrics(bounded_metrics, where=f"@experiment(name={name!r})")

    def attach(function: F) -> F:
        module = getattr(function, "__module__", None)
        qualname = getattr(function, "__qualname__", "")
        if not callable(function) or not module or "<" in qualname or "." in qualname:
            raise TypeError(
                f"@experiment(name={name!r}) decorates a module-level function "
                "`def train(params, ctx)`, so run processes can import it by name"
            )
        if module == "__main__":
            raise TypeError(
                f"@experiment(name={name!r}) in a script run as __main__: load the file with "
                "`--experiments path/to/file.py` instead of running it"
            )
        doc = (function.__doc__ or "").strip().splitlines()
        spec = ExperimentSpec(
            name=name,
            version=source_version(module, version),
            description=description or (doc[0] if doc else ""),
            params_model=params,
            entrypoint=f"{module}:{qualname}",
            source=f"module {module}",
            seed_sources=sources,
            bounded_metrics=bounded,
        )
        setattr(function, SPEC_ATTRIBUTE, spec)
        setattr(function, DECLARED_VERSION_ATTRIBUTE, version)
        return function

    return attach


def spec_of(value: Any) -> ExperimentSpec | None:
    """The ExperimentSpec a decorated function carries, or None; its version is computed again
    from the source now (a package's sibling module may have changed since the import)."""
    spec = getattr(value, SPEC_ATTRIBUTE, None) if callable(value) else None
    if not isinstance(spec, ExperimentSpec):
        return None
    module = spec.entrypoint.partition(":")[0]
    version = source_version(module, getattr(value, DECLARED_VERSION_ATTRIBUTE, None))
    return spec if version == spec.version else replace(spec, version=version)
