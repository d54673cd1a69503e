"""Speed of the domain layer (a script that prints figures; not collected as a test).

Goals (issue 3): filter -> analysis-ready effects under 20 ms on the shipped data and under 200 ms on
a generated store of 100,000 effect rows (SYNTHETIC, see evidence/store/synthetic.py; generated into the
git-ignored data/synthetic/ when missing). Also times analyse() and the Metapsy import (issue 6).

Run: ``.venv/bin/python tests/benchmarks/bench_evidence.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from evidence import FilterSpec, analyse, effects  # noqa: E402
from evidence import query
from evidence.store import connection
from evidence.ingest import metapsy
from evidence.store import synthetic


def timed(func, repeat: int) -> tuple[float, float]:
    """Median and best wall time in milliseconds over ``repeat`` runs after one warm-up."""
    func()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def line(label: str, median: float, best: float, goal: float | None = None) -> None:
    verdict = "" if goal is None else f"  goal < {goal:g} ms: {'met' if median < goal else 'MISSED'} ({median / goal:.2f}× goal)"
    print(f"{label:<62} median {median:8.2f} ms   best {best:8.2f} ms{verdict}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    r = args.repeat

    con = connection.connect()
    print(f"Shipped store: {connection.DB_PATH}  (dataset {query.metadata(con).get('dataset_version')})")
    specs = {
        "depression (all trials)": FilterSpec(outcome="depression"),
        "depression, perinatal, follow-up 0-6 mo": FilterSpec(outcome="depression",
                                                              population=("perinatal depression",),
                                                              timepoint_months=(0, 6)),
        "quality of life, low/some-concerns RoB": FilterSpec(outcome="quality of life",
                                                             risk_of_bias=("low", "some concerns")),
    }
    for name, spec in specs.items():
        line(f"shipped  effects   {name}", *timed(lambda: effects(spec, con), r), goal=20)
    line("shipped  analyse   depression (REML)", *timed(lambda: analyse(FilterSpec(outcome="depression"), con=con), r),
         goal=5)
    line("shipped  analyse   depression (REML + Hartung-Knapp)",
         *timed(lambda: analyse(FilterSpec(outcome="depression"), hartung_knapp=True, con=con), r))

    if not synthetic.SYNTHETIC_PATH.exists():
        t0 = time.perf_counter()
        synthetic.generate_synthetic_store()
        print(f"Generated {synthetic.SYNTHETIC_PATH} in {time.perf_counter() - t0:.1f} s")
    syn = duckdb.connect(str(synthetic.SYNTHETIC_PATH), read_only=True)
    meta = query.metadata(syn)
    assert meta.get("kind") == "synthetic", "refusing to benchmark a store not marked synthetic"
    n_rows = syn.cursor().execute("SELECT count(*) FROM effects").fetchone()[0]
    print(f"Synthetic store: {synthetic.SYNTHETIC_PATH} ({n_rows:,} SYNTHETIC effect rows)")
    rs = max(5, r // 3)
    syn_specs = {
        "depression (all trials)": FilterSpec(outcome="depression"),
        "depression, group format, 0-12 mo": FilterSpec(outcome="depression", ps_format=("group",),
                                                        timepoint_months=(0, 12)),
        "hospitalised (ratio scale)": FilterSpec(outcome="hospitalised"),
    }
    for name, spec in syn_specs.items():
        k = len(effects(spec, syn))
        line(f"synthetic effects  {name} (k={k:,})", *timed(lambda: effects(spec, syn), rs), goal=200)
    line("synthetic analyse  depression (REML)", *timed(lambda: analyse(FilterSpec(outcome="depression"), con=syn), rs),
         goal=100)

    data = next(p for p in metapsy.DEFAULT_PATHS if p.is_file())
    raw = data.read_bytes()
    line("Metapsy  validate  (map + validate every row)", *timed(lambda: metapsy.validate_metapsy(raw), 5))
    with tempfile.TemporaryDirectory() as tmp:
        res = metapsy.import_metapsy(data, uploads_dir=tmp)
        t = timed(lambda: metapsy.import_metapsy(data, uploads_dir=tmp), 3)
        line(f"Metapsy  import    ({res.n_effects} rows, {res.n_studies} studies; validate + build)", *t)
        mcon = connection.connect_dataset(res.name, tmp)
        spec = FilterSpec(outcome="depression", dataset=res.name)
        k = len(effects(spec, uploads_dir=tmp))
        line(f"Metapsy  effects   depression (k={k})", *timed(lambda: effects(spec, uploads_dir=tmp), r), goal=20)
        mcon.close()
        connection._close_cached(Path(tmp) / f"{res.name}.duckdb")


if __name__ == "__main__":
    main()
