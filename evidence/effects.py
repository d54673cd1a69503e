"""Analysis-ready effects: one row per study for one outcome, oriented, on one scale.

From the filtered effect rows (:func:`evidence.db.candidate_rows`) this module

1. classifies each row by what it can give: arm means/SDs, arm events, or a
   reported effect with its 95% CI (SMD/g/d, RR or OR);
2. chooses the scale of the analysis (:func:`choose_scale`);
3. picks one row per study by the stated rule (:data:`SELECTION_RULE`) and
   records why (``selection_reason``);
4. computes ``yi``/``vi`` with :mod:`stats` (never with formulas of its own);
5. orients the rows so that all point the same way and says which side favours
   peer support.

Rules (also shown to users, see :data:`ORIENTATION_RULE` and :data:`SELECTION_RULE`)
-----------------------------------------------------------------------------------
* SMD rows: positive values favour peer support. Arm data give Hedges' g of
  peer minus control on the measure as scored; the sign is reversed when lower
  scores are better. Reported SMD/g/d follow ``reported_sign``: ``ps_minus_ctl``
  is treated like arm data, ``positive_favours_ps`` is kept, and
  ``negative_favours_ps`` is reversed.
* Reported mean differences (MD) are **not** pooled: without the arms' SDs they
  cannot be standardised, and a row that has the SDs is used through its arm data.
* Ratio rows (only binary results in the outcome) keep the natural ratio peer /
  control on the log scale; the analysis says whether ratios below or above 1
  favour peer support. If the rows disagree on whether the event is good or bad,
  odds ratios of the minority are inverted (odds of not having the event); risk
  ratios cannot be inverted that way, so such rows are left out with a reason.
* An outcome with both continuous and binary results is analysed as SMD; binary
  rows become log odds ratios and are converted with Chinn's factor
  (√3/π; Chinn 2000; Cochrane Handbook 10.6). Reported risk ratios cannot be
  converted and are left out with a reason.
* Multi-arm trials: by default one comparison per trial is used (the first by
  :data:`COMPARATOR_PREFERENCE`). With ``multi_arm="split"`` every comparison is
  kept and the shared arm's N (and events) is divided equally between the
  comparisons that share it (Cochrane Handbook 23.3.4).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

import stats

from . import db
from .errors import InvalidChoice, OutcomeRequired
from .filters import FilterSpec, vocabulary

__all__ = [
    "effects", "effect_set", "EffectSet", "choose_scale", "classify_rows",
    "computed_vs_reported", "DEFAULT_TARGET_MONTHS", "COMPARATOR_PREFERENCE",
    "SELECTION_RULE", "ORIENTATION_RULE", "ROUNDING_TOLERANCE", "EFFECT_COLUMNS",
]

#: Follow-up targeted when no window is chosen (months from randomisation); a stated default.
DEFAULT_TARGET_MONTHS = 6.0
#: Which comparison of a multi-arm trial is used by default: the least active control first.
COMPARATOR_PREFERENCE: tuple[str, ...] = ("usual care", "waitlist", "attention control", "other",
                                          "active", "group CBT")
SMD_TYPES = frozenset({"SMD", "g", "d"})
RATIO_TYPES = frozenset({"RR", "OR"})
MULTI_ARM_CHOICES = ("one", "split")

SELECTION_RULE = (
    "One row per trial: (1) the comparison against the least active control "
    "(usual care, waitlist, attention control, other, active, group CBT); (2) a result on the "
    "analysis scale before one converted from a binary result; (3) the follow-up nearest the "
    "target (the centre of the chosen follow-up window, else 6 months; the longer one on a tie; "
    "unknown follow-up last); (4) the measure used by most trials for this outcome; (5) arm-level "
    "data before a reported effect; (6) the primary paper before a review or database; (7) the "
    "shipped dataset before an imported one; (8) a verified row before an unverified one; "
    "(9) the lowest effect id."
)
ORIENTATION_RULE = (
    "SMDs are oriented so that positive values favour peer support (signs reversed for "
    "measures where lower is better). Ratios are peer support / control."
)

#: Agreement allowed between an effect computed from arm data and the one the source printed:
#: half a unit in the last printed decimal of each bound, widened to 0.01 for SMDs printed to two
#: decimals (the usual precision) and to 2% of a ratio.
ROUNDING_TOLERANCE = {"SMD": 0.01, "ratio_relative": 0.02}

#: Columns of the frame returned by :func:`effects`, in order.
EFFECT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "effect_id", "dataset", "outcome", "measure", "effect_measure",
    "yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
    "n_ps", "n_ctl", "n_total", "timepoint_months", "risk_of_bias", "population", "setting",
    "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support", "peer_deliverer", "comparator",
    "comparison", "country", "design", "higher_is_better", "source_review", "source_url",
    "source_location", "source_quote", "verification", "computed_from", "conversion",
    "selection_reason", "n_candidates", "flags",
)

_ROUTE_TEXT = {
    "arm_continuous": "arm means and SDs (Hedges' g)",
    "arm_binary": "arm event counts",
    "reported_rr": "reported RR and 95% CI",
    "reported_or": "reported OR and 95% CI",
}
#: Plain-language reason for each code of a row that cannot give an effect (SQL and pandas agree).
REASONS = {
    "not_poolable": "flagged not poolable (not a between-group effect size)",
    "no_direction": "direction of the measure (higher_is_better) not recorded",
    "md": "reported mean difference: cannot be standardised without the arms' SDs",
    "no_type": "reported number is not a between-group effect size (no effect type)",
    "no_ci": "reported effect without a 95% CI",
    "mean_no_sd": "arm means without SDs",
    "no_n": "arm numbers without per-arm N",
    "too_few": "arm means and SDs with two or fewer participants in total",
    "no_numbers": "no outcome numbers",
    "rr_on_smd": "reported risk ratio cannot be converted to an SMD (needs an odds ratio or event counts)",
    "or_on_rr": "reported odds ratio cannot be pooled with risk ratios",
    "rr_on_or": "reported risk ratio cannot be pooled with odds ratios",
    "direction_minority": "the event points the other way from the other rows and a risk ratio cannot be inverted",
    "not_selected": "not selected: another row of this trial was used (see its selection reason)",
}
#: Routes usable on each scale.
SCALE_ROUTES = {
    "SMD": ("arm_continuous", "reported_smd", "arm_binary", "reported_or"),
    "logRR": ("arm_binary", "reported_rr"),
    "logOR": ("arm_binary", "reported_or"),
}
_OFF_SCALE = {("SMD", "reported_rr"): "rr_on_smd", ("logRR", "reported_or"): "or_on_rr",
              ("logRR", "arm_continuous"): "no_numbers", ("logRR", "reported_smd"): "no_numbers",
              ("logOR", "reported_rr"): "rr_on_or"}
_EXCLUDED_COLUMNS = ["study_id", "effect_id", "reason", "kind"]


class EffectSet:
    """Analysis-ready effects with everything needed to explain them (immutable).

    Attributes
    ----------
    effects : DataFrame
        One row per study (per comparison with ``multi_arm="split"``); columns :data:`EFFECT_COLUMNS`.
    excluded : DataFrame
        ``study_id, effect_id, reason, kind`` for every matching row not used; ``kind`` is
        ``"unusable"`` (no poolable numbers on this scale) or ``"not selected"`` (another row of
        the same trial was used). Computed on first access.
    effect_measure : str
        ``"SMD"``, ``"logRR"`` or ``"logOR"``.
    favours : str
        Which direction favours peer support, in words.
    scale_note : str
        How results were put on one scale ('' when nothing was converted).
    notes : tuple of str
        Other facts a reader needs (multi-arm choices, shared-arm splits, inverted odds ratios).
    target_months : float
        The follow-up the selection aimed at.
    n_candidates : int
        Number of matching effect rows before selection.
    """

    __slots__ = ("effects", "effect_measure", "favours", "scale_note", "notes", "target_months",
                 "n_candidates", "_excluded_fn", "_excluded")

    def __init__(self, effects, excluded_fn, effect_measure, favours, scale_note, notes=(),
                 target_months=DEFAULT_TARGET_MONTHS, n_candidates=0):
        for name, value in (("effects", effects), ("effect_measure", effect_measure), ("favours", favours),
                            ("scale_note", scale_note), ("notes", tuple(notes)),
                            ("target_months", float(target_months)), ("n_candidates", int(n_candidates)),
                            ("_excluded_fn", excluded_fn), ("_excluded", None)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("EffectSet is immutable")

    @property
    def excluded(self) -> pd.DataFrame:
        if self._excluded is None:
            object.__setattr__(self, "_excluded", self._excluded_fn().reset_index(drop=True))
        return self._excluded


# ---------------------------------------------------------------------------------------------
# Classification (pandas twin of the SQL in evidence.db, used when datasets are merged)

def _notna(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    mask = np.ones(len(df), dtype=bool)
    for c in cols:
        mask &= df[c].notna().to_numpy()
    return mask


def _flags(df: pd.DataFrame) -> pd.Series:
    joined = df["study_flags"].astype("string").fillna("") + ";" + df["effect_flags"].astype("string").fillna("")
    uniq = {v: ";".join(dict.fromkeys(x for x in v.split(";") if x)) for v in joined.unique()}
    return joined.map(uniq).astype(object)


def classify_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``route``, ``kind``, ``reason_code`` and ``unusable_reason`` to candidate rows.

    ``route`` is how a row can give an effect (``arm_continuous``, ``arm_binary``,
    ``reported_smd``, ``reported_rr``, ``reported_or``) or None; ``kind`` is
    ``continuous``/``binary``. Arm data win over a reported effect in the same row. Same rules as
    the SQL in :func:`evidence.db.selected_rows`.
    """
    df = rows.copy()
    n = len(df)
    num = lambda c: pd.to_numeric(df[c], errors="coerce").astype(float).to_numpy()  # noqa: E731
    arm_c = _notna(df, ["n_ps", "n_ctl", "mean_ps", "mean_ctl", "sd_ps", "sd_ctl"])
    with np.errstate(invalid="ignore"):
        arm_c &= (num("n_ps") + num("n_ctl")) > 2
    arm_b = _notna(df, ["n_ps", "n_ctl", "events_ps", "events_ctl"])
    rep = _notna(df, ["reported_effect", "reported_ci_low", "reported_ci_high", "reported_effect_type"])
    rtype = df["reported_effect_type"].astype("string").fillna("").to_numpy(dtype=object)
    sign = df["reported_sign"].astype("string").fillna("ps_minus_ctl").to_numpy(dtype=object)
    flags = _flags(df)
    not_poolable = flags.str.contains("not-poolable", regex=False).to_numpy(dtype=bool)
    raw = np.select([arm_c, arm_b, rep & np.isin(rtype, list(SMD_TYPES)), rep & (rtype == "RR"),
                     rep & (rtype == "OR")],
                    ["arm_continuous", "arm_binary", "reported_smd", "reported_rr", "reported_or"], default="")
    has = raw != ""
    oriented = (raw == "reported_smd") & np.isin(sign, ["positive_favours_ps", "negative_favours_ps"])
    no_dir = has & df["higher_is_better"].isna().to_numpy() & ~oriented
    mean_any = (df["mean_ps"].notna() | df["mean_ctl"].notna()).to_numpy()
    sd_missing = (df["sd_ps"].isna() | df["sd_ctl"].isna()).to_numpy()
    n_missing = (df["n_ps"].isna() | df["n_ctl"].isna()).to_numpy()
    rep_any = df["reported_effect"].notna().to_numpy()
    code = np.select(
        [not_poolable, no_dir, has, rep & (rtype == "MD"), rep_any & (rtype == ""), rep_any,
         mean_any & sd_missing, (mean_any | df["events_ps"].notna().to_numpy()) & n_missing,
         df["mean_ps"].notna().to_numpy()],
        ["not_poolable", "no_direction", "", "md", "no_type", "no_ci", "mean_no_sd", "no_n", "too_few"],
        default="no_numbers")
    usable = has & ~not_poolable & ~no_dir
    route = np.where(usable, raw, None).astype(object)
    df["route"] = route
    df["kind"] = np.where(~usable, None,
                          np.where(np.isin(raw, ["arm_continuous", "reported_smd"]), "continuous", "binary")).astype(object)
    df["reason_code"] = np.where(code == "", None, code).astype(object)
    df["unusable_reason"] = [REASONS.get(c) if c else None for c in df["reason_code"]]
    df["flags"] = flags.to_numpy()
    return df


def _scale_from_summary(s: dict) -> str:
    if s["n_continuous"] or not s["n_usable"]:
        return "SMD"
    if s["rr_studies"] == s["studies"]:
        return "logRR"
    if s["or_studies"] == s["studies"]:
        return "logOR"
    return "logRR" if s["rr_studies"] >= s["or_studies"] else "logOR"


def _summary_from_frame(df: pd.DataFrame) -> dict:
    u = df[df["route"].notna()]
    hib = u["higher_is_better"].astype("boolean")
    rr = u["route"].isin(["arm_binary", "reported_rr"])
    orr = u["route"].isin(["arm_binary", "reported_or"])
    mean = lambda m: float(hib[m].astype(float).mean()) if hib[m].notna().any() else None  # noqa: E731
    return {"n_usable": len(u), "n_continuous": int((u["kind"] == "continuous").sum()),
            "studies": u["study_id"].nunique(), "rr_studies": u.loc[rr, "study_id"].nunique(),
            "or_studies": u.loc[orr, "study_id"].nunique(), "hib_rr": mean(rr & hib.notna()),
            "hib_or": mean(orr & hib.notna()), "n_rows": len(df)}


def choose_scale(classified: pd.DataFrame) -> str:
    """The analysis scale for one outcome: ``"SMD"``, ``"logRR"`` or ``"logOR"``.

    SMD when any usable row is continuous. Otherwise log RR when every trial has an
    RR-computable row (events or a reported RR), else log OR when every trial has an
    OR-computable row, else whichever covers more trials (RR on a tie).
    """
    return _scale_from_summary(_summary_from_frame(classified))


# ---------------------------------------------------------------------------------------------
# Selection (pandas twin of the SQL window in evidence.db)

_KEY_ORDER = ("k_comparator", "k_native", "k_time", "k_time_long", "k_measure", "k_arm",
              "k_primary", "k_dataset", "k_verified")


def _selection_keys(df: pd.DataFrame, scale: str, target: float) -> pd.DataFrame:
    comp_rank = {c: i for i, c in enumerate(COMPARATOR_PREFERENCE)}
    t = pd.to_numeric(df["timepoint_months"], errors="coerce").astype(float)
    keys = pd.DataFrame(index=df.index)
    keys["k_comparator"] = df["comparator"].map(comp_rank).fillna(len(comp_rank)).astype(float)
    keys["k_native"] = ((scale == "SMD") & (df["kind"] == "binary")).astype(float)
    keys["k_time"] = (t - target).abs().fillna(np.inf)
    keys["k_time_long"] = (-t).fillna(np.inf)
    measure = df["measure"].astype(object).where(df["measure"].notna(), "\x00none")
    keys["measure_use"] = df.groupby(measure)["study_id"].transform("nunique").astype(float)
    keys["k_measure"] = -keys["measure_use"]
    keys["k_arm"] = df["route"].isin(["reported_smd", "reported_rr", "reported_or"]).astype(float)
    src = df["source_review"].astype("string").fillna("").str.lower()
    keys["k_primary"] = (~src.str.contains("primary", regex=False)).astype(float)
    keys["k_dataset"] = (df["dataset"] != "shipped").astype(float)
    keys["k_verified"] = (df["verification"].astype("string").fillna("") != "verified").astype(float)
    return keys


def _select(df: pd.DataFrame, scale: str, target: float, multi_arm: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick one row per study (per comparison with ``"split"``); returns (chosen, the others)."""
    keys = _selection_keys(df, scale, target)
    work = pd.concat([df, keys], axis=1)
    group = ["study_id"] if multi_arm == "one" else ["study_id", "comparison"]
    work = work.sort_values(group + list(_KEY_ORDER) + ["effect_id"], kind="mergesort")
    g = work.groupby(group, sort=False)
    work["_rank"] = g.cumcount()
    work["n_candidates"] = g["effect_id"].transform("size")
    work["n_comparisons"] = work.groupby("study_id")["comparison"].transform("nunique")
    a = work[list(_KEY_ORDER)].to_numpy(dtype=float)
    nxt = g[list(_KEY_ORDER)].shift(-1).to_numpy(dtype=float)
    differs = ~((a == nxt) | (np.isnan(a) & np.isnan(nxt)))
    first = np.where(differs.any(axis=1), differs.argmax(axis=1), len(_KEY_ORDER))
    names = np.array(list(_KEY_ORDER) + ["effect_id"], dtype=object)
    work["decisive"] = np.where(np.isnan(nxt).all(axis=1), None, names[first])
    chosen = work[work["_rank"] == 0]
    rest = work[work["_rank"] > 0]
    drop = [k for k in _KEY_ORDER if k != "k_measure"] + ["_rank", "k_measure"]
    return chosen.drop(columns=drop), rest.drop(columns=drop)


def _fmt_months(values: pd.Series) -> pd.Series:
    t = pd.to_numeric(values, errors="coerce").astype(float)
    uniq = {v: ("unknown" if np.isnan(v) else f"{v:g} months") for v in np.unique(t.to_numpy())}
    if t.isna().any():
        uniq[np.nan] = "unknown"
    return t.map(lambda v: "unknown" if np.isnan(v) else uniq[v]).astype(object)


def _reasons(chosen: pd.DataFrame, target: float) -> np.ndarray:
    """``selection_reason`` for every chosen row, from the deciding step of the rule."""
    n = len(chosen)
    out = np.full(n, "only usable row for this trial", dtype=object)
    decisive = chosen["decisive"].to_numpy(dtype=object)
    if n == 0:
        return out
    prefix = ("chosen from " + chosen["n_candidates"].astype(int).astype(str) + " rows: ").to_numpy(dtype=object)
    comparator = chosen["comparator"].astype(object).where(chosen["comparator"].notna(), "an unstated control")
    fixed = {
        "k_native": "a continuous result preferred over a converted binary one",
        "k_arm": "arm-level data preferred over a reported effect",
        "k_primary": "primary paper preferred over a review or database",
        "k_dataset": "shipped data preferred over an imported dataset",
        "k_verified": "verified row preferred over an unverified one",
        "effect_id": "rows otherwise equal; lowest effect id",
    }
    for key, text in fixed.items():
        m = decisive == key
        out[m] = prefix[m] + text
    m = decisive == "k_comparator"
    if m.any():
        out[m] = prefix[m] + ("comparison against " + comparator[m].astype(str)
                              + " preferred (least active control first)").to_numpy(dtype=object)
    for key, extra in (("k_time", ""), ("k_time_long", " (the longer of two equally near)")):
        m = decisive == key
        if m.any():
            out[m] = prefix[m] + ("follow-up " + _fmt_months(chosen["timepoint_months"][m])
                                  + f" nearest the {target:g}-month target{extra}").to_numpy(dtype=object)
    m = decisive == "k_measure"
    if m.any():
        out[m] = prefix[m] + (chosen["measure"][m].astype(str) + " is the measure most used for this outcome ("
                              + chosen["measure_use"][m].astype(int).astype(str) + " trials)").to_numpy(dtype=object)
    return out


# ---------------------------------------------------------------------------------------------
# Computation

def _quiet(func, *args, **kwargs):
    # stats warns when it sets a row to NaN; the reason is recorded from `.excluded` instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        return func(*args, **kwargs)


def _arr(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").astype(float).to_numpy()


def _join_notes(*parts: np.ndarray) -> np.ndarray:
    out = np.full(len(parts[0]), "", dtype=object)
    for p in parts:
        has = p != ""
        both = has & (out != "")
        out = np.where(both, out + "; " + p, np.where(has, p, out))
    return out


def _compute(sel: pd.DataFrame, scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """yi, vi (natural log ratio for ratios, favour-positive for SMD), conversion notes, NaN reasons."""
    n = len(sel)
    yi = np.full(n, np.nan)
    vi = np.full(n, np.nan)
    why: list[str | None] = [None] * n
    route = sel["route"].to_numpy(dtype=object)
    hib = sel["higher_is_better"].astype("boolean")
    direction = np.where(hib.isna(), np.nan, np.where(hib.fillna(False), 1.0, -1.0))
    sign = sel["reported_sign"].astype("string").fillna("ps_minus_ctl").to_numpy(dtype=object)
    n_ps, n_ctl = _arr(sel, "n_ps_used"), _arr(sel, "n_ctl_used")

    def put(mask, es):
        idx = np.flatnonzero(mask)
        yi[idx], vi[idx] = es.yi, es.vi
        for e in es.excluded:
            why[idx[e.position]] = e.reason

    m = route == "arm_continuous"
    if m.any():
        put(m, _quiet(stats.smd, _arr(sel, "mean_ps")[m], _arr(sel, "sd_ps")[m], n_ps[m],
                      _arr(sel, "mean_ctl")[m], _arr(sel, "sd_ctl")[m], n_ctl[m]))
    m = route == "reported_smd"
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, _arr(sel, "reported_effect")[m],
                      _arr(sel, "reported_ci_low")[m], _arr(sel, "reported_ci_high")[m]))
    m = route == "arm_binary"
    if m.any():
        func = stats.log_risk_ratio if scale == "logRR" else stats.log_odds_ratio
        put(m, _quiet(func, _arr(sel, "events_ps_used")[m], n_ps[m], _arr(sel, "events_ctl_used")[m], n_ctl[m]))
    m = np.isin(route, ["reported_rr", "reported_or"])
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, _arr(sel, "reported_effect")[m],
                      _arr(sel, "reported_ci_low")[m], _arr(sel, "reported_ci_high")[m], ratio=True))

    reported = np.array([str(r).startswith("reported") for r in route], dtype=bool)
    binary = np.isin(route, ["arm_binary", "reported_rr", "reported_or"])
    pos = reported & (sign == "positive_favours_ps")
    neg = reported & (sign == "negative_favours_ps")
    blank = np.full(n, "", dtype=object)
    if scale == "SMD":
        flip = np.where(pos, 1.0, np.where(neg, -1.0, direction))
        chinn = blank.copy()
        if binary.any():
            idx = np.flatnonzero(binary)
            es = _quiet(stats.log_odds_ratio_to_smd, yi[idx], vi[idx])
            yi[idx], vi[idx] = es.yi, es.vi
            chinn[idx] = "log odds ratio converted to SMD (Chinn 2000, ×√3/π; Cochrane Handbook 10.6)"
        yi = yi * flip
        measure = sel["measure"].astype(object).where(sel["measure"].notna(), "score").astype(str).to_numpy(dtype=object)
        own = ~pos & ~neg & (direction < 0)
        rev = np.where(neg, "sign reversed (the source reports negative values as favouring peer support)",
                       np.where(own & binary, "sign reversed (events are undesirable)",
                                np.where(own, "sign reversed (lower " + measure + " is better)", "")))
        conv = _join_notes(chinn, rev.astype(object))
    else:
        back = (pos & (direction < 0)) | (neg & (direction > 0))
        yi = np.where(back, -yi, yi)
        conv = np.where(back, "ratio re-expressed as peer / control (the source oriented it)", "").astype(object)
    return yi, vi, conv, why


def _split_shared_arms(sel: pd.DataFrame, split: bool) -> tuple[pd.DataFrame, list[str]]:
    """Divide a shared arm's N (and events) between the comparisons that use it (Handbook 23.3.4)."""
    sel = sel.copy()
    for col in ("n_ps", "n_ctl", "events_ps", "events_ctl"):
        sel[f"{col}_used"] = pd.to_numeric(sel[col], errors="coerce").astype(float)
    sel["split_note"] = ""
    if not split:
        return sel, []
    key = sel["shared_control"].astype("string")
    shared = key.notna() & (key != "")
    if not shared.any():
        return sel, []
    m = sel[shared].groupby(["study_id", "shared_control"])["effect_id"].transform("size")
    m = m[m > 1]
    if m.empty:
        return sel, []
    peer = sel.loc[m.index, "shared_arm"].astype("string").fillna("control").str.startswith("peer").to_numpy()
    for side, mask in (("ps", peer), ("ctl", ~peer)):
        idx = m.index[mask]
        for col in (f"n_{side}_used", f"events_{side}_used"):
            sel.loc[idx, col] = sel.loc[idx, col] / m[mask]
    who = np.where(peer, "peer-support", "control")
    sel.loc[m.index, "split_note"] = [f"shared {w} arm's N split between {int(k)} comparisons (Cochrane Handbook 23.3.4)"
                                      for w, k in zip(who, m)]
    notes = [f"{sid}: a shared arm's N is split between its comparisons (Cochrane Handbook 23.3.4)."
             for sid in sel.loc[m.index, "study_id"].unique()]
    return sel, notes


# ---------------------------------------------------------------------------------------------
# Public API

def _favours(scale: str, direction: float | None) -> str:
    if scale == "SMD":
        return "Positive values favour peer support"
    if direction is None:
        return "Ratios are peer support / control"
    return ("Ratios above 1 favour peer support (the event is desirable)" if direction > 0
            else "Ratios below 1 favour peer support (the event is undesirable)")


def _majority(summary: dict, scale: str) -> bool | None:
    share = summary["hib_rr"] if scale == "logRR" else summary["hib_or"] if scale == "logOR" else None
    return None if share is None else bool(share >= 0.5)


def _excluded_frame(classified: pd.DataFrame, chosen_ids: set, scale: str, keep: bool | None) -> pd.DataFrame:
    """Reasons for every matching row that is not in the analysis."""
    df = classified[~classified["effect_id"].isin(chosen_ids)]
    route = df["route"].astype(object).where(df["route"].notna(), None).to_numpy(dtype=object).copy()
    code = df["reason_code"].astype(object).where(df["reason_code"].notna(), "no_numbers").to_numpy(dtype=object).copy()
    allowed = set(SCALE_ROUTES[scale])
    usable = np.array([r is not None and r in allowed for r in route], dtype=bool)
    off = np.array([r is not None and r not in allowed for r in route], dtype=bool)
    code[off] = [_OFF_SCALE.get((scale, r), "no_numbers") for r in route[off]]
    if keep is not None and scale == "logRR":
        hib = df["higher_is_better"].astype("boolean")
        minority = usable & (df["kind"] == "binary").to_numpy() & (hib != keep).fillna(False).to_numpy()
        code[minority] = "direction_minority"
        usable &= ~minority
    code[usable] = "not_selected"
    return pd.DataFrame({"study_id": df["study_id"].to_numpy(), "effect_id": df["effect_id"].to_numpy(),
                         "reason": [REASONS[c] for c in code],
                         "kind": np.where(code == "not_selected", "not selected", "unusable")})


def effect_set(spec: FilterSpec, con=None, *, target_months: float | None = None,
               multi_arm: str = "one", uploads_dir=None, level: float = 0.95,
               engine: str = "auto") -> EffectSet:
    """Analysis-ready effects for ``spec.outcome`` with exclusions and notes.

    Parameters
    ----------
    spec : FilterSpec
        Must name an outcome.
    con : duckdb connection, optional
        The shipped store; defaults to the shared read-only connection.
    target_months : float, optional
        Follow-up to aim at; defaults to the centre of ``spec.timepoint_months``, else
        :data:`DEFAULT_TARGET_MONTHS`.
    multi_arm : {"one", "split"}
        One comparison per trial (default), or every comparison with shared arms split.
    uploads_dir : path, optional
        Folder of imported datasets (default ``data/uploads``).
    level : float
        Level of the per-study confidence intervals.
    engine : {"auto", "sql", "pandas"}
        Where classification and selection run: in DuckDB (one dataset; fast) or in pandas
        (needed when datasets are merged). ``"auto"`` picks SQL for a single dataset. Both apply
        the same rules (a test checks that they agree).

    Returns
    -------
    EffectSet

    Raises
    ------
    OutcomeRequired
        When ``spec.outcome`` is None.
    InvalidChoice
        For an unknown ``multi_arm`` or ``engine``.
    """
    if spec.outcome is None:
        raise OutcomeRequired(vocabulary().get("outcome", ()))
    if multi_arm not in MULTI_ARM_CHOICES:
        raise InvalidChoice("multi_arm", multi_arm, MULTI_ARM_CHOICES)
    if engine not in ("auto", "sql", "pandas"):
        raise InvalidChoice("engine", engine, ("auto", "sql", "pandas"))
    if target_months is None:
        target_months = (sum(spec.timepoint_months) / 2.0 if spec.timepoint_months is not None
                         else DEFAULT_TARGET_MONTHS)
    target = float(target_months)
    conns = db.dataset_connections(spec.dataset, con, uploads_dir)
    use_sql = engine == "sql" or (engine == "auto" and len(conns) == 1)
    if use_sql and len(conns) != 1:
        raise InvalidChoice("engine", engine, ("auto", "pandas"))
    if use_sql:
        name, c = conns[0]
        summary = db.route_summary(spec, c)
        scale = _scale_from_summary(summary)
        keep = _majority(summary, scale)
        chosen = db.selected_rows(spec, c, routes=SCALE_ROUTES[scale], scale=scale, target_months=target,
                                  by_comparison=multi_arm == "split",
                                  keep_direction=keep if scale == "logRR" else None)
        chosen.insert(0, "dataset", name)
        chosen["flags"] = _flags(chosen).to_numpy() if len(chosen) else []
        classified_fn = lambda: db.classified_rows(spec, c)  # noqa: E731
    else:
        rows = db.candidate_rows(spec, con, uploads_dir=uploads_dir)
        classified = classify_rows(rows)
        summary = _summary_from_frame(classified)
        scale = _scale_from_summary(summary)
        keep = _majority(summary, scale)
        usable = classified["route"].isin(SCALE_ROUTES[scale])
        if keep is not None and scale == "logRR":
            usable &= (classified["kind"] != "binary") | (classified["higher_is_better"].astype("boolean") == keep).fillna(False)
        chosen, _ = _select(classified[usable], scale, target, multi_arm)
        classified_fn = lambda: classified  # noqa: E731
    notes: list[str] = []
    if multi_arm == "one" and len(chosen):
        many = chosen[chosen["n_comparisons"] > 1]
        notes += [f"{s} has {int(k)} comparisons; one is used ({c})."
                  for s, k, c in zip(many["study_id"], many["n_comparisons"], many["comparison"])]
    chosen = chosen.assign(selection_reason=_reasons(chosen, target))
    chosen, split_notes = _split_shared_arms(chosen, multi_arm == "split")
    notes += split_notes
    yi, vi, conv, why = _compute(chosen, scale)
    ratio_direction = None if keep is None else (1.0 if keep else -1.0)
    if scale == "logOR" and keep is not None:
        hib = chosen["higher_is_better"].astype("boolean")
        inv = ((hib != keep) & (chosen["kind"] == "binary")).fillna(False).to_numpy(dtype=bool)
        yi = np.where(inv, -yi, yi)
        conv = _join_notes(conv, np.where(inv, "odds ratio inverted (odds of not having the event)", "").astype(object))
        if inv.any():
            notes.append(f"{int(inv.sum())} odds ratio(s) inverted so that every row counts the same kind of event.")
    conv = _join_notes(conv, chosen["split_note"].to_numpy(dtype=object))
    chosen = chosen.assign(yi=yi, vi=vi, conversion=conv)
    failed = np.isnan(yi) | np.isnan(vi)
    failed_frame = pd.DataFrame({
        "study_id": chosen.loc[failed, "study_id"].to_numpy(), "effect_id": chosen.loc[failed, "effect_id"].to_numpy(),
        "reason": [w or "effect could not be computed" for w, f in zip(why, failed) if f], "kind": "unusable"})
    chosen_ids = set(chosen["effect_id"])
    chosen = chosen[~failed]
    out = _finish_frame(chosen, scale, level, multi_arm)

    def excluded() -> pd.DataFrame:
        parts = [_excluded_frame(classified_fn(), chosen_ids, scale, keep), failed_frame]
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EXCLUDED_COLUMNS)

    converted = out["conversion"].astype("string").fillna("").str.contains("Chinn", regex=False)
    scale_note = ""
    if converted.any():
        scale_note = (f"This outcome mixes continuous and binary results: {int(converted.sum())} binary "
                      "result(s) were converted from log odds ratios to SMDs by Chinn's method "
                      "(×√3/π; Cochrane Handbook 10.6).")
    elif scale != "SMD":
        scale_note = f"Binary results pooled as {'risk' if scale == 'logRR' else 'odds'} ratios on the log scale."
    return EffectSet(out, excluded, scale, _favours(scale, ratio_direction), scale_note, notes, target,
                     summary["n_rows"])


def _finish_frame(chosen: pd.DataFrame, scale: str, level: float, multi_arm: str) -> pd.DataFrame:
    z = float(ndtri(0.5 + level / 2.0))
    out = chosen.copy()
    out["effect_measure"] = scale
    out["yi"] = out["yi"].astype(float)
    out["vi"] = out["vi"].astype(float)
    out["sei"] = np.sqrt(out["vi"])
    out["ci_low"] = out["yi"] - z * out["sei"]
    out["ci_high"] = out["yi"] + z * out["sei"]
    if scale == "SMD":
        out["display_estimate"], out["display_ci_low"], out["display_ci_high"] = out["yi"], out["ci_low"], out["ci_high"]
    else:
        out["display_estimate"] = np.exp(out["yi"])
        out["display_ci_low"] = np.exp(out["ci_low"])
        out["display_ci_high"] = np.exp(out["ci_high"])
    out["n_ps"] = out["n_ps_used"]
    out["n_ctl"] = out["n_ctl_used"]
    out["n_total"] = out["n_ps"] + out["n_ctl"]
    sid = out["study_id"].astype(str)
    author = out["first_author"].astype(object)
    year = pd.to_numeric(out["year"], errors="coerce")
    year_txt = year.map(lambda y: "" if pd.isna(y) else f" {int(y)}").astype(object)
    label = np.where(author.notna(), author.astype(str) + year_txt.astype(str), sid)
    label = pd.Series(label, index=out.index, dtype=object)
    if multi_arm == "split":
        several = out.groupby("study_id")["comparison"].transform("size") > 1
        label = label.where(~several, label + " (" + out["comparison"].astype(str) + ")")
    imported = out["dataset"] != "shipped"
    label = label.where(~imported, label + " [" + out["dataset"].astype(str) + "]")
    out["label"] = label
    rtype = out["reported_effect_type"].astype(object).where(out["reported_effect_type"].notna(), "")
    computed = out["route"].map(_ROUTE_TEXT).astype(object)
    smd_rep = (out["route"] == "reported_smd").to_numpy()
    computed = computed.where(~smd_rep, "reported " + rtype.astype(str) + " and 95% CI")
    out["computed_from"] = computed
    out["year"] = year.astype("Int64")
    out = out.sort_values(["year", "study_id", "comparison"], kind="mergesort", na_position="last")
    return out.loc[:, list(EFFECT_COLUMNS)].reset_index(drop=True)


def effects(spec: FilterSpec, con=None, **kwargs) -> pd.DataFrame:
    """One row per study for ``spec.outcome``, oriented and on one scale (see :func:`effect_set`).

    Returns
    -------
    DataFrame
        Columns :data:`EFFECT_COLUMNS`. SMD rows: positive favours peer support. Ratio rows: ``yi``
        is the log of peer / control; ``display_*`` columns hold the ratio itself.
    """
    return effect_set(spec, con, **kwargs).effects


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
    df = classify_rows(db.candidate_rows(spec, con, uploads_dir=uploads_dir))
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
        diff = adj - comp
        out.append(pd.DataFrame({"study_id": d["study_id"], "effect_id": d["effect_id"],
                                 "outcome": d["outcome"], "measure": d["measure"],
                                 "reported_effect_type": d["reported_effect_type"],
                                 "score_type": d["score_type"],
                                 "reported": adj, "computed": comp, "difference": diff,
                                 "agrees": np.abs(diff) <= smd_tolerance}))
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
            diff = rep / comp - 1.0
            out_r.append(pd.DataFrame({"study_id": dd["study_id"], "effect_id": dd["effect_id"],
                                       "outcome": dd["outcome"], "measure": dd["measure"],
                                       "reported_effect_type": dd["reported_effect_type"],
                                       "score_type": dd["score_type"],
                                       "reported": rep, "computed": comp, "difference": diff,
                                       "agrees": np.abs(diff) <= ratio_tolerance}))
        out.extend(out_r)
    cols = ["study_id", "effect_id", "outcome", "measure", "reported_effect_type", "score_type", "reported",
            "computed", "difference", "agrees"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]
