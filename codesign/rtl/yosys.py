"""Yosys `synth_xilinx` of a da4ml RTL project: LUT, FF, CARRY and DSP counts of the mapped netlist."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CodesignError
from .tools import require

# da4ml's static modules; only those the design instantiates are read (lookup_table.v carries a
# $readmemh of a placeholder file that breaks Yosys when read unused)
STATIC_MODULES = ("shift_adder", "negative", "mux", "multiplier", "lookup_table")


@dataclass
class YosysResult:
    lut: int      # LUT1..LUT6 plus INV (Vivado maps an inverter to a LUT1)
    ff: int       # FDRE/FDSE/FDCE/FDPE
    carry: int    # CARRY4 (7 series) / CARRY8 (UltraScale+)
    dsp: int      # DSP48E1/DSP48E2
    muxf: int     # MUXF7/MUXF8 (LUT combiners, not LUTs)
    seconds: float
    cells: dict


def sources(src: Path, top: str) -> list[Path]:
    """The design's Verilog files (top, its pipeline stages) and the static modules they use."""
    design = sorted(p for p in src.glob(f"{top}*.v") if not p.stem.endswith("_wrapper"))
    text = "\n".join(p.read_text() for p in design)
    used = [src / "static" / f"{m}.v" for m in STATIC_MODULES if re.search(rf"\b{m}\s*#\s*\(", text)]
    return used + design


def mem_dir(src: Path) -> Path:
    """Where da4ml puts lookup-table contents: $readmemh paths are relative to it (rtl_model.py, src/memfiles)."""
    mem = src / "memfiles"
    return mem if mem.is_dir() else src


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the last `stat` section of a Yosys log."""
    section = text.rsplit("Number of cells:", 1)
    if len(section) != 2:
        raise CodesignError("Yosys printed no cell statistics")
    cells = {}
    for line in section[1].splitlines()[1:]:
        m = re.fullmatch(r"\s+(\$?\w+)\s+(\d+)\s*", line)
        if not m:
            break
        cells[m.group(1)] = int(m.group(2))
    return cells


def synthesize(src: Path, top: str, family: str, log: Path, timeout_s: float | None = None) -> YosysResult:
    """`synth_xilinx -flatten -family <family>` of `top` in `src`; the full log goes to `log`."""
    yosys = require("yosys")
    files = [p.resolve() for p in sources(src, top)]  # yosys runs in mem_dir: a relative src would not resolve
    # -defer: lookup_table.v's $readmemh is read once hierarchy has set MEM_FILE, not with its placeholder.
    # Its ROMs (rom_style "distributed", which Yosys 0.23 cannot map) become logic first, as Vivado makes them.
    roms = f"hierarchy -top {top}\nproc\nmemory -nomap\nmemory_map\n" if any(
        p.name == "lookup_table.v" for p in files) else ""
    script = (f"read_verilog -defer {' '.join(str(p) for p in files)}\n{roms}"
              f"synth_xilinx -flatten -family {family} -top {top}\nstat\n")
    start = time.perf_counter()
    try:  # $readmemh paths are relative to the working directory
        run = subprocess.run([yosys, "-p", script.replace("\n", "; ")], capture_output=True, text=True,
                             cwd=mem_dir(src), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise CodesignError(f"yosys did not finish {top} in {timeout_s:.0f} s") from None
    seconds = time.perf_counter() - start
    log.write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        errors = [line for line in (run.stderr + run.stdout).splitlines() if "ERROR" in line] or ["no message"]
        raise CodesignError(f"yosys failed on {top}: {errors[0].strip()}")
    cells = parse_stat(run.stdout)
    count = lambda *names: sum(v for k, v in cells.items() if k.startswith(names))  # noqa: E731
    return YosysResult(lut=count("LUT", "INV"), ff=count("FDRE", "FDSE", "FDCE", "FDPE"),
                       carry=count("CARRY"), dsp=count("DSP48"), muxf=count("MUXF"), seconds=round(seconds, 1),
                       cells=cells)
