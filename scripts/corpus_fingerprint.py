"""Fingerprint of the cost model on the calibration corpus: the sha256 of every record's estimate at both levels
with the shipped coefficients. A refactoring that leaves the estimates byte-identical prints the same line.

    .venv/bin/python scripts/corpus_fingerprint.py
"""

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hw_models import UnknownPartError, load_part  # noqa: E402
from hw_models.coefficients import default_coefficients  # noqa: E402
from hw_models.corpus import load_records  # noqa: E402
from hw_models.cost import estimate  # noqa: E402
from hw_models.targets import DEFAULT_PART  # noqa: E402

CORPORA = [ROOT.parent / "shared" / "calibration" / name
           for name in ("synthesis_corpus.jsonl", "synthesis_corpus_more.jsonl")]


def main() -> None:
    coefficients, rows = default_coefficients(), []
    for corpus in CORPORA:
        for record in load_records(corpus)[0]:
            try:
                part = load_part(record.part)
            except UnknownPartError:
                part = load_part(DEFAULT_PART)
            for level in ("csynth", "synth"):
                e = estimate(record.layers, part, record.clock_ns, coefficients, level=level)
                rows.append(json.dumps(e.as_json(), sort_keys=True, default=str))
    print(f"{len(rows)} estimates, sha256 {hashlib.sha256(chr(10).join(rows).encode()).hexdigest()}")


if __name__ == "__main__":
    main()
