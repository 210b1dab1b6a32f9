"""The PyTorch op table and its warnings (pure: no torch)."""

from __future__ import annotations

from seedlab.analysis.portability import MAX_WARNINGS
from seedlab.analysis.torchportability import (
    CUDA_NEEDS_DETERMINISM,
    NO_CUDA_DETERMINISM,
    NO_DETERMINISTIC_CUDA_KERNEL,
    NONDETERMINISTIC_CUDA_KERNEL,
    WATCHED_OPS,
    TorchOp,
    torch_op_warnings,
)


def _found(*ops: TorchOp, deterministic: bool = True) -> list[tuple[str, str]]:
    return [(w["code"], w["where"]) for w in torch_op_warnings(ops, deterministic=deterministic)]


def test_refused_ops_warn_whatever_the_profile_and_name_the_op() -> None:
    op = TorchOp("upsample_bilinear2d_backward")
    expected = [(NO_DETERMINISTIC_CUDA_KERNEL, "op aten.upsample_bilinear2d_backward")]
    assert _found(op, deterministic=True) == expected
    assert _found(op, deterministic=False) == expected
    (warning,) = torch_op_warnings([op], deterministic=True)
    assert "mode='bilinear'" in warning["message"] and "What to do:" in warning["message"]


def test_arguments_decide_where_the_cuda_kernel_depends_on_them() -> None:
    assert _found(TorchOp("bincount", weighted=False)) == []
    assert _found(TorchOp("bincount", weighted=True)) == [
        (NO_DETERMINISTIC_CUDA_KERNEL, "op aten.bincount")
    ]
    assert _found(TorchOp("median", "default")) == []
    assert _found(TorchOp("median", "dim"))[0][0] == NO_DETERMINISTIC_CUDA_KERNEL
    assert _found(TorchOp("_embedding_bag_backward", mode=1)) == []
    assert _found(TorchOp("_embedding_bag_backward", mode=2))[0][0] == NO_DETERMINISTIC_CUDA_KERNEL
    assert _found(TorchOp("nll_loss2d_forward", reduction=0)) == []
    assert _found(TorchOp("nll_loss2d_forward", reduction=1))[0][0] == NO_DETERMINISTIC_CUDA_KERNEL
    assert _found(TorchOp("cumsum", floating=False)) == []
    assert _found(TorchOp("cumsum", floating=True))[0][0] == NO_DETERMINISTIC_CUDA_KERNEL
    # scatter_reduce: 'prod' has no deterministic kernel, 'sum' has one under the toggle.
    assert _found(TorchOp("scatter_reduce", "two", reduce="prod")) == [
        (NO_DETERMINISTIC_CUDA_KERNEL, "op aten.scatter_reduce")
    ]
    assert _found(TorchOp("scatter_reduce", "two", reduce="sum")) == []
    assert _found(TorchOp("scatter_reduce", "two", reduce="sum"), deterministic=False) == [
        (NONDETERMINISTIC_CUDA_KERNEL, "op aten.scatter_reduce")
    ]
    assert _found(TorchOp("scatter_reduce", "two", reduce="amax"), deterministic=False) == []
    # Indexed assignment races on duplicate indices; accumulation is deterministic on CUDA.
    assert _found(TorchOp("index_put_", accumulate=True), deterministic=False) == []
    assert _found(TorchOp("index_put_", accumulate=False), deterministic=False) == [
        (NONDETERMINISTIC_CUDA_KERNEL, "op aten.index_put_")
    ]
    assert _found(TorchOp("scatter", "value"), deterministic=False) == []
    assert _found(TorchOp("scatter", "src"), deterministic=False)[0][0] == (
        NONDETERMINISTIC_CUDA_KERNEL
    )


def test_atomic_ops_warn_only_without_deterministic_algorithms() -> None:
    ops = (TorchOp("convolution_backward"), TorchOp("index_add"), TorchOp("addmm"))
    assert _found(*ops, deterministic=True) == []
    found = torch_op_warnings(ops, deterministic=False)
    assert [w["where"] for w in found] == ["op aten.convolution_backward", "op aten.index_add"]
    assert all("torch_deterministic" in w["message"] for w in found)


def test_each_op_once_and_at_most_the_run_limit() -> None:
    op = TorchOp("histc")
    assert len(torch_op_warnings([op, op, op], deterministic=True)) == 1
    many = [TorchOp(name) for name in sorted(NO_CUDA_DETERMINISM)]
    assert len(torch_op_warnings(many, deterministic=False)) == MAX_WARNINGS


def test_every_rule_says_what_the_op_comes_from() -> None:
    assert set(WATCHED_OPS) == set(NO_CUDA_DETERMINISM) | set(CUDA_NEEDS_DETERMINISM)
    for name, rule in NO_CUDA_DETERMINISM.items():
        assert rule.source and rule.fix, name
    for name, rule in CUDA_NEEDS_DETERMINISM.items():
        assert rule.source, name
