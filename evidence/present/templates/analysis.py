@@HEADER@@
#
# Run:  python analysis.py        (needs numpy, scipy and the dashboard's `stats` package: run it with the
#                                  dashboard's repository on PYTHONPATH, or set PEER_DASHBOARD_REPO to it)
# It recomputes every effect it can from the raw inputs with `stats`, checks that they equal the yi/vi of
# effects.csv, refits the dashboard's model, and prints and writes (results_py.csv) the pooled result,
# leave-one-out, Egger's test and trim-and-fill.

import csv
import math
import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
if os.environ.get("PEER_DASHBOARD_REPO"):
    sys.path.insert(0, os.environ["PEER_DASHBOARD_REPO"])
try:
    import numpy as np
    import stats
except ImportError as exc:  # say what is missing rather than fail on the first use
    sys.exit(f"{exc}: put the dashboard's repository (the folder holding stats/) on PYTHONPATH "
             "or in PEER_DASHBOARD_REPO")

# The view (as the dashboard showed it)
DATASET_VERSION = @@PY_VERSION@@
FILTERS = @@PY_FILTERS@@
VIEW_LINK = @@PY_LINK@@
EFFECT_MEASURE = @@PY_MEASURE@@  # SMD, logRR or logOR
METHOD = @@PY_METHOD@@  # tau^2 estimator
HARTUNG_KNAPP = @@PY_HK@@
LEVEL = @@PY_LEVEL@@  # confidence level


def read_effects(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def column(rows: list[dict], name: str, idx) -> np.ndarray:
    return np.array([float(rows[i][name]) if rows[i][name] != "" else math.nan for i in idx])


rows = read_effects(HERE / "effects.csv")
k = len(rows)
print(f"{FILTERS}\n{k} studies, {EFFECT_MEASURE}, method {METHOD}, Hartung-Knapp {HARTUNG_KNAPP}\n")

# -- 1. Effect sizes from the raw inputs -------------------------------------------------------------
# y0/v0: peer support vs control as computed from the inputs; yi = orientation * y0 (effects.csv says
# which rows were reversed, e.g. lower scores are better, and why in its 'conversion' column).
y0, v0 = np.full(k, math.nan), np.full(k, math.nan)
route = [r["route"] for r in rows]


def where(*routes):
    return [i for i, r in enumerate(route) if r in routes]


def put(idx, es):
    y0[idx], v0[idx] = es.yi, es.vi


with warnings.catch_warnings():
    warnings.simplefilter("ignore", stats.StatsWarning)
    i = where("arm_continuous")
    if i:
        put(i, stats.smd(*(column(rows, c, i) for c in ("mean_ps", "sd_ps", "n_ps", "mean_ctl", "sd_ctl", "n_ctl"))))
    i = where("arm_binary")
    if i:
        arms = [column(rows, c, i) for c in ("events_ps", "n_ps", "events_ctl", "n_ctl")]
        if EFFECT_MEASURE == "logRR":
            put(i, stats.log_risk_ratio(*arms))
        else:
            es = stats.log_odds_ratio(*arms)
            # On an SMD analysis, binary results are log odds ratios times sqrt(3)/pi (Chinn 2000).
            put(i, stats.log_odds_ratio_to_smd(es.yi, es.vi) if EFFECT_MEASURE == "SMD" else es)
    i = where("reported_smd")
    if i:
        put(i, stats.from_confidence_interval(*(column(rows, c, i) for c in
                                                ("reported_effect", "reported_ci_low", "reported_ci_high"))))
    i = where("reported_or", "reported_rr")
    if i:
        es = stats.from_confidence_interval(*(column(rows, c, i) for c in
                                              ("reported_effect", "reported_ci_low", "reported_ci_high")), ratio=True)
        put(i, stats.log_odds_ratio_to_smd(es.yi, es.vi) if EFFECT_MEASURE == "SMD" else es)
    i = where("reported_md")
    if i:
        put(i, stats.smd_from_mean_difference_ci(*(column(rows, c, i) for c in (
            "reported_effect", "reported_ci_low", "reported_ci_high", "n_ps", "n_ctl"))))

all_rows = range(k)
yi_csv, vi_csv = column(rows, "yi", all_rows), column(rows, "vi", all_rows)
yi = column(rows, "orientation", all_rows) * y0
off = [rows[j]["study_id"] for j in all_rows
       if not (abs(yi[j] - yi_csv[j]) <= 1e-9 * max(1.0, abs(yi_csv[j]))
               and abs(v0[j] - vi_csv[j]) <= 1e-9 * max(1.0, vi_csv[j]))]
if off:
    sys.exit("stats does not reproduce yi/vi of effects.csv for: " + ", ".join(off))
print(f"stats reproduces yi and vi of all {k} studies "
      f"(max |difference| {max(np.max(np.abs(yi - yi_csv)), np.max(np.abs(v0 - vi_csv))):.1e})\n")
vi = v0
settings = dict(method=METHOD, hartung_knapp=HARTUNG_KNAPP, level=LEVEL)
results: list[tuple] = []


def record(section, position, study, values: dict) -> None:
    for name, value in values.items():
        results.append((section, position, study, name, "" if value is None or math.isnan(value) else repr(float(value))))


def pooled_values(p) -> dict:
    return {"estimate": p.estimate, "se": p.se, "ci_low": p.ci_low, "ci_high": p.ci_high, "p_value": p.p_value,
            "tau2": p.tau2, "i2": p.i2, "q": p.q, "k": p.k}


with warnings.catch_warnings():
    warnings.simplefilter("ignore", stats.StatsWarning)
    # -- 2. The pooled result ------------------------------------------------------------------------
    fit = stats.pool(yi, vi, **settings)
    print(f"Pooled ({fit.describe()}): {fit.estimate:.4f} [{fit.ci_low:.4f}, {fit.ci_high:.4f}], "
          f"p = {fit.p_value:.4g}, tau^2 = {fit.tau2:.4f}, I^2 = {fit.i2:.1f}%")
    record("pooled", 0, "", pooled_values(fit))
    if k >= 3:
        record("pooled", 0, "", {"pi_low": fit.pi_low, "pi_high": fit.pi_high})
    # -- 3. Leave one out ----------------------------------------------------------------------------
    if k >= 2:
        loo = stats.leave_one_out(yi, vi, **settings)
        print("\nLeave one out")
        for pos, p in zip(loo.positions, loo.estimates):
            sid = rows[pos]["study_id"]
            print(f"  without {sid}: {p.estimate:.4f} [{p.ci_low:.4f}, {p.ci_high:.4f}]")
            record("leave1out", pos + 1, sid, {"estimate": p.estimate, "ci_low": p.ci_low, "ci_high": p.ci_high,
                                               "p_value": p.p_value, "tau2": p.tau2, "i2": p.i2})
    # -- 4. Small-study effects: Egger's regression test and trim-and-fill ----------------------------
    if k >= 3:
        eg = stats.egger_test(yi, vi, level=LEVEL)
        print(f"\nEgger: bias coefficient {eg.intercept:.4f} (SE {eg.se:.4f}), t = {eg.t:.3f}, df = {eg.df}, "
              f"p = {eg.p_value:.4g}")
        record("egger", 0, "", {"intercept": eg.intercept, "se": eg.se, "t": eg.t, "df": eg.df,
                                "p_value": eg.p_value, "limit_estimate": eg.limit_estimate})
        tf = stats.trim_and_fill(yi, vi, **settings)
        adj = tf.adjusted
        print(f"Trim-and-fill: {tf.k0} studies imputed on the {tf.side}; adjusted {adj.estimate:.4f} "
              f"[{adj.ci_low:.4f}, {adj.ci_high:.4f}]")
        record("trimfill", 0, "", {"k0": tf.k0, "right": float(tf.side == "right"), **pooled_values(adj)})

with open(HERE / "results_py.csv", "w", newline="", encoding="utf-8") as fh:
    writer = csv.writer(fh)
    writer.writerow(["section", "position", "study_id", "quantity", "value"])
    writer.writerows(results)
print(f"\nWrote {HERE / 'results_py.csv'}")
