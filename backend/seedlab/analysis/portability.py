"""Portability warnings: what would break bit-identity on another machine (pure).

The run process extracts plain facts from the model it trains and the data it feeds (layer
classes, the op types of the traced train step, the tf.data stages, a few flags); this module
decides which of them make a bitwise result here not carry over to another machine, and says
where and what to do. Op lists follow TensorFlow 2.21's kernels (`OpDeterminismRequired()`
checks) and the `tf.config.experimental.enable_op_determinism` documentation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NO_DETERMINISTIC_GPU_KERNEL = "no_deterministic_gpu_kernel"
NONDETERMINISTIC_GPU_KERNEL = "nondeterministic_gpu_kernel"
NONDETERMINISTIC_DATA_STAGE = "nondeterministic_data_stage"
XLA_COMPILED = "xla_compiled"
ONEDNN_ENABLED = "onednn_enabled"
UNSEEDED_RANDOM_OP = "unseeded_random_op"

# Every portability warning a run can carry (a run sends at most MAX_WARNINGS of them).
PORTABILITY_CODES = (
    NO_DETERMINISTIC_GPU_KERNEL,
    NONDETERMINISTIC_GPU_KERNEL,
    NONDETERMINISTIC_DATA_STAGE,
    XLA_COMPILED,
    ONEDNN_ENABLED,
    UNSEEDED_RANDOM_OP,
)
MAX_WARNINGS = 20

# Op types whose GPU kernel raises UnimplementedError under op determinism: there is no
# deterministic GPU implementation at all. Value: what the op comes from, and what to do.
NO_GPU_DETERMINISM: dict[str, tuple[str, str]] = {
    "ResizeNearestNeighborGrad": (
        "the backprop of a nearest-neighbour resize (tf.image.resize(method='nearest'), "
        "keras.layers.Resizing(interpolation='nearest'))",
        "resize with interpolation='bilinear', or upsample with keras.layers.UpSampling2D "
        "(Keras 3 repeats pixels there, no resize kernel), or stop the gradient before it",
    ),
    "FusedBatchNormGrad": (
        "the backprop of a fused batch norm run in inference mode "
        "(tf.compat.v1.nn.fused_batch_norm(is_training=False) with gradients flowing through)",
        "train the batch norm in training mode, stop the gradient before it, or use "
        "keras.layers.BatchNormalization (not fused in Keras 3)",
    ),
    "Bincount": (
        "tf.math.bincount",
        "count with tf.one_hot(...) and tf.reduce_sum, or count in the tf.data pipeline",
    ),
    "DenseBincount": (
        "tf.math.bincount on dense input (also keras.layers.CategoryEncoding in count mode)",
        "count with tf.one_hot(...) and tf.reduce_sum, or count in the tf.data pipeline",
    ),
    "CropAndResizeGradImage": (
        "the backprop of tf.image.crop_and_resize to the image",
        "crop in the tf.data pipeline, or stop the gradient to the image",
    ),
    "CropAndResizeGradBoxes": (
        "the backprop of tf.image.crop_and_resize to the boxes",
        "stop the gradient to the boxes (tf.stop_gradient)",
    ),
    "AdjustContrastv2": (
        "tf.image.adjust_contrast / tf.image.random_contrast",
        "adjust contrast in the tf.data pipeline (on the CPU)",
    ),
    "SparseTensorDenseMatMul": (
        "tf.sparse.sparse_dense_matmul",
        "multiply dense tensors (tf.sparse.to_dense, then tf.matmul)",
    ),
}
for _version in ("V2", "V3"):
    NO_GPU_DETERMINISM["FusedBatchNormGrad" + _version] = NO_GPU_DETERMINISM["FusedBatchNormGrad"]

# Op types whose default GPU kernel accumulates with atomics (the sum order changes from run to
# run); TensorFlow picks a deterministic kernel (sorted, or on the CPU) only under op
# determinism. Value: what the op comes from.
GPU_NEEDS_OP_DETERMINISM: dict[str, str] = {
    "UnsortedSegmentSum": "tf.math.unsorted_segment_sum/mean/sqrt_n (and the gradient of "
    "tf.gather or an Embedding, summed into the dense variable)",
    "UnsortedSegmentProd": "tf.math.unsorted_segment_prod",
    "SegmentSum": "tf.math.segment_sum",
    "SegmentProd": "tf.math.segment_prod",
    "ScatterNd": "tf.scatter_nd",
    "TensorScatterAdd": "tf.tensor_scatter_nd_add",
    "TensorScatterSub": "tf.tensor_scatter_nd_sub",
    "TensorScatterUpdate": "tf.tensor_scatter_nd_update (duplicate indices)",
    "ResourceScatterAdd": "Variable.scatter_add",
    "ResourceScatterNdAdd": "Variable.scatter_nd_add",
    "SoftmaxCrossEntropyWithLogits": "tf.nn.softmax_cross_entropy_with_logits",
    "SparseSoftmaxCrossEntropyWithLogits": "tf.nn.sparse_softmax_cross_entropy_with_logits",
}

# Stateful random ops: an op whose seed and seed2 attributes are both 0 draws its seed from the
# OS when it is created (no op seed and no global seed when it was traced).
STATEFUL_RANDOM_OPS = frozenset(
    {
        "RandomUniform",
        "RandomUniformInt",
        "RandomStandardNormal",
        "TruncatedNormal",
        "ParameterizedTruncatedNormal",
        "RandomShuffle",
        "Multinomial",
        "RandomGamma",
        "RandomPoisson",
        "RandomPoissonV2",
    }
)

@dataclass(frozen=True)
class GraphOp:
    """One node of the traced train step (nested functions included)."""

    type: str
    name: str
    # FusedBatchNormGrad*: whether the batch norm ran in training mode.
    is_training: bool | None = None
    # Stateful random ops: the op-level seeds as traced (both 0: unseeded).
    seed: int | None = None
    seed2: int | None = None
    # A function call XLA must compile (`_XlaMustCompile`).
    xla: bool = False


@dataclass(frozen=True)
class DataStage:
    """One stage of a tf.data pipeline fed to fit, in pipeline order (source first)."""

    # The Dataset method that made it ("map", "interleave", "batch", "shuffle", ...).
    method: str
    # TensorFlow's name for it, e.g. "_ParallelMapDataset".
    kind: str
    # Stages with a `deterministic` argument: "true", "false" or "default" (follow options).
    deterministic: str | None = None
    # Shuffles: (seed, seed2) as built; (0, 0) is a shuffle with no seed at all.
    seeds: tuple[int, int] | None = None
    # The stage's function (map, filter, interleave): its stateful random ops, as traced.
    random_ops: tuple[GraphOp, ...] = ()


@dataclass(frozen=True)
class LayerFact:
    """A layer of the model (nested layers included)."""

    name: str
    class_name: str
    # The layer's Keras randomness (a SeedGenerator: dropout, noise, augmentation; or a random
    # weight initializer) was built with seed=None, so its seed comes from Python's `random`.
    default_seed: bool = False


@dataclass(frozen=True)
class FitFacts:
    """What the run process saw of one `model.fit`: model, traced train step and data."""

    layers: Sequence[LayerFact] = ()
    ops: Sequence[GraphOp] = ()
    data_stages: Sequence[DataStage] = ()
    # tf.data.Options.deterministic of the dataset fed to fit (None: not set).
    data_options_deterministic: bool | None = None
    # Keras' model.jit_compile after compile() resolved it.
    jit_compile: bool = False
    # In effect in this run (read back): op determinism, and whether Python's `random` (the
    # source of Keras' default seeds) was seeded by the profile.
    op_determinism: bool = False
    python_seeded: bool = True


# The server takes `where` up to 500 characters; a deeply nested op name is cut well before.
MAX_WHERE = 300


def _warning(code: str, where: str, message: str) -> dict[str, Any]:
    return {"code": code, "where": where[:MAX_WHERE], "message": message}


_SUFFIX = re.compile(r"_\d+$")


def layer_of(op_name: str, layer_names: Sequence[str]) -> str | None:
    """The innermost layer whose name scope holds the op (Keras adds `_N` to scope names)."""
    known = set(layer_names)
    found = None
    for part in op_name.split("/")[:-1]:
        if part in known:
            found = part
        elif _SUFFIX.sub("", part) in known:
            found = _SUFFIX.sub("", part)
    return found


def _op_where(op: GraphOp, layers: Sequence[LayerFact]) -> str:
    layer = layer_of(op.name, [layer.name for layer in layers])
    backprop = "backprop of " if "gradient_tape/" in op.name else ""
    if layer is not None:
        classes = {item.name: item.class_name for item in layers}
        return f"{backprop}layer {layer} ({classes[layer]}): op {op.type}"
    return f"op {op.type} ({_short_name(op.name)})"


def _short_name(op_name: str) -> str:
    """The op's name without the traced function's prefix (`__inference_..._123/`)."""
    parts = op_name.split("/")
    if parts and parts[0].startswith(("__inference_", "__forward_", "__backward_")):
        parts = parts[1:]
    return "/".join(parts)


def fit_warnings(facts: FitFacts) -> list[dict[str, Any]]:
    """The portability warnings of one fit: GPU kernels, data stages, XLA, unseeded randomness."""
    found: list[dict[str, Any]] = []
    found += _gpu_kernel_warnings(facts)
    found += _data_warnings(facts)
    found += _xla_warnings(facts)
    found += _random_warnings(facts)
    return _unique(found)


# Preprocessing layers that count with (Dense)Bincount: tf.one_hot advice does not reach inside
# them; what helps is their output_mode, or moving them out of the trained model.
LOOKUP_LAYER_ADVICE = (
    "this {layer} layer counts with bincount because of its output_mode ('multi_hot', 'count' "
    "or 'tf_idf'): give it output_mode='int' and encode the indices in the model (an "
    "Embedding, or tf.one_hot), or apply the layer in the tf.data pipeline "
    "(dataset.map(lambda x, y: (layer(x), y))) so the op runs on the CPU outside the model"
)
LOOKUP_LAYERS = frozenset(
    {"IntegerLookup", "StringLookup", "CategoryEncoding", "Hashing", "TextVectorization"}
)


def _layer_class(op: GraphOp, layers: Sequence[LayerFact]) -> str | None:
    layer = layer_of(op.name, [item.name for item in layers])
    return next((item.class_name for item in layers if item.name == layer), None)


def _gpu_kernel_warnings(facts: FitFacts) -> list[dict[str, Any]]:
    found = []
    for op in facts.ops:
        if op.type in NO_GPU_DETERMINISM:
            if op.type.startswith("FusedBatchNormGrad") and op.is_training is not False:
                continue  # training-mode backprop has a deterministic GPU kernel
            source, fix = NO_GPU_DETERMINISM[op.type]
            layer_class = _layer_class(op, facts.layers)
            if op.type in ("Bincount", "DenseBincount") and layer_class in LOOKUP_LAYERS:
                fix = LOOKUP_LAYER_ADVICE.format(layer=layer_class)
            found.append(
                _warning(
                    NO_DETERMINISTIC_GPU_KERNEL,
                    _op_where(op, facts.layers),
                    f"{op.type} is {source}. TensorFlow has no deterministic GPU kernel for it: "
                    "on a GPU under op determinism it raises UnimplementedError, and without "
                    "op determinism its result changes from run to run. Bitwise here on the "
                    f"CPU does not carry over to a GPU machine. What to do: {fix}.",
                )
            )
        elif op.type in GPU_NEEDS_OP_DETERMINISM and not facts.op_determinism:
            found.append(
                _warning(
                    NONDETERMINISTIC_GPU_KERNEL,
                    _op_where(op, facts.layers),
                    f"{op.type} ({GPU_NEEDS_OP_DETERMINISM[op.type]}) accumulates with atomic "
                    "adds on a GPU, in an order that changes from run to run; TensorFlow "
                    "switches to a deterministic kernel only under op determinism, which this "
                    "run did not enable. What to do: turn on the profile's op_determinism "
                    "toggle (the full preset has it) before running this model on a GPU.",
                )
            )
    return found


def _data_warnings(facts: FitFacts) -> list[dict[str, Any]]:
    found = []
    overridden = (
        " Op determinism overrides it in this run, so this machine stays deterministic; a run "
        "without op determinism (another profile, or the script outside seedlab) is not."
        if facts.op_determinism
        else ""
    )
    for index, stage in enumerate(facts.data_stages, start=1):
        unordered = stage.deterministic == "false" or (
            stage.deterministic == "default" and facts.data_options_deterministic is False
        )
        if unordered:
            how = (
                "deterministic=False"
                if stage.deterministic == "false"
                else "options.deterministic = False"
            )
            found.append(
                _warning(
                    NONDETERMINISTIC_DATA_STAGE,
                    f"tf.data stage {index}: {stage.method}() ({how})",
                    f"This {stage.method}() runs in parallel and hands out elements in the "
                    "order they finish, which depends on thread timing and the number of "
                    "cores, so batches (and any random op in it) differ between machines and "
                    f"runs.{overridden} What to do: drop deterministic=False (or set "
                    "options.deterministic = True); parallelism stays, only the order is kept.",
                )
            )
    if facts.data_options_deterministic is False and not found:
        found.append(
            _warning(
                NONDETERMINISTIC_DATA_STAGE,
                "tf.data options (deterministic = False)",
                "The pipeline's options allow elements out of order; no parallel stage uses it "
                f"now, but any added later will.{overridden} What to do: leave "
                "options.deterministic at its default (True).",
            )
        )
    return found


def _xla_warnings(facts: FitFacts) -> list[dict[str, Any]]:
    message = (
        "XLA fuses and reorders the step's arithmetic, and its choices depend on the device, "
        "the XLA version and its autotuning, so an XLA-compiled step gives other last bits than "
        "the same step without XLA, and than XLA on other hardware. What to do: compile with "
        "jit_compile=False for runs that must match across machines (or compare only runs "
        "compiled the same way on the same hardware)."
    )
    if facts.jit_compile:
        return [_warning(XLA_COMPILED, "model.compile(jit_compile=True)", message)]
    names = [layer.name for layer in facts.layers]
    calls = [op for op in facts.ops if op.xla]
    # A compiled function appears as its forward call and its gradient's: name the layers that
    # hold them, or the step as a whole when no layer does.
    layers = sorted({layer for op in calls if (layer := layer_of(op.name, names)) is not None})
    classes = {layer.name: layer.class_name for layer in facts.layers}
    wheres = [f"layer {name} ({classes[name]}): tf.function(jit_compile=True)" for name in layers]
    if calls and not wheres:
        wheres = ["train step: a tf.function(jit_compile=True) it calls"]
    return [_warning(XLA_COMPILED, where, message) for where in wheres]


def _random_warnings(facts: FitFacts) -> list[dict[str, Any]]:
    found = []
    for op in facts.ops:
        if op.type in STATEFUL_RANDOM_OPS and op.seed == 0 and op.seed2 == 0:
            found.append(
                _warning(
                    UNSEEDED_RANDOM_OP,
                    _op_where(op, facts.layers),
                    f"{op.type} was traced with neither an op seed nor TensorFlow's global "
                    "seed, so it takes a fresh seed from the OS in every run. What to do: turn "
                    "on the profile's tf_seed toggle, or pass seed= to the op (better: a "
                    "stateless op, tf.random.stateless_*, with a seed from ctx.seed).",
                )
            )
    if not facts.python_seeded:
        for layer in facts.layers:
            if layer.default_seed:
                found.append(
                    _warning(
                        UNSEEDED_RANDOM_OP,
                        f"layer {layer.name} ({layer.class_name})",
                        "The layer's Keras randomness (dropout, noise or augmentation, or a "
                        "random weight initializer) was built without a seed, so Keras took "
                        "its seed from Python's `random`, which this run's profile did not "
                        "seed. What to do: turn on the profile's python_seed toggle, or pass "
                        "seed= to the layer or its initializer.",
                    )
                )
    for index, stage in enumerate(facts.data_stages, start=1):
        for op in stage.random_ops:
            if op.type in STATEFUL_RANDOM_OPS and op.seed == 0 and op.seed2 == 0:
                found.append(
                    _warning(
                        UNSEEDED_RANDOM_OP,
                        f"tf.data stage {index}: {stage.method}() function: op {op.type}",
                        f"The {stage.method}() function's {op.type} was traced with neither an "
                        "op seed nor TensorFlow's global seed, so every run draws other random "
                        "numbers (a random augmentation, say). What to do: turn on the "
                        "profile's tf_seed toggle, or use a stateless op "
                        "(tf.random.stateless_*) with a seed from ctx.seed.",
                    )
                )
        if stage.method == "shuffle" and stage.seeds == (0, 0):
            found.append(
                _warning(
                    UNSEEDED_RANDOM_OP,
                    f"tf.data stage {index}: shuffle()",
                    "The shuffle has neither a seed nor TensorFlow's global seed, so the order "
                    "of the examples changes in every run. What to do: pass "
                    "seed=ctx.shuffle_seed, or turn on the profile's tf_seed toggle.",
                )
            )
    return found


def onednn_warnings(onednn: str | None) -> list[dict[str, Any]]:
    """A warning when TensorFlow's oneDNN custom ops are on (the run's read-back state).

    onednn is the `applied` profile's value: "on (default)", "on (TF_ENABLE_ONEDNN_OPTS=1)",
    "off (...)", "unknown (...)" or "TensorFlow not imported".
    """
    if not onednn or not onednn.startswith("on"):
        return []
    decided = (
        "TensorFlow's default on this CPU (it turns oneDNN on for CPUs with features such as "
        "AVX512-VNNI, AVX512-BF16 or AMX, and off elsewhere)"
        if "default" in onednn
        else "set by TF_ENABLE_ONEDNN_OPTS=1"
    )
    return [
        _warning(
            ONEDNN_ENABLED,
            f"TensorFlow oneDNN custom ops: {onednn}",
            f"oneDNN kernels are on, {decided}. They sum in another order than TensorFlow's "
            "own kernels and pick code paths by CPU feature, so the last bits here differ from "
            "a machine where oneDNN is off or the CPU differs, even when this machine is "
            "bitwise. What to do: turn on the profile's onednn_off toggle "
            "(TF_ENABLE_ONEDNN_OPTS=0) for results meant to match across machines.",
        )
    ]


def _unique(warnings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One warning per (code, where), in first-seen order, at most MAX_WARNINGS."""
    seen: set[tuple[str, str]] = set()
    out = []
    for warning in warnings:
        key = (warning["code"], warning["where"])
        if key not in seen:
            seen.add(key)
            out.append(warning)
    return out[:MAX_WARNINGS]


def merge(*groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warnings from several fits (or sources) of one run, each (code, where) once."""
    return _unique([warning for group in groups for warning in group])
