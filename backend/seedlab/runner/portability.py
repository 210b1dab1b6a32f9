"""Extract what analysis/portability.py judges from a finished fit (run process; imports TF).

Runs once per `model.fit`, after it returned: the train step is traced by then, so its graph
holds the real op types (forward and backprop). Reads only what is already built: the Keras
layers, the traced functions' GraphDefs and the Python objects of the tf.data pipeline (never
its serialized graph, which would copy in-memory data, except to read an interleave's
`deterministic`). Any failure is logged and costs only the warnings it would have found.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from seedlab.analysis.portability import (
    GPU_NEEDS_OP_DETERMINISM,
    NO_GPU_DETERMINISM,
    STATEFUL_RANDOM_OPS,
    DataStage,
    FitFacts,
    GraphOp,
    LayerFact,
    fit_warnings,
)

log = logging.getLogger("seedlab.runner.portability")

WATCHED_OPS = frozenset(NO_GPU_DETERMINISM) | frozenset(GPU_NEEDS_OP_DETERMINISM) | (
    STATEFUL_RANDOM_OPS
)
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
# A pipeline deeper than this is not walked further (a generator-built chain can be long).
MAX_STAGES = 200


def inspect_fit(
    model: Any, x: Any, *, op_determinism: bool, python_seeded: bool
) -> tuple[list[dict[str, Any]], float]:
    """The fit's portability warnings and the seconds the inspection took; [] when it fails."""
    started = time.perf_counter()
    try:
        facts = FitFacts(
            layers=_guarded(_layers, model, default=[]),
            ops=_guarded(_train_ops, model, default=[]),
            data_stages=_guarded(_data_stages, x, default=[]),
            data_options_deterministic=_guarded(_options_deterministic, x, default=None),
            jit_compile=bool(getattr(model, "jit_compile", False) is True),
            op_determinism=op_determinism,
            python_seeded=python_seeded,
        )
        found = fit_warnings(facts)
    except Exception:  # the inspection must never fail a run
        log.warning("portability inspection failed", exc_info=True)
        found = []
    return found, time.perf_counter() - started


def _guarded(extract: Any, value: Any, *, default: Any) -> Any:
    try:
        return extract(value)
    except Exception:
        log.warning("portability inspection: %s failed", extract.__name__, exc_info=True)
        return default


def _layers(model: Any) -> list[LayerFact]:
    """Every layer inside the model (nested models' layers too), not the model itself."""
    flatten = getattr(model, "_flatten_layers", None)
    layers = (
        list(flatten(include_self=False, recursive=True))
        if flatten
        else list(getattr(model, "layers", []))
    )
    return [
        LayerFact(name=str(layer.name), class_name=type(layer).__name__,
                  default_seed=_default_seeded(layer))
        for layer in layers
    ]


def _default_seeded(layer: Any) -> bool:
    """Whether the layer has Keras randomness built with seed=None (a seed from Python's random).

    Its SeedGenerators (dropout, noise, random augmentation) and its random weight
    initializers (held as attributes, e.g. Dense.kernel_initializer).
    """
    generators = getattr(layer, "_seed_generators", None) or []
    if any(getattr(g, "_initial_seed", 0) is None for g in generators):
        return True
    return any(
        hasattr(value, "_init_seed") and value._init_seed is None
        for value in vars(layer).values()
    )


def _train_ops(model: Any) -> list[GraphOp]:
    """The watched ops of every traced train function (nested function bodies included)."""
    ops: list[GraphOp] = []
    for function in _traced_functions(getattr(model, "train_function", None)):
        for concrete in function._list_all_concrete_functions():
            graph_def = concrete.graph.as_graph_def()
            ops += _watched(graph_def.node, prefix="")
            for body in graph_def.library.function:
                ops += _watched(body.node_def, prefix=body.signature.name + "/")
    return ops


def _traced_functions(train_function: Any) -> list[Any]:
    """The tf.functions behind Keras' train_function: itself, or those its closure holds."""
    if train_function is None:
        return []
    if hasattr(train_function, "_list_all_concrete_functions"):
        return [train_function]
    cells = getattr(train_function, "__closure__", None) or ()
    found = []
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if hasattr(value, "_list_all_concrete_functions"):
            found.append(value)
    return found


def _watched(nodes: Any, *, prefix: str) -> list[GraphOp]:
    ops = []
    for node in nodes:
        if node.op in CALL_OPS:
            xla = node.attr.get("_XlaMustCompile")
            if xla is not None and xla.b:
                ops.append(GraphOp(type=node.op, name=prefix + node.name, xla=True))
        elif node.op in WATCHED_OPS:
            attr = node.attr
            ops.append(
                GraphOp(
                    type=node.op,
                    name=prefix + node.name,
                    is_training=attr["is_training"].b if "is_training" in attr else None,
                    seed=attr["seed"].i if "seed" in attr else None,
                    seed2=attr["seed2"].i if "seed2" in attr else None,
                )
            )
    return ops


def _is_dataset(x: Any) -> bool:
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _options_deterministic(x: Any) -> bool | None:
    if not _is_dataset(x):
        return None
    value = x.options().deterministic
    return None if value is None else bool(value)


def _data_stages(x: Any) -> list[DataStage]:
    """The stages of a tf.data pipeline fed to fit, source first ([] for in-memory data)."""
    if not _is_dataset(x):
        return []
    chain: list[Any] = []
    pending = [x]
    while pending and len(chain) < MAX_STAGES:
        dataset = pending.pop()
        chain.append(dataset)
        pending.extend(reversed(list(dataset._inputs())))
    chain.reverse()
    interleaves = iter(_interleave_determinism(x) if any(_is_interleave(d) for d in chain) else [])
    stages = []
    for dataset in chain:
        kind = type(dataset).__name__
        deterministic = getattr(dataset, "_deterministic", None)
        if _is_interleave(dataset):
            deterministic = next(interleaves, None)
        seeds = None
        if hasattr(dataset, "_seed") and hasattr(dataset, "_seed2"):
            seeds = (_as_int(dataset._seed), _as_int(dataset._seed2))
        stages.append(
            DataStage(
                method=_method(kind),
                kind=kind,
                deterministic=deterministic if isinstance(deterministic, str) else None,
                seeds=seeds,
                random_ops=tuple(_guarded(_stage_random_ops, dataset, default=[])),
            )
        )
    return stages


def _stage_random_ops(dataset: Any) -> list[GraphOp]:
    """The stateful random ops of a stage's traced function (map, filter, interleave)."""
    wrapper = getattr(dataset, "_map_func", None) or getattr(dataset, "_predicate", None)
    function = getattr(wrapper, "function", None)
    if function is None:
        return []
    graph_def = function.graph.as_graph_def()
    ops = _watched(graph_def.node, prefix="")
    for body in graph_def.library.function:
        ops += _watched(body.node_def, prefix=body.signature.name + "/")
    return [op for op in ops if op.type in STATEFUL_RANDOM_OPS]


def _is_interleave(dataset: Any) -> bool:
    return type(dataset).__name__ == "_ParallelInterleaveDataset"


def _interleave_determinism(x: Any) -> list[str]:
    """Each parallel interleave's `deterministic`, source first, read from the dataset graph.

    The Python object does not keep it; the serialized graph does (it copies any in-memory
    tensor of the pipeline, so only pipelines with a parallel interleave pay for it).
    """
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(x._as_serialized_graph().numpy())
    return [
        node.attr["deterministic"].s.decode()
        for node in graph.node
        if node.op.startswith("ParallelInterleaveDataset") and "deterministic" in node.attr
    ]


def _method(kind: str) -> str:
    """The Dataset method behind a dataset class: `_ParallelMapDataset` -> `map`."""
    name = kind.lstrip("_")
    for part in ("Parallel", "Dataset"):
        name = name.replace(part, "")
    return name[:1].lower() + name[1:] if name else kind


def _as_int(value: Any) -> int:
    return int(value.numpy()) if hasattr(value, "numpy") else int(value)
