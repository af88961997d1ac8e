"""Read Vivado/Vitis HLS and Vivado synthesis reports of hls4ml projects (framework-free)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path


class ReportError(ValueError):
    """A report file that does not have the expected tables."""


def _num(text: str) -> float:
    return float(text.replace(",", "").strip())


def parse_csynth_rpt(path: str | Path) -> dict[str, float]:
    """<top>_csynth.rpt: the 'Utilization Estimates' Total row and the top-level latency/interval."""
    text = Path(path).read_text(errors="replace")
    util = text.find("Utilization Estimates")
    if util < 0:
        raise ReportError(f"{path}: no 'Utilization Estimates' section (is this a csynth report?)")
    head = re.search(r"\|\s*Name\s*\|([^\n]*)\n", text[util:])
    total = re.search(r"\|Total\s*\|([^\n]*)\n", text[util:])
    if not head or not total:
        raise ReportError(f"{path}: no Name/Total rows in the utilization summary")
    names = [h.strip() for h in head.group(1).split("|") if h.strip()]
    values = [v.strip() for v in total.group(1).split("|") if v.strip()]
    row = dict(zip(names, values))
    dsp_key = next((k for k in names if k.startswith("DSP")), None)
    out = {"lut": _num(row["LUT"]), "ff": _num(row["FF"]), "dsp": _num(row[dsp_key]) if dsp_key else 0.0,
           "bram_18k": _num(row.get("BRAM_18K", "0")), "uram": _num(row.get("URAM", "0"))}
    start = text.find("Latency (cycles)")
    lat = re.search(r"^\s*\|\s*(\d+)\|\s*(\d+)\|[^|\n]*\|[^|\n]*\|\s*(\d+)\|\s*(\d+)\|", text[start:], re.M) \
        if start >= 0 else None
    if lat:
        out |= {"latency_cycles": _num(lat.group(2)), "ii": _num(lat.group(4))}
    clock = re.search(r"\|ap_clk\s*\|\s*([\d.]+)\s*ns\s*\|\s*([\d.]+)\s*ns", text)
    if clock:
        out |= {"clock_target_ns": _num(clock.group(1)), "clock_estimated_ns": _num(clock.group(2))}
    part = re.search(r"\* Target device:\s*(\S+)", text)
    if part:
        out["part"] = part.group(1)
    return out


def parse_csynth_xml(path: str | Path) -> dict[str, float]:
    """csynth.xml (the file hls4ml's own read_vivado_report reads): AreaEstimates and SummaryOfOverallLatency."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ReportError(f"{path}: not valid XML ({exc})") from exc
    res = root.find("AreaEstimates/Resources")
    if res is None:
        raise ReportError(f"{path}: no AreaEstimates/Resources element")

    def get(tag: str, node=res) -> float:
        el = node.find(tag)
        return _num(el.text) if el is not None and el.text and el.text.strip().replace(".", "").isdigit() else 0.0

    out = {"lut": get("LUT"), "ff": get("FF"), "dsp": get("DSP") or get("DSP48E"), "bram_18k": get("BRAM_18K"),
           "uram": get("URAM")}
    lat = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    if lat is not None:
        out |= {"latency_cycles": get("Worst-caseLatency", lat), "ii": get("Interval-max", lat)}
    part = root.find("UserAssignments/Part")
    if part is not None and part.text:
        out["part"] = part.text.strip()
    return out


def parse_vivado_synth(path: str | Path) -> dict[str, float]:
    """vivado_synth.rpt (report_utilization after synth_design): post-logic-synthesis LUT/FF/DSP/BRAM."""
    text = Path(path).read_text(errors="replace")

    def first(pattern: str) -> float | None:
        m = re.search(r"\|\s*" + pattern + r"\s*\|\s*([\d.]+)\s*\|", text)
        return _num(m.group(1)) if m else None

    lut = first(r"(?:CLB|Slice) LUTs\*?")
    if lut is None:
        raise ReportError(f"{path}: no 'CLB LUTs' / 'Slice LUTs' row (is this a Vivado utilization report?)")
    tiles = first(r"Block RAM Tile") or 0.0
    return {"lut": lut, "ff": first(r"(?:CLB|Slice) Registers") or 0.0, "dsp": first(r"DSPs") or 0.0,
            "bram_18k": 2.0 * tiles, "uram": first(r"URAM") or 0.0}


def read_report(path: str | Path) -> tuple[str, dict[str, float]]:
    """(level, figures) of one report file: level 'csynth' or 'synth'."""
    p = Path(path)
    if p.suffix == ".xml":
        return "csynth", parse_csynth_xml(p)
    if p.name.endswith("_csynth.rpt") or p.name == "csynth.rpt":
        return "csynth", parse_csynth_rpt(p)
    if "vivado_synth" in p.name or "utilization" in p.name:
        return "synth", parse_vivado_synth(p)
    raise ReportError(f"{p}: unknown report; expected csynth.xml, <top>_csynth.rpt or vivado_synth.rpt")


def find_reports(project: str | Path) -> list[Path]:
    """Report files inside an hls4ml project directory (the HLS solution folder included)."""
    root = Path(project)
    found = [p for pat in ("**/csynth.xml", "**/*_csynth.rpt", "**/vivado_synth.rpt") for p in root.glob(pat)]
    top = [p for p in found if p.name in ("myproject_csynth.rpt", "csynth.xml", "vivado_synth.rpt")
           or "syn/report" not in str(p)]
    return sorted(set(top))
