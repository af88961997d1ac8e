"""Training: float baseline, then QAT starting from the float weights (same layer names)."""

from __future__ import annotations

import numpy as np

from .data import Split
from .design import Training
from .tasks import CLASSIFICATION, Task


def seed_everything(seed: int) -> None:
    import random

    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


class _EpochBar:
    """A rich progress bar advanced once per epoch (Keras callback)."""

    def __new__(cls, label: str, epochs: int, progress, metric: str = "accuracy"):
        import tensorflow as tf

        class Callback(tf.keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.task = progress.add_task(label, total=epochs) if progress else None

            def on_epoch_end(self, epoch, logs=None):
                if progress:
                    value = (logs or {}).get(metric, 0.0)
                    progress.update(self.task, advance=1, description=f"{label} train {metric}={value:.3g}")

        return Callback()


def learning_rate(training: Training, steps: int):
    """The learning rate of a fit of `steps` optimizer steps: constant, or cosine decay to 1% of it over the fit
    (Loshchilov & Hutter 2017, without restarts)."""
    import tensorflow as tf

    if training.schedule == "constant":
        return training.learning_rate
    return tf.keras.optimizers.schedules.CosineDecay(training.learning_rate, max(1, steps), alpha=0.01)


def fit(model, split: Split, training: Training, label: str, progress=None, epochs: int | None = None,
        task: Task = CLASSIFICATION, sparsity: dict[str, float] | None = None, ramp_epochs: int | None = None):
    """Train on the split's training part for the task (cross-entropy on labels, or MSE on targets / inputs);
    `sparsity` {layer: s} prunes those kernels by magnitude as training goes, ramped over `ramp_epochs`
    (default all; 0: at the target from the start) (codesign/prune.py)."""
    import tensorflow as tf

    from . import prune
    from .modelio import final_softmax

    epochs = training.epochs if epochs is None else epochs
    if sparsity and epochs <= 0:
        prune.apply(model, sparsity)
        return model
    rate = learning_rate(training, epochs * -(-len(split.x_train) // training.batch_size))
    model.compile(tf.keras.optimizers.Adam(rate), task.loss(logits=not final_softmax(model)), metrics=[task.metric])
    model.fit(split.x_train, task.targets(split.x_train, split.y_train), epochs=epochs,
              batch_size=training.batch_size, verbose=0, shuffle=True,
              callbacks=[_EpochBar(label, epochs, progress, task.metric)]
              + ([prune.callback(sparsity, epochs if ramp_epochs is None else ramp_epochs)] if sparsity else []))
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    pred = model.predict(x, verbose=0, batch_size=1024)
    return float(np.mean(np.argmax(pred, axis=1) == y))


def transfer_weights(src, dst) -> None:
    """Copy weights layer by layer, by name (float baseline -> QKeras twin)."""
    for layer in dst.layers:
        if layer.get_weights():
            layer.set_weights(src.get_layer(layer.name).get_weights())
