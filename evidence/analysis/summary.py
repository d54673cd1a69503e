"""The summary of findings: one row per outcome with data under a filter, each with its pooled effect,
certainty draft (:mod:`.certainty`), graded sentence (:mod:`evidence.present.findings_text`), absolute
effects per 1,000 for binary outcomes and, where the outcome has one natural unit, the mean difference in it
(:mod:`.natural_units`).

Every outcome is analysed once with :func:`evidence.analysis.analyse`; the arm counts the absolute effects
and the optimal information size need come from one read of the candidate rows for all outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evidence import query
from evidence.analysis.analyse import CATCH_ALL_OUTCOMES, Analysis, analyse
from evidence.analysis.certainty import CERTAINTY_LABEL, Certainty, certainty_draft, events_total
from evidence.analysis.natural_units import NaturalDifference, natural_difference
from evidence.core.errors import NoMatchingStudies
from evidence.core.filters import FilterSpec
from evidence.core.measures import measure
from evidence.analysis.findings_text import AbsoluteText, absolute_sentence, finding_sentence, outcome_noun
from evidence.store import connection

__all__ = ["AbsoluteEffect", "FindingRow", "SummaryOfFindings", "summary_of_findings", "absolute_effect",
           "lower_is_better", "arm_rows", "participants_known", "participants_complete", "ARM_COLUMNS"]

#: Columns of the candidate rows the summary reads besides what the analysis carries.
ARM_COLUMNS = ("dataset", "effect_id", "events_ps", "events_ctl", "n_ps", "n_ctl", "mean_ps", "sd_ps",
               "mean_ctl", "sd_ctl", "higher_is_better", "measure", "reported_effect", "reported_effect_type",
               "reported_ci_low", "reported_ci_high", "reported_sign")


@dataclass(frozen=True)
class AbsoluteEffect:
    """Cochrane's absolute effect of a binary outcome, per 1,000 people.

    ``assumed_control_risk`` is the median control-arm risk of the ``n_trials`` included trials that
    report event counts; ``peer_*`` apply the pooled ratio (and its CI) to it.
    """

    assumed_control_risk: float
    control_per_1000: float
    peer_per_1000: float
    ci_low_per_1000: float
    ci_high_per_1000: float
    n_trials: int
    comparator: str = "usual care"

    @property
    def difference_per_1000(self) -> float:
        return self.peer_per_1000 - self.control_per_1000

    @property
    def sentence(self) -> str:
        return absolute_sentence(AbsoluteText(self.control_per_1000, self.peer_per_1000, self.ci_low_per_1000,
                                              self.ci_high_per_1000, self.n_trials, self.comparator))


@dataclass(frozen=True, eq=False)
class FindingRow:
    """One outcome of the summary of findings (estimates on the display scale: ratios exponentiated)."""

    outcome: str
    outcome_label: str
    k: int
    participants: int
    effect_measure: str
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    i2: float
    certainty: Certainty
    sentence: str
    absolute: AbsoluteEffect | None
    analysis: Analysis
    natural: NaturalDifference | None = None

    @property
    def pooled(self) -> bool:
        """False for a single trial (its own result, not pooled)."""
        return self.k >= 2


@dataclass(frozen=True, eq=False)
class SummaryOfFindings:
    """The rows (most trials first), the filter, the settings and the outcomes left out (with why)."""

    spec: FilterSpec
    rows: tuple[FindingRow, ...]
    left_out: tuple[tuple[str, str], ...] = ()
    method: str = "REML"
    hartung_knapp: bool = False
    level: float = 0.95

    def row(self, outcome: str) -> FindingRow | None:
        return next((r for r in self.rows if r.outcome == outcome), None)

    def as_frame(self) -> pd.DataFrame:
        """The table as a reader sees it (one row per outcome, plain values; for display and CSV)."""
        def num(x, d=2):
            return round(float(x), d) if x is not None and math.isfinite(float(x)) else None
        recs = []
        for r in self.rows:
            m = measure(r.effect_measure)
            recs.append({
                "Outcome": r.outcome_label,
                "Trials": r.k,
                "Participants": r.participants,
                "All trials report N": "yes" if participants_complete(r.analysis) else "no (total is a lower bound)",
                "Measure": "RR" if r.effect_measure == "logRR" else "OR" if r.effect_measure == "logOR" else "SMD",
                "Effect": num(r.estimate),
                "CI low": num(r.ci_low), "CI high": num(r.ci_high),
                "PI low": num(r.pi_low) if r.pooled else None, "PI high": num(r.pi_high) if r.pooled else None,
                "I² (%)": num(r.i2, 0) if r.pooled else None,
                "Pooled": "yes" if r.pooled else "not pooled",
                "Certainty (draft)": r.certainty.level,
                "Downgrades": r.certainty.explain(),
                "Absolute effect": r.absolute.sentence if r.absolute else "",
                "Mean difference": r.natural.sentence if r.natural else "",
                "Summary": r.sentence,
                "Null": m.null,
                "outcome": r.outcome,
            })
        cols = ["Outcome", "Trials", "Participants", "All trials report N", "Measure", "Effect", "CI low", "CI high", "PI low", "PI high",
                "I² (%)", "Pooled", "Certainty (draft)", "Downgrades", "Absolute effect", "Mean difference",
                "Summary", "Null", "outcome"]
        return pd.DataFrame.from_records(recs, columns=cols)

    @property
    def certainty_label(self) -> str:
        return CERTAINTY_LABEL


def lower_is_better(a: Analysis) -> bool:
    """Whether less of the outcome is good: the event's side for ratios, else most trials' measures."""
    if a.is_ratio and a.favours.event_known:
        return a.favours.side == "left"
    known = [bool(v) for v in a.data.column("higher_is_better").tolist() if v is not None and v is not pd.NA and v == v]
    return bool(known) and known.count(False) > len(known) / 2


def _control_risks(a: Analysis, arms) -> np.ndarray:
    """Control-arm risk of each pooled trial with counts, for the event the analysis counts.

    ``arms``: column -> array of the candidate rows of the pooled rows (``a.data``), row for row.
    """
    e_ctl = np.asarray(arms["events_ctl"], dtype=float)
    n_ctl = np.asarray(arms["n_ctl"], dtype=float)
    ok = np.isfinite(e_ctl) & np.isfinite(n_ctl) & (n_ctl > 0)
    risk = e_ctl[ok] / n_ctl[ok]
    if a.favours.event_known:  # odds ratios of the minority were inverted: so is their risk
        desirable = a.favours.side == "right"
        row_desirable = np.array([desirable if v is None or v is pd.NA or v != v else bool(v)
                                  for v in arms["higher_is_better"]], dtype=bool)[ok]
        risk = np.where(row_desirable == desirable, risk, 1.0 - risk)
    return risk


def _apply_ratio(risk: float, log_ratio: float, effect_measure: str) -> float:
    """Risk with peer support from the control risk and a log RR (risk × RR, at most 1) or log OR (odds × OR)."""
    r = math.exp(log_ratio)
    if effect_measure == "logRR":
        return min(risk * r, 1.0)
    return r * risk / (1.0 - risk + r * risk)


def absolute_effect(a: Analysis, arms) -> AbsoluteEffect | None:
    """Per 1,000 with control and with peer support (95% CI), for ratio analyses with control-arm counts.

    ``arms``: the candidate rows of the pooled rows (``a.data``), row for row (see :func:`arm_rows`).
    """
    if not a.is_ratio or a.pooled is None:
        return None
    risks = _control_risks(a, arms)
    if not len(risks):
        return None
    acr = float(np.median(risks))
    p = a.pooled
    comps = {c if isinstance(c, str) else "" for c in a.data.column("comparator").tolist()}
    comparator = "usual care" if comps == {"usual care"} else "control"
    per = [1000.0 * _apply_ratio(acr, x, a.effect_measure) for x in (p.estimate, p.ci_low, p.ci_high)]
    return AbsoluteEffect(acr, 1000.0 * acr, per[0], min(per[1], per[2]), max(per[1], per[2]), len(risks),
                          comparator)


class _ArmIndex:
    """The candidate rows of a filter as plain arrays, found by (dataset, effect id) without a merge or a
    frame ``take`` per outcome (the store's text columns are Arrow-backed, and taking from them per outcome
    cost more than the analyses)."""

    def __init__(self, rows: pd.DataFrame):
        self.columns = list(rows.columns)
        self.arrays = {c: (pd.to_numeric(rows[c], errors="coerce").to_numpy(float) if c in _NUMERIC_ARMS
                           else rows[c].astype(object).to_numpy()) for c in self.columns}
        keys = zip(self.arrays["dataset"].astype(str), self.arrays["effect_id"].astype(str))
        self.index = {key: i for i, key in enumerate(keys)}

    def for_rows(self, data) -> dict[str, np.ndarray]:
        """Column -> array, row for row with the pooled rows ``data`` (an :class:`EffectData`; numbers as
        floats with NaN, the rest as objects)."""
        keys = zip(map(str, data.column("dataset").tolist()), map(str, data.column("effect_id").tolist()))
        pos = np.array([self.index.get(key, -1) for key in keys], dtype=np.intp)
        if len(pos) and pos.min() < 0:  # a pooled row the candidate read did not return (cannot happen on one read)
            raise LookupError("pooled effect rows missing from the candidate rows")
        return {c: self.arrays[c][pos] for c in self.columns}


#: Candidate columns read as numbers.
_NUMERIC_ARMS = frozenset({"events_ps", "events_ctl", "n_ps", "n_ctl", "mean_ps", "sd_ps", "mean_ctl", "sd_ctl",
                           "reported_effect", "reported_ci_low", "reported_ci_high"})


def arm_rows(a: Analysis, con=None, uploads_dir=None) -> dict[str, np.ndarray]:
    """The candidate columns (arm counts, means, reported effect) of an analysis' pooled trials, row for row."""
    rows = query.candidate_rows(a.spec, con, uploads_dir=uploads_dir).reindex(columns=list(ARM_COLUMNS))
    return _ArmIndex(rows).for_rows(a.data)


def _row(a: Analysis, label: str, arms) -> FindingRow:
    p = a.pooled
    m = measure(a.effect_measure)
    events, complete = events_total(arms) if a.is_ratio else (None, True)
    cert = certainty_draft(a, events=events, events_complete=complete)
    i2 = float(p.i2) if a.k >= 2 else float("nan")
    varied = a.k >= 2 and math.isfinite(i2) and i2 >= 50.0
    lib = lower_is_better(a)
    noun = outcome_noun(a.spec.outcome or "", label, a.favours, a.is_ratio)
    sentence = finding_sentence(outcome_label=label, certainty=cert.level, estimate=p.estimate, ci_low=p.ci_low,
                                ci_high=p.ci_high, effect_measure=a.effect_measure, favours=a.favours,
                                lower_is_better=lib, k=a.k, participants=participants_known(a), varied=varied,
                                level=a.level, noun=noun, participants_complete=participants_complete(a))
    pi = (m.to_display(p.pi_low), m.to_display(p.pi_high)) if a.k >= 3 else (float("nan"), float("nan"))
    return FindingRow(
        outcome=a.spec.outcome or "", outcome_label=label, k=a.k, participants=a.participants,
        effect_measure=a.effect_measure, estimate=m.to_display(p.estimate), ci_low=m.to_display(p.ci_low),
        ci_high=m.to_display(p.ci_high), pi_low=float(pi[0]), pi_high=float(pi[1]), i2=i2, certainty=cert,
        sentence=sentence, absolute=absolute_effect(a, arms), analysis=a,
        natural=natural_difference(a, arms, lower_is_better=lib))


def participants_complete(a: Analysis) -> bool:
    """Whether every pooled trial reports its N (else the total is a lower bound)."""
    return bool(np.isfinite(a.data.n_total).all())


def participants_known(a: Analysis) -> int | None:
    """Total participants, or None when no pooled trial reports its N."""
    n = a.data.n_total
    return a.participants if np.isfinite(n).any() else None


def _labels(con) -> dict[str, str]:
    vt = query.vocab_frame(con)
    vt = vt[vt["field"] == "outcome"]
    return {str(v): (str(lab) if isinstance(lab, str) and lab.strip() else str(v))
            for v, lab in zip(vt["value"], vt["label"])}


def summary_of_findings(spec: FilterSpec, con=None, *, method: str = "REML", hartung_knapp: bool = False,
                        level: float = 0.95, analyses: dict[str, Analysis] | None = None,
                        uploads_dir=None) -> SummaryOfFindings:
    """Every outcome with usable trials under ``spec`` (its own outcome ignored), analysed once each.

    ``analyses``: outcome -> an analysis already computed with the same filter and settings (e.g. cached by
    the app), reused instead of analysing again. Catch-all outcomes ("other") are left out, with why.
    ``uploads_dir``: the folder of the session's imported datasets (see :func:`evidence.analyse`).
    """
    base = replace(spec, outcome=None)
    counts = query.choice_counts_all(base, ("outcome",), con, uploads_dir=uploads_dir)["outcome"]
    labels = _labels(con)
    arms = _ArmIndex(query.candidate_rows(base, con, uploads_dir=uploads_dir).reindex(columns=list(ARM_COLUMNS)))
    conns = connection.dataset_connections(base.dataset, con, uploads_dir)
    # one id query for every outcome (one dataset); merged datasets read per outcome
    ids = query.matching_effect_ids_by_outcome(base, conns[0][1]) if len(conns) == 1 else {}
    rows, left_out = [], []
    for outcome in counts:
        label = labels.get(outcome, outcome)
        if outcome in CATCH_ALL_OUTCOMES:
            left_out.append((label, "collects unrelated measures; no pooled number answers a question"))
            continue
        a = (analyses or {}).get(outcome)
        if a is None:
            try:
                a = analyse(replace(base, outcome=outcome), method=method, hartung_knapp=hartung_knapp,
                            level=level, con=con, effect_ids=ids.get(outcome) if ids else None,
                            uploads_dir=uploads_dir)
            except NoMatchingStudies:
                left_out.append((label, "no trial has numbers that can be pooled"))
                continue
        rows.append(_row(a, label, arms.for_rows(a.data)))
    rows.sort(key=lambda r: (-r.k, -r.participants, r.outcome_label))
    return SummaryOfFindings(spec=base, rows=tuple(rows), left_out=tuple(left_out), method=method,
                             hartung_knapp=hartung_knapp, level=level)
