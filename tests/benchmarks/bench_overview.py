"""Speed of the Overview (every outcome) and the Evidence map (a script that prints figures; not collected).

Goal (issue 12): the whole Overview recomputes in < 150 ms server time on the shipped data. Two figures:

* ``summary_of_findings``: the evidence-level computation alone (every outcome analysed once, one id query
  and one read of the arm columns for all of them), best and median of repeated calls on new filters;
* ``Overview page``: the app's own server timer (logger ``peer_dashboard.perf``) when a sidebar filter
  changes to a state not seen before (the cached summary misses, so each figure is real work), as in
  bench_pages.py.

The machine's load average is printed beside the figures: the project's 2 cores are shared.

Run: ``.venv/bin/python tests/benchmarks/bench_overview.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench_pages import _perf_logger, _quiet_streamlit, _ServerTimes  # noqa: E402
from evidence import FilterSpec, query  # noqa: E402
from evidence.analysis.evidence_map import evidence_map  # noqa: E402
from evidence.analysis.summary import summary_of_findings  # noqa: E402
from evidence.store.build import ensure_database  # noqa: E402
from evidence.store.connection import shared_connection  # noqa: E402

APP = str(ROOT / "app.py")
GOAL_MS = 150.0


def _specs(con) -> list[FilterSpec]:
    """No filter, then one population or format at a time (the values with trials)."""
    out = [FilterSpec()]
    counts = query.choice_counts_all(FilterSpec(), ("population", "ps_format", "setting"), con)
    for field in ("population", "ps_format", "setting"):
        out += [FilterSpec(**{field: (value,)}) for value, n in counts[field].items() if n >= 3]
    return out


def _ms(f) -> float:
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000.0


def _cpu_ms(f) -> float:
    """CPU time of this process: what the wall time would be on an idle core (the work is single-threaded)."""
    t = time.process_time()
    f()
    return (time.process_time() - t) * 1000.0


def bench_summary(con, repeats: int) -> None:
    specs = _specs(con)
    summary_of_findings(FilterSpec(), con)  # the store's rows are prepared once per connection (not timed)
    full = [_ms(lambda: summary_of_findings(FilterSpec(), con)) for _ in range(repeats)]
    cpu = [_cpu_ms(lambda: summary_of_findings(FilterSpec(), con)) for _ in range(repeats)]
    each = [_ms(lambda s=s: summary_of_findings(s, con)) for s in specs]
    rows = len(summary_of_findings(FilterSpec(), con).rows)
    print(f"summary_of_findings, no filter ({rows} outcomes): best {min(full):.0f} ms, median "
          f"{statistics.median(full):.0f} ms wall; CPU best {min(cpu):.0f} ms, median {statistics.median(cpu):.0f} ms "
          f"(goal < {GOAL_MS:.0f} ms)")
    print(f"summary_of_findings over {len(specs)} filters: median {statistics.median(each):.0f} ms, "
          f"max {max(each):.0f} ms")
    maps = [_ms(lambda: evidence_map(FilterSpec(outcome="depression"), "population", "ps_format", con))
            for _ in range(repeats)]
    print(f"evidence_map depression, population × format: median {statistics.median(maps):.0f} ms")


def bench_page(con, repeats: int) -> None:
    handler = _ServerTimes()
    _perf_logger(handler)
    st.cache_data.clear()
    st.cache_resource.clear()
    _quiet_streamlit()
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()  # the landing page: builds the caches of the store (not timed)
    values = [v for v, n in query.choice_counts_all(FilterSpec(), ("population",), con)["population"].items() if n]
    handler.values.clear()
    for value in values[:repeats]:
        at.sidebar.multiselect(key="flt_population").set_value([value]).run()
        assert not at.exception, [e.value for e in at.exception]
    times = handler.values
    print(f"Overview page after a filter change, server time over {len(times)} changes: median "
          f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms (goal < {GOAL_MS:.0f} ms)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    ensure_database()
    con = shared_connection()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bench_summary(con, args.repeats)
    bench_page(con, args.repeats)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
