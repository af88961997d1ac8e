"""The da4ml solver's child process ends with a multiprocessing worker that used it (no hang at the worker's exit)."""

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np


def _cost(seed: int) -> float:
    from hw_models.da import cost_and_depth, stop_child

    kernel = np.random.default_rng(seed).integers(-7, 8, size=(6, 3)) / 8
    cost = cost_and_depth(kernel, 0, 4, 0)[0]
    stop_child()  # a worker's exit runs no atexit: it stops the solver's child itself
    return cost


def test_a_worker_that_solved_exits():
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = [pool.submit(_cost, s) for s in (0, 1)]
        costs = [f.result(timeout=120) for f in futures]  # the second waits for the first worker to exit
    assert all(c > 0 for c in costs)
