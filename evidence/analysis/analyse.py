"""Analyses: filter → analysis-ready effects → :mod:`stats` → frozen results and tables.

Everything here returns dataclasses or pandas frames; nothing renders. All
maths is done by :mod:`stats`; this module chooses the rows, calls stats with
the analysis' own settings, and labels the results.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

import stats

from evidence import query
from evidence.analysis.effects import ORIENTATION_RULE, SELECTION_RULE, effect_set
from evidence.core.errors import InvalidChoice, NoMatchingStudies
from evidence.core.filters import FilterSpec
from evidence.core.measures import Favours, measure

__all__ = [
    "Analysis", "analyse", "UNRELIABLE_HETEROGENEITY_K",
    "leave_one_out_table", "influence_table", "cumulative_table", "robustness_grid",
    "subgroup_table", "meta_regression_table", "compare_specs", "Comparison",
    "small_study", "SmallStudy", "MODERATOR_COLUMNS", "NUMERIC_MODERATORS",
]

#: Below this many studies, τ² and I² are flagged as unreliable (they rest on too few studies).
UNRELIABLE_HETEROGENEITY_K = 5

#: Columns of the effects frame that may serve as a categorical moderator (whitelist).
MODERATOR_COLUMNS: tuple[str, ...] = (
    "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support",
    "peer_deliverer", "comparator", "risk_of_bias", "country", "design", "measure", "dataset",
    "computed_from",
)
#: Numeric columns usable in a meta-regression.
NUMERIC_MODERATORS: tuple[str, ...] = ("year", "timepoint_months", "n_total")


@dataclass(frozen=True, eq=False)
class Analysis:
    """One meta-analysis of one outcome under one filter.

    Attributes
    ----------
    spec : FilterSpec
        The filter analysed.
    effects : DataFrame
        The studies pooled (see :data:`evidence.analysis.effects.EFFECT_COLUMNS`).
    excluded : DataFrame
        ``study_id, effect_id, reason, kind`` for matching rows that were not pooled.
    pooled : stats.PooledEstimate or None
        The pooled result (``k = 1``: the single study's own estimate, nothing pooled).
    effect_measure : str
        ``"SMD"``, ``"logRR"`` or ``"logOR"``.
    favours : evidence.core.measures.Favours
        Which side favours peer support (``.side``, ``.benefit_sign``; ``str()`` gives the sentence).
    description : str
        Human description of the filter with the number of trials.
    scale_note : str
        How results were put on one scale ('' when nothing was converted).
    warnings : tuple of str
        Plain sentences a reader must see (few studies, flags, conversions, ...).
    method, hartung_knapp, level :
        The settings used (as in ``pooled``).
    notes : tuple of str
        Multi-arm choices and shared-arm splits.
    target_months : float
        Follow-up aimed at when a trial has several.
    selection_rule, orientation_rule : str
        The stated rules, for display.
    """

    spec: FilterSpec
    effects: pd.DataFrame
    excluded: pd.DataFrame
    pooled: "stats.PooledEstimate | None"
    effect_measure: str
    favours: Favours
    description: str
    scale_note: str
    warnings: tuple[str, ...]
    method: str = "REML"
    hartung_knapp: bool = False
    level: float = 0.95
    notes: tuple[str, ...] = field(default_factory=tuple)
    target_months: float = 6.0
    multi_arm: str = "one"
    selection_rule: str = SELECTION_RULE
    orientation_rule: str = ORIENTATION_RULE

    @property
    def k(self) -> int:
        """Number of studies pooled."""
        return len(self.effects)

    @property
    def is_ratio(self) -> bool:
        """True for log risk/odds ratio analyses (display on the ratio scale)."""
        return measure(self.effect_measure).is_ratio

    @property
    def participants(self) -> int:
        """Total participants of the pooled studies (after any shared-arm split, rounded)."""
        return int(round(float(self.effects["n_total"].sum()))) if self.k else 0

    def to_dict(self) -> dict:
        """Plain-Python summary (no frames): settings, pooled result, texts, study ids."""
        return {
            "spec": self.spec.to_query_params(),
            "method": self.method, "hartung_knapp": self.hartung_knapp, "level": self.level,
            "effect_measure": self.effect_measure, "favours": str(self.favours),
            "description": self.description, "scale_note": self.scale_note,
            "warnings": list(self.warnings), "notes": list(self.notes),
            "pooled": self.pooled.to_dict() if self.pooled is not None else None,
            "study_ids": self.effects["study_id"].tolist(),
        }


def _pool(yi, vi, *, method: str, hartung_knapp: bool, level: float) -> stats.PooledEstimate:
    return stats.pool(np.asarray(yi, dtype=float), np.asarray(vi, dtype=float), method=method,
                      hartung_knapp=hartung_knapp, level=level)


def _culprit(spec: FilterSpec, con, uploads_dir) -> tuple[str | None, list[tuple[str, int]]]:
    counts = query.study_counts_by_filter(spec, con, uploads_dir=uploads_dir)
    if query.count_studies(spec, con, usable_only=False, uploads_dir=uploads_dir):
        return "usable numbers", counts  # trials match every filter; none has numbers that can be pooled
    for name, n in counts:
        if n == 0:
            return name, counts
    return "usable numbers", counts


#: Outcome values that collect unrelated measures; a pooled number across them answers no question.
CATCH_ALL_OUTCOMES = frozenset({"other"})


def _warnings_for(es_frame: pd.DataFrame, k: int, hartung_knapp: bool, scale_note: str,
                  dataset: str, outcome: str | None = None) -> list[str]:
    out: list[str] = []
    if outcome in CATCH_ALL_OUTCOMES:
        measures = es_frame["measure"].astype("string").fillna("").str.lower().nunique() if "measure" in es_frame else k
        out.append(f"'Other outcome' collects unrelated measures ({measures} different ones here, e.g. viral load, "
                   "blood pressure, service use): the pooled effect mixes them and should not be quoted. Read the "
                   "studies one by one.")
    if k == 1:
        out.append("Only one study: nothing is pooled; the result is that study's own estimate "
                   "and no heterogeneity can be estimated.")
    elif k < UNRELIABLE_HETEROGENEITY_K:
        out.append(f"Only {k} studies: the between-study variance (τ²), I² and the prediction "
                   "interval are unreliable with fewer than "
                   f"{UNRELIABLE_HETEROGENEITY_K} studies.")
    if k == 2 and hartung_knapp:
        out.append("Hartung-Knapp with 2 studies uses a t distribution with 1 degree of freedom; "
                   "the interval is very wide.")
    if scale_note and "Chinn" in scale_note:
        out.append(scale_note)
    flagged = es_frame["flags"].astype("string").fillna("") != ""
    if flagged.any():
        out.append(f"{int(flagged.sum())} of {k} studies carry flags (e.g. derived numbers, "
                   "inferred attribution, borderline peer definition); see the flags column.")
    high = es_frame["risk_of_bias"].astype("string").fillna("") == "high"
    if high.any():
        out.append(f"{int(high.sum())} of {k} studies were judged at high risk of bias.")
    unverified = es_frame["verification"].astype("string").fillna("") != "verified"
    if unverified.any():
        out.append(f"{int(unverified.sum())} of {k} studies use numbers not (yet) verified by a second reader.")
    if dataset != "shipped":
        imported = es_frame["dataset"] != "shipped"
        if imported.any():
            out.append(f"{int(imported.sum())} of {k} studies come from imported data, not the shipped dataset.")
    return out


def analyse(spec: FilterSpec, method: str = "REML", hartung_knapp: bool = False, level: float = 0.95,
            con=None, *, target_months: float | None = None, multi_arm: str = "one",
            uploads_dir=None) -> Analysis:
    """Filter, select one row per study, pool with :func:`stats.pool`, and explain.

    Parameters
    ----------
    spec : FilterSpec
        Must name an outcome.
    method : str
        τ² estimator, one of ``stats.METHODS``.
    hartung_knapp : bool
        Hartung-Knapp adjustment.
    level : float
        Confidence level.
    con : duckdb connection, optional
        The shipped store (default: shared read-only connection).
    target_months, multi_arm, uploads_dir :
        See :func:`evidence.analysis.effects.effect_set`.

    Returns
    -------
    Analysis

    Raises
    ------
    NoMatchingStudies
        When no study is left; ``.culprit`` names the filter that emptied the set.
    OutcomeRequired
        When ``spec.outcome`` is None.
    """
    if method not in stats.METHODS:
        raise InvalidChoice("method", method, stats.METHODS)
    es = effect_set(spec, con, target_months=target_months, multi_arm=multi_arm,
                    uploads_dir=uploads_dir, level=level)
    k = len(es.effects)
    if k == 0:
        culprit, counts = _culprit(spec, con, uploads_dir)
        raise NoMatchingStudies(culprit, counts, spec.describe(0))
    pooled = _pool(es.effects["yi"], es.effects["vi"], method=method, hartung_knapp=hartung_knapp,
                   level=level)
    warn = _warnings_for(es.effects, k, hartung_knapp, es.scale_note, spec.dataset, spec.outcome)
    return Analysis(spec=spec, effects=es.effects, excluded=es.excluded, pooled=pooled,
                    effect_measure=es.effect_measure, favours=es.favours,
                    description=spec.describe(k), scale_note=es.scale_note, warnings=tuple(warn),
                    method=method, hartung_knapp=hartung_knapp, level=level, notes=es.notes,
                    target_months=es.target_months, multi_arm=multi_arm)


def _pooled_row(p: "stats.PooledEstimate") -> dict:
    return {"k": p.k, "estimate": p.estimate, "se": p.se, "ci_low": p.ci_low, "ci_high": p.ci_high,
            "p_value": p.p_value, "tau2": p.tau2, "i2": p.i2, "pi_low": p.pi_low, "pi_high": p.pi_high}


def _same_settings(a: Analysis) -> dict:
    return {"method": a.method, "hartung_knapp": a.hartung_knapp, "level": a.level}


# ---------------------------------------------------------------------------------------------
# Sensitivity and diagnostics (every refit uses the analysis' own settings)

def _require(a: Analysis, what: str, needed: int) -> None:
    from evidence.core.errors import TooFewStudies

    if a.k < needed:
        raise TooFewStudies(what, a.k, needed)


def _quiet_stats(func, *args, **kwargs):
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", stats.StatsWarning)
        return func(*args, **kwargs)


def _display(a: Analysis, frame: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Add ``display_<col>`` on the ratio scale for ratio analyses (same values for SMD)."""
    for c in cols:
        frame[f"display_{c}"] = measure(a.effect_measure).to_display(frame[c].to_numpy(float))
    return frame


def conclusion(p: "stats.PooledEstimate") -> str:
    """Where the CI lies on the analysis scale: ``"positive"``, ``"negative"`` or ``"no clear difference"``.

    Which side favours peer support is read from the analysis' ``favours`` (see :func:`_verdict`).
    """
    if p.ci_low > 0:
        return "positive"
    if p.ci_high < 0:
        return "negative"
    return "no clear difference"


def _verdict(a: Analysis, p: "stats.PooledEstimate") -> str:
    c = conclusion(p)
    if c == "no clear difference":
        return c
    positive_is_good = a.favours.benefit_sign > 0
    return "favours peer support" if (c == "positive") == positive_is_good else "favours control"


def leave_one_out_table(a: Analysis) -> pd.DataFrame:
    """The pooled result refitted without each study in turn (``stats.leave_one_out``).

    Returns
    -------
    DataFrame
        ``omitted, label, k, estimate, ci_low, ci_high, p_value, tau2, i2, verdict,
        verdict_changes`` plus ``display_*`` (ratio scale for ratio analyses).
    """
    _require(a, "Leave-one-out", 2)
    series = _quiet_stats(stats.leave_one_out, a.effects["yi"].to_numpy(float),
                          a.effects["vi"].to_numpy(float), **_same_settings(a))
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
    inf = _quiet_stats(stats.influence, a.effects["yi"].to_numpy(float), a.effects["vi"].to_numpy(float),
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
    series = _quiet_stats(stats.cumulative, a.effects["yi"].to_numpy(float),
                          a.effects["vi"].to_numpy(float), key, **_same_settings(a))
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
                    y = sub.effects["yi"].to_numpy(float)
                    v = sub.effects["vi"].to_numpy(float)
                    removed = ""
                    if outliers == "removed":
                        if len(y) >= 3:
                            flags = np.asarray(_quiet_stats(stats.influence, y, v, method=method,
                                                            hartung_knapp=hk, level=level).is_influential,
                                               dtype=bool)
                            removed = ", ".join(sub.effects["study_id"][flags])
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


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Subgroups by one moderator: a table per group and the test for subgroup differences."""

    moderator: str
    table: pd.DataFrame
    q_between: float
    df_between: int
    p_between: float
    result: object  # stats.SubgroupAnalysis

    def to_dict(self) -> dict:
        return {"moderator": self.moderator, "q_between": self.q_between, "df_between": self.df_between,
                "p_between": self.p_between, "table": self.table.to_dict(orient="records")}


NOT_REPORTED = "not reported"


def subgroup_table(a: Analysis, moderator: str) -> SubgroupResult:
    """Pool each value of a categorical moderator separately (``stats.subgroups``).

    Studies without a value form the group ``"not reported"``.
    """
    if moderator not in MODERATOR_COLUMNS:
        raise InvalidChoice("moderator", moderator, MODERATOR_COLUMNS)
    _require(a, "Subgroup analysis", 2)
    groups = a.effects[moderator].astype("string").fillna(NOT_REPORTED).tolist()
    res = _quiet_stats(stats.subgroups, a.effects["yi"].to_numpy(float), a.effects["vi"].to_numpy(float),
                       groups, **_same_settings(a))
    rows = []
    for g, p, pos in zip(res.groups, res.estimates, res.positions):
        rows.append({"group": g, **_pooled_row(p),
                     "participants": float(a.effects["n_total"].iloc[list(pos)].sum()),
                     "studies": ", ".join(a.effects["study_id"].iloc[list(pos)])})
    table = _display(a, pd.DataFrame(rows), ("estimate", "ci_low", "ci_high"))
    return SubgroupResult(moderator, table, float(res.q_between), int(res.df_between),
                          float(res.p_between), res)


@dataclass(frozen=True, eq=False)
class RegressionResult:
    """Meta-regression on one numeric moderator."""

    moderator: str
    table: pd.DataFrame
    k: int
    dropped: tuple[str, ...]
    result: object  # stats.MetaRegression

    def to_dict(self) -> dict:
        r = self.result
        return {"moderator": self.moderator, "k": self.k, "dropped": list(self.dropped),
                "qm": float(r.qm), "qm_p": float(r.qm_p), "tau2": float(r.tau2), "r2": float(r.r2),
                "table": self.table.to_dict(orient="records")}


def meta_regression_table(a: Analysis, moderator: str) -> RegressionResult:
    """Meta-regression of the effect on a numeric moderator (``stats.meta_regression``).

    Studies without a value are left out and listed in ``dropped``.
    """
    if moderator not in NUMERIC_MODERATORS:
        raise InvalidChoice("moderator", moderator, NUMERIC_MODERATORS)
    x = pd.to_numeric(a.effects[moderator], errors="coerce").astype(float)
    ok = x.notna().to_numpy()
    dropped = tuple(a.effects.loc[~ok, "study_id"])
    from evidence.core.errors import TooFewStudies

    if ok.sum() < 3:
        raise TooFewStudies(f"Meta-regression on {moderator}", int(ok.sum()), 3)
    res = _quiet_stats(stats.meta_regression, a.effects["yi"].to_numpy(float)[ok],
                       a.effects["vi"].to_numpy(float)[ok], x.to_numpy()[ok], names=[moderator],
                       **_same_settings(a))
    table = pd.DataFrame({"term": list(res.names), "coefficient": res.coefficients, "se": res.se,
                          "ci_low": res.ci_low, "ci_high": res.ci_high, "statistic": res.statistic,
                          "p_value": res.p_values})
    return RegressionResult(moderator, table, int(ok.sum()), dropped, res)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Filter A against filter B: both analyses and the test of their difference.

    ``difference = A − B`` on the analysis scale; ``p_value`` is the test for subgroup
    differences between the two sets (``stats.subgroups``: for two independent estimates this is
    the z-test, Q = z²). ``shared_studies`` lists trials in both sets, which breaks independence.
    """

    a: Analysis
    b: Analysis
    difference: float
    se: float
    ci_low: float
    ci_high: float
    q: float
    p_value: float
    shared_studies: tuple[str, ...]
    note: str

    def to_dict(self) -> dict:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "difference": self.difference,
                "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "q": self.q,
                "p_value": self.p_value, "shared_studies": list(self.shared_studies), "note": self.note}


def compare_specs(spec_a: FilterSpec, spec_b: FilterSpec, method: str = "REML",
                  hartung_knapp: bool = False, level: float = 0.95, con=None, *, uploads_dir=None
                  ) -> Comparison:
    """Analyse two filters and test whether their pooled estimates differ.

    Raises
    ------
    NoMatchingStudies
        When either filter leaves no study (the message says which via ``culprit``).
    IncomparableAnalyses
        When the two analyses use different effect measures.
    """
    from evidence.core.errors import IncomparableAnalyses

    a = analyse(spec_a, method, hartung_knapp, level, con, uploads_dir=uploads_dir)
    b = analyse(spec_b, method, hartung_knapp, level, con, uploads_dir=uploads_dir)
    if a.effect_measure != b.effect_measure:
        raise IncomparableAnalyses(a.effect_measure, b.effect_measure)
    y = np.concatenate([a.effects["yi"].to_numpy(float), b.effects["yi"].to_numpy(float)])
    v = np.concatenate([a.effects["vi"].to_numpy(float), b.effects["vi"].to_numpy(float)])
    groups = ["A"] * a.k + ["B"] * b.k
    res = _quiet_stats(stats.subgroups, y, v, groups, method=method, hartung_knapp=hartung_knapp, level=level)
    pa, pb = res.estimates
    diff = pa.estimate - pb.estimate
    # SE of a difference of two independent estimates (Borenstein et al. 2009, eq. 19.4);
    # the test itself comes from stats.subgroups.
    se = float(np.hypot(pa.se, pb.se))
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2.0))
    shared = tuple(sorted(set(a.effects["study_id"]) & set(b.effects["study_id"])))
    note = ("" if not shared else
            f"{len(shared)} trial(s) are in both sets, so the two estimates are not independent "
            "and the test is only approximate.")
    return Comparison(a, b, float(diff), se, float(diff - z * se), float(diff + z * se),
                      float(res.q_between), float(res.p_between), shared, note)


@dataclass(frozen=True, eq=False)
class SmallStudy:
    """Small-study effects: Egger's test and trim-and-fill, with the caveats that apply."""

    egger: object | None        # stats.EggerTest
    trim_and_fill: object | None  # stats.TrimAndFill
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        out: dict = {"notes": list(self.notes)}
        if self.egger is not None:
            e = self.egger
            out["egger"] = {"intercept": e.intercept, "se": e.se, "t": e.t, "df": e.df, "p_value": e.p_value}
        if self.trim_and_fill is not None:
            t = self.trim_and_fill
            out["trim_and_fill"] = {"k0": t.k0, "side": t.side, "adjusted": t.adjusted.to_dict()}
        return out


#: Below this many studies, tests for funnel-plot asymmetry have too little power
#: (Cochrane Handbook 13.3.5.4).
SMALL_STUDY_MIN_K = 10


def small_study(a: Analysis) -> SmallStudy:
    """Egger's regression test and trim-and-fill (``stats.egger_test``, ``stats.trim_and_fill``)."""
    notes = []
    if a.k < 3:
        return SmallStudy(None, None, (f"Small-study tests need at least 3 studies; this analysis has {a.k}.",))
    if a.k < SMALL_STUDY_MIN_K:
        notes.append(f"Only {a.k} studies: tests for funnel-plot asymmetry have little power with fewer than "
                     f"{SMALL_STUDY_MIN_K} studies (Cochrane Handbook 13.3.5.4); read them with caution.")
    y, v = a.effects["yi"].to_numpy(float), a.effects["vi"].to_numpy(float)
    egger = _quiet_stats(stats.egger_test, y, v, level=a.level)
    tf = _quiet_stats(stats.trim_and_fill, y, v, **_same_settings(a))
    return SmallStudy(egger, tf, tuple(notes))
