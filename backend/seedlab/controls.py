"""The one table of determinism controls: each row generates a profile field, its preset defaults,
its help (form, CLI, API schema) and how the run page says it was applied.

Adding a control = one `Control` row in `CONTROLS` (or `register_control` before
`seedlab.profiles` is imported) + its apply function under runner/ (named by a "module:function"
string, so this module and everything the server imports stay free of TensorFlow, PyTorch and
JAX). docs/architecture.md has the recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

PRESET_NAMES: tuple[str, ...] = ("full", "seeds_only", "none")
PresetName = Literal["full", "seeds_only", "none"]

# When a step runs: "env" before the run's interpreter starts (a variable in its environment),
# "start" at interpreter start, or the top-level module whose import triggers it.
When = Literal["env", "start", "tensorflow", "keras", "torch", "jax"]
FRAMEWORK_NAMES: dict[str, str] = {
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "torch": "PyTorch",
    "jax": "JAX",
}

# Who applies the in-process steps: the start-up hook inside a command experiment's unmodified
# script, or the run process of a catalog (decorated) experiment, before it runs the experiment.
Runner = Literal["script", "catalog"]

# How a run says a control did not take effect (its framework was never imported).
NOT_APPLIED = "not applied"

PRESET_HELP: dict[str, str] = {
    "full": "Every seed, a fixed hash seed, deterministic kernels (TensorFlow, PyTorch, XLA) and "
    "single-threaded pools: same-seed runs should be bit-identical.",
    "seeds_only": "Every seed, but non-deterministic kernels and thread pools stay on: "
    "faster, may differ in the last bits.",
    "none": "Nothing seeded or pinned: shows the run-to-run variance you get without control.",
}

# (on, values) -> variables to set (str) or remove (None). `values` holds the profile's toggles
# and plain fields (hash_seed_value, ...).
EnvFunction = Callable[[bool, Mapping[str, Any]], dict[str, str | None]]
# In-process apply function: (on, seed, values) -> None, or a "module:function" naming one.
ApplyFunction = Callable[[bool, int, Mapping[str, Any]], None]


@dataclass(frozen=True)
class Step:
    """One place a control acts: the environment, interpreter start or a framework's import."""

    when: When
    # How the run page describes this step when the control is on ({hash_seed_value} etc. are
    # filled from the profile).
    on: str
    apply: str | ApplyFunction | None = None  # in-process steps
    env: EnvFunction | None = None  # "env" steps
    # Steps of one `when` run in table order, lower `order` first (TF's thread pools must be
    # set before anything starts its runtime).
    order: int = 0
    # The same step in a catalog run, where the run process applies it (None: worded as `on`).
    catalog: str | None = None


@dataclass(frozen=True)
class Control:
    """One row of the table."""

    name: str
    help: str  # one line: the form, `--help`, the API schema and README
    full: bool
    seeds_only: bool
    steps: tuple[Step, ...]
    none: bool = False
    # How the run page describes the control when it is off (in a catalog run: catalog_off,
    # when set).
    off: str = "off"
    catalog_off: str | None = None
    # The run seed reaches the run through it (decompose and compare need these on).
    seed: bool = False
    # Audited by default (an audit job turns each audited control off in one variant).
    audited: bool = True

    def default(self, preset: str) -> bool:
        """This control's value under a preset."""
        value: bool = getattr(self, preset)
        return value

    def frameworks(self) -> list[str]:
        """The frameworks whose import applies one of this control's steps."""
        return [s.when for s in self.steps if s.when in FRAMEWORK_NAMES]

    def how(
        self,
        values: Mapping[str, Any],
        imported: set[str] | None = None,
        runner: Runner = "script",
    ) -> str:
        """How the run page describes this control.

        imported: the frameworks the run imported (None: all of them, as when describing the
        plan rather than a finished run). Steps of frameworks never imported are left out; a
        control none of whose steps ran says which import it waited for.
        runner: who applied the steps (a catalog run's words where the row has them).
        """
        catalog = runner == "catalog"
        if not values.get(self.name):
            off = self.catalog_off if catalog and self.catalog_off is not None else self.off
            return off.format(**values)
        done = [
            (step.catalog if catalog and step.catalog is not None else step.on).format(**values)
            for step in self.steps
            if imported is None or step.when not in FRAMEWORK_NAMES or step.when in imported
        ]
        if done:
            return "; ".join(done)
        names = " or ".join(FRAMEWORK_NAMES[f] for f in dict.fromkeys(self.frameworks()))
        who = "the experiment" if catalog else "the script"
        return f"{NOT_APPLIED}: {who} never imported {names}"


def _hash_seed_env(on: bool, values: Mapping[str, Any]) -> dict[str, str | None]:
    return {"PYTHONHASHSEED": str(values.get("hash_seed_value", 0)) if on else None}


def _set(name: str, value: str) -> EnvFunction:
    def env(on: bool, values: Mapping[str, Any]) -> dict[str, str | None]:
        return {name: value} if on else {}

    return env


APPLY = "seedlab.runner.controls"

CONTROLS: list[Control] = [
    Control(
        name="hash_seed",
        help="PYTHONHASHSEED set before the interpreter starts",
        full=True,
        seeds_only=True,
        steps=(
            Step(
                "env",
                "PYTHONHASHSEED={hash_seed_value} in the environment before start",
                env=_hash_seed_env,
            ),
        ),
        off="PYTHONHASHSEED removed from the environment: hash randomization on",
    ),
    Control(
        name="python_seed",
        help="random.seed(seed)",
        full=True,
        seeds_only=True,
        seed=True,
        steps=(
            Step(
                "start",
                "start-up hook: random.seed(seed) at interpreter start",
                apply=f"{APPLY}:python_seed",
                catalog="random.seed(seed) by the run process before the experiment",
            ),
        ),
        off="start-up hook: random.seed() from OS entropy at interpreter start",
        catalog_off="not seeded: random.seed() from OS entropy by the run process",
    ),
    Control(
        name="numpy_seed",
        help="np.random.seed(seed)",
        full=True,
        seeds_only=True,
        seed=True,
        steps=(
            Step(
                "start",
                "start-up hook: np.random.seed(seed) at interpreter start",
                apply=f"{APPLY}:numpy_seed",
                catalog="np.random.seed(seed) by the run process before the experiment",
            ),
        ),
        off="start-up hook: np.random.seed() from OS entropy at interpreter start",
        catalog_off="not seeded: np.random.seed() from OS entropy by the run process",
    ),
    Control(
        name="tf_seed",
        help="tf.random.set_seed(seed)",
        full=True,
        seeds_only=True,
        seed=True,
        steps=(
            Step(
                "tensorflow",
                "start-up hook: tf.random.set_seed(seed) when TensorFlow is imported",
                apply=f"{APPLY}:tf_seed",
                catalog="tf.random.set_seed(seed) by the run process before the experiment",
            ),
        ),
        off="not set",
    ),
    Control(
        name="op_determinism",
        help="tf.config.experimental.enable_op_determinism()",
        full=True,
        seeds_only=False,
        steps=(
            Step(
                "tensorflow",
                "TF_DETERMINISTIC_OPS=1 in the environment before start and "
                "enable_op_determinism() when TensorFlow is imported",
                apply=f"{APPLY}:op_determinism",
                catalog="tf.config.experimental.enable_op_determinism() by the run process "
                "before the experiment",
            ),
        ),
    ),
    Control(
        name="single_thread",
        help="one inter-/intra-op thread (TF, PyTorch, XLA on CPU), OMP_NUM_THREADS=1",
        full=True,
        seeds_only=False,
        steps=(
            Step(
                "env",
                "OMP_NUM_THREADS=1 in the environment before start",
                # Keeps BLAS/OpenMP pools from competing with parallel runs; the frameworks'
                # own pools are limited in-process.
                env=_set("OMP_NUM_THREADS", "1"),
            ),
            Step(
                "tensorflow",
                "TF's inter-op and intra-op pools set to 1 when TensorFlow is imported",
                apply=f"{APPLY}:tf_threads",
                catalog="TF's inter-op and intra-op pools set to 1 by the run process before "
                "the experiment",
                order=-1,
            ),
            Step(
                "torch",
                "torch.set_num_threads(1) and set_num_interop_threads(1) when PyTorch is imported",
                apply=f"{APPLY}:torch_threads",
            ),
            Step(
                "jax",
                "XLA_FLAGS gets --xla_cpu_multi_thread_eigen=false "
                "intra_op_parallelism_threads=1 when JAX is imported, before its backend starts",
                apply=f"{APPLY}:jax_threads",
            ),
        ),
        off="off (the frameworks' default pools)",
    ),
    Control(
        name="tf_data_seed",
        help="seeded tf.data shuffles",
        full=True,
        seeds_only=True,
        seed=True,
        steps=(
            Step(
                "tensorflow",
                "no op-level seed is passed to an unmodified script: shuffles without seed= "
                "derive theirs from the global seed{tf_seed_note}",
                catalog="the experiment's shuffles take the run's order seed (ctx.shuffle_seed); "
                "shuffles without seed= derive theirs from the global seed{tf_seed_note}",
            ),
        ),
    ),
    Control(
        name="onednn_off",
        help="TF_ENABLE_ONEDNN_OPTS=0 (oneDNN kernels change round-off)",
        full=False,
        seeds_only=False,
        steps=(
            Step(
                "env",
                "TF_ENABLE_ONEDNN_OPTS=0 in the environment before start",
                env=_set("TF_ENABLE_ONEDNN_OPTS", "0"),
            ),
        ),
        off="TF's default",
    ),
    Control(
        name="torch_seed",
        help="torch.manual_seed(seed): PyTorch's CPU and every CUDA device's generator",
        full=True,
        seeds_only=True,
        seed=True,
        audited=False,
        steps=(
            Step(
                "torch",
                "start-up hook: torch.manual_seed(seed) (CPU and every CUDA device) when PyTorch "
                "is imported",
                apply=f"{APPLY}:torch_seed",
                catalog="torch.manual_seed(seed) (CPU and every CUDA device) by the run process "
                "when the experiment imports PyTorch",
            ),
        ),
        off="not set (PyTorch seeds itself from OS entropy)",
    ),
    Control(
        name="torch_loader_seed",
        help="DataLoader: a seeded torch.Generator when none is given, and a worker_init_fn that "
        "seeds random and NumPy in each worker",
        full=True,
        seeds_only=True,
        seed=True,
        audited=False,
        steps=(
            Step(
                "torch",
                "DataLoader built without generator= gets torch.Generator().manual_seed(seed); "
                "with workers and no worker_init_fn, each worker seeds random and NumPy from "
                "its torch seed",
                apply=f"{APPLY}:torch_loader_seed",
            ),
        ),
        off="off",
    ),
    Control(
        name="torch_deterministic",
        help="torch.use_deterministic_algorithms(True), CUBLAS_WORKSPACE_CONFIG=:4096:8, cuDNN "
        "deterministic and benchmark off",
        full=True,
        seeds_only=False,
        audited=False,
        steps=(
            Step(
                "torch",
                "CUBLAS_WORKSPACE_CONFIG=:4096:8 (unless set) before CUDA starts, "
                "torch.use_deterministic_algorithms(True), cudnn.deterministic=True and "
                "cudnn.benchmark=False when PyTorch is imported",
                apply=f"{APPLY}:torch_deterministic",
            ),
        ),
    ),
    Control(
        name="torch_tf32_off",
        help="TF32 off for PyTorch matmuls and cuDNN convolutions (full float32 precision)",
        full=True,
        seeds_only=False,
        audited=False,
        steps=(
            Step(
                "torch",
                "torch.backends.cuda.matmul.allow_tf32=False, cudnn.allow_tf32=False, "
                "float32 matmul precision 'highest' when PyTorch is imported",
                apply=f"{APPLY}:torch_tf32_off",
            ),
        ),
        off="PyTorch's default",
    ),
    Control(
        name="keras_seed",
        help="Keras 3's global seed (keras.utils.set_random_seed's own part) under any backend",
        full=True,
        seeds_only=True,
        seed=True,
        audited=False,
        steps=(
            Step(
                "keras",
                "Keras' global random seed set and its global SeedGenerator reset (what "
                "keras.utils.set_random_seed(seed) does besides seeding Python, NumPy and TF, "
                "which have their own toggles) when Keras is imported",
                apply=f"{APPLY}:keras_seed",
            ),
        ),
        off="not set",
    ),
    Control(
        name="xla_deterministic",
        help="XLA_FLAGS=--xla_gpu_deterministic_ops=true for JAX (deterministic GPU kernels)",
        full=True,
        seeds_only=False,
        audited=False,
        steps=(
            Step(
                "jax",
                "XLA_FLAGS gets --xla_gpu_deterministic_ops=true when JAX is imported, before "
                "its backend starts",
                apply=f"{APPLY}:xla_deterministic",
            ),
        ),
    ),
]


def register_control(control: Control) -> None:
    """Add a row to the table; call it before `seedlab.profiles` is imported (the profile
    models are generated once, at that import)."""
    import sys

    if "seedlab.profiles" in sys.modules:
        raise RuntimeError("register controls before seedlab.profiles is imported")
    if any(c.name == control.name for c in CONTROLS):
        raise ValueError(f"a control named {control.name!r} exists already")
    CONTROLS.append(control)


def control(name: str) -> Control:
    """The row of that name."""
    for row in CONTROLS:
        if row.name == name:
            return row
    raise KeyError(name)


def template_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's values plus the derived words the `how` texts use."""
    return {
        **values,
        "tf_seed_note": "" if values.get("tf_seed") else ", which is not set",
    }


def how_texts(
    values: Mapping[str, Any], imported: set[str] | None = None, runner: Runner = "script"
) -> dict[str, str]:
    """How every control was applied, in table order (see Control.how)."""
    filled = template_values(values)
    return {row.name: row.how(filled, imported, runner) for row in CONTROLS}


@dataclass(frozen=True)
class AppliedToggle:
    """One control across a job's runs: asked for, and in how many runs it took effect."""

    name: str
    requested: bool
    reported: int  # runs that reported what they applied
    applied: int  # of those, runs where the control took effect
    reason: str | None  # why it did not take effect (the first run's words), when it did not


def applied_toggles(
    requested: Mapping[str, Any], applied_profiles: list[Mapping[str, Any]]
) -> list[AppliedToggle]:
    """Summarise the runs' applied profiles per control, in table order.

    A run's `how` (what the run page shows) says "not applied: ..." for a control whose
    framework it never imported. A run recorded before `how` existed counts as having applied
    what was requested.
    """
    rows = []
    for row in CONTROLS:
        on = bool(requested.get(row.name))
        applied = 0
        reason = None
        for profile in applied_profiles:
            text = (profile.get("how") or {}).get(row.name, "")
            if on and not text.startswith(NOT_APPLIED):
                applied += 1
            elif on and reason is None:
                reason = text
        rows.append(
            AppliedToggle(
                name=row.name,
                requested=on,
                reported=len(applied_profiles),
                applied=applied,
                reason=reason,
            )
        )
    return rows


def toggles_help() -> str:
    """One line per control: name, presets that turn it on, help (for `--help` texts)."""
    lines = []
    for row in CONTROLS:
        on = [p for p in PRESET_NAMES if row.default(p)]
        lines.append(f"{row.name} ({', '.join(on) or 'no preset'}): {row.help}")
    return "; ".join(lines)
