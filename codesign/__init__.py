"""codesign: hardware-aware quantization for hls4ml FPGA inference, proven bit-exact by C simulation."""

from .errors import CodesignError
from .spec import QuantSpec

__all__ = ["CodesignError", "QuantSpec"]
__version__ = "0.1.0"
