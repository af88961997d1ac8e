"""What a model is for, and so how it is trained and judged: classification (accuracy), regression (MSE),
autoencoder (reconstruction MSE; ROC AUC of the per-sample error when labels mark anomalies).

Searches maximize `score`: the accuracy, or minus the mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("classification", "regression", "autoencoder")


@dataclass(frozen=True)
class Task:
    name: str = "classification"

    @property
    def metric(self) -> str:
        return "accuracy" if self.name == "classification" else "mse"

    @property
    def higher_is_better(self) -> bool:
        return self.name == "classification"

    def loss(self, logits: bool):
        import tensorflow as tf

        if self.name == "classification":
            return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
        return tf.keras.losses.MeanSquaredError()

    def targets(self, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """What the model is trained to output: labels, values, or (autoencoder) its input."""
        return x if self.name == "autoencoder" else y

    def metrics(self, outputs: np.ndarray, x: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
        """The task's metric on model outputs; an autoencoder with 0/1 labels (1: anomaly) adds roc_auc."""
        outputs = np.asarray(outputs, np.float64)
        if self.name == "classification":
            return {"accuracy": float(np.mean(np.argmax(outputs.reshape(len(outputs), -1), 1) == y))}
        target = self.targets(x, y).reshape(outputs.shape)
        per_sample = np.mean((outputs - target).reshape(len(outputs), -1) ** 2, axis=1)
        out = {"mse": float(np.mean(per_sample))}
        if self.name == "autoencoder" and y is not None and len(np.unique(y)) == 2:
            from sklearn.metrics import roc_auc_score

            out["roc_auc"] = float(roc_auc_score(y, per_sample))
        return out

    def score(self, metrics: dict[str, float]) -> float:
        """The value searches maximize."""
        value = metrics[self.metric]
        return value if self.higher_is_better else -value

    def shown(self, score: float) -> float:
        """A search score back as the task's metric."""
        return score if self.higher_is_better else -score


def evaluate(model, x: np.ndarray, y: np.ndarray | None, task: Task) -> dict[str, float]:
    return task.metrics(model.predict(x, verbose=0, batch_size=1024), x, y)
