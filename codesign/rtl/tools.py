"""The open-source hardware tools codesign drives: Debian's yosys and verilator, found on PATH."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..errors import CodesignError

INSTALL_HINT = "install them with `apt-get install -y yosys verilator` (Debian/Ubuntu; `make setup` does it)"


def require(tool: str) -> str:
    """Path of `tool`, or one line saying how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise CodesignError(f"{tool} not found on PATH: {INSTALL_HINT}")
    return path


def require_da4ml() -> None:
    import importlib.util

    if importlib.util.find_spec("da4ml") is None:
        raise CodesignError("da4ml is not installed: `pip install 'da4ml>=0.5.2,<0.6'` (`make setup` installs it)")


def require_synthesis_tools() -> None:
    """da4ml, yosys and verilator, or one line saying how to install the first one missing."""
    require_da4ml()
    for tool in ("yosys", "verilator"):
        require(tool)


@lru_cache(maxsize=None)
def verilator_include() -> Path:
    """Verilator's C++ runtime headers. Debian's 5.006 prints no VERILATOR_ROOT in `verilator -V`
    (da4ml's build_binder.mk then reads an empty one), so the usual install paths are tried as well."""
    out = subprocess.run([require("verilator"), "-V"], capture_output=True, text=True).stdout
    roots = [line.split()[-1] for line in out.splitlines()
             if line.strip().startswith("VERILATOR_ROOT") and len(line.split()) >= 3]
    for root in roots + ["/usr/share/verilator", "/usr/local/share/verilator"]:
        include = Path(root) / "include"
        if (include / "verilated.cpp").is_file():
            return include
    raise CodesignError(f"verilator's include/verilated.cpp not found (looked in {roots or 'VERILATOR_ROOT'}, "
                        f"/usr/share/verilator): {INSTALL_HINT}")
