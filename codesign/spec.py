"""Fixed-point types and their sizing rules: `hw_models.fixed`, the one framework-free fixed-point leaf that
codesign and the cost model share (this module is its name inside codesign)."""

from hw_models.fixed import (OVERFLOWS, ROUNDINGS, Overflow, QuantSpec, Rounding, accumulate, add,  # noqa: F401
                             mac, parse_hls, product, spec_for_values, union)

__all__ = ["OVERFLOWS", "ROUNDINGS", "Overflow", "QuantSpec", "Rounding", "accumulate", "add", "mac", "parse_hls",
           "product", "spec_for_values", "union"]
