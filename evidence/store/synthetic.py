"""Generator of a SYNTHETIC evidence store for speed benchmarks (not evidence; never mixed with real data).

Writes ``data/synthetic/synthetic.duckdb`` (git-ignored) with the shipped schema and constraints
(built by :func:`evidence.store.write.write_store`, so every CHECK applies) holding ``n_effects`` random
effect rows. Every study id starts with ``SYN``, every citation and source says "SYNTHETIC", and the
store's metadata has ``kind = synthetic``. The file lives outside ``data/uploads/``, so it is never
listed as an imported dataset nor merged into ``dataset="all"``; open it explicitly and pass the
connection to :func:`evidence.effects` (see ``tests/benchmarks/bench_evidence.py``).

Usage: ``python -m evidence.store.synthetic [n_effects]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from evidence.store import connection
from evidence.core.filters import vocabulary

__all__ = ["SYNTHETIC_DIR", "SYNTHETIC_PATH", "generate_tables", "generate_synthetic_store"]

SYNTHETIC_DIR = connection.DATA_DIR / "synthetic"
SYNTHETIC_PATH = SYNTHETIC_DIR / "synthetic.duckdb"
MARK = "SYNTHETIC test data (generated; not evidence)"
_BINARY_OUTCOMES = ("hospitalised", "readmission")


def generate_tables(n_effects: int = 100_000, *, seed: int = 20261121, rows_per_study: int = 5) -> dict:
    """Random studies, sources and effects in the shape of the shipped CSV tables.

    Each study has ``rows_per_study`` effect rows spread over outcomes, measures and follow-ups,
    so selection (one row per study) has work to do. Values are drawn, not taken from anywhere.
    """
    rng = np.random.default_rng(seed)
    v = vocabulary()
    n_studies = max(1, n_effects // rows_per_study)
    pick = lambda field, size: rng.choice(np.array(v[field], dtype=object), size=size)  # noqa: E731
    outcomes = np.array(["depression", "quality of life", "recovery", "hope", "hospitalised", "readmission"],
                        dtype=object)
    studies = []
    cols = {f: pick(f, n_studies) for f in ("population", "setting", "ps_format", "ps_mode", "ps_role",
                                               "peer_paid", "org_support", "peer_deliverer", "risk_of_bias")}
    years = rng.integers(1990, 2026, n_studies)
    for i in range(n_studies):
        studies.append({
            "study_id": f"SYN{i:06d}", "first_author": f"Synthetic{i}", "year": int(years[i]),
            "country": "SYNTHETIC", "citation": MARK, "design": "RCT", "pilot": "no",
            **{f: cols[f][i] for f in cols}, "in_white2020": "no", "notes": MARK,
        })
    study_of = np.repeat(np.arange(n_studies), rows_per_study)[:n_effects]
    if len(study_of) < n_effects:
        study_of = np.concatenate([study_of, rng.integers(0, n_studies, n_effects - len(study_of))])
    outcome = rng.choice(outcomes, n_effects, p=[0.4, 0.15, 0.1, 0.1, 0.15, 0.1])
    measure = rng.choice(np.array(["Scale A", "Scale B", "Scale C"], dtype=object), n_effects, p=[0.6, 0.3, 0.1])
    timepoint = rng.choice(np.array([1.0, 3.0, 6.0, 12.0, 24.0]), n_effects)
    comparator = pick("comparator", n_effects)
    n_ps = rng.integers(10, 300, n_effects)
    n_ctl = rng.integers(10, 300, n_effects)
    sd_ps = rng.uniform(2, 12, n_effects).round(2)
    sd_ctl = rng.uniform(2, 12, n_effects).round(2)
    mean_ctl = rng.uniform(10, 30, n_effects).round(2)
    mean_ps = (mean_ctl + rng.normal(-1.5, 3, n_effects)).round(2)
    p_ctl = rng.uniform(0.1, 0.6, n_effects)
    events_ctl = np.minimum(n_ctl, rng.binomial(n_ctl, p_ctl))
    events_ps = np.minimum(n_ps, rng.binomial(n_ps, np.clip(p_ctl * rng.uniform(0.5, 1.2, n_effects), 0, 1)))
    sources, effects = [], []
    for j in range(n_effects):
        sid = f"SYN{study_of[j]:06d}"
        binary = outcome[j] in _BINARY_OUTCOMES
        src = f"SSYN{j:07d}"
        sources.append({"source_id": src, "study_id": sid, "source_review": MARK,
                        "source_url": "synthetic://not-a-source", "source_location": MARK,
                        "source_quote": MARK, "raw_file": "synthetic", "raw_row": j + 1})
        row = {"effect_id": f"ESYN{j:07d}", "study_id": sid, "source_id": src,
               "comparison": f"peer support vs {comparator[j]}", "comparator": comparator[j],
               "outcome": outcome[j], "measure": "events" if binary else measure[j],
               "higher_is_better": "no" if binary or outcome[j] == "depression" else "yes",
               "timepoint_months": float(timepoint[j]), "n_ps": int(n_ps[j]), "n_ctl": int(n_ctl[j]),
               "derived": "no", "verification": "unverified", "measure_note": MARK}
        if binary:
            row.update(events_ps=int(events_ps[j]), events_ctl=int(events_ctl[j]), score_type="events")
        else:
            row.update(mean_ps=float(mean_ps[j]), sd_ps=float(sd_ps[j]), mean_ctl=float(mean_ctl[j]),
                       sd_ctl=float(sd_ctl[j]), score_type="post")
        effects.append(row)
    return {"studies": studies, "sources": sources, "effects": effects}


def generate_synthetic_store(path: str | Path | None = None, n_effects: int = 100_000, *,
                             seed: int = 20261121) -> Path:
    """Write the synthetic store (atomically) and return its path."""
    from evidence.store.write import write_store

    path = Path(path) if path is not None else SYNTHETIC_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = generate_tables(n_effects, seed=seed)
    return write_store(tables, path, metadata={"kind": "synthetic", "note": MARK, "seed": str(seed),
                                               "n_effects": str(n_effects)})


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    t0 = time.perf_counter()
    p = generate_synthetic_store(n_effects=n)
    print(f"Wrote {p} ({n:,} synthetic effect rows) in {time.perf_counter() - t0:.1f} s")
