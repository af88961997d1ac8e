"""Verilator simulation of a da4ml RTL project through da4ml's C++ binder (sim/<top>_wrapper_binder.cc).

da4ml's own build (`RTLModel.compile`, build_binder.mk) fails with Debian's verilator 5.006: it reads
an empty VERILATOR_ROOT, and `-build` without `--exe` leaves only V<top>__ALL.a. Here verilator builds
that archive, g++ links it with verilated.cpp and verilated_threads.cpp into a shared library, and
ctypes calls the binder's `inference(int32 *in, int32 *out, n, threads)`.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import subprocess
import time
from pathlib import Path

import numpy as np

from ..errors import CodesignError
from .tools import require, verilator_include

# g++ -O0 on Verilator's generated C++: the digits MLP's model builds in 19 s instead of ~4 min at
# Verilator's default -Os, and still simulates 1,000 samples in milliseconds
NO_OPT = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
INT32_BITS = 32  # the binder passes every input and output as one int32


# lint pragmas of newer verilators that 5.006 (Debian 12) rejects as errors; they are comments to synthesis
UNKNOWN_LINT = re.compile(r"^.*verilator lint_(?:off|on) WIDTHTRUNC.*\n", re.MULTILINE)


def _run(cmd: list[str], cwd: Path, what: str, log: Path) -> None:
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n{run.stdout}{run.stderr}\n")
    if run.returncode != 0:
        errors = [line for line in (run.stderr + run.stdout).splitlines() if "rror" in line] or ["no message"]
        raise CodesignError(f"{what} failed: {errors[0].strip()}")


def strip_unknown_lint(src: Path) -> None:
    for path in src.rglob("*.v"):
        text = path.read_text()
        if UNKNOWN_LINT.search(text):
            path.write_text(UNKNOWN_LINT.sub("", text))


def build(rtl: Path, top: str, jobs: int = 2) -> tuple[Path, float]:
    """Shared library simulating `<top>_wrapper` in rtl/; returns (path, seconds)."""
    verilator = require("verilator")
    include = verilator_include()
    sim = rtl / "sim"
    wrapper = f"{top}_wrapper"
    log = sim / "verilator.log"
    log.write_text("")
    strip_unknown_lint(rtl / "src")
    start = time.perf_counter()
    _run([verilator, "--cc", "-j", str(jobs), "--build", f"../src/{wrapper}.v", "--prefix", f"V{wrapper}",
          "-CFLAGS", "-fPIC -O0", "-MAKEFLAGS", NO_OPT, "-I../src", "-I../src/static", "-Wno-fatal", "-Wno-lint",
          "-Wno-style"],
         sim, "verilator", log)
    lib = sim / f"lib{wrapper}.so"
    _run(["g++", "-std=c++17", "-fPIC", "-O0", "-shared", "-pthread", "-Iobj_dir", f"-I{include}",
          f"-I{include}/vltstd", "-o", lib.name, f"{wrapper}_binder.cc", f"obj_dir/V{wrapper}__ALL.a",
          str(include / "verilated.cpp"), str(include / "verilated_threads.cpp")], sim, "g++ (Verilator binder)", log)
    return lib, time.perf_counter() - start


def io_kifs(solution) -> tuple[np.ndarray, np.ndarray]:
    from da4ml.codegen.rtl.rtl_model import get_io_kifs

    return get_io_kifs(solution)


def check_io_widths(solution) -> None:
    """The binder's int32 ports hold at most 32 bits of every input and output, and at least one bit."""
    k, i, f = (np.asarray(a) for a in io_kifs(solution)[1])
    if not np.any(k + i + f > 0):
        raise CodesignError("every output of the network is the constant 0 (e.g. all weights quantized to 0): "
                            "there is no logic to synthesize or simulate")
    for kifs, what in zip(io_kifs(solution), ("input", "output")):
        width = int(sum(np.max(a) for a in kifs))
        if width > INT32_BITS:
            raise CodesignError(f"the RTL {what}s need {width} bits (sign + integer + fraction over all of them); "
                                f"the Verilator binder passes at most {INT32_BITS}")


def simulate(lib: Path, solution, x: np.ndarray, mem_dir: Path) -> np.ndarray:
    """RTL outputs for inputs x (already on the input grid), as float64 (exact). Lookup tables are read
    ($readmemh) relative to `mem_dir` (yosys.mem_dir) when the model starts."""
    handle = ctypes.CDLL(str(lib))
    n_in, n_out = solution.shape
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    if flat.shape[1] != n_in:
        raise CodesignError(f"inputs have {flat.shape[1]} values per sample, the RTL takes {n_in}")
    (_, _, f_in), (k, i, f) = (tuple(int(np.max(a)) for a in kifs) for kifs in io_kifs(solution))
    inp = np.ascontiguousarray(np.floor(flat * 2.0 ** f_in).astype(np.int32).ravel())
    out = np.empty(len(x) * n_out, dtype=np.int32)
    with contextlib.chdir(mem_dir):
        handle.inference(inp.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                         out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), ctypes.c_size_t(len(x)),
                         ctypes.c_size_t(1))
    span, offset = 2.0 ** (k + i + f), k * 2.0 ** (i + f)
    return ((out.reshape(len(x), n_out).astype(np.float64) + offset) % span - offset) * 2.0 ** -f
