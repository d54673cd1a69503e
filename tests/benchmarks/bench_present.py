"""Speed of the meeting exports for the default view (a script that prints figures; not collected as a test).

Times, on the shipped store and the default view (outcome depression, no filters, REML): gathering the
contents (:func:`evidence.present.contents.gather`: the Overview's summary of every outcome, the robustness
grid, the evidence map, the included trials), building the PowerPoint deck and building the HTML report
from them, and the parts of each (rendering the charts with vl-convert dominates both). The first run of
each is reported apart: it includes vl-convert's start-up and the store's first reads.

Run: ``.venv/bin/python tests/benchmarks/bench_present.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evidence import FilterSpec  # noqa: E402
from evidence.present import contents as pc  # noqa: E402
from evidence.present import deck, report  # noqa: E402
from evidence.present.export import chart_png, chart_svg  # noqa: E402
from evidence.store.build import ensure_database  # noqa: E402

LINK = "http://localhost:8501/present?outcome=depression&version=1.2.0&screen=1"


def _timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    out = func(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ensure_database()
    spec = FilterSpec(outcome="depression")
    contents, first_gather = _timed(pc.gather, spec)
    deck_bytes, first_deck = _timed(deck.build_deck, contents, LINK)
    html, first_report = _timed(report.build_report, contents, LINK)
    print(f"default view: {len(contents.findings)} outcomes, {len(contents.studies)} trials, "
          f"{len(pc.screens(contents))} screens")
    print(f"first run: gather {first_gather:.0f} ms, deck {first_deck:.0f} ms ({len(deck_bytes) / 1e6:.1f} MB), "
          f"report {first_report:.0f} ms ({len(html) / 1e6:.2f} MB)")
    gathers, decks, reports = [], [], []
    for _ in range(args.repeats):
        contents, ms = _timed(pc.gather, spec)
        gathers.append(ms)
        decks.append(_timed(deck.build_deck, contents, LINK)[1])
        reports.append(_timed(report.build_report, contents, LINK)[1])
    med = statistics.median
    print(f"warm (median of {args.repeats}): gather {med(gathers):.0f} ms, deck {med(decks):.0f} ms, "
          f"report {med(reports):.0f} ms")
    charts = [pc.finding_chart(r) for r in contents.findings]
    pngs = [_timed(chart_png, c)[1] for c in charts]
    svgs = [_timed(chart_svg, c)[1] for c in charts]
    print(f"of which charts: {len(charts)} forest plots, PNG {sum(pngs):.0f} ms in all ({med(pngs):.0f} ms each), "
          f"SVG {sum(svgs):.0f} ms in all ({med(svgs):.0f} ms each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
