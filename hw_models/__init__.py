"""Hardware cost models for hls4ml designs (framework-free: no TensorFlow/hls4ml import)."""

from .parts import Part, UnknownPartError, list_parts, load_part

__all__ = ["Part", "UnknownPartError", "list_parts", "load_part"]
