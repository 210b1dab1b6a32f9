"""The reference MLP of SEED_NOTES.md as a plain script with the full seed setup (cold baseline).

Usage: PYTHONHASHSEED=0 python benchmarks/reference_mlp.py SEED
"""

from __future__ import annotations

import random
import sys


def main() -> None:
    """Seed everything, train the reference model once, print a weight checksum."""
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
    import hashlib

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    tf.config.experimental.enable_op_determinism()
    import keras

    x = np.random.rand(100, 10)
    y = np.random.randint(0, 2, (100, 1))
    model = keras.Sequential(
        [
            keras.Input(shape=(10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
    print(digest.hexdigest())


if __name__ == "__main__":
    main()
