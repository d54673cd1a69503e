"""Sensitivity of a pooled result: leave-one-out, influence, cumulative, and the robustness grid."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

import stats

from evidence.analysis.analyse import (Analysis, _display, _pooled_row, _quiet_stats, _require,
                                      _same_settings, _verdict, analyse)
from evidence.core.errors import InvalidChoice, NoMatchingStudies
from evidence.core.filters import FilterSpec

__all__ = ["leave_one_out_table", "influence_table", "cumulative_table", "robustness_grid"]


def leave_one_out_table(a: Analysis) -> pd.DataFrame:
    """The pooled result refitted without each study in turn (``stats.leave_one_out``).

    Returns
    -------
    DataFrame
        ``omitted, label, k, estimate, ci_low, ci_high, p_value, tau2, i2, verdict,
        verdict_changes`` plus ``display_*`` (ratio scale for ratio analyses).
    """
    _require(a, "Leave-one-out", 2)
    series = _quiet_stats(stats.leave_one_out, a.data.yi,
                          a.data.vi, **_same_settings(a))
    base = _verdict(a, a.pooled)
    rows = []
    for pos, p in zip(series.positions, series.estimates):
        r = _pooled_row(p)
        v = _verdict(a, p)
        rows.append({"omitted": a.effects["study_id"].iat[pos], "label": a.effects["label"].iat[pos],
                     **r, "verdict": v, "verdict_changes": v != base})
    return _display(a, pd.DataFrame(rows), ("estimate", "ci_low", "ci_high"))


def influence_table(a: Analysis) -> pd.DataFrame:
    """Influence diagnostics per study with metafor's outlier/influence flag (``stats.influence``).

    ``flagged`` is stats' ``is_influential`` (|DFFITS| > 3√(1/(k−1)), Cook's distance beyond the
    χ²₁ median, hat > 3/k or |DFBETAS| > 1; Viechtbauer & Cheung 2010).
    """
    _require(a, "Influence diagnostics", 3)
    inf = _quiet_stats(stats.influence, a.data.yi, a.data.vi,
                       **_same_settings(a))
    return pd.DataFrame({
        "study_id": a.effects["study_id"], "label": a.effects["label"], "yi": a.effects["yi"],
        "weight": inf.weight, "rstudent": inf.rstudent, "dffits": inf.dffits, "cook_d": inf.cook_d,
        "cov_r": inf.cov_r, "hat": inf.hat, "dfbetas": inf.dfbetas, "tau2_del": inf.tau2_del,
        "flagged": np.asarray(inf.is_influential, dtype=bool),
    })


def cumulative_table(a: Analysis, by: str = "year") -> pd.DataFrame:
    """Cumulative meta-analysis, adding studies in order of ``by`` (``stats.cumulative``)."""
    if by not in ("year", "n_total", "timepoint_months"):
        raise InvalidChoice("by", by, ("year", "n_total", "timepoint_months"))
    _require(a, "Cumulative meta-analysis", 1)
    key = pd.to_numeric(a.effects[by], errors="coerce").fillna(np.inf).to_numpy(float)
    series = _quiet_stats(stats.cumulative, a.data.yi,
                          a.data.vi, key, **_same_settings(a))
    rows = []
    for step, (pos, p) in enumerate(zip(series.positions, series.estimates), start=1):
        rows.append({"step": step, "added": a.effects["study_id"].iat[pos],
                     "label": a.effects["label"].iat[pos], by: a.effects[by].iat[pos], **_pooled_row(p)})
    return _display(a, pd.DataFrame(rows), ("estimate", "ci_low", "ci_high"))


def robustness_grid(spec: FilterSpec, con=None, *, base_method: str = "REML",
                    base_hartung_knapp: bool = False, level: float = 0.95,
                    methods: Sequence[str] | None = None, uploads_dir=None,
                    target_months: float | None = None, multi_arm: str = "one") -> pd.DataFrame:
    """Every estimator × with/without Hartung-Knapp × all trials / low risk of bias only ×
    with/without flagged outliers; does the conclusion survive?

    The conclusion of the base analysis (``base_method``, ``base_hartung_knapp``, all trials, with
    outliers) is "favours peer support", "favours control" or "no clear difference" by its CI;
    each cell ``survives`` when it reaches the same conclusion. Outliers are the studies flagged by
    :func:`influence_table` under that cell's own settings.

    Returns
    -------
    DataFrame
        ``method, hartung_knapp, trials, outliers, k, estimate, ci_low, ci_high, p_value, tau2,
        verdict, survives, removed`` (+ ``display_*``); ``k = 0`` rows say why in ``removed``.
    """
    methods = tuple(methods) if methods is not None else stats.METHODS
    base = analyse(spec, base_method, base_hartung_knapp, level, con, uploads_dir=uploads_dir,
                   target_months=target_months, multi_arm=multi_arm)
    base_verdict = _verdict(base, base.pooled)
    subsets: list[tuple[str, Analysis | None, str]] = [("all trials", base, "")]
    if spec.risk_of_bias and "low" not in spec.risk_of_bias:
        subsets.append(("low risk of bias only", None, "the filter already leaves out low risk of bias"))
    else:
        try:
            low = analyse(dataclasses.replace(spec, risk_of_bias=("low",)), base_method,
                          base_hartung_knapp, level, con, uploads_dir=uploads_dir,
                          target_months=target_months, multi_arm=multi_arm)
            subsets.append(("low risk of bias only", low, ""))
        except NoMatchingStudies:
            subsets.append(("low risk of bias only", None, "no trial at low risk of bias"))
    rows = []
    for trials, sub, why in subsets:
        for method in methods:
            for hk in (False, True):
                for outliers in ("kept", "removed"):
                    row = {"method": method, "hartung_knapp": hk, "trials": trials, "outliers": outliers}
                    if sub is None:
                        rows.append({**row, "k": 0, "removed": why, "survives": False, "verdict": ""})
                        continue
                    y = sub.data.yi
                    v = sub.data.vi
                    removed = ""
                    if outliers == "removed":
                        if len(y) >= 3:
                            flags = np.asarray(_quiet_stats(stats.influence, y, v, method=method,
                                                            hartung_knapp=hk, level=level).is_influential,
                                               dtype=bool)
                            removed = ", ".join(np.asarray(sub.data.study_id, dtype=object)[flags])
                            y, v = y[~flags], v[~flags]
                        else:
                            removed = "too few studies to flag outliers"
                    p = _quiet_stats(stats.pool, y, v, method=method, hartung_knapp=hk, level=level)
                    verdict = _verdict(base, p)
                    rows.append({**row, **_pooled_row(p), "verdict": verdict,
                                 "survives": verdict == base_verdict, "removed": removed})
    out = pd.DataFrame(rows)
    for c in ("estimate", "ci_low", "ci_high"):
        if c not in out:
            out[c] = np.nan
    return _display(base, out, ("estimate", "ci_low", "ci_high"))
