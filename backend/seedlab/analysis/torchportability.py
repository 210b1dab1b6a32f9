"""PyTorch portability warnings: ops of the first training step that are not deterministic on
CUDA (pure).

The run process records the aten ops its script dispatched during the first optimizer step
(runner/torchops.py, on whatever device the script used, usually the CPU here); this module
decides which of them break bit-identity on a GPU. The tables follow the
`torch.use_deterministic_algorithms` documentation of PyTorch 2.13: ops that raise "... does not
have a deterministic implementation" on CUDA under it, and ops that switch to a deterministic
CUDA kernel only under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from seedlab.analysis.portability import MAX_WHERE, merge

NO_DETERMINISTIC_CUDA_KERNEL = "no_deterministic_cuda_kernel"
NONDETERMINISTIC_CUDA_KERNEL = "nondeterministic_cuda_kernel"
TORCH_CODES = (NO_DETERMINISTIC_CUDA_KERNEL, NONDETERMINISTIC_CUDA_KERNEL)

# aten's Reduction enum: 0 is 'none' (no atomic sum over the output).
REDUCTION_NONE = 0
# _embedding_bag's mode: 0 sum, 1 mean, 2 max.
EMBEDDING_BAG_MAX = 2


@dataclass(frozen=True)
class TorchOp:
    """One aten op dispatched in the recorded step, with the arguments its CUDA kernel's
    determinism depends on (None: not an op where it matters)."""

    name: str  # the overload packet, e.g. "upsample_bilinear2d_backward"
    overload: str = "default"  # e.g. "dim" for median.dim
    accumulate: bool | None = None  # index_put(_), put(_)
    reduce: str | None = None  # scatter_reduce
    reduction: int | None = None  # nll_loss2d_forward
    mode: int | None = None  # _embedding_bag_backward
    weighted: bool | None = None  # bincount: a weights tensor was given
    floating: bool | None = None  # cumsum: a floating point or complex input


def _always(op: TorchOp) -> bool:
    return True


@dataclass(frozen=True)
class OpRule:
    """What an op comes from in a script, and what to do instead."""

    source: str
    fix: str
    applies: Callable[[TorchOp], bool] = _always


_POOL_FIX = (
    "a strided convolution or a pool with a fixed kernel (nn.AvgPool2d/MaxPool2d), or "
    "stop the gradient before it (.detach()) when nothing before it trains"
)
_INTERPOLATE = "the backprop of F.interpolate / nn.Upsample with mode='{mode}'"
_INTERPOLATE_FIX = (
    "learn the upsampling (nn.ConvTranspose2d, or a convolution then nn.PixelShuffle), or "
    "stop the gradient before it (.detach()) when nothing before it trains"
)
_REFLECTION_FIX = (
    "pad with mode='replicate' (deterministic under torch_deterministic), 'constant' or "
    "'circular'"
)

# Ops with no deterministic CUDA kernel: under torch.use_deterministic_algorithms(True) they
# raise RuntimeError on a GPU, and without it their result varies from run to run there.
NO_CUDA_DETERMINISM: dict[str, OpRule] = {
    "upsample_linear1d_backward": OpRule(_INTERPOLATE.format(mode="linear"), _INTERPOLATE_FIX),
    "upsample_bilinear2d_backward": OpRule(_INTERPOLATE.format(mode="bilinear"), _INTERPOLATE_FIX),
    "upsample_bicubic2d_backward": OpRule(_INTERPOLATE.format(mode="bicubic"), _INTERPOLATE_FIX),
    "upsample_trilinear3d_backward": OpRule(
        _INTERPOLATE.format(mode="trilinear"), _INTERPOLATE_FIX
    ),
    "avg_pool3d_backward": OpRule("the backprop of nn.AvgPool3d / F.avg_pool3d", _POOL_FIX),
    "_adaptive_avg_pool2d_backward": OpRule(
        "the backprop of nn.AdaptiveAvgPool2d / F.adaptive_avg_pool2d to an output larger than "
        "1x1",
        "nn.AvgPool2d with a fixed kernel when the sizes divide, or a global average "
        "x.mean((-2, -1)) (an output of 1x1 is computed that way already)",
    ),
    "_adaptive_avg_pool3d_backward": OpRule(
        "the backprop of nn.AdaptiveAvgPool3d / F.adaptive_avg_pool3d",
        "nn.AvgPool3d with a fixed kernel, or a global average x.mean((-3, -2, -1))",
    ),
    "adaptive_max_pool2d_backward": OpRule(
        "the backprop of nn.AdaptiveMaxPool2d / F.adaptive_max_pool2d",
        "nn.MaxPool2d with a fixed kernel, or a global maximum x.amax((-2, -1))",
    ),
    "fractional_max_pool2d_backward": OpRule(
        "the backprop of nn.FractionalMaxPool2d", "nn.MaxPool2d"
    ),
    "fractional_max_pool3d_backward": OpRule(
        "the backprop of nn.FractionalMaxPool3d", "nn.MaxPool3d"
    ),
    "max_unpool2d": OpRule(
        "nn.MaxUnpool1d/2d / F.max_unpool1d/2d",
        "upsample with nn.ConvTranspose2d, or a convolution then nn.PixelShuffle",
    ),
    "max_unpool3d": OpRule(
        "nn.MaxUnpool3d / F.max_unpool3d", "upsample with nn.ConvTranspose3d"
    ),
    "reflection_pad1d_backward": OpRule(
        "the backprop of nn.ReflectionPad1d / F.pad(mode='reflect')", _REFLECTION_FIX
    ),
    "reflection_pad2d_backward": OpRule(
        "the backprop of nn.ReflectionPad2d / F.pad(mode='reflect') (also "
        "Conv2d(padding_mode='reflect'))",
        _REFLECTION_FIX,
    ),
    "reflection_pad3d_backward": OpRule(
        "the backprop of nn.ReflectionPad3d / F.pad(mode='reflect')", _REFLECTION_FIX
    ),
    "nll_loss2d_forward": OpRule(
        "nn.NLLLoss / nn.CrossEntropyLoss on a target with spatial dimensions (segmentation), "
        "reduced to a mean or sum",
        "flatten the pixels into the batch, loss(logits.movedim(1, -1).reshape(-1, classes), "
        "target.reshape(-1)), which takes the 1-D loss kernel",
        lambda op: op.reduction != REDUCTION_NONE,
    ),
    "_ctc_loss_backward": OpRule(
        "the backprop of nn.CTCLoss / F.ctc_loss",
        "compute the CTC loss on the CPU (move log_probs and targets there for the loss only)",
    ),
    "_embedding_bag_backward": OpRule(
        "the backprop of nn.EmbeddingBag(mode='max')",
        "mode='sum' or 'mean'",
        lambda op: op.mode == EMBEDDING_BAG_MAX,
    ),
    "_embedding_bag_dense_backward": OpRule(
        "the backprop of nn.EmbeddingBag(mode='max')",
        "mode='sum' or 'mean'",
        lambda op: op.mode == EMBEDDING_BAG_MAX,
    ),
    "put_": OpRule(
        "Tensor.put_ (either accumulate mode on CUDA)",
        "index with index_put_ (tensor[index] = values) on the flattened tensor",
    ),
    "put": OpRule(
        "torch.put / Tensor.put (either accumulate mode on CUDA)",
        "index with index_put (tensor[index] = values) on the flattened tensor",
    ),
    "histc": OpRule(
        "torch.histc", "count on the CPU, or with torch.bucketize and a one-hot sum"
    ),
    "bincount": OpRule(
        "torch.bincount with weights",
        "sum the weights with a one-hot matrix (F.one_hot(x).T.float() @ weights), or count on "
        "the CPU",
        lambda op: op.weighted is True,
    ),
    "median": OpRule(
        "torch.median with a dim (it returns the indices too)",
        "torch.quantile(x, 0.5, dim=..., interpolation='lower') when the indices are not "
        "needed, or torch.median(x) without a dim",
        lambda op: op.overload != "default",
    ),
    "grid_sampler_2d_backward": OpRule(
        "the backprop of F.grid_sample (also nn.functional.affine_grid pipelines, spatial "
        "transformers)",
        "stop the gradient to the input (.detach()) when only the grid must train, or sample on "
        "the CPU",
    ),
    "grid_sampler_3d_backward": OpRule(
        "the backprop of F.grid_sample on volumes",
        "stop the gradient to the input (.detach()) when only the grid must train, or sample on "
        "the CPU",
    ),
    "cumsum": OpRule(
        "torch.cumsum / Tensor.cumsum of a floating point or complex tensor",
        "a cumulative sum as a matrix product with a triangular matrix of ones "
        "(x @ torch.ones(n, n).triu()), or cumsum in float64 on the CPU",
        lambda op: op.floating is True,
    ),
    "scatter_reduce": OpRule(
        "Tensor.scatter_reduce(reduce='prod')",
        "a product as exp of a scatter sum of logs for positive values, or the CPU",
        lambda op: op.reduce == "prod",
    ),
}
for _name in ("cumsum_", "scatter_reduce_"):
    NO_CUDA_DETERMINISM[_name] = NO_CUDA_DETERMINISM[_name.rstrip("_")]

# Ops whose default CUDA kernel accumulates with atomic adds (or lets cuDNN pick such an
# algorithm); PyTorch picks a deterministic kernel only under use_deterministic_algorithms(True).
CUDA_NEEDS_DETERMINISM: dict[str, OpRule] = {
    "convolution_backward": OpRule(
        "the backprop of nn.Conv1d/2d/3d or nn.ConvTranspose1d/2d/3d (cuDNN may pick an "
        "algorithm that sums with atomics)",
        "",
    ),
    "replication_pad1d_backward": OpRule("the backprop of nn.ReplicationPad1d", ""),
    "replication_pad2d_backward": OpRule("the backprop of nn.ReplicationPad2d", ""),
    "replication_pad3d_backward": OpRule("the backprop of nn.ReplicationPad3d", ""),
    "max_pool3d_with_indices_backward": OpRule("the backprop of nn.MaxPool3d", ""),
    "index_add": OpRule(
        "torch.index_add (also the backprop of torch.index_select)", ""
    ),
    "scatter_add": OpRule(
        "Tensor.scatter_add (also the backprop of torch.gather)", ""
    ),
    "scatter": OpRule(
        "Tensor.scatter with a src tensor",
        "",
        lambda op: op.overload in ("src", "reduce"),
    ),
    "scatter_reduce": OpRule(
        "Tensor.scatter_reduce(reduce='sum' or 'mean')",
        "",
        lambda op: op.reduce in ("sum", "mean"),
    ),
    "index_copy": OpRule("Tensor.index_copy", ""),
    "index_put": OpRule(
        "indexed assignment tensor[index] = values (index_put with accumulate=False: duplicate "
        "indices race)",
        "",
        lambda op: op.accumulate is False,
    ),
}
for _name in ("index_add_", "scatter_add_", "scatter_", "scatter_reduce_", "index_copy_",
              "index_put_", "_index_put_impl_"):
    CUDA_NEEDS_DETERMINISM[_name] = CUDA_NEEDS_DETERMINISM[
        "index_put" if _name == "_index_put_impl_" else _name.rstrip("_")
    ]

# Every op name the recorder has to look at (the rest pass through unrecorded).
WATCHED_OPS = frozenset(NO_CUDA_DETERMINISM) | frozenset(CUDA_NEEDS_DETERMINISM)


def _where(op: TorchOp) -> str:
    return f"op aten.{op.name}"[:MAX_WHERE]


def torch_op_warnings(ops: Iterable[TorchOp], *, deterministic: bool) -> list[dict[str, Any]]:
    """The portability warnings of the recorded ops, each op once.

    deterministic: the run had torch.use_deterministic_algorithms(True) (the torch_deterministic
    toggle); ops that only need it to be deterministic warn when it was off.
    """
    found: list[dict[str, Any]] = []
    for op in ops:
        refused = NO_CUDA_DETERMINISM.get(op.name)
        if refused is not None and refused.applies(op):
            found.append(
                {
                    "code": NO_DETERMINISTIC_CUDA_KERNEL,
                    "where": _where(op),
                    "message": f"aten.{op.name} is {refused.source}, recorded in the first "
                    "training step. PyTorch 2.13 has no deterministic CUDA kernel for it: on a "
                    "GPU under torch.use_deterministic_algorithms(True) (the torch_deterministic "
                    "toggle) it raises RuntimeError (\"... does not have a deterministic "
                    "implementation\"), and without it its result changes from run to run. "
                    "Bitwise here does not carry over to a GPU machine. What to do: "
                    f"{refused.fix}.",
                }
            )
            continue
        needs = CUDA_NEEDS_DETERMINISM.get(op.name)
        if needs is not None and needs.applies(op) and not deterministic:
            found.append(
                {
                    "code": NONDETERMINISTIC_CUDA_KERNEL,
                    "where": _where(op),
                    "message": f"aten.{op.name} ({needs.source}, recorded in the first training "
                    "step) accumulates with atomic adds on a GPU, in an order that changes from "
                    "run to run; PyTorch switches to a deterministic kernel only under "
                    "torch.use_deterministic_algorithms(True), which this run did not enable. "
                    "What to do: turn on the profile's torch_deterministic toggle (the full "
                    "preset has it) before running this model on a GPU.",
                }
            )
    return merge(found)
