"""A plain Keras training script: no seedlab import, no seeds set.

seedlab runs it unmodified as the command experiment `keras_script` (see seedlab.toml): its
start-up hook seeds Python, NumPy and TensorFlow and reports every epoch of `model.fit`.
"""

import argparse

import numpy as np
import tensorflow as tf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--samples", type=int, default=128)
    args = parser.parse_args()

    # Data from NumPy's global generator: the same rows only when NumPy is seeded.
    x = np.random.rand(args.samples, 8).astype("float32")
    y = (x.sum(axis=1) + 0.3 * np.random.randn(args.samples) > 4.0).astype("float32")

    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(8,)),
            tf.keras.layers.Dense(args.units, activation="relu"),
            tf.keras.layers.Dropout(0.3),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(args.lr), loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=args.epochs, batch_size=32, validation_split=0.25, verbose=0)
    print(f"final loss {history.history['loss'][-1]:.4f}")


if __name__ == "__main__":
    main()
