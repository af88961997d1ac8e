"""Learned quantization: per-layer bit widths and power-of-two steps trained with a hardware-cost term."""
