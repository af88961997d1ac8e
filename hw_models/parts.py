"""FPGA parts database: one YAML file per part in hw_models/parts/ (framework-free)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

PARTS_DIR = Path(__file__).parent / "parts"
DSP_PORTS = {"DSP48E1": (25, 18), "DSP48E2": (27, 18), "DSP58": (27, 24)}  # UG479, UG579, AM004
# Yosys `synth_xilinx -family` of each device family (yosys techlibs/xilinx: xc7 = 7 series with
# CARRY4 and LUT6, xcu = UltraScale, xcup = UltraScale+ with CARRY8)
YOSYS_FAMILY = {"zynq": "xc7", "artix7": "xc7", "kintex7": "xc7", "virtex7": "xc7", "kintexu": "xcu",
                "virtexu": "xcu", "virtexuplus": "xcup", "kintexuplus": "xcup", "zynquplus": "xcup"}


# How much slower a family's fabric is than UltraScale(+)'s: DSP48E1 Fmax of a -1 Zynq-7000 / 7 series part is
# 464 MHz (DS187) against 775 MHz for a -2 UltraScale+ DSP48E2 (DS923): a 5 ns target on a 7 series part asks
# HLS for as many pipeline stages as 3 ns on UltraScale+. The default of the cost model's clock pressure; its fit
# chooses a factor from the reports (`fit.FABRIC_GRID`: the pipelines HLS builds on 7 series are deeper still).
SLOW_FABRIC = {"xc7": 775 / 464}


def fabric_delay(part: str, slow: float | None = None) -> float:
    """Delay of `part`'s fabric relative to UltraScale+ (1.0), from its name (a database part or any Xilinx part
    string as reports write it, e.g. `xc7z020clg400-1`); `slow`: a 7 series part's (default SLOW_FABRIC's)."""
    p = part.lower()
    return (slow or SLOW_FABRIC["xc7"]) if p.startswith(("xc7", "7")) else 1.0


class UnknownPartError(ValueError):
    """The requested FPGA part is not in the database."""


@dataclass(frozen=True)
class Part:
    part: str
    family: str
    lut: int
    ff: int
    dsp: int
    dsp_type: str
    bram_18k: int
    uram: int

    @property
    def yosys_family(self) -> str:
        return YOSYS_FAMILY[self.family]

    @property
    def dsp_ports(self) -> tuple[int, int]:
        return DSP_PORTS[self.dsp_type]


@lru_cache(maxsize=None)
def list_parts() -> tuple[Part, ...]:
    return tuple(Part(**yaml.safe_load(p.read_text())) for p in sorted(PARTS_DIR.glob("*.yaml")))


def load_part(name: str) -> Part:
    for part in list_parts():
        if part.part.lower() == name.lower():
            return part
    known = ", ".join(p.part for p in list_parts())
    raise UnknownPartError(f"unknown FPGA part {name!r}; known parts: {known}")
