"""Post-training quantization: BN folding, cross-layer equalization, range calibration, bias correction."""
