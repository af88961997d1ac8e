"""codesign: hardware-aware quantization for hls4ml FPGA inference, proven bit-exact by C simulation.

The Python API (see codesign/api.py and the README): quantize, export, validate, estimate, search, synth.
"""

import sys
import types

from .api import Estimate, HLSProject, Study, Target, estimate, export, quantize, search, synth, validate
from .errors import CodesignError
from .spec import QuantSpec

__all__ = ["CodesignError", "Estimate", "HLSProject", "QuantSpec", "Study", "Target", "estimate", "export",
           "quantize", "search", "synth", "validate"]
__version__ = "0.1.0"
API_FUNCTIONS = ("estimate", "export", "quantize", "search", "synth", "validate")


class _Package(types.ModuleType):
    """`codesign.export` & co. are the API functions. Python binds a submodule to its package's attribute when
    it is first imported (codesign/export.py would replace `codesign.export`): those bindings are skipped.
    The submodules stay importable by their full names (`from codesign.export import convert`)."""

    def __setattr__(self, name, value):
        if name in API_FUNCTIONS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
