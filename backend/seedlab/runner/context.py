"""RunContext: what experiment code gets from the runner (child side)."""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from seedlab.analysis.portability import merge, onednn_warnings
from seedlab.analysis.runwarnings import run_warnings
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runner.events import EventWriter, RunEvent


def weights_checksum(model: Any) -> str:
    """sha256 over the raw bytes of every weight: a Keras model (model.weights order), a PyTorch
    module (state_dict order) or a JAX/NumPy pytree of arrays (leaf order)."""
    if _is_keras_model(model):
        import numpy as np

        digest = hashlib.sha256()
        for weight in model.weights:
            digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
        return digest.hexdigest()
    digest = hashlib.sha256()
    for _name, arrays in _weight_groups(model):
        for array in arrays:
            digest.update(array)
    return digest.hexdigest()


# Per-layer and per-batch checksums are compared for equality only: 64 bits keep a 10,000-step
# trace small while a chance collision stays out of reach.
SHORT_CHECKSUM = 16
# A trace keeps the first steps only: divergence is looked for from the start, and a long run
# must not send megabytes with its result.
MAX_TRACED_STEPS = 10_000


def layer_checksums(model: Any) -> tuple[list[str], list[str]]:
    """Names of the layers that own weights and a short sha256 of each one's weight bytes."""
    import numpy as np

    if not _is_keras_model(model):
        groups = _weight_groups(model)
        names = [name for name, _arrays in groups]
        checksums = [
            hashlib.sha256(b"".join(arrays)).hexdigest()[:SHORT_CHECKSUM]
            for _name, arrays in groups
        ]
        return names, checksums
    layers = [layer for layer in getattr(model, "layers", []) if layer.weights]
    if not layers:  # a Keras model without layers: the whole model is one "layer"
        return ["model"], [weights_checksum(model)[:SHORT_CHECKSUM]]
    names, checksums = [], []
    for layer in layers:
        digest = hashlib.sha256()
        for weight in layer.weights:
            digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
        names.append(layer.name)
        checksums.append(digest.hexdigest()[:SHORT_CHECKSUM])
    return names, checksums


def _is_keras_model(model: Any) -> bool:
    """A Keras model or layer (weights with .numpy()), not a PyTorch module or a pytree.

    On the PyTorch backend a Keras layer is also a torch Module: its class tree says Keras.
    """
    if not hasattr(model, "weights"):
        return False
    return not hasattr(model, "state_dict") or any(
        cls.__module__.split(".")[0] == "keras" for cls in type(model).__mro__
    )


def _weight_groups(model: Any) -> list[tuple[str, list[bytes]]]:
    """The weight bytes of a PyTorch module (grouped by owning module) or of a pytree of arrays
    (grouped by top-level key), in a fixed order."""
    if hasattr(model, "state_dict"):  # a torch.nn.Module: parameters and buffers
        groups: dict[str, list[bytes]] = {}
        for name, tensor in model.state_dict().items():
            owner = name.rpartition(".")[0] or name
            groups.setdefault(owner, []).append(_torch_bytes(tensor))
        return list(groups.items())
    import numpy as np

    def leaves(value: Any) -> list[bytes]:
        if isinstance(value, Mapping):
            return [b for key in sorted(value, key=str) for b in leaves(value[key])]
        if isinstance(value, list | tuple):
            return [b for item in value for b in leaves(item)]
        return [np.ascontiguousarray(np.asarray(value)).tobytes()]

    if isinstance(model, Mapping):
        return [(str(key), leaves(model[key])) for key in sorted(model, key=str)]
    if isinstance(model, list | tuple) or hasattr(model, "shape"):
        return [("model", leaves(model))]
    raise TypeError(
        f"cannot take the weights of a {type(model).__name__}: give a Keras model, a PyTorch "
        "module, or a dict/list of arrays (JAX or NumPy parameters)"
    )


def _torch_bytes(tensor: Any) -> bytes:
    """The raw bytes of a tensor on any device and of any dtype (bfloat16 has no NumPy twin)."""
    import torch

    flat = tensor.detach().cpu().contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return bytes(flat.view(torch.uint8).numpy().tobytes())


def arrays_hash(*arrays: Any) -> str:
    """sha256 over the raw bytes of the arrays, in order."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        values = np.asarray(array)
        if values.dtype == object:
            # The bytes of an object array are pointers, different in every process: hash the
            # values instead (strings from a CSV, mixed columns).
            digest.update(repr(values.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


# Validation predictions kept per run: enough for churn, small enough for a JSON column.
MAX_PREDICTIONS = 10_000


class RunContext:
    """Seeds and reporting hooks for one run."""

    def __init__(
        self,
        *,
        seed: int,
        shuffle_seed: int | None,
        events: EventWriter,
        fingerprint: dict[str, Any] | None = None,
        trace: bool = False,
        datasets: dict[str, str] | None = None,
        order_seed: int | None = None,
        split_seed: int | None = None,
        before_fingerprint: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        # The run seed is the init seed: Python, NumPy and TF's global seed (weights, dropout).
        self.seed = seed
        self.init_seed = seed
        # Data order (shuffles, tf.data) and the train/validation split; both follow the run
        # seed unless the run was given its own (a decompose job varies one source at a time).
        self.order_seed = seed if order_seed is None else order_seed
        self.split_seed = seed if split_seed is None else split_seed
        # Whether the run was given a split seed of its own: built-ins that pin their split by
        # a parameter (data_seed) move it only then, so every other run keeps its split.
        self.split_seed_given = split_seed is not None
        # sha256 -> local file of each uploaded data set the agent fetched for this run.
        self.datasets = dict(datasets or {})
        self.dataset_hashes: list[str] = []
        # The op-level seed for tf.data shuffles: None when the profile leaves them unseeded.
        self.shuffle_seed = shuffle_seed
        self.epochs: int | None = None
        self.data_hash: str | None = None
        self.epoch_checksums: list[str] = []
        # Checksum of each epoch's first input batch (None where it could not be seen).
        self.epoch_first_batches: list[str | None] = []
        self.predictions: dict[str, Any] | None = None
        self.epoch_seconds: list[float] = []
        self.last_metrics: dict[str, float] = {}
        # Per-layer evidence for the first-divergence locator (see runs.models.RunTrace).
        self.trace_steps_enabled = trace
        self.trace_layers: list[str] = []
        self.trace_initial: list[str] = []
        self.trace_epochs: list[list[str]] = []
        self.trace_steps: list[list[Any]] = []
        self.trace_truncated = False
        # Set when the model's layers changed mid-run: the trace is dropped, never the run.
        self.trace_broken = False
        # The profile as applied and read back (the `applied` event), set by the run process.
        self.applied_profile: dict[str, Any] | None = None
        # What each fit's portability inspection found, and the seconds it took.
        self.portability_warnings: list[dict[str, Any]] = []
        self.inspection_seconds = 0.0
        self._events = events
        # ctx.log: the last step logged and when, for its seconds and its order check.
        self._last_logged_step = 0
        self._last_log_time = time.perf_counter()
        # Held back until the data hash is known, so the fingerprint can carry it.
        self._pending_fingerprint = fingerprint
        # Completes the fingerprint when it goes out: a run process learns the frameworks the
        # experiment imported only as it runs (see runner/child.py).
        self._before_fingerprint = before_fingerprint

    @contextlib.contextmanager
    def order_scope(self) -> Iterator[None]:
        """Build data-order ops inside: their global TF seed is the order seed, not the init seed.

        TF derives an op's seeds from the global seed and the op seed, so a seeded
        `Dataset.shuffle` would change with the init seed too; inside this block it follows
        order_seed alone. When the two seeds are equal (every run outside a decompose job), or
        no global seed is set, it changes nothing.
        """
        from tensorflow.python.eager import context as tf_context

        state = tf_context.context()
        saved = state._seed  # the global seed as tf.random.set_seed left it
        if saved is None or saved == self.order_seed:
            yield
            return
        # Only the global seed moves: the op-seed counter and kernel caches stay as they are.
        state._seed = self.order_seed
        try:
            yield
        finally:
            state._seed = saved

    def record_predictions(self, ids: Any, scores: Any, labels: Any = None) -> None:
        """Keep validation scores (one per example, binary) so the job can measure seed churn.

        ids name the examples across seeds; labels (0/1) add the test-set noise floor. At most
        MAX_PREDICTIONS examples are kept (the first ones), scores rounded to float32.
        """
        import numpy as np

        id_list = [str(i) for i in np.asarray(ids).reshape(-1).tolist()][:MAX_PREDICTIONS]
        score_array = np.asarray(scores, dtype=np.float32).reshape(-1)
        if score_array.shape[0] < len(id_list) or len(np.asarray(ids).reshape(-1)) != len(
            score_array
        ):
            raise ValueError(
                f"record_predictions needs one score per id: {len(np.asarray(ids).reshape(-1))} "
                f"ids, {score_array.shape[0]} scores (binary classifiers: one column)"
            )
        kept = score_array[: len(id_list)]
        label_list = None
        if labels is not None:
            label_array = np.asarray(labels).reshape(-1)
            if len(label_array) != len(score_array):
                raise ValueError(f"{len(label_array)} labels for {len(score_array)} scores")
            label_list = [int(v) for v in label_array[: len(id_list)].tolist()]
        self.predictions = {
            "ids": id_list,
            "scores": [float(v) for v in kept.tolist()],
            "labels": label_list,
        }

    def seed_for(self, source: str = "init") -> int:
        """The seed of one source of randomness: "init" (weights, dropout), "order" (shuffles,
        data order) or "split" (train/validation split)."""
        seeds = {"init": self.init_seed, "order": self.order_seed, "split": self.split_seed}
        if source not in seeds:
            raise ValueError(f"unknown seed source {source!r}; allowed are {sorted(seeds)}")
        return seeds[source]

    def numpy_rng(self, source: str = "init") -> Any:
        """A NumPy Generator seeded from one source's seed (see seed_for)."""
        import numpy as np

        return np.random.default_rng(self.seed_for(source))

    def torch_generator(self, source: str = "order", device: str = "cpu") -> Any:
        """A torch.Generator seeded from one source's seed: pass it to a DataLoader (order, the
        default), random_split (split) or torch.randn(..., generator=) (init)."""
        import torch

        return torch.Generator(device=device).manual_seed(self.seed_for(source))

    def jax_key(self, source: str = "init") -> Any:
        """A JAX PRNG key from one source's seed: JAX's randomness is explicit, so this key (and
        keys split from it) is what makes a JAX experiment follow the run's seed."""
        import jax

        return jax.random.PRNGKey(self.seed_for(source))

    def begin(self) -> None:
        """The training function starts now: a custom loop's first epoch is timed from here,
        not from the run process's set-up (so its imports do not count as training)."""
        self._last_log_time = time.perf_counter()

    def set_epochs(self, epochs: int) -> None:
        """Declare how many epochs the run will train (for progress)."""
        self.epochs = epochs

    def set_data_hash(self, *arrays: Any) -> None:
        """Record the hash of the data the model sees (call before training)."""
        self.data_hash = arrays_hash(*arrays)
        self.flush_fingerprint()

    def read_dataset(self, sha256: str) -> bytes:
        """The bytes of an uploaded data set, checked against its sha256 (call before training).

        The sha256 goes into the run's fingerprint (`experiment.dataset_sha256`).
        """
        path = self.datasets.get(sha256)
        if path is None:
            raise RuntimeError(
                f"data set {sha256} was not fetched for this run; the agent downloads the data "
                "sets named by the experiment's dataset parameters before it starts the run"
            )
        data = Path(path).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise RuntimeError(f"data set file {path} has sha256 {actual}, expected {sha256}")
        if self.data_hash is not None or self.epoch_checksums:
            # The fingerprint has gone out; it could no longer name this data set.
            raise RuntimeError("read data sets before set_data_hash() and before training")
        if sha256 not in self.dataset_hashes:
            self.dataset_hashes.append(sha256)
        if self._pending_fingerprint is not None:
            experiment = dict(self._pending_fingerprint.get("experiment") or {})
            experiment["dataset_sha256"] = ",".join(self.dataset_hashes)
            self._pending_fingerprint = {**self._pending_fingerprint, "experiment": experiment}
        return data

    def record_data(self, *arrays: Any) -> None:
        """Record a hash of the data the model trains on (x, y, ...; call before training)."""
        self.set_data_hash(*arrays)

    def log(self, step: int, /, model: Any = None, **metrics: float) -> None:
        """Report one epoch (or step) of a custom training loop: its metrics, and the weights'
        checksum when `model=` is given (needed for bit-for-bit verdicts): a Keras model, a
        PyTorch module or a dict/list of JAX or NumPy arrays."""
        if isinstance(step, bool) or not isinstance(step, int) or step <= self._last_logged_step:
            raise ValueError(
                f"ctx.log(step, ...): step must be an int above the last one logged "
                f"({self._last_logged_step}), got {step!r}"
            )
        if not metrics:
            raise ValueError("ctx.log(step, ...): give at least one metric, e.g. loss=0.3")
        for name, value in metrics.items():
            if isinstance(value, bool) or not _is_number(value):
                raise TypeError(
                    f"ctx.log: metric {name!r} must be a number (float, int or a scalar array), "
                    f"got {type(value).__name__}"
                )
        now = time.perf_counter()
        seconds, self._last_log_time = now - self._last_log_time, now
        self._last_logged_step = step
        self.report_epoch(step, metrics, model, seconds)

    def flush_fingerprint(self) -> None:
        """Emit the held fingerprint, with the data hash when known; only the first call sends."""
        if self._pending_fingerprint is None:
            return
        pending, self._pending_fingerprint = self._pending_fingerprint, None
        if self._before_fingerprint is not None:
            pending = self._before_fingerprint(pending)
        data = {**pending, "data_hash": self.data_hash}
        self._events.emit(RunEvent.FINGERPRINT, hash=fingerprint_hash(data), data=data)

    def report_epoch(self, epoch: int, metrics: dict[str, Any], model: Any, seconds: float) -> None:
        """Emit one epoch: its metrics and the checksum of all weights after it (None when the
        loop gave no model)."""
        self.flush_fingerprint()  # an experiment that declared no data still gets one, early
        values = {name: float(value) for name, value in metrics.items()}
        not_finite = sorted(name for name, value in values.items() if not math.isfinite(value))
        if not_finite:
            # JSON has no NaN/inf; a diverged training is a failed run with a clear message.
            raise FloatingPointError(f"metrics {not_finite} are not finite at epoch {epoch}")
        checksum: str | None = None
        if model is not None:
            checksum = weights_checksum(model)
            self.trace_epochs.append(self._layer_checksums(model))
            self.epoch_checksums.append(checksum)
        self.epoch_seconds.append(seconds)
        self.last_metrics = values
        self._events.emit(
            RunEvent.EPOCH,
            epoch=epoch,
            epochs=self.epochs,
            metrics=values,
            weights_checksum=checksum,
            seconds=seconds,
        )

    def record_initial_weights(self, model: Any) -> None:
        """Note each layer's weights before the first optimizer step (once per run)."""
        if not self.trace_layers and getattr(model, "weights", None):
            self.trace_layers, self.trace_initial = layer_checksums(model)

    def _layer_checksums(self, model: Any) -> list[str]:
        names, checksums = layer_checksums(model)
        if not self.trace_layers:
            # Built lazily (e.g. a custom loop): there is no "before training" snapshot.
            self.trace_layers, self.trace_initial = names, []
        if names != self.trace_layers:
            self.trace_broken = True  # checksums of different layers cannot be compared
        return checksums

    def report_step(self, epoch: int, step: int, model: Any, input_checksum: str | None) -> None:
        """Trace one optimizer step: the input batch checksum and every layer's weights after it.

        Custom training loops call this after each step when `trace_steps_enabled`.
        """
        if not self.trace_steps_enabled:
            return
        if len(self.trace_steps) >= MAX_TRACED_STEPS:
            self.trace_truncated = True
            return
        self.trace_steps.append([epoch, step, input_checksum, self._layer_checksums(model)])

    def add_portability(self, warnings: list[dict[str, Any]], seconds: float) -> None:
        """Keep one fit's portability warnings (each code and place once per run)."""
        self.portability_warnings = merge(self.portability_warnings, warnings)
        self.inspection_seconds += seconds

    def keras_callback(self) -> Any:
        """A Keras callback that reports every epoch (metrics, weights checksum, seconds)."""
        import keras

        context = self

        class _ReportEpochs(keras.callbacks.Callback):  # type: ignore[misc]
            """Reports each finished epoch to the run context."""

            # Lets autolog's fit hook see that this fit already reports (no double epochs).
            seedlab_reporter = True

            def set_model(self, model: Any) -> None:
                super().set_model(model)
                # Untraced runs note only each epoch's first batch: enough to see a repeated
                # order, at the cost of one checksum per epoch.
                gate = None if context.trace_steps_enabled else [False]
                self._inputs, self._gate = _watch_input_batches(model, gate=gate)
                self._first_input: str | None = None

            def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
                planned = self.params.get("epochs")
                done = len(context.epoch_checksums)
                if isinstance(planned, int) and (context.epochs is None or done):
                    # The experiment did not say, Keras knows; a later fit of the same run
                    # (a script fitting twice) adds its epochs to those already reported.
                    context.set_epochs(max(context.epochs or 0, done + planned))
                context.record_initial_weights(self.model)

            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                # Numbered over the whole run: a second fit continues, it does not restart.
                self._epoch = len(context.epoch_checksums) + 1
                self._first_input = None
                if not context.trace_steps_enabled:
                    self._inputs.clear()  # under XLA nothing is noted: the order stays unknown
                    if self._gate is not None:
                        self._gate[0] = True
                self._started = time.perf_counter()

            def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                if context.trace_steps_enabled:
                    # One batch per call, or several with steps_per_execution > 1.
                    seen = list(self._inputs)
                    self._inputs.clear()
                    batch_checksum = (
                        None
                        if not seen
                        else seen[0]
                        if len(seen) == 1
                        else arrays_hash(*(c.encode() for c in seen))[:SHORT_CHECKSUM]
                    )
                    if batch == 0:
                        self._first_input = batch_checksum
                    context.report_step(self._epoch, batch + 1, self.model, batch_checksum)

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                seconds = time.perf_counter() - self._started
                if not context.trace_steps_enabled:
                    self._first_input = self._inputs[0] if self._inputs else None
                context.epoch_first_batches.append(self._first_input)
                context.report_epoch(self._epoch, logs or {}, self.model, seconds)

        return _ReportEpochs()

    def trace_fields(self) -> dict[str, Any] | None:
        """The run's trace as sent with its result (None when it could not be kept)."""
        if self.trace_broken or not self.trace_layers:
            return None
        if len(self.trace_epochs) != len(self.epoch_seconds):
            return None  # a custom loop logged some epochs without model=: nothing to line up
        return {
            "layers": self.trace_layers,
            "initial": self.trace_initial,
            "epochs": self.trace_epochs,
            "steps": self.trace_steps if self.trace_steps_enabled else None,
            "steps_truncated": self.trace_truncated,
        }

    def done_fields(self) -> dict[str, Any]:
        """The fields of the final `done` event."""
        if not self.epoch_seconds:
            raise RuntimeError(
                "the experiment reported no epoch: train with model.fit (hooked by seedlab), "
                "pass callbacks=[ctx.keras_callback()], or call ctx.log(epoch, loss=...) per epoch"
            )
        # A custom loop that logged without model= has no weights to compare.
        complete = len(self.epoch_checksums) == len(self.epoch_seconds)
        return {
            "final_metrics": self.last_metrics,
            "weights_checksum": self.epoch_checksums[-1] if self.epoch_checksums else None,
            "epoch_checksums": self.epoch_checksums if complete else None,
            "data_hash": self.data_hash,
            "seconds_per_epoch": steady_seconds_per_epoch(self.epoch_seconds),
            "trace": self.trace_fields(),
            "predictions": self.predictions,
            "warnings": merge(
                run_warnings(
                    first_batches=self.epoch_first_batches, where="model.fit input batches"
                ),
                self.portability_warnings,
                onednn_warnings((self.applied_profile or {}).get("onednn")),
            ),
            # Not forwarded by the agent: for measuring what the inspection costs.
            "inspection_seconds": self.inspection_seconds,
        }


def _is_number(value: Any) -> bool:
    """A Python number, or anything float() takes without a copy of data (NumPy/TF scalars)."""
    if isinstance(value, int | float):
        return True
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) not in ((), (1,)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def steady_seconds_per_epoch(epoch_seconds: list[float]) -> float:
    """Mean seconds per epoch, leaving out the first when there are more.

    The first epoch also pays for tracing the train and test functions into graphs; with it, the
    cost of a control on a short run would be mostly noise.
    """
    steady = epoch_seconds[1:] or epoch_seconds
    return sum(steady) / len(steady)


def _watch_input_batches(
    model: Any, *, gate: list[bool] | None = None
) -> tuple[list[str], list[bool] | None]:
    """Make the model's train step note a checksum of each input batch; returns queue and gate.

    With a gate, a batch is noted only while gate[0] is set, which noting clears: the caller
    sets it at an epoch's start to note that epoch's first batch alone. A model wrapped before
    keeps its first queue and gate (its compiled step holds those).

    The checksum is taken by a host callback inside the compiled step, from the very tensors the
    step trains on, so it sees what shuffling, maps and prefetching produced. The callback
    computes nothing the step uses, so the weights stay bit-identical to an untraced run.
    """
    import keras
    import numpy as np

    existing: list[str] | None = getattr(model, "_seedlab_input_checksums", None)
    if existing is not None:
        return existing, model._seedlab_input_gate  # a second fit(): already wrapped
    seen: list[str] = []
    if keras.backend.backend() != "tensorflow":
        return seen, None  # Keras on JAX/PyTorch: no TF host callback, no input checksums
    import tensorflow as tf

    if getattr(model, "jit_compile", False):
        # XLA cannot run a host callback: steps go without input checksums.
        return seen, None

    train_step = model.train_step

    def note(*arrays: Any) -> Any:
        if gate is not None:
            if not gate[0]:
                return np.int64(0)
            gate[0] = False
        seen.append(arrays_hash(*arrays)[:SHORT_CHECKSUM])
        return np.int64(len(seen))

    def traced_train_step(data: Any) -> Any:
        tensors = [t for t in tf.nest.flatten(data) if t is not None]
        # A stateful op in a tf.function runs whether or not its output is used. No
        # control_dependencies around the step: variables the step creates on its first trace
        # (the optimizer's, the metrics') would get initialisers that depend on the callback,
        # which TF cannot lift out of the function; it then traces the step twice more under a
        # tf.cond (its `fn_with_cond` path), about 0.2 s per run.
        tf.numpy_function(note, tensors, tf.int64, stateful=True)
        return train_step(data)

    model.train_step = traced_train_step
    model.train_function = None  # rebuilt by fit() around the traced step
    model._seedlab_input_checksums = seen
    model._seedlab_input_gate = gate
    return seen, gate
