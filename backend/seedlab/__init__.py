"""seedlab: reproducibility runs of TensorFlow/Keras training.

`from seedlab import experiment, RunContext` is the API for your own training functions; both
are imported lazily, so importing seedlab imports neither TensorFlow nor FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RunContext", "__version__", "experiment"]

if TYPE_CHECKING:
    from seedlab.experiments.decorated import experiment
    from seedlab.runner.context import RunContext


def __getattr__(name: str) -> Any:
    """The public API, imported on first use."""
    if name == "experiment":
        from seedlab.experiments.decorated import experiment

        return experiment
    if name == "RunContext":
        from seedlab.runner.context import RunContext

        return RunContext
    raise AttributeError(f"module 'seedlab' has no attribute {name!r}")
