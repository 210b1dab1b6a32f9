"""RunContext: what experiment code gets from the runner (child side)."""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from seedlab.runner.events import EventWriter


def weights_checksum(model: Any) -> str:
    """sha256 over the bytes of every weight of the model, in model.weights order."""
    import numpy as np

    digest = hashlib.sha256()
    for weight in model.weights:
        array = np.ascontiguousarray(np.asarray(weight.numpy()))
        digest.update(str(array.dtype).encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def arrays_hash(*arrays: Any) -> str:
    """sha256 over arrays' dtypes, shapes and bytes."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        data = np.ascontiguousarray(np.asarray(array))
        digest.update(str(data.dtype).encode())
        digest.update(str(data.shape).encode())
        digest.update(data.tobytes())
    return digest.hexdigest()


class RunContext:
    """Seeds and reporting hooks for one run."""

    def __init__(self, *, seed: int, shuffle_seed: int | None, events: EventWriter) -> None:
        self.seed = seed
        self.shuffle_seed = shuffle_seed
        self._events = events
        self.epochs: int | None = None
        self.data_hash: str | None = None
        self.epoch_checksums: list[str] = []
        self.last_metrics: dict[str, float] = {}
        self.epoch_seconds: list[float] = []
        self._fingerprint: dict[str, Any] | None = None
        self.fingerprint_sent = False

    def hold_fingerprint(self, data: dict[str, Any]) -> None:
        """Keep the captured fingerprint until the data hash is known."""
        self._fingerprint = data

    def send_fingerprint(self) -> None:
        """Emit the fingerprint (with the data hash when the experiment gave one), once."""
        if self.fingerprint_sent or self._fingerprint is None:
            return
        from seedlab.fingerprints.canonical import fingerprint_hash

        data = {**self._fingerprint, "data_hash": self.data_hash}
        self._events.emit("fingerprint", hash=fingerprint_hash(data), data=data)
        self.fingerprint_sent = True

    def set_epochs(self, epochs: int) -> None:
        """Declare how many epochs the run will train (for progress)."""
        self.epochs = epochs

    def set_data_hash(self, *arrays: Any) -> None:
        """Record the hash of the data the model sees."""
        self.data_hash = arrays_hash(*arrays)
        self.send_fingerprint()

    def report_epoch(self, epoch: int, metrics: dict[str, Any], model: Any, seconds: float) -> None:
        """Emit one epoch: its metrics and the checksum of all weights after it."""
        values = {key: float(value) for key, value in metrics.items()}
        bad = [key for key, value in values.items() if not math.isfinite(value)]
        if bad:
            raise FloatingPointError(f"metrics {bad} are not finite at epoch {epoch}")
        checksum = weights_checksum(model)
        self.epoch_checksums.append(checksum)
        self.last_metrics = values
        self.epoch_seconds.append(seconds)
        self._events.emit(
            "epoch", epoch=epoch, epochs=self.epochs, metrics=values, weights_checksum=checksum,
            seconds=seconds,
        )

    def keras_callback(self) -> Any:
        """A Keras callback that reports every epoch."""
        import keras

        context = self

        class _Report(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                context.report_epoch(
                    epoch + 1, logs or {}, self.model, time.perf_counter() - self._started
                )

        return _Report()

    def done_fields(self) -> dict[str, Any]:
        """The fields of the final `done` event."""
        return {
            "final_metrics": self.last_metrics,
            "weights_checksum": self.epoch_checksums[-1] if self.epoch_checksums else None,
            "epoch_checksums": self.epoch_checksums,
            "data_hash": self.data_hash,
            "seconds_per_epoch": (
                sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else None
            ),
        }
