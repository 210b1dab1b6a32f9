"""Record the aten ops of a PyTorch script's first training step (run process; imports torch).

The start-up hook calls `start` right after `import torch`: a TorchDispatchMode then sees every
op the script dispatches (forward, the backprop's ops, the optimizer's) and keeps the few that
analysis/torchportability.py judges, until the first optimizer step has run (a global optimizer
step post hook). It only looks: each op runs as it would without it, with the same kernels, so
weights are bit-identical with and without recording. A script that never steps a
torch.optim optimizer is recorded for its first MAX_OPS ops. SEEDLAB_TORCH_OPS=0 in the
run's environment turns it off (read by the start-up hook).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from seedlab.analysis.torchportability import WATCHED_OPS, TorchOp, torch_op_warnings

log = logging.getLogger("seedlab.runner.torchops")

# Ops looked at when no optimizer ever steps (manual updates): then recording stops, at the
# next module call, so such a script pays for it only this long.
MAX_OPS = 200_000

Report = Callable[[list[dict[str, Any]]], None]


def start(*, deterministic: bool, report: Report) -> Any:
    """Record until the first optimizer step, then `report` the warnings; the recorder or None."""
    try:
        recorder = _Recorder(deterministic=deterministic, report=report)
        recorder.enter()
    except Exception:  # recording must never fail a run
        log.warning("PyTorch op recording could not start", exc_info=True)
        return None
    return recorder


def _facts(name: str, overload: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TorchOp:
    """The op with the arguments its CUDA determinism depends on (schemas of aten 2.13)."""

    def arg(index: int, key: str, default: Any = None) -> Any:
        if key in kwargs:
            return kwargs[key]
        return args[index] if len(args) > index else default

    if name in ("index_put", "index_put_", "_index_put_impl_"):
        return TorchOp(name, overload, accumulate=bool(arg(3, "accumulate", False)))
    if name in ("put", "put_"):
        return TorchOp(name, overload, accumulate=bool(arg(3, "accumulate", False)))
    if name in ("scatter_reduce", "scatter_reduce_"):
        return TorchOp(name, overload, reduce=str(arg(4, "reduce", "")))
    if name == "nll_loss2d_forward":
        return TorchOp(name, overload, reduction=int(arg(3, "reduction", 1)))
    if name == "_embedding_bag_backward":
        return TorchOp(name, overload, mode=int(arg(8, "mode", 0)))
    if name == "_embedding_bag_dense_backward":
        return TorchOp(name, overload, mode=int(arg(7, "mode", 0)))
    if name == "bincount":
        return TorchOp(name, overload, weighted=arg(1, "weights") is not None)
    if name in ("cumsum", "cumsum_"):
        tensor = args[0] if args else None
        floating = tensor is not None and bool(tensor.is_floating_point() or tensor.is_complex())
        dtype = arg(2, "dtype")
        if dtype is not None:
            floating = bool(dtype.is_floating_point or dtype.is_complex)
        return TorchOp(name, overload, floating=floating)
    return TorchOp(name, overload)


class _Recorder:
    """The dispatch mode, the optimizer hook that ends it, and what it saw."""

    def __init__(self, *, deterministic: bool, report: Report) -> None:
        from torch.nn.modules.module import register_module_forward_pre_hook
        from torch.optim.optimizer import register_optimizer_step_post_hook
        from torch.utils._python_dispatch import TorchDispatchMode

        self.deterministic = deterministic
        self.report = report
        self.ops: dict[TorchOp, None] = {}
        self.count = 0
        self.done = False
        # A DataLoader worker forked while recording inherits the recorder: only the run's
        # own process reports.
        self.pid = os.getpid()
        recorder = self
        base: Any = TorchDispatchMode  # torch's own annotations are partial

        class _Mode(base):  # type: ignore[misc]
            def __torch_dispatch__(
                self, func: Any, types: Any, args: tuple[Any, ...] = (),
                kwargs: dict[str, Any] | None = None,
            ) -> Any:
                kwargs = kwargs or {}
                if not recorder.done:
                    recorder.see(func, args, kwargs)
                return func(*args, **kwargs)

        self.mode = _Mode()
        self.handles = [
            register_optimizer_step_post_hook(self._after_step),
            register_module_forward_pre_hook(self._before_module),
        ]

    def enter(self) -> None:
        self.mode.__enter__()

    def see(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.count += 1
        name = func._overloadpacket.__name__
        if name in WATCHED_OPS:
            try:
                self.ops[_facts(name, func._overloadname, args, kwargs)] = None
            except Exception:  # an argument of an unexpected kind: the op by name alone
                self.ops[TorchOp(name, func._overloadname)] = None

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.stop()

    def _before_module(self, module: Any, args: Any) -> None:
        if self.count >= MAX_OPS:
            self.stop()

    def stop(self) -> None:
        """Leave the mode (outside any dispatch: hooks run between ops) and report."""
        if self.done:
            return
        self.done = True
        for handle in self.handles:
            handle.remove()
        try:
            from torch.utils._python_dispatch import _get_current_dispatch_mode

            # Only our own mode can be popped; one the script entered later stays on top,
            # and ours then just passes ops through.
            if _get_current_dispatch_mode() is self.mode:
                self.mode.__exit__(None, None, None)
        except Exception:
            log.warning("PyTorch op recording could not stop cleanly", exc_info=True)
        self.flush()

    def flush(self) -> None:
        """Report what was seen so far (once)."""
        ops, self.ops = list(self.ops), {}
        if os.getpid() != self.pid:
            return
        try:
            self.report(torch_op_warnings(ops, deterministic=self.deterministic))
        except Exception:
            log.warning("PyTorch op warnings could not be reported", exc_info=True)
