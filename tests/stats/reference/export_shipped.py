"""Write the shipped trials' analysis-ready effects as metafor inputs (yi, vi per study).

Run from the repository root, then regenerate the reference with R::

    .venv/bin/python tests/stats/reference/export_shipped.py
    Rscript tests/stats/reference/make_reference.R

Each outcome's default analysis (``evidence.effects(FilterSpec(outcome=...))``) becomes
``inputs/shipped_<outcome>.csv``; ``tests/evidence/test_end_to_end_metafor.py`` checks that these files
still equal what the store gives, so a data change that moves them fails until R is re-run.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from evidence import FilterSpec, effects  # noqa: E402

INPUTS = Path(__file__).resolve().parent / "inputs"
#: Outcomes with enough trials to make the pooled fit a meaningful check (k >= 5 on the shipped data).
OUTCOMES = {"depression": "depression", "glycaemic control (HbA1c)": "hba1c", "quality of life": "quality_of_life"}


def input_path(outcome: str) -> Path:
    return INPUTS / f"shipped_{OUTCOMES[outcome]}.csv"


def main() -> int:
    INPUTS.mkdir(exist_ok=True)
    for outcome in OUTCOMES:
        eff = effects(FilterSpec(outcome=outcome))
        with open(input_path(outcome), "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["study_id", "yi", "vi"])
            for sid, yi, vi in zip(eff["study_id"], eff["yi"], eff["vi"]):
                writer.writerow([sid, repr(float(yi)), repr(float(vi))])
        print(f"{input_path(outcome).relative_to(ROOT)}: k = {len(eff)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
