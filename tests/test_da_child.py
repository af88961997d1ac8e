"""The da4ml solver's child process ends with a multiprocessing worker that used it (no hang at the worker's exit)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

# a pool worker solves, then exits with the solver's child idle; the second task waits for that exit
SCRIPT = """
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
import numpy as np

def cost(seed):
    from hw_models.da import cost_and_depth
    return cost_and_depth(np.random.default_rng(seed).integers(-7, 8, size=(6, 3)) / 8, 0, 4, 0)[0]

if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        print(all(c > 0 for c in pool.map(cost, (0, 1))))
"""


def test_a_worker_that_solved_exits(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, str(script)], cwd=root, stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONPATH": str(root)}, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the pool, its worker and the solver's child
        proc.communicate()
        raise AssertionError("the pool hung: a worker waited at exit for the solver's idle child") from None
    assert proc.returncode == 0 and out.strip() == "True"


# a user's script as the README writes one: no `if __name__ == "__main__":` guard
UNGUARDED = """
import numpy as np
from hw_models.da import cost_and_depth
print(cost_and_depth(np.array([[0.5, -0.25], [0.75, 0.125]]), 0, 2, 0)[0] > 0)
"""


def test_a_script_without_a_main_guard_is_not_run_again_by_the_solver_child(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(UNGUARDED)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONPATH": str(root)})
    # before: the spawned child imported the script, solved again inside its own bootstrapping and died
    # (BrokenProcessPool in the parent)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.split() == ["True"]
