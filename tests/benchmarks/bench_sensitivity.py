"""Sensitivity and Small-study page views on a very large dataset (a script that prints figures; not collected).

Goal (issue 14): a dataset of ~20,000 studies must not make one Sensitivity view take half a minute; the
heavy diagnostics (robustness grid, leave-one-out, influence, cumulative, trim-and-fill) above
``evidence.store.limits.HEAVY_DIAGNOSTICS_K`` studies are computed only on request.

How: the app is pointed in-process at the SYNTHETIC store of 100,000 effect rows (20,000 studies;
evidence/store/synthetic.py, generated into the git-ignored data/synthetic/ when missing) the way
bench_pages.py does it, renders Explore for depression (not timed), then each page once (timed: the
whole ``AppTest.run()`` of the page switch), with every cache cleared first.

Run: ``.venv/bin/python tests/benchmarks/bench_sensitivity.py [--timeout S]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from evidence import FilterSpec, effects, query  # noqa: E402
from evidence.store import connection, synthetic  # noqa: E402

APP = str(ROOT / "app.py")


def _quiet() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    if not synthetic.SYNTHETIC_PATH.exists():
        t0 = time.perf_counter()
        synthetic.generate_synthetic_store()
        print(f"Generated {synthetic.SYNTHETIC_PATH} in {time.perf_counter() - t0:.1f} s")
    syn = duckdb.connect(str(synthetic.SYNTHETIC_PATH), read_only=True)
    assert query.metadata(syn).get("kind") == "synthetic", "refusing to benchmark a store not marked synthetic"
    k = effects(FilterSpec(outcome="depression"), syn)["study_id"].nunique()
    print(f"Synthetic store {synthetic.SYNTHETIC_PATH}: depression, k = {k:,} studies")
    key = str(synthetic.SYNTHETIC_PATH)
    with connection._lock:
        connection._shared[key] = syn
    shipped = connection.DB_PATH
    connection.DB_PATH = synthetic.SYNTHETIC_PATH
    try:
        for page in ("pages/sensitivity.py", "pages/small_study.py"):
            st.cache_data.clear()
            st.cache_resource.clear()
            _quiet()
            at = AppTest.from_file(APP, default_timeout=args.timeout)
            at.query_params["outcome"] = "depression"
            at.run()
            t0 = time.perf_counter()
            at.switch_page(page).run()
            took = time.perf_counter() - t0
            if at.exception:
                print(f"  {page}: raised {at.exception[0].value}")
                return 1
            buttons = [b.label for b in at.button if b.label.startswith("Compute")]
            print(f"  {page}: one view {took:6.1f} s; on-request buttons shown: {len(buttons)}"
                  + (f" (e.g. {buttons[0]!r})" if buttons else ""))
    finally:
        connection.DB_PATH = shipped
        with connection._lock:
            connection._shared.pop(key, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
