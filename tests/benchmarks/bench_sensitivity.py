"""Heavy diagnostics on large k (a script that prints figures; not collected as a test).

Goal (issue 14): a dataset of ~20,000 studies must not make one Sensitivity view take half a minute, nor
block other sessions. Since this change, leave-one-out, influence, cumulative, the robustness grid and the
small-study set are computed on every view only up to ``limits.HEAVY_DIAGNOSTICS_K`` studies, on request
(a button) up to ``limits.MAX_DIAGNOSTICS_K``, never above.

Three parts, on the SYNTHETIC store of 100,000 effect rows (20,000 studies; evidence/store/synthetic.py,
generated into the git-ignored data/synthetic/ when missing):

1. the domain work one Sensitivity view did before the change (all four diagnostics, unconditionally), at
   about 300, 1,000 and 3,000 studies (a publication-year window of the synthetic depression trials);
2. one Sensitivity and one Small-study view now (AppTest, the app pointed at the synthetic store
   in-process as bench_pages.py does), on every depression trial (k = 18,419) and just below the refusal
   limit, then the rerun after a click on the last "Compute" button;
3. another session's work while one session computes the robustness grid just below the refusal limit:
   the median time of a shipped-data ``analyse()`` in a second thread, idle and during the computation.

Run: ``.venv/bin/python tests/benchmarks/bench_sensitivity.py [--skip-before]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from evidence import FilterSpec, analyse, query  # noqa: E402
from evidence import analysis as A  # noqa: E402
from evidence.store import connection, limits, synthetic  # noqa: E402

APP = str(ROOT / "app.py")
DIAGNOSTICS = (("robustness grid", lambda spec, a, con: A.robustness_grid(spec, con)),
               ("leave-one-out", lambda spec, a, con: A.leave_one_out_table(a)),
               ("influence", lambda spec, a, con: A.influence_table(a)),
               ("cumulative", lambda spec, a, con: A.cumulative_table(a, by="year")))


def _quiet() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _spec_near(k: int, con) -> FilterSpec:
    """Depression trials of the latest publication years: the widest window with about ``k`` studies or
    fewer (at least one year)."""
    years = query.table("studies", con)["year"].astype(int)
    top = lo = int(years.max())
    while lo > years.min() and (years >= lo - 1).sum() * 0.92 <= k:  # ~92% of synthetic studies have depression
        lo -= 1
    return FilterSpec(outcome="depression", year=(lo, top))


def before(con) -> None:
    print("1. The domain work of one Sensitivity view before the change (every diagnostic computed):")
    for target in (300, 1000, 3000):
        spec = _spec_near(target, con)
        a = analyse(spec, con=con)
        parts = []
        for name, f in DIAGNOSTICS:
            t0 = time.perf_counter()
            f(spec, a, con)
            parts.append((name, time.perf_counter() - t0))
        print(f"   k = {a.k:6,}: {sum(t for _, t in parts):6.1f} s  ("
              + ", ".join(f"{n} {t:.2f} s" for n, t in parts) + ")")


def page_views(con) -> None:
    print(f"2. One view now (on request above {limits.HEAVY_DIAGNOSTICS_K:,} studies, "
          f"not computed above {limits.MAX_DIAGNOSTICS_K:,}):")
    key = str(synthetic.SYNTHETIC_PATH)
    with connection._lock:
        connection._shared[key] = con
    shipped = connection.DB_PATH
    connection.DB_PATH = synthetic.SYNTHETIC_PATH
    try:
        near = _spec_near(int(limits.MAX_DIAGNOSTICS_K * 0.8), con)
        for label, params in (("all depression trials", {"outcome": "depression"}),
                              ("below the refusal", {"outcome": "depression", "year": f"{near.year[0]},{near.year[1]}"})):
            for page in ("pages/sensitivity.py", "pages/small_study.py"):
                st.cache_data.clear()
                st.cache_resource.clear()
                _quiet()
                at = AppTest.from_file(APP, default_timeout=600)
                for k, v in params.items():
                    at.query_params[k] = v
                at.run()
                t0 = time.perf_counter()
                at.switch_page(page).run()
                took = time.perf_counter() - t0
                k = analyse(FilterSpec.from_query_params(params)[0], con=con).k
                err = f"; raised {str(at.exception[0].value)[:100]}" if at.exception else ""
                asked = [b for b in at.button if b.label.startswith("Compute")]
                refused = sum("not computed for" in i.value for i in at.info)
                line = (f"   {page:22s} {label:22s} (k = {k:,}): one view {took * 1000:7.0f} ms; "
                        f"{len(asked)} on request, {refused} refused{err}")
                if asked:  # then the user asks for the first one (a click; the rerun that computes it)
                    asked[-1].click()
                    t0 = time.perf_counter()
                    at.run()
                    line += f"; asking for {asked[-1].label[8:].split(' for ')[0]}: {time.perf_counter() - t0:.1f} s"
                print(line, flush=True)
    finally:
        connection.DB_PATH = shipped
        with connection._lock:
            connection._shared.pop(key, None)


def other_session(con) -> None:
    shipped = connection.shared_connection()
    specs = [FilterSpec(outcome="depression", year=(y, 2025)) for y in range(1995, 2021)]

    def other(n: int) -> list[float]:
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            analyse(specs[i % len(specs)], method=("REML", "DL", "PM")[i % 3], con=shipped)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    idle = other(60)
    spec = _spec_near(int(limits.MAX_DIAGNOSTICS_K * 0.8), con)
    done = threading.Event()
    busy: list[float] = []

    def heavy() -> None:
        A.robustness_grid(spec, con)
        done.set()

    t0 = time.perf_counter()
    threading.Thread(target=heavy).start()
    while not done.is_set():
        busy += other(5)
    took = time.perf_counter() - t0
    print(f"3. Another session's shipped analyse() while one session computes the robustness grid at k = "
          f"{analyse(spec, con=con).k:,} ({took:.1f} s): median {statistics.median(idle):.1f} ms idle, "
          f"{statistics.median(busy):.1f} ms during it (max {max(busy):.0f} ms, {len(busy)} runs)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-before", action="store_true")
    args = ap.parse_args()
    if not synthetic.SYNTHETIC_PATH.exists():
        t0 = time.perf_counter()
        synthetic.generate_synthetic_store()
        print(f"Generated {synthetic.SYNTHETIC_PATH} in {time.perf_counter() - t0:.1f} s")
    con = duckdb.connect(str(synthetic.SYNTHETIC_PATH), read_only=True)
    assert query.metadata(con).get("kind") == "synthetic", "refusing to benchmark a store not marked synthetic"
    if not args.skip_before:
        before(con)
    page_views(con)
    other_session(con)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
