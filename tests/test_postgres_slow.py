"""Distributed search on a real PostgreSQL server: a search and two workers share one study; one worker is killed
mid-trial (SIGKILL) and every trial is still done once, none lost, none duplicated.

The server is started here on a loopback port in a temporary folder (Debian's PostgreSQL binaries; .ci/run
installs them where missing) and stopped at the end.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "tests" / "data" / "search_tiny.yaml"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); .ci/run installs them")
    return Path(found[-1]).parent


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="codesign_pg_"))  # not under pytest's 0700 folders: the server user reads it
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "codesign"]),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",
                                    "-t", "60", "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"]),
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://codesign@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _codesign(*args: str) -> list[str]:
    return [sys.executable, "-m", "codesign.cli", *args]


def test_search_and_two_workers_on_postgres_survive_a_killed_worker(postgres, tmp_path):
    import optuna
    from optuna.trial import TrialState

    env = dict(os.environ, CODESIGN_HEARTBEAT_S="1", CODESIGN_GRACE_S="4")
    out = tmp_path / "out"
    first = subprocess.run(_codesign("search", str(DESIGN), "--out", str(out), "--storage", postgres),
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]

    def load():
        return optuna.load_study(study_name="search_tiny-random", storage=postgres)

    target = 14
    workers = [subprocess.Popen(_codesign("worker", str(DESIGN), "--out", str(out), "--storage", postgres,
                                          "--trials", str(target)), cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    victim, deadline = None, time.time() + 600
    while victim is None and time.time() < deadline:
        time.sleep(0.2)
        mine = [t for t in load().get_trials(states=(TrialState.RUNNING,))
                if t.user_attrs.get("worker") == workers[0].pid]
        if not mine:
            continue
        time.sleep(0.3)  # its heartbeat has started
        os.kill(workers[0].pid, signal.SIGSTOP)
        if load().trials[mine[0].number].state == TrialState.RUNNING:
            victim = mine[0].number
        else:
            os.kill(workers[0].pid, signal.SIGCONT)
    assert victim is not None, "the first worker never had a trial running"
    os.kill(workers[0].pid, signal.SIGKILL)
    workers[0].wait()
    log = workers[1].communicate(timeout=900)[0]
    assert workers[1].returncode == 0, log[-2000:]

    trials = load().get_trials()
    states = [t.state for t in trials]
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states  # none lost
    assert len({t.number for t in trials}) == len(trials)                        # none duplicated
    assert trials[victim].state == TrialState.FAIL
    retries = [t for t in trials if t.user_attrs.get("retry_of") == victim]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE       # done once, by the survivor
    assert retries[0].params == trials[victim].params
    assert retries[0].user_attrs["worker"] == workers[1].pid
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert target <= len(done) <= target + 1  # one extra at most from the two workers' final race
    # the search's own results were written from the same database
    summary = json.loads((out / "search_tiny" / "search" / "search.json").read_text())
    assert summary["best"]["validation"]["bit_exact_fraction"] == 1.0
