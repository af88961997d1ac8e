"""The vocabulary of an hls4ml target, one place for every module: parts, io types, strategies.

hls4ml spells strategies `Latency` / `Resource` (config) and `latency` / `resource` (layer attributes, some
reports, `Resource_Unrolled` in newer versions); the cost model keys its templates by the lower-case name.
"""

from __future__ import annotations

DEFAULT_PART = "xcvu13p-flga2577-2-e"  # hls4ml's default Vivado/Vitis part
IO_TYPES = ("io_parallel", "io_stream")
DA = "distributed_arithmetic"  # hls4ml 1.3.0: da4ml's adder graphs, ReuseFactor 1
STRATEGIES = ("Latency", "Resource", DA)  # as an hls4ml config writes them
STRATEGY_KEYS = ("latency", "resource", DA)  # as the cost model's templates are keyed


def strategy_key(name: object) -> str:
    """The cost model's key of any spelling of a strategy (None or unknown: latency, hls4ml's default)."""
    s = str(name or "latency").lower()
    return s if s in STRATEGY_KEYS else "resource" if s.startswith("resource") else "latency"
