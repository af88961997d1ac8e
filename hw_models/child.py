"""Worker processes that do not run the user's script again.

A spawned process (multiprocessing's "spawn", the only start method safe beside TensorFlow's threads)
first imports the parent's `__main__` from its file, so a user's script without an
`if __name__ == "__main__":` guard ran again in the worker, started its own search there and the worker
died on multiprocessing's bootstrapping check (a BrokenProcessPool in the parent). The workers here only
run functions of this package, so they start with `__main__` left alone: multiprocessing skips a main
module named `__main__` (spawn._fixup_main_from_name), which is what the parent's main module is called
while a worker is launched (`_main_as_name`).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess

_LAUNCH = threading.Lock()


@contextlib.contextmanager
def _main_as_name():
    """While a worker is launched, the parent's __main__ reads as the module named `__main__` (not a file)."""
    main = sys.modules.get("__main__")
    with _LAUNCH:
        saved = getattr(main, "__spec__", None)
        if main is not None:
            main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
        try:
            yield
        finally:
            if main is not None:
                main.__spec__ = saved


class _Process(SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        with _main_as_name():
            return SpawnProcess._Popen(process_obj)


class _Context(SpawnContext):
    Process = _Process


def worker_pool(workers: int = 1, **options) -> ProcessPoolExecutor:
    """A pool of spawned workers for this package's functions (not the user's `__main__`)."""
    return ProcessPoolExecutor(workers, mp_context=_Context(), **options)
