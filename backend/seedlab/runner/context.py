"""RunContext: what experiment code gets from the runner (child side)."""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from seedlab.fingerprints.canonical import fingerprint_hash
from seedlab.runner.events import EventWriter


def weights_checksum(model: Any) -> str:
    """sha256 over the raw bytes of every weight of the model, in model.weights order."""
    import numpy as np

    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def arrays_hash(*arrays: Any) -> str:
    """sha256 over the raw bytes of the arrays, in order."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class RunContext:
    """Seeds and reporting hooks for one run."""

    def __init__(
        self,
        *,
        seed: int,
        shuffle_seed: int | None,
        events: EventWriter,
        fingerprint: dict[str, Any] | None = None,
    ) -> None:
        self.seed = seed
        # The op-level seed for tf.data shuffles: None when the profile leaves them unseeded.
        self.shuffle_seed = shuffle_seed
        self.epochs: int | None = None
        self.data_hash: str | None = None
        self.epoch_checksums: list[str] = []
        self.epoch_seconds: list[float] = []
        self.last_metrics: dict[str, float] = {}
        self._events = events
        # Held back until the data hash is known, so the fingerprint can carry it.
        self._pending_fingerprint = fingerprint

    def set_epochs(self, epochs: int) -> None:
        """Declare how many epochs the run will train (for progress)."""
        self.epochs = epochs

    def set_data_hash(self, *arrays: Any) -> None:
        """Record the hash of the data the model sees (call before training)."""
        self.data_hash = arrays_hash(*arrays)
        self.flush_fingerprint()

    def flush_fingerprint(self) -> None:
        """Emit the held fingerprint, with the data hash when known; only the first call sends."""
        if self._pending_fingerprint is None:
            return
        data = {**self._pending_fingerprint, "data_hash": self.data_hash}
        self._pending_fingerprint = None
        self._events.emit("fingerprint", hash=fingerprint_hash(data), data=data)

    def report_epoch(self, epoch: int, metrics: dict[str, Any], model: Any, seconds: float) -> None:
        """Emit one epoch: its metrics and the checksum of all weights after it."""
        self.flush_fingerprint()  # an experiment that declared no data still gets one, early
        values = {name: float(value) for name, value in metrics.items()}
        not_finite = sorted(name for name, value in values.items() if not math.isfinite(value))
        if not_finite:
            # JSON has no NaN/inf; a diverged training is a failed run with a clear message.
            raise FloatingPointError(f"metrics {not_finite} are not finite at epoch {epoch}")
        checksum = weights_checksum(model)
        self.epoch_checksums.append(checksum)
        self.epoch_seconds.append(seconds)
        self.last_metrics = values
        self._events.emit(
            "epoch",
            epoch=epoch,
            epochs=self.epochs,
            metrics=values,
            weights_checksum=checksum,
            seconds=seconds,
        )

    def keras_callback(self) -> Any:
        """A Keras callback that reports every epoch (metrics, weights checksum, seconds)."""
        import keras

        context = self

        class _ReportEpochs(keras.callbacks.Callback):  # type: ignore[misc]
            """Reports each finished epoch to the run context."""

            def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
                planned = self.params.get("epochs")
                if context.epochs is None and isinstance(planned, int):
                    context.set_epochs(planned)  # the experiment did not say; Keras knows

            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                seconds = time.perf_counter() - self._started
                context.report_epoch(epoch + 1, logs or {}, self.model, seconds)

        return _ReportEpochs()

    def done_fields(self) -> dict[str, Any]:
        """The fields of the final `done` event."""
        if not self.epoch_checksums:
            raise RuntimeError("the experiment reported no epoch (did it use keras_callback()?)")
        return {
            "final_metrics": self.last_metrics,
            "weights_checksum": self.epoch_checksums[-1],
            "epoch_checksums": self.epoch_checksums,
            "data_hash": self.data_hash,
            "seconds_per_epoch": sum(self.epoch_seconds) / len(self.epoch_seconds),
        }
