"""Rows with both arm data and a reported effect: the effect computed from the arms beside the one the
source printed, and whether they agree within
:data:`~evidence.analysis.selection.rules.ROUNDING_TOLERANCE`."""

from __future__ import annotations

import numpy as np
import pandas as pd

import stats

from evidence import query
from evidence.core.filters import FilterSpec
from evidence.analysis.selection.classify import classify_rows
from evidence.analysis.selection.compute import _quiet
from evidence.analysis.selection.rules import RATIO_TYPES, ROUNDING_TOLERANCE, SMD_TYPES


def _arr(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").astype(float).to_numpy()


def computed_vs_reported(spec: FilterSpec | None = None, con=None, *, uploads_dir=None,
                         smd_tolerance: float = ROUNDING_TOLERANCE["SMD"],
                         ratio_tolerance: float = ROUNDING_TOLERANCE["ratio_relative"]) -> pd.DataFrame:
    """Rows with both arm data and a reported effect: the two side by side, and whether they agree.

    Arm data give Hedges' g (for SMD/g/d), or the RR/OR from event counts; the reported value is
    compared on the same footing (both as peer minus control on the measure as scored, after
    undoing the source's orientation). A difference beyond rounding is listed as a disagreement.

    Parameters
    ----------
    spec : FilterSpec, optional
        Restricts the rows (default: every row of the shipped dataset).
    smd_tolerance : float
        Largest absolute difference treated as rounding for SMDs (Hedges' g vs Cohen's d differ by
        the small-sample factor, so d rows use the uncorrected d for comparison).
    ratio_tolerance : float
        Largest relative difference treated as rounding for ratios.

    Returns
    -------
    DataFrame
        ``study_id, effect_id, outcome, measure, reported_effect_type, score_type, reported,
        computed, difference, agrees`` (one row per comparable effect row; ``difference`` is
        reported − computed for SMDs and reported / computed − 1 for ratios). A model-adjusted
        reported effect (``score_type = adjusted``) may differ from arm data for that reason.
    """
    spec = spec or FilterSpec()
    df = classify_rows(query.candidate_rows(spec, con, uploads_dir=uploads_dir))
    rtype = df["reported_effect_type"].astype("string")
    cont = (df["route"] == "arm_continuous") & rtype.isin(list(SMD_TYPES)) & df["reported_effect"].notna()
    binr = (df["route"] == "arm_binary") & rtype.isin(list(RATIO_TYPES)) & df["reported_effect"].notna()
    out = []
    if cont.any():
        d = df[cont]
        es = _quiet(stats.smd, _arr(d, "mean_ps"), _arr(d, "sd_ps"), _arr(d, "n_ps"),
                    _arr(d, "mean_ctl"), _arr(d, "sd_ctl"), _arr(d, "n_ctl"))
        g = np.asarray(es.yi, dtype=float)
        # Cohen's d is g without the small-sample correction J (Hedges 1981).
        j = np.asarray(stats.hedges_correction(_arr(d, "n_ps") + _arr(d, "n_ctl") - 2), dtype=float)
        comp = np.where(d["reported_effect_type"].astype("string") == "d", g / j, g)
        rep = _arr(d, "reported_effect")
        sign = d["reported_sign"].astype("string").fillna("ps_minus_ctl").to_numpy(dtype=object)
        hib = d["higher_is_better"].astype("boolean").to_numpy(dtype=object)
        # Put the reported value on the computed footing: peer minus control as scored.
        adj = np.array([r if s == "ps_minus_ctl" else (r if h is True else -r) if s == "positive_favours_ps"
                        else (-r if h is True else r) for r, s, h in zip(rep, sign, hib)])
        out.append(_compared(d, adj, comp, adj - comp, smd_tolerance))
    if binr.any():
        d = df[binr]
        out_r = []
        for kind, func in (("RR", stats.log_risk_ratio), ("OR", stats.log_odds_ratio)):
            dd = d[d["reported_effect_type"] == kind]
            if dd.empty:
                continue
            es = _quiet(func, _arr(dd, "events_ps"), _arr(dd, "n_ps"), _arr(dd, "events_ctl"), _arr(dd, "n_ctl"))
            comp = np.exp(np.asarray(es.yi, dtype=float))
            rep = _arr(dd, "reported_effect")
            out_r.append(_compared(dd, rep, comp, rep / comp - 1.0, ratio_tolerance))
        out.extend(out_r)
    cols = ["study_id", "effect_id", "outcome", "measure", "reported_effect_type", "score_type", "reported",
            "computed", "difference", "agrees"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


def _compared(rows: pd.DataFrame, reported, computed, difference, tolerance: float) -> pd.DataFrame:
    """One comparison row per effect row: what it reported, what we compute, the difference, and whether
    the difference is within the rounding tolerance."""
    return pd.DataFrame({"study_id": rows["study_id"], "effect_id": rows["effect_id"], "outcome": rows["outcome"],
                         "measure": rows["measure"], "reported_effect_type": rows["reported_effect_type"],
                         "score_type": rows["score_type"], "reported": reported, "computed": computed,
                         "difference": difference, "agrees": np.abs(difference) <= tolerance})
