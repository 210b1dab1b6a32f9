"""Determinism profiles: named presets, custom toggles, and their pre-import / in-process split.

Both the server (validation, storage) and the runner (applying it) import this module.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TOGGLES: tuple[str, ...] = (
    "hash_seed",
    "python_seed",
    "numpy_seed",
    "tf_seed",
    "op_determinism",
    "single_thread",
    "tf_data_seed",
    "onednn_off",
)

# The toggles through which the run seed reaches the run: with all of them off, two runs "of the
# same seed" share nothing but a number.
SEED_TOGGLES: tuple[str, ...] = ("python_seed", "numpy_seed", "tf_seed", "tf_data_seed")

PresetName = Literal["full", "seeds_only", "none"]
Isolation = Literal["fork", "process"]

PRESETS: dict[str, dict[str, bool]] = {
    "full": {
        "hash_seed": True,
        "python_seed": True,
        "numpy_seed": True,
        "tf_seed": True,
        "op_determinism": True,
        "single_thread": True,
        "tf_data_seed": True,
        "onednn_off": False,
    },
    "seeds_only": {
        "hash_seed": True,
        "python_seed": True,
        "numpy_seed": True,
        "tf_seed": True,
        "op_determinism": False,
        "single_thread": False,
        "tf_data_seed": True,
        "onednn_off": False,
    },
    "none": dict.fromkeys(TOGGLES, False),
}

# Variables a profile may set before the interpreter starts; anything else is refused because
# it could not matter to determinism and might leak into the fingerprint as noise.
ALLOWED_ENV_PATTERN = re.compile(
    r"^(TF_[A-Z0-9_]+|CUDA_[A-Z0-9_]+|OMP_[A-Z0-9_]+|MKL_[A-Z0-9_]+|KMP_[A-Z0-9_]+"
    r"|XLA_FLAGS|CUBLAS_WORKSPACE_CONFIG)$"
)


class ProfileSpec(BaseModel):
    """A profile as a user writes it: a preset plus optional per-toggle overrides."""

    model_config = ConfigDict(extra="forbid")

    preset: PresetName = "full"
    hash_seed: bool | None = None
    python_seed: bool | None = None
    numpy_seed: bool | None = None
    tf_seed: bool | None = None
    op_determinism: bool | None = None
    single_thread: bool | None = None
    tf_data_seed: bool | None = None
    onednn_off: bool | None = None
    hash_seed_value: int = Field(default=0, ge=0, le=4294967295)
    env: dict[str, str] = Field(default_factory=dict)
    isolation: Isolation = "fork"
    trace: bool = Field(
        default=False,
        description="Record per-layer weight checksums after every optimizer step and a checksum "
        "of every input batch, so two runs can be compared step by step",
    )

    @field_validator("env")
    @classmethod
    def check_env_names(cls, env: dict[str, str]) -> dict[str, str]:
        """Raise ValueError naming the variables a profile may not set."""
        bad = sorted(name for name in env if not ALLOWED_ENV_PATTERN.match(name))
        if bad:
            raise ValueError(
                f"environment variables {bad} are not allowed; allowed are TF_*, CUDA_*, OMP_*, "
                "MKL_*, KMP_*, XLA_FLAGS and CUBLAS_WORKSPACE_CONFIG"
            )
        return env


class Profile(BaseModel):
    """A fully resolved profile: every toggle decided. Stored on the job and sent to agents."""

    model_config = ConfigDict(extra="forbid")

    name: str
    hash_seed: bool
    python_seed: bool
    numpy_seed: bool
    tf_seed: bool
    op_determinism: bool
    single_thread: bool
    tf_data_seed: bool
    onednn_off: bool
    hash_seed_value: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    isolation: Isolation = "fork"
    trace: bool = False

    def toggles(self) -> dict[str, bool]:
        """The eight toggles as a plain dict."""
        return {name: bool(getattr(self, name)) for name in TOGGLES}

    def pre_import_env(self) -> dict[str, str | None]:
        """Variables to set (str) or remove (None) before the run interpreter starts."""
        env: dict[str, str | None] = {"TF_CPP_MIN_LOG_LEVEL": "2"}
        env["PYTHONHASHSEED"] = str(self.hash_seed_value) if self.hash_seed else None
        if self.onednn_off:
            env["TF_ENABLE_ONEDNN_OPTS"] = "0"
        if self.single_thread:
            # Keeps BLAS/OpenMP pools from competing with parallel runs; TF's own pools are
            # limited in-process.
            env["OMP_NUM_THREADS"] = "1"
        env.update(self.env)
        return env


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
