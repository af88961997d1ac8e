"""Training schedules: what each fit's optimizer steps with."""

import numpy as np
import pytest

from codesign.data import Split
from codesign.design import Training
from codesign.train import fit, learning_rate


@pytest.mark.parametrize("schedule, last", [("constant", 0.004), ("cosine", 0.004 * 0.01)])
def test_cosine_schedule_decays_to_one_percent_over_each_fit(schedule, last):
    """100 samples in batches of 32: 4 steps an epoch; a cosine fit of 3 epochs spans its 12 steps, from the full
    rate to 1% of it, and a second fit (a search candidate's fine-tuning) starts again from the full rate."""
    import tensorflow as tf

    training = Training(epochs=3, batch_size=32, learning_rate=0.004, schedule=schedule)
    rate = learning_rate(training, 12)
    at = (lambda step: float(rate(step))) if callable(rate) else (lambda step: float(rate))
    assert at(0) == pytest.approx(0.004) and at(12) == pytest.approx(last)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 4)).astype(np.float32), rng.integers(0, 3, 100)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    for _ in range(2):
        fit(model, Split(x, y, x, y, None, 3), training, "t")
        # Keras reports the rate of the step taken last: the 12th (step 11)
        assert int(model.optimizer.iterations) == 12 and float(model.optimizer.learning_rate) == pytest.approx(at(11))
