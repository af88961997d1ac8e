"""The fitted coefficients of the cost model (`codesign calibrate` writes them; hw_models/data/coefficients.json
ships them, with their provenance in `meta`): the one place they are read, held and written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .parts import fabric_delay

DEFAULT_COEFFICIENTS = Path(__file__).parent / "data" / "coefficients.json"


@dataclass
class Coefficients:
    """Fitted numbers; see hw_models/data/coefficients.json for their provenance."""

    dsp_min_bits: int = 10        # both operands at least this wide -> DSP (fitted by grid search)
    dsp_min_sum: int = 20         # and the two widths add up to at least this
    bram_min_bits: int = 2048     # Resource-strategy weight arrays smaller than this stay in LUTRAM/FF
    fifo_min_depth: int = 10**9   # io_stream FIFOs at least this deep go to BRAM (shallower: SRLs); fitted
    weights: dict = field(default_factory=dict)   # resource -> {feature: coefficient}
    meta: dict = field(default_factory=dict)
    shared_stream: bool = False   # io_stream layers use the io_parallel coefficients (no 's_' features)
    feature_set: list | None = None  # the fitted LUT/FF features (None: all of FEATURE_DOC)
    intervals: dict = field(default_factory=dict)  # resource -> [p10, p90] of report / estimate, out of sample
    synth_ratio: dict = field(default_factory=dict)  # resource -> Vivado post-synthesis / HLS C-synthesis
    synth_intervals: dict = field(default_factory=dict)  # resource -> [p10, p90] of synth report / estimate
    template_intervals: dict = field(default_factory=dict)  # template -> resource -> [p10, p90] (csynth)
    by_tool: bool = False         # one coefficient set per HLS tool generation: features named '<tool>:<name>'
    pressure: bool = False        # the clock counts against the part's fabric speed (parts.fabric_delay)
    slow_fabric: float | None = None  # with `pressure`: 7 series fabric delay / UltraScale+'s, fitted (None: the
    #                                   data-sheet ratio, parts.SLOW_FABRIC)
    latency_fabric: float | None = None  # the same delay as the latency fit sees it (None: slow_fabric)

    KEYS = ("dsp_min_bits", "dsp_min_sum", "bram_min_bits", "fifo_min_depth", "weights", "meta", "shared_stream",
            "feature_set", "intervals", "synth_ratio", "synth_intervals", "template_intervals", "by_tool", "pressure",
            "slow_fabric", "latency_fabric")

    def clock(self, clock_ns: float, part: str, latency: bool = False) -> float:
        """The clock period the features see: the target's, or with `pressure` the UltraScale+ period that asks
        as much of the fabric (a 5 ns target on a 7 series part counts as 3 ns); `latency`: as the latency
        features see it (`latency_fabric`)."""
        if not self.pressure:
            return clock_ns
        return clock_ns / fabric_delay(part, (latency and self.latency_fabric) or self.slow_fabric)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Coefficients":
        data = json.loads(Path(path or DEFAULT_COEFFICIENTS).read_text())
        return cls(**{k: data[k] for k in cls.KEYS if k in data})

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k) for k in self.KEYS}, indent=1, sort_keys=True)

    def bounds(self, level: str, template: str | None = None) -> dict:
        """resource -> [p10, p90] of report / estimate at `level`: at csynth those of the designs `template`
        dominates where it has its own, else of all designs; at synth the post-synthesis ones where fitted
        (too few post-synthesis reports to split by template), latency from the C-synthesis fit."""
        own = self.intervals | self.template_intervals.get(template, {})
        return own | self.synth_intervals if level == "synth" else own


_DEFAULT: list[Coefficients] = []


def default_coefficients() -> Coefficients:
    if not _DEFAULT:
        _DEFAULT.append(Coefficients.load())
    return _DEFAULT[0]
