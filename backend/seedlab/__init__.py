"""seedlab: reproducibility runs of TensorFlow/Keras training."""

__version__ = "0.1.0"
