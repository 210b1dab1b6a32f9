"""Determinism profiles: named presets, custom toggles, and their pre-import / in-process split.

Every toggle, its preset defaults and its help come from the table in seedlab/controls.py.

Both the server (validation, storage) and the runner (applying it) import this module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from seedlab.controls import CONTROLS, PRESET_NAMES, Runner, how_texts
from seedlab.controls import PresetName as PresetName  # re-exported: jobs/schemas.py

TOGGLES: tuple[str, ...] = tuple(row.name for row in CONTROLS)

# The toggles through which the run seed reaches the run: with all of them off, two runs "of the
# same seed" share nothing but a number.
SEED_TOGGLES: tuple[str, ...] = tuple(row.name for row in CONTROLS if row.seed)
# The toggles an audit job turns off one at a time unless told which.
AUDITED_TOGGLES: tuple[str, ...] = tuple(row.name for row in CONTROLS if row.audited)

Isolation = Literal["fork", "process"]

PRESETS: dict[str, dict[str, bool]] = {
    preset: {row.name: row.default(preset) for row in CONTROLS} for preset in PRESET_NAMES
}

# Variables a profile may set before the interpreter starts; anything else is refused because
# it could not matter to determinism and might leak into the fingerprint as noise.
ALLOWED_ENV_PATTERN = re.compile(
    r"^(TF_[A-Z0-9_]+|CUDA_[A-Z0-9_]+|OMP_[A-Z0-9_]+|MKL_[A-Z0-9_]+|KMP_[A-Z0-9_]+"
    r"|XLA_FLAGS|CUBLAS_WORKSPACE_CONFIG|KERAS_BACKEND)$"
)


class _ProfileSpecBase(BaseModel):
    """A profile as a user writes it: a preset plus optional per-toggle overrides."""

    model_config = ConfigDict(extra="forbid")

    preset: PresetName = "full"
    hash_seed_value: int = Field(default=0, ge=0, le=4294967295)
    env: dict[str, str] = Field(default_factory=dict)
    isolation: Isolation = "fork"
    trace: bool = Field(
        default=False,
        description="Record per-layer weight checksums after every optimizer step and a checksum "
        "of every input batch, so two runs can be compared step by step",
    )

    if TYPE_CHECKING:
        # The toggles are generated from the table (seedlab.controls): bool | None each.
        def __getattr__(self, name: str) -> bool | None: ...

    @field_validator("env")
    @classmethod
    def check_env_names(cls, env: dict[str, str]) -> dict[str, str]:
        """Raise ValueError naming the variables a profile may not set."""
        bad = sorted(name for name in env if not ALLOWED_ENV_PATTERN.match(name))
        if bad:
            raise ValueError(
                f"environment variables {bad} are not allowed; allowed are TF_*, CUDA_*, OMP_*, "
                "MKL_*, KMP_*, XLA_FLAGS, CUBLAS_WORKSPACE_CONFIG and KERAS_BACKEND"
            )
        return env


class _ProfileBase(BaseModel):
    """A fully resolved profile: every toggle decided. Stored on the job and sent to agents."""

    model_config = ConfigDict(extra="forbid")

    name: str
    hash_seed_value: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    isolation: Isolation = "fork"
    trace: bool = False

    if TYPE_CHECKING:
        # The toggles are generated from the table (seedlab.controls): one bool each.
        def __getattr__(self, name: str) -> bool: ...

    @model_validator(mode="before")
    @classmethod
    def _fill_new_toggles(cls, data: Any) -> Any:
        """A profile stored before a control existed gets that control's preset default."""
        if not isinstance(data, dict):
            return data
        missing = [name for name in TOGGLES if name not in data]
        if not missing:
            return data
        preset = str(data.get("name", "")).split("+", 1)[0]
        defaults = PRESETS.get(preset, PRESETS["none"])
        return {**data, **{name: defaults[name] for name in missing}}

    def toggles(self) -> dict[str, bool]:
        """Every toggle of the table as a plain dict."""
        return {name: bool(getattr(self, name)) for name in TOGGLES}

    def pre_import_env(self) -> dict[str, str | None]:
        """Variables to set (str) or remove (None) before the run interpreter starts."""
        env: dict[str, str | None] = {"TF_CPP_MIN_LOG_LEVEL": "2"}
        values = self.model_dump()
        for row in CONTROLS:
            for step in row.steps:
                if step.env is not None:
                    env.update(step.env(bool(values[row.name]), values))
        env.update(self.env)
        return env

    def how(self, imported: set[str] | None = None, runner: Runner = "script") -> dict[str, str]:
        """How each control is applied, in the words the run page shows (see controls.py)."""
        return how_texts(self.model_dump(), imported, runner)


def _toggle_fields(optional: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for row in CONTROLS:
        if optional:
            fields[row.name] = (bool | None, Field(default=None, description=row.help))
        else:
            fields[row.name] = (bool, Field(description=row.help))
    return fields


if TYPE_CHECKING:
    ProfileSpec = _ProfileSpecBase
    Profile = _ProfileBase
else:
    ProfileSpec = create_model(
        "ProfileSpec", __base__=_ProfileSpecBase, __module__=__name__, **_toggle_fields(True)
    )
    ProfileSpec.__doc__ = _ProfileSpecBase.__doc__
    Profile = create_model(
        "Profile", __base__=_ProfileBase, __module__=__name__, **_toggle_fields(False)
    )
    Profile.__doc__ = _ProfileBase.__doc__


def resolve_profile(spec: ProfileSpec | str) -> Profile:
    """Turn a preset name or a ProfileSpec into a fully decided Profile."""
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"unknown profile {spec!r}; allowed presets are {sorted(PRESETS)}")
        spec = ProfileSpec(preset=spec)
    toggles = dict(PRESETS[spec.preset])
    overridden = False
    for name in TOGGLES:
        value = getattr(spec, name)
        if value is not None and value != toggles[name]:
            toggles[name] = value
            overridden = True
    name = spec.preset + ("+custom" if overridden or spec.env else "")
    name += "+trace" if spec.trace else ""
    return Profile(
        name=name,
        hash_seed_value=spec.hash_seed_value,
        env=dict(spec.env),
        isolation=spec.isolation,
        trace=spec.trace,
        **toggles,
    )
