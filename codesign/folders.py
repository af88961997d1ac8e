"""Where every command writes: one layout of the report folder, so `run`, `search`, `learn`, `analyze` and
`synth` agree on it (and `run` keeps what the others left)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPORTS_ROOT = Path("reports")  # the default report root of every command (relative: the caller's folder)
SIBLINGS = ("search", "learned", "analysis", "rtl")  # what search, learn, analyze and synth write beside a run


@dataclass(frozen=True)
class ReportLayout:
    """ROOT/<name>/ and the sub-folders each command owns."""
    root: Path
    name: str

    @property
    def design(self) -> Path:
        return Path(self.root) / self.name

    @property
    def search(self) -> Path:
        return self.design / "search"

    @property
    def rtl(self) -> Path:
        return self.design / "rtl"

    @property
    def analysis(self) -> Path:
        return self.design / "analysis"

    @property
    def learned(self) -> Path:
        return self.design / "learned"

    @property
    def qat_model(self) -> Path:
        """The QAT model `codesign run` trained (estimate, synth and analyze use its weights)."""
        return self.design / "model_qat.h5"
