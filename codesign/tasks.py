"""What a model is for, and so how it is trained, fed and judged: classification (accuracy), regression (MSE),
autoencoder (reconstruction MSE; ROC AUC of the per-sample error when labels mark anomalies).

One subclass per task; `task_of(name)` gives it. Searches maximize `score`: the accuracy, or minus the mean squared
error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .errors import CodesignError


@dataclass(frozen=True)
class Task:
    """A task that regresses: the loss and the metric are the mean squared error of `targets`."""
    name: ClassVar[str] = "regression"
    metric: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False
    required_arrays: ClassVar[tuple[str, ...]] = ("x_train", "y_train", "x_test", "y_test")
    target_array: ClassVar[str] = "y_train"  # the training array the outputs are fitted to

    def loss(self, logits: bool):
        import tensorflow as tf

        return tf.keras.losses.MeanSquaredError()

    def targets(self, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """What the model is trained to output."""
        return y

    def metrics(self, outputs: np.ndarray, x: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
        """The task's metric on model outputs."""
        return {"mse": float(np.mean(self._sample_errors(outputs, x, y)))}

    def _sample_errors(self, outputs, x, y) -> np.ndarray:
        outputs = np.asarray(outputs, np.float64)
        target = self.targets(x, y).reshape(outputs.shape)
        return np.mean((outputs - target).reshape(len(outputs), -1) ** 2, axis=1)

    def validation(self, outputs: np.ndarray, x: np.ndarray, y: np.ndarray | None, logits: bool) -> tuple[float, float]:
        """(score the search maximizes, loss) on validation outputs."""
        mse = self.metrics(outputs, x, y)["mse"]
        return -mse, mse

    def score(self, metrics: dict[str, float]) -> float:
        """The value searches maximize."""
        value = metrics[self.metric]
        return value if self.higher_is_better else -value

    def shown(self, score: float) -> float:
        """A search score back as the task's metric."""
        return score if self.higher_is_better else -score

    def labels(self, path: Path, name: str, y: np.ndarray, n: int) -> np.ndarray:
        """A user's `y_<part>` array checked and typed; errors name `path` and the array."""
        if y.dtype.kind not in "fiu" or len(y) != n or not np.all(np.isfinite(y)):
            raise CodesignError(f"{path}: {name}: shape {y.shape}, dtype {y.dtype}; expected {n} finite targets")
        return y.astype(np.float32).reshape(n, -1) if y.ndim == 1 else y.astype(np.float32)

    def n_classes(self, labels: list[np.ndarray]) -> int:
        return 0

    def stratify(self, y: np.ndarray | None) -> np.ndarray | None:
        """What a train/validation split keeps in proportion (class labels), or None."""
        return None

    def output_error(self, outputs: tuple, split, source: str) -> str | None:
        """Why a model with this output shape cannot learn the task on `split` (None: it can); `source` names
        the data set in the message."""
        expected = tuple(self.targets(split.x_train, split.y_train).shape[1:])
        if outputs == expected:
            return None
        article = "an" if self.name[0] in "aeiou" else "a"
        return (f"the model outputs {outputs}; {article} {self.name} task trains it on {source} {self.target_array}, "
                f"of shape {expected}")


@dataclass(frozen=True)
class Regression(Task):
    pass


@dataclass(frozen=True)
class Classification(Task):
    name: ClassVar[str] = "classification"
    metric: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True

    def loss(self, logits: bool):
        import tensorflow as tf

        return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=logits)

    def metrics(self, outputs, x, y) -> dict[str, float]:
        outputs = np.asarray(outputs, np.float64)
        return {"accuracy": float(np.mean(np.argmax(outputs.reshape(len(outputs), -1), 1) == y))}

    def validation(self, outputs, x, y, logits: bool) -> tuple[float, float]:
        """Accuracy and mean cross-entropy (`logits`: the outputs are before a softmax)."""
        p = np.asarray(outputs, np.float64)
        if logits:
            p = np.exp(p - p.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        acc = float(np.mean(np.argmax(p, axis=1) == y))
        loss = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))
        return acc, loss

    def labels(self, path, name, y, n) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot
            y = np.argmax(y, axis=1)
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != n:
            raise CodesignError(f"{path}: {name}: shape {y.shape}; expected ({n},) class labels or ({n}, classes) "
                                "one-hot")
        if not np.all(np.isfinite(y)) or np.any(y < 0) or np.any(np.mod(y, 1) != 0):
            raise CodesignError(f"{path}: {name}: class labels must be integers >= 0")
        return y.astype(np.int64)

    def n_classes(self, labels) -> int:
        return int(max(int(y.max()) for y in labels)) + 1

    def stratify(self, y):
        return y

    def output_error(self, outputs, split, source) -> str | None:
        n = split.n_classes
        if len(outputs) != 1 or outputs[0] < n:
            return f"the model outputs {outputs}; {source} has {n} classes (labels 0..{n - 1})"
        return None


@dataclass(frozen=True)
class Autoencoder(Task):
    """Trained to reproduce its input; labels are optional and, where given, mark anomalies (1) for ROC AUC."""
    name: ClassVar[str] = "autoencoder"
    required_arrays: ClassVar[tuple[str, ...]] = ("x_train", "x_test")
    target_array: ClassVar[str] = "x_train"

    def targets(self, x, y) -> np.ndarray:
        return x

    def metrics(self, outputs, x, y) -> dict[str, float]:
        per_sample = self._sample_errors(outputs, x, y)
        out = {"mse": float(np.mean(per_sample))}
        if y is not None and len(np.unique(y)) == 2:
            from sklearn.metrics import roc_auc_score

            out["roc_auc"] = float(roc_auc_score(y, per_sample))
        return out

    def labels(self, path, name, y, n) -> np.ndarray:
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != n or not np.all(np.isin(y, (0, 1))):
            raise CodesignError(f"{path}: {name}: shape {y.shape}; an autoencoder's labels are optional, ({n},) "
                                "with 1 marking an anomaly and 0 a normal sample")
        return y.astype(np.int64)


TASK_CLASSES = {cls.name: cls for cls in (Classification, Regression, Autoencoder)}
TASKS = tuple(TASK_CLASSES)
CLASSIFICATION = Classification()


def task_of(name: str) -> Task:
    """The task named `name` (one of TASKS); a ValueError names the allowed ones."""
    if name not in TASK_CLASSES:
        raise ValueError(f"{name!r}; allowed: {', '.join(TASKS)}")
    return TASK_CLASSES[name]()


def evaluate(model, x: np.ndarray, y: np.ndarray | None, task: Task) -> dict[str, float]:
    return task.metrics(model.predict(x, verbose=0, batch_size=1024), x, y)
