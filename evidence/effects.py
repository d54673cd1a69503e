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
#: Notes name trials one by one up to this many; beyond, one summary note.
MAX_LISTED_NOTES = 5
#: Stores with at least this many effect rows are classified and selected inside DuckDB.
SQL_ENGINE_MIN_ROWS = 5_000

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
_FLOAT_COLUMNS = ("yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
                  "n_ps", "n_ctl", "n_total", "timepoint_months")


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
    a = df["study_flags"].to_numpy(dtype=object)
    b = df["effect_flags"].to_numpy(dtype=object)
    pairs = pd.DataFrame({"a": a, "b": b}).fillna("")
    codes, uniq = pd.factorize(pairs["a"].astype(object) + ";" + pairs["b"].astype(object))
    clean = np.array([";".join(dict.fromkeys(x for x in str(v).split(";") if x)) for v in uniq], dtype=object)
    return pd.Series(clean[codes] if len(codes) else np.array([], dtype=object), index=df.index, dtype=object)


def _classify_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """route, kind, reason_code and flags as arrays, without copying the (wide) frame."""
    num = lambda c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)  # noqa: E731
    na = lambda c: df[c].isna().to_numpy()  # noqa: E731
    n_ps, n_ctl = num("n_ps"), num("n_ctl")
    arm_c = ~(na("n_ps") | na("n_ctl") | na("mean_ps") | na("mean_ctl") | na("sd_ps") | na("sd_ctl"))
    with np.errstate(invalid="ignore"):
        arm_c &= (n_ps + n_ctl) > 2
    arm_b = ~(na("n_ps") | na("n_ctl") | na("events_ps") | na("events_ctl"))
    rep = ~(na("reported_effect") | na("reported_ci_low") | na("reported_ci_high") | na("reported_effect_type"))
    rtype = df["reported_effect_type"].astype(object).where(~df["reported_effect_type"].isna(), "").to_numpy(dtype=object)
    sign = df["reported_sign"].astype(object).where(~df["reported_sign"].isna(), "ps_minus_ctl").to_numpy(dtype=object)
    flags = _flags(df).to_numpy(dtype=object)
    not_poolable = np.array(["not-poolable" in f for f in flags], dtype=bool)
    raw = np.select([arm_c, arm_b, rep & np.isin(rtype, list(SMD_TYPES)), rep & (rtype == "RR"),
                     rep & (rtype == "OR")],
                    ["arm_continuous", "arm_binary", "reported_smd", "reported_rr", "reported_or"], default="")
    has = raw != ""
    oriented = (raw == "reported_smd") & np.isin(sign, ["positive_favours_ps", "negative_favours_ps"])
    no_dir = has & na("higher_is_better") & ~oriented
    mean_any = ~na("mean_ps") | ~na("mean_ctl")
    rep_any = ~na("reported_effect")
    code = np.select(
        [not_poolable, no_dir, has, rep & (rtype == "MD"), rep_any & (rtype == ""), rep_any,
         mean_any & (na("sd_ps") | na("sd_ctl")), (mean_any | ~na("events_ps")) & (na("n_ps") | na("n_ctl")),
         ~na("mean_ps")],
        ["not_poolable", "no_direction", "", "md", "no_type", "no_ci", "mean_no_sd", "no_n", "too_few"],
        default="no_numbers")
    usable = has & ~not_poolable & ~no_dir
    kind = np.where(~usable, None, np.where(np.isin(raw, ["arm_continuous", "reported_smd"]), "continuous", "binary"))
    return {"route": np.where(usable, raw, None).astype(object), "kind": kind.astype(object),
            "reason_code": np.where(code == "", None, code).astype(object), "flags": flags}


def classify_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``route``, ``kind``, ``reason_code``, ``unusable_reason`` and ``flags`` to candidate rows.

    ``route`` is how a row can give an effect (``arm_continuous``, ``arm_binary``,
    ``reported_smd``, ``reported_rr``, ``reported_or``) or None; ``kind`` is
    ``continuous``/``binary``. Arm data win over a reported effect in the same row. Same rules as
    the SQL in :func:`evidence.db.selected_rows`.
    """
    arrays = _classify_arrays(rows)
    out = rows.assign(**arrays)
    out["unusable_reason"] = [REASONS.get(c) if c else None for c in arrays["reason_code"]]
    return out


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
_NARROW = ("dataset", "study_id", "effect_id", "comparison", "comparator", "measure", "timepoint_months",
           "source_review", "verification", "route", "kind")


def _selection_keys(df: pd.DataFrame, scale: str, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys (one column per step of the rule, smaller first) and each row's measure use."""
    comp_rank = {c: i for i, c in enumerate(COMPARATOR_PREFERENCE)}
    t = pd.to_numeric(df["timepoint_months"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    comparator = df["comparator"].astype(object).to_numpy(dtype=object)
    k_comp = np.array([comp_rank.get(c, len(comp_rank)) if isinstance(c, str) else len(comp_rank)
                       for c in comparator], dtype=float)
    kind = df["kind"].to_numpy(dtype=object)
    k_native = ((scale == "SMD") & (kind == "binary")).astype(float)
    k_time = np.where(np.isnan(t), np.inf, np.abs(t - target))
    k_long = np.where(np.isnan(t), np.inf, -t)
    measure = df["measure"].astype(object).where(~df["measure"].isna(), "\x00none").to_numpy(dtype=object)
    m_codes, _ = pd.factorize(measure)
    s_codes, _ = pd.factorize(df["study_id"].to_numpy(dtype=object))
    pairs = np.unique(np.stack([m_codes, s_codes], axis=1), axis=0) if len(df) else np.empty((0, 2), int)
    use = np.bincount(pairs[:, 0], minlength=m_codes.max() + 1 if len(df) else 0).astype(float)
    measure_use = use[m_codes] if len(df) else np.empty(0)
    route = df["route"].to_numpy(dtype=object)
    k_arm = np.isin(route, ["reported_smd", "reported_rr", "reported_or"]).astype(float)
    src = df["source_review"].astype(object).to_numpy(dtype=object)
    k_primary = np.array([0.0 if isinstance(x, str) and "primary" in x.lower() else 1.0 for x in src])
    k_dataset = (df["dataset"].to_numpy(dtype=object) != "shipped").astype(float)
    k_verified = (df["verification"].astype(object).to_numpy(dtype=object) != "verified").astype(float)
    keys = np.stack([k_comp, k_native, k_time, k_long, -measure_use, k_arm, k_primary, k_dataset, k_verified],
                    axis=1) if len(df) else np.empty((0, len(_KEY_ORDER)))
    return keys, measure_use


def _select(df: pd.DataFrame, scale: str, target: float, multi_arm: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick one row per study (per comparison with ``"split"``); returns (chosen, the others).

    The chosen rows carry ``n_candidates``, ``n_comparisons``, ``measure_use`` and ``decisive`` (the
    step of :data:`SELECTION_RULE` that separated the winner from the runner-up, None when alone).
    """
    n = len(df)
    keys, measure_use = _selection_keys(df, scale, target)
    study = df["study_id"].to_numpy(dtype=object)
    comparison = df["comparison"].astype(object).where(~df["comparison"].isna(), "").to_numpy(dtype=object)
    group_vals = study if multi_arm == "one" else np.array([f"{a}\x00{b}" for a, b in zip(study, comparison)],
                                                          dtype=object)
    g_codes, _ = pd.factorize(group_vals)
    ids = df["effect_id"].to_numpy(dtype=str)
    eff_order = np.argsort(np.argsort(ids, kind="stable"), kind="stable") if n else np.empty(0, dtype=int)
    order = np.lexsort((eff_order,) + tuple(keys[:, j] for j in range(keys.shape[1] - 1, -1, -1)) + (g_codes,)) \
        if n else np.empty(0, dtype=int)
    g_sorted = g_codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    chosen_pos = order[first]
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = g_sorted[1:] == g_sorted[:-1]
    runner_pos = np.where(has_next, np.roll(order, -1), -1)[first]
    decisive = np.full(len(chosen_pos), None, dtype=object)
    names = np.array(list(_KEY_ORDER) + ["effect_id"], dtype=object)
    if len(chosen_pos):
        a = keys[chosen_pos]
        b = keys[np.where(runner_pos >= 0, runner_pos, chosen_pos)]
        differs = a != b
        step = np.where(differs.any(axis=1), differs.argmax(axis=1), len(_KEY_ORDER))
        decisive = np.where(runner_pos >= 0, names[step], None).astype(object)
    counts = np.bincount(g_codes, minlength=g_codes.max() + 1 if n else 0)
    s_codes, _ = pd.factorize(study)
    sc = np.unique(np.stack([s_codes, pd.factorize(comparison)[0]], axis=1), axis=0) if n else np.empty((0, 2), int)
    n_comp = np.bincount(sc[:, 0], minlength=s_codes.max() + 1 if n else 0)
    chosen = df.iloc[chosen_pos].assign(
        n_candidates=counts[g_codes[chosen_pos]] if n else [],
        n_comparisons=n_comp[s_codes[chosen_pos]] if n else [],
        measure_use=measure_use[chosen_pos] if n else [],
        decisive=decisive)
    rest_mask = np.ones(n, dtype=bool)
    rest_mask[chosen_pos] = False
    return chosen, df[["study_id", "effect_id"]].iloc[np.flatnonzero(rest_mask)]


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

    reported = np.isin(route, ["reported_smd", "reported_rr", "reported_or"])
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
    ids = sorted(set(sel.loc[m.index, "study_id"].to_numpy(dtype=str)))
    if len(ids) > MAX_LISTED_NOTES:
        notes = [f"{len(ids)} trials have a shared arm whose N is split between their comparisons (Cochrane "
                 f"Handbook 23.3.4), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}."]
    else:
        notes = [f"{sid}: a shared arm's N is split between its comparisons (Cochrane Handbook 23.3.4)."
                 for sid in ids]
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
        (needed when datasets are merged). ``"auto"`` picks SQL for a single dataset of at least
        :data:`SQL_ENGINE_MIN_ROWS` effect rows (planning the window query costs more than it
        saves on small stores). Both apply the same rules (a test checks that they agree).

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
    use_sql = engine == "sql" or (engine == "auto" and len(conns) == 1
                                  and db.effect_row_count(conns[0][1]) >= SQL_ENGINE_MIN_ROWS)
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
        classified = classify_rows(rows).reset_index(drop=True)
        summary = _summary_from_frame(classified)
        scale = _scale_from_summary(summary)
        keep = _majority(summary, scale)
        usable = classified["route"].isin(SCALE_ROUTES[scale])
        if keep is not None and scale == "logRR":
            usable &= (classified["kind"] != "binary") | (classified["higher_is_better"].astype("boolean") == keep).fillna(False)
        narrow = classified.loc[usable.to_numpy(), list(_NARROW)]
        picked, _ = _select(narrow, scale, target, multi_arm)
        extra = ["n_candidates", "n_comparisons", "measure_use", "decisive"]
        chosen = classified.loc[picked.index].assign(**{k: picked[k].to_numpy() for k in extra})
        classified_fn = lambda: classified  # noqa: E731
    notes: list[str] = []
    if multi_arm == "one" and len(chosen):
        multi = chosen["n_comparisons"].to_numpy(dtype=float) > 1
        if multi.sum() > MAX_LISTED_NOTES:
            ids = np.sort(chosen["study_id"].to_numpy(dtype=str)[multi])
            notes.append(f"{int(multi.sum())} trials have several comparisons; one per trial is used (least active "
                         f"control first), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}.")
        elif multi.any():
            many = chosen[multi].sort_values("study_id")
            notes += [f"{s} has {int(k)} comparisons; one is used ({c})."
                      for s, k, c in zip(many["study_id"].to_numpy(dtype=object),
                                         many["n_comparisons"].to_numpy(dtype=float),
                                         many["comparison"].to_numpy(dtype=object))]
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
    """Build the output frame column by column from arrays (cheaper than editing a wide frame)."""
    z = float(ndtri(0.5 + level / 2.0))
    order = np.lexsort((chosen["comparison"].astype(str).to_numpy(dtype=object).astype(str),
                        chosen["study_id"].to_numpy(dtype=str),
                        pd.to_numeric(chosen["year"], errors="coerce").to_numpy(dtype=float, na_value=np.inf)))
    c = chosen.iloc[order]
    col = lambda name: c[name].to_numpy(dtype=object)  # noqa: E731
    yi = c["yi"].to_numpy(dtype=float)
    vi = c["vi"].to_numpy(dtype=float)
    sei = np.sqrt(vi)
    lo, hi = yi - z * sei, yi + z * sei
    ratio = scale != "SMD"
    n_ps = c["n_ps_used"].to_numpy(dtype=float)
    n_ctl = c["n_ctl_used"].to_numpy(dtype=float)
    year = pd.to_numeric(c["year"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    sid = c["study_id"].to_numpy(dtype=str).astype(object)
    author = col("first_author")
    label = np.array([f"{a} {int(y)}" if isinstance(a, str) and not np.isnan(y) else a if isinstance(a, str) else s
                      for a, y, s in zip(author, year, sid)], dtype=object)
    comparison = c["comparison"].astype(str).to_numpy(dtype=object)
    if multi_arm == "split" and len(c):
        several = pd.Series(sid).map(pd.Series(sid).value_counts()).to_numpy() > 1
        label = np.where(several, label + " (" + comparison + ")", label)
    dataset = col("dataset").astype(str).astype(object)
    label = np.where(dataset != "shipped", label + " [" + dataset + "]", label)
    route = col("route")
    rtype = col("reported_effect_type")
    computed = np.array([f"reported {t} and 95% CI" if r == "reported_smd" else _ROUTE_TEXT.get(r, "")
                         for r, t in zip(route, rtype)], dtype=object)
    data = {
        "study_id": sid, "label": label, "year": pd.array(year, dtype="Float64").astype("Int64"),
        "dataset": dataset,
        "effect_measure": np.full(len(c), scale, dtype=object), "yi": yi, "vi": vi, "sei": sei,
        "ci_low": lo, "ci_high": hi,
        "display_estimate": np.exp(yi) if ratio else yi, "display_ci_low": np.exp(lo) if ratio else lo,
        "display_ci_high": np.exp(hi) if ratio else hi, "n_ps": n_ps, "n_ctl": n_ctl, "n_total": n_ps + n_ctl,
        "timepoint_months": pd.to_numeric(c["timepoint_months"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        "higher_is_better": c["higher_is_better"].astype("boolean").array,
        "computed_from": computed, "conversion": col("conversion"), "selection_reason": col("selection_reason"),
        "n_candidates": c["n_candidates"].to_numpy(dtype=int), "flags": col("flags"),
    }
    out = {}
    for name in EFFECT_COLUMNS:
        if name not in data:  # passed through: keep the column's own text array (no round trip)
            out[name] = c[name].astype("str").array
        elif name in _FLOAT_COLUMNS or name in ("year", "higher_is_better", "n_candidates"):
            out[name] = data[name]
        else:
            out[name] = pd.array(np.asarray(data[name], dtype=object), dtype="str")
    return pd.DataFrame(out)


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
