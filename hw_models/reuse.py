"""hls4ml's reuse-factor rule (hls4ml/backends/fpga/fpga_backend.py, _validate_reuse_factor), framework-free."""

from __future__ import annotations

import math
from bisect import bisect_left
from functools import lru_cache


def is_valid_reuse_factor(n_in: int, n_out: int, rf: int) -> bool:
    multfactor = min(n_in, rf)
    multiplier_limit = int(math.ceil((n_in * n_out) / float(multfactor)))
    ok = (multiplier_limit % n_out == 0) or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


@lru_cache(maxsize=4096)
def valid_reuse_factors(n_in: int, n_out: int) -> tuple[int, ...]:
    return tuple(rf for rf in range(1, n_in * n_out + 1) if is_valid_reuse_factor(n_in, n_out, rf))


def closest_reuse_factor(n_in: int, n_out: int, rf: int) -> int:
    """What hls4ml uses for Resource strategy: the nearest valid value, the smaller one on a tie."""
    valid = valid_reuse_factors(n_in, n_out)
    pos = bisect_left(valid, rf)
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - rf < rf - before else before
