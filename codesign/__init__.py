"""codesign: hardware-aware quantization for hls4ml FPGA inference, proven bit-exact by C simulation.

The Python API (see codesign/api.py and the README): quantize, export, validate, estimate, search, synth.
"""

# The submodules named like the API functions (codesign/export.py & co.) are loaded first: Python binds a
# submodule to its package's attribute only when it loads it, so the functions bound below are never replaced.
# The submodules stay importable by their full names (`from codesign.export import convert`).
from . import estimate, export, quantize, search, validate  # noqa: F401,E402 - loaded, then shadowed
from .api import Estimate, HLSProject, Study, Target, estimate, export, quantize, search, synth, validate  # noqa: F811
from .errors import CodesignError
from .spec import QuantSpec

__all__ = ["CodesignError", "Estimate", "HLSProject", "QuantSpec", "Study", "Target", "estimate", "export",
           "quantize", "search", "synth", "validate"]
__version__ = "0.1.0"
API_FUNCTIONS = ("estimate", "export", "quantize", "search", "synth", "validate")

