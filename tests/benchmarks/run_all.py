"""Run every benchmark in turn (``make bench``): stats, then the domain layer, the sheet
check, then the pages, the meeting exports.

Each benchmark runs in its own Python process (as when run by hand), so one's imports, caches and
connections cannot colour the next one's figures. Not collected by pytest.

Run: ``.venv/bin/python tests/benchmarks/run_all.py [--no-r]`` (``--no-r`` is passed to bench_stats.py:
skip metafor even where Rscript exists).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-r", action="store_true", help="passed to bench_stats.py: skip metafor")
    args = ap.parse_args()
    runs = [
        ("bench_stats.py", ["--no-r"] if args.no_r else []),
        ("bench_evidence.py", []),
        ("bench_ingest.py", []),
        ("bench_pages.py", []),
        ("bench_sensitivity.py", []),
        ("bench_overview.py", []),
        ("bench_present.py", []),
    ]
    failed = []
    for script, extra in runs:
        print(f"\n=== {script} {' '.join(extra)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *extra], cwd=ROOT)
        print(f"=== {script}: {'ok' if rc == 0 else f'exit {rc}'} in {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
