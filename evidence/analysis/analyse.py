"""The pooled analysis: filter → analysis-ready effects → :func:`stats.pool` → a frozen :class:`Analysis`.

Sensitivity (:mod:`.sensitivity`), moderators (:mod:`.moderators`) and small-study checks
(:mod:`.small_study`) start from an :class:`Analysis` and refit with its own settings (the helpers at the
end of this module). Nothing renders; all maths is done by :mod:`stats`.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

import stats

from evidence import query
from evidence.analysis.data import EffectData
from evidence.analysis.selection import ORIENTATION_RULE, SELECTION_RULE, EffectSet, effect_set, followup_rule_words
from evidence.core.errors import InvalidChoice, NoMatchingStudies
from evidence.core.filters import FilterSpec
from evidence.core.measures import Favours, measure

__all__ = ["Analysis", "analyse", "conclusion", "UNRELIABLE_HETEROGENEITY_K", "CATCH_ALL_OUTCOMES"]

#: Below this many studies, τ² and I² are flagged as unreliable (they rest on too few studies).
UNRELIABLE_HETEROGENEITY_K = 5

@dataclass(frozen=True, eq=False)
class Analysis:
    """One meta-analysis of one outcome under one filter.

    Attributes
    ----------
    spec : FilterSpec
        The filter analysed.
    data : EffectData
        ``yi``, ``vi``, study ids and sizes of the studies pooled: what :mod:`stats` is given.
    effects : DataFrame
        The studies pooled, one wide row each (see :data:`evidence.analysis.selection.EFFECT_COLUMNS`);
        built on first access (``as_frame()`` is the same table).
    excluded : DataFrame
        ``study_id, effect_id, reason, kind`` for matching rows that were not pooled (built on first access).
    pooled : stats.PooledEstimate or None
        The pooled result (``k = 1``: the single study's own estimate, nothing pooled).
    effect_measure : str
        ``"SMD"``, ``"logRR"``, ``"logOR"``, ``"logIRR"`` or ``"logHR"``.
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

    @property
    def followup_rule(self) -> str:
        """The follow-up rule applied (``spec.followup``), in words."""
        return followup_rule_words(self.spec.followup)

    spec: FilterSpec
    effect_set: EffectSet = field(repr=False)
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
    def data(self) -> EffectData:
        """The typed container given to :mod:`stats` (``yi``, ``vi``, study ids, sizes)."""
        return self.effect_set.data

    @property
    def effects(self) -> pd.DataFrame:
        """One wide row per study pooled (built once, on first access)."""
        return self.effect_set.effects

    @property
    def excluded(self) -> pd.DataFrame:
        """Matching rows that were not pooled, with the reason (built once, on first access)."""
        return self.effect_set.excluded

    def as_frame(self) -> pd.DataFrame:
        """The studies pooled as a table (same as ``effects``)."""
        return self.effects

    @property
    def k(self) -> int:
        """Number of studies pooled."""
        return self.data.k

    @property
    def is_ratio(self) -> bool:
        """True for log risk/odds ratio analyses (display on the ratio scale)."""
        return measure(self.effect_measure).is_ratio

    @property
    def participants(self) -> int:
        """Total participants of the pooled studies (after any shared-arm split, rounded)."""
        return int(round(float(np.nansum(self.data.n_total)))) if self.k else 0

    def to_dict(self) -> dict:
        """Plain-Python summary (no frames): settings, pooled result, texts, study ids."""
        return {
            "spec": self.spec.to_query_params(),
            "method": self.method, "hartung_knapp": self.hartung_knapp, "level": self.level,
            "effect_measure": self.effect_measure, "favours": str(self.favours),
            "description": self.description, "scale_note": self.scale_note,
            "warnings": list(self.warnings), "notes": list(self.notes),
            "pooled": self.pooled.to_dict() if self.pooled is not None else None,
            "study_ids": self.data.study_id.tolist(),
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


def _count(values: np.ndarray, value=None, *, not_: bool = False) -> int:
    """Rows equal to ``value`` (or, with ``not_``, different from it); elementwise on object arrays."""
    hits = np.asarray(values, dtype=object) == value
    return int((~hits).sum() if not_ else hits.sum())


def _warnings_for(data: EffectData, k: int, hartung_knapp: bool, scale_note: str,
                  dataset: str, outcome: str | None = None) -> list[str]:
    out: list[str] = []
    if outcome in CATCH_ALL_OUTCOMES:
        measures = len({("" if m is None else str(m)).lower() for m in data.column("measure")})
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
    flags = data.column("flags")
    flagged = len(flags) - _count(flags, None) - _count(flags, "")
    if flagged:
        out.append(f"{flagged} of {k} studies carry flags (e.g. derived numbers, "
                   "inferred attribution, borderline peer definition); see the flags column.")
    high = _count(data.column("risk_of_bias"), "high")
    if high:
        out.append(f"{high} of {k} studies were judged at high risk of bias.")
    unverified = _count(data.column("verification"), "verified", not_=True)
    if unverified:
        out.append(f"{unverified} of {k} studies use numbers not (yet) verified by a second reader.")
    if dataset != "shipped":
        imported = _count(data.column("dataset"), "shipped", not_=True)
        if imported:
            out.append(f"{imported} of {k} studies come from imported data, not the shipped dataset.")
    return out


def analyse(spec: FilterSpec, method: str = "REML", hartung_knapp: bool = False, level: float = 0.95,
            con=None, *, target_months: float | None = None, multi_arm: str = "one",
            uploads_dir=None, effect_ids=None) -> Analysis:
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
    target_months, multi_arm, uploads_dir, effect_ids :
        See :func:`evidence.analysis.selection.effect_set`.

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
                    uploads_dir=uploads_dir, level=level, effect_ids=effect_ids)
    k = es.data.k
    if k == 0:
        culprit, counts = _culprit(spec, con, uploads_dir)
        raise NoMatchingStudies(culprit, counts, spec.describe(0))
    pooled = _pool(es.data.yi, es.data.vi, method=method, hartung_knapp=hartung_knapp, level=level)
    warn = _warnings_for(es.data, k, hartung_knapp, es.scale_note, spec.dataset, spec.outcome)
    return Analysis(spec=spec, effect_set=es, pooled=pooled,
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


