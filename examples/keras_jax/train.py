"""A plain Keras 3 script on the JAX backend: no seedlab import, no seeds set, no TensorFlow.

seedlab runs it unmodified as the command experiment `keras_jax` (see seedlab.toml). Its
start-up hook seeds Python and NumPy at start, sets XLA's deterministic-ops and thread flags when
JAX is imported (before its backend starts), sets Keras' global seed when Keras is imported and
reports every epoch of `model.fit` with a weights checksum.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()

    # A categorical feature (embedded) and numeric ones, from NumPy's global generator.
    category = np.random.randint(0, 20, size=(args.samples, 1))
    numeric = np.random.rand(args.samples, 6).astype("float32")
    y = ((numeric.sum(axis=1) + (category[:, 0] % 3) + 0.3 * np.random.randn(args.samples)) > 4.0)
    y = y.astype("float32")

    cat_in = keras.Input(shape=(1,), dtype="int32")
    num_in = keras.Input(shape=(6,))
    embedded = keras.layers.Flatten()(keras.layers.Embedding(20, 4)(cat_in))
    hidden = keras.layers.Concatenate()([embedded, num_in])
    hidden = keras.layers.Dense(32, activation="relu")(hidden)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.Dropout(0.3)(hidden)
    out = keras.layers.Dense(1, activation="sigmoid")(hidden)
    model = keras.Model([cat_in, num_in], out)
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr), loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    history = model.fit(
        [category, numeric], y, epochs=args.epochs, batch_size=32, validation_split=0.25,
        shuffle=True, verbose=0,
    )
    print(f"backend {keras.backend.backend()}, final loss {history.history['loss'][-1]:.4f}")


if __name__ == "__main__":
    main()
