"""Speed of stats.pool and stats.leave_one_out, beside metafor when R is installed.

Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_stats.py            # Python, plus metafor if Rscript exists
    .venv/bin/python tests/benchmarks/bench_stats.py --no-r     # Python only
    .venv/bin/python tests/benchmarks/bench_stats.py --r-loo-1000   # also time metafor leave1out at k = 1000 (~1 h)

Prints one line per case: the median wall time of repeated runs, metafor's
time on the same data in the same run, and the ratio. Goals (issue 2):
pool(REML) k=100 < 0.5 ms, k=1000 < 5 ms; leave_one_out k=1000 < 0.5 s;
bayes_pool (issue 15, half-normal 0.5 prior on tau) k=100 < 5 ms, k=1000 < 20 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import stats  # noqa: E402

GOALS_MS = {("pool", "REML", 100): 0.5, ("pool", "REML", 1000): 5.0, ("leave_one_out", "REML", 1000): 500.0,
            ("bayes_pool", "HN", 100): 5.0, ("bayes_pool", "HN", 1000): 20.0}
BAYES_KS = (10, 100, 1000)
POOL_KS = (10, 100, 1000)
LOO_KS = (100, 1000)
METHODS = ("REML", "DL", "PM")


def make_data(k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + k)
    vi = rng.uniform(0.01, 0.3, size=k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.1))
    return yi, vi


def time_python(fn, budget_s: float = 1.0, max_reps: int = 2000) -> float:
    """Median seconds per call over as many repetitions as fit in the budget."""
    fn()  # warm-up
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < budget_s or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_time(fn, reps: int = 30) -> float:
    """Mean process CPU seconds per call (wall time is inflated when the machine is shared)."""
    fn()
    t0 = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t0) / reps


R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); what <- args[2]; method <- args[3]; reps <- as.integer(args[4])
invisible(rma(d$yi, d$vi, method = method))
times <- numeric(reps)
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  res <- rma(d$yi, d$vi, method = method)
  if (what == "leave1out") l <- leave1out(res)
  times[i] <- proc.time()[["elapsed"]] - t0
}
cat(median(times), "\n")
"""


def time_metafor(yi, vi, what: str, method: str, reps: int) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        np.savetxt(csv, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="", fmt="%.17g")
        script = Path(tmp) / "t.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv), what, method, str(reps)],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            print(f"    metafor failed: {out.stderr.strip()[:200]}")
            return None
        return float(out.stdout.split()[0])


def report(label: str, key, ours_s: float, r_s: float | None, r_note: str = "") -> None:
    goal = GOALS_MS.get(key)
    goal_txt = f"  goal < {goal:g} ms: {'met' if ours_s * 1e3 < goal else 'MISSED'}" if goal else ""
    if r_s is None:
        r_txt = f" | metafor {r_note or 'not run'}"
    else:
        r_txt = f" | metafor {r_s * 1e3:10.2f} ms | metafor/python {r_s / ours_s:8.1f}x"
    print(f"{label:<34} python {ours_s * 1e3:9.3f} ms{r_txt}{goal_txt}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-r", action="store_true", help="skip metafor even if Rscript exists")
    parser.add_argument("--r-loo-1000", action="store_true", help="also time metafor leave1out at k = 1000")
    args = parser.parse_args()
    use_r = shutil.which("Rscript") is not None and not args.no_r
    print(f"numpy {np.__version__}; metafor timings: {'yes' if use_r else 'no (Rscript not found or --no-r)'}")
    if use_r:
        ver = subprocess.run(["Rscript", "-e", 'cat(as.character(packageVersion("metafor")))'],
                             capture_output=True, text=True).stdout.strip()
        print(f"metafor {ver}")
    for method in METHODS:
        for k in POOL_KS:
            yi, vi = make_data(k)
            ours = time_python(lambda: stats.pool(yi, vi, method=method))
            r_s = time_metafor(yi, vi, "rma", method, reps=3 if k >= 1000 else 20) if use_r else None
            report(f"pool {method} k={k}", ("pool", method, k), ours, r_s)
    for k in LOO_KS:
        yi, vi = make_data(k)
        ours = time_python(lambda: stats.leave_one_out(yi, vi, method="REML"), budget_s=3.0, max_reps=50)
        r_s, note = None, ""
        if use_r and (k <= 100 or args.r_loo_1000):
            r_s = time_metafor(yi, vi, "leave1out", "REML", reps=1 if k >= 1000 else 3)
        elif use_r:
            note = "skipped at k=1000 (k refits of a ~1.75 s fit; use --r-loo-1000)"
        report(f"leave_one_out REML k={k}", ("leave_one_out", "REML", k), ours, r_s, note)
    for k in BAYES_KS:
        yi, vi = make_data(k)
        prior = stats.HalfNormal(0.5)
        ours = time_python(lambda: stats.bayes_pool(yi, vi, tau_prior=prior))
        cpu = cpu_time(lambda: stats.bayes_pool(yi, vi, tau_prior=prior))
        report(f"bayes_pool half-normal k={k}", ("bayes_pool", "HN", k), ours, None,
               f"n/a (the R counterpart, bayesmeta, is not installed); CPU {cpu * 1e3:.2f} ms, "
               f"{ours / cpu:.1f}x wall/CPU")


if __name__ == "__main__":
    main()
