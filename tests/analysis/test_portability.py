"""The portability classifier on plain facts: which trap, where, and what to do."""

from __future__ import annotations

from seedlab.analysis.portability import (
    MAX_WARNINGS,
    NO_DETERMINISTIC_GPU_KERNEL,
    NONDETERMINISTIC_DATA_STAGE,
    NONDETERMINISTIC_GPU_KERNEL,
    ONEDNN_ENABLED,
    UNSEEDED_RANDOM_OP,
    XLA_COMPILED,
    DataStage,
    FitFacts,
    GraphOp,
    LayerFact,
    fit_warnings,
    layer_of,
    merge,
    onednn_warnings,
)

LAYERS = (
    LayerFact("conv", "Conv2D"),
    LayerFact("up", "Resizing"),
    LayerFact("dense_1", "Dense"),
    LayerFact("drop", "Dropout", default_seed=True),
)
STEP = "__inference_one_step_on_data_899/"


def _codes(facts: FitFacts) -> list[tuple[str, str]]:
    return [(w["code"], w["where"]) for w in fit_warnings(facts)]


def test_layer_of_takes_the_innermost_scope_and_keras_suffixes() -> None:
    names = ["up", "dense_1", "inner"]
    assert layer_of("gradient_tape/model_1/up_1/resize/ResizeNearestNeighborGrad", names) == "up"
    assert layer_of("model/inner_2/dense_1/MatMul", names) == "dense_1"  # a real _1 name
    assert layer_of("model/inner_2/dense_1_3/MatMul", names) == "dense_1"
    assert layer_of("adam/UnsortedSegmentSum", names) is None
    assert layer_of("up", names) is None  # the op's own name is not a scope


def test_no_deterministic_gpu_kernel_names_the_layer_and_backprop() -> None:
    facts = FitFacts(
        layers=LAYERS,
        ops=(
            GraphOp("ResizeNearestNeighbor", STEP + "model_1/up_1/resize/ResizeNearestNeighbor"),
            GraphOp(
                "ResizeNearestNeighborGrad",
                STEP + "gradient_tape/model_1/up_1/resize/ResizeNearestNeighborGrad",
            ),
            GraphOp("DenseBincount", STEP + "model_1/counts/DenseBincount"),
        ),
        op_determinism=True,
    )
    assert _codes(facts) == [
        (
            NO_DETERMINISTIC_GPU_KERNEL,
            "backprop of layer up (Resizing): op ResizeNearestNeighborGrad",
        ),
        (NO_DETERMINISTIC_GPU_KERNEL, "op DenseBincount (model_1/counts/DenseBincount)"),
    ]
    message = fit_warnings(facts)[0]["message"]
    assert "UnimplementedError" in message
    assert "What to do: resize with interpolation='bilinear'" in message


def test_fused_batch_norm_backprop_warns_only_in_inference_mode() -> None:
    def facts(training: bool) -> FitFacts:
        grad = GraphOp("FusedBatchNormGradV3", STEP + "gradient_tape/m/bn/G", is_training=training)
        return FitFacts(layers=(LayerFact("bn", "Lambda"),), ops=(grad,), op_determinism=True)

    assert _codes(facts(False)) == [
        (NO_DETERMINISTIC_GPU_KERNEL, "backprop of layer bn (Lambda): op FusedBatchNormGradV3")
    ]
    assert _codes(facts(True)) == []


def test_atomic_gpu_ops_warn_only_without_op_determinism() -> None:
    ops = (GraphOp("UnsortedSegmentSum", STEP + "adam/UnsortedSegmentSum"),
           GraphOp("UnsortedSegmentSum", STEP + "adam/UnsortedSegmentSum_1"))
    assert _codes(FitFacts(ops=ops, op_determinism=True)) == []
    assert _codes(FitFacts(ops=ops, op_determinism=False)) == [
        (NONDETERMINISTIC_GPU_KERNEL, "op UnsortedSegmentSum (adam/UnsortedSegmentSum)"),
        (NONDETERMINISTIC_GPU_KERNEL, "op UnsortedSegmentSum (adam/UnsortedSegmentSum_1)"),
    ]


def test_data_stages_deterministic_false_and_options() -> None:
    stages = (
        DataStage("tensorSlice", "_TensorSliceDataset"),
        DataStage("map", "_ParallelMapDataset", deterministic="false"),
        DataStage("batch", "_ParallelBatchDataset", deterministic="default"),
        DataStage("interleave", "_ParallelInterleaveDataset", deterministic="true"),
    )
    assert _codes(FitFacts(data_stages=stages)) == [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 2: map() (deterministic=False)")
    ]
    # options.deterministic = False reaches the stages left at "default", not those set "true".
    assert _codes(FitFacts(data_stages=stages, data_options_deterministic=False)) == [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 2: map() (deterministic=False)"),
        (NONDETERMINISTIC_DATA_STAGE, "tf.data stage 3: batch() (options.deterministic = False)"),
    ]
    # The option alone, with no parallel stage yet, still warns once.
    alone = FitFacts(data_stages=stages[:1], data_options_deterministic=False)
    assert _codes(alone) == [
        (NONDETERMINISTIC_DATA_STAGE, "tf.data options (deterministic = False)")
    ]
    assert _codes(FitFacts(data_stages=stages[:1], data_options_deterministic=True)) == []


def test_data_stage_message_says_whether_op_determinism_rescued_this_machine() -> None:
    stages = (DataStage("map", "_ParallelMapDataset", deterministic="false"),)
    rescued = fit_warnings(FitFacts(data_stages=stages, op_determinism=True))[0]["message"]
    exposed = fit_warnings(FitFacts(data_stages=stages, op_determinism=False))[0]["message"]
    assert "Op determinism overrides it in this run" in rescued
    assert "overrides" not in exposed


def test_xla_model_wins_over_its_calls_and_function_calls_name_their_layer() -> None:
    call = GraphOp("PartitionedCall", STEP + "model_1/dense_1_1/PartitionedCall", xla=True)
    grad = GraphOp("PartitionedCall", STEP + "PartitionedCall", xla=True)
    assert _codes(FitFacts(layers=LAYERS, ops=(call, grad), jit_compile=True)) == [
        (XLA_COMPILED, "model.compile(jit_compile=True)")
    ]
    assert _codes(FitFacts(layers=LAYERS, ops=(call, grad))) == [
        (XLA_COMPILED, "layer dense_1 (Dense): tf.function(jit_compile=True)")
    ]
    assert _codes(FitFacts(layers=LAYERS, ops=(grad,))) == [
        (XLA_COMPILED, "train step: a tf.function(jit_compile=True) it calls")
    ]


def test_unseeded_random_ops_layers_and_shuffles() -> None:
    ops = (
        GraphOp("RandomStandardNormal", STEP + "model/dense_1/random_normal/R", seed=0, seed2=0),
        # Seeded by the op or derived from the global seed: reproducible.
        GraphOp("RandomUniform", STEP + "model/conv/random_uniform/R", seed=87654321, seed2=5),
        GraphOp("RandomUniform", STEP + "model/conv/random_uniform_1/R", seed=3, seed2=0),
    )
    augment = (GraphOp("RandomUniform", "random_uniform/RandomUniform", seed=0, seed2=0),
               GraphOp("RandomUniform", "random_uniform_1/RandomUniform", seed=3, seed2=1))
    stages = (DataStage("shuffle", "_ShuffleDataset", seeds=(0, 0)),
              DataStage("shuffle", "_ShuffleDataset", seeds=(42, 7)),
              DataStage("map", "_MapDataset", random_ops=augment))
    seeded_python = FitFacts(layers=LAYERS, ops=ops, data_stages=stages, python_seeded=True)
    assert _codes(seeded_python) == [
        (UNSEEDED_RANDOM_OP, "layer dense_1 (Dense): op RandomStandardNormal"),
        (UNSEEDED_RANDOM_OP, "tf.data stage 1: shuffle()"),
        (UNSEEDED_RANDOM_OP, "tf.data stage 3: map() function: op RandomUniform"),
    ]
    # Keras' default seeds come from Python's `random`: unseeded only when it was not seeded.
    unseeded_python = FitFacts(layers=LAYERS, python_seeded=False)
    assert _codes(unseeded_python) == [(UNSEEDED_RANDOM_OP, "layer drop (Dropout)")]


def test_clean_facts_give_nothing() -> None:
    clean = FitFacts(
        layers=LAYERS[:3],
        ops=(GraphOp("FusedBatchNormGradV3", STEP + "g/bn/G", is_training=True),),
        data_stages=(DataStage("shuffle", "_ShuffleDataset", seeds=(42, 1)),
                     DataStage("map", "_ParallelMapDataset", deterministic="default")),
        op_determinism=True,
        python_seeded=False,
    )
    assert fit_warnings(clean) == []


def test_onednn_warning_says_what_decided_it() -> None:
    default = onednn_warnings("on (default)")
    assert [w["code"] for w in default] == [ONEDNN_ENABLED]
    assert "default on this CPU" in default[0]["message"]
    assert "onednn_off" in default[0]["message"]
    forced = onednn_warnings("on (TF_ENABLE_ONEDNN_OPTS=1)")
    assert "set by TF_ENABLE_ONEDNN_OPTS=1" in forced[0]["message"]
    for quiet in ("off (default)", "off (TF_ENABLE_ONEDNN_OPTS=0)", "unknown (default)",
                  "TensorFlow not imported", None):
        assert onednn_warnings(quiet) == []


def test_warnings_are_unique_per_code_and_place_and_capped() -> None:
    ops = tuple(
        GraphOp("ResizeNearestNeighborGrad", f"{STEP}gradient_tape/m/r{i}/G") for i in range(30)
    )
    found = fit_warnings(FitFacts(ops=ops + ops))
    assert len(found) == MAX_WARNINGS
    assert len({(w["code"], w["where"]) for w in found}) == MAX_WARNINGS
    one = onednn_warnings("on (default)")
    assert merge(one, one, []) == one
