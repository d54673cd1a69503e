"""An automated GRADE-style certainty draft for one pooled analysis (not a formal GRADE assessment).

Start at high (randomised trials) and go down one level per serious concern, each with its reason
(GRADE Handbook, Schünemann et al. 2013, section 5; the thresholds below are the ones issue #12 states):

* risk of bias: −1 when more than half the weight comes from trials judged at high or unclear risk
  (RoB 2 "some concerns" counts as unclear); the draft always says how many trials have no judgement;
* inconsistency: −1 when I² ≥ 50% or the prediction interval crosses no effect while the CI does not;
  −2 when I² ≥ 75% and both;
* indirectness: −1 when more than half the weight comes from trials flagged for a doubtful or borderline
  peer intervention (flags ``borderline-peer``, ``peer-status-doubtful``, ``both-arms-peer``);
* imprecision: −1 when the CI crosses no effect or the total falls short of GRADE's rule-of-thumb optimal
  information size (400 participants for continuous outcomes, 300 events for binary; Guyatt et al. 2011,
  J Clin Epidemiol 64:1283, GRADE guidelines 6); −2 when both, or when k ≤ 2;
* publication bias: −1 when Egger's test gives p < 0.10 with k ≥ 10 (Sterne et al. 2011, BMJ 343:d4002).

Weights are the analysis' own random-effects weights 1 / (vᵢ + τ²) (τ² = 0 under FE).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import stats

from evidence.analysis.analyse import Analysis
from evidence.analysis.small_study import SMALL_STUDY_MIN_K

__all__ = ["Certainty", "Downgrade", "certainty_draft", "LEVELS", "CERTAINTY_LABEL", "CERTAINTY_RULES",
           "NOT_LOW_RISK", "INDIRECT_FLAGS", "OIS_PARTICIPANTS", "OIS_EVENTS", "EGGER_P"]

#: Certainty levels, best first.
LEVELS = ("high", "moderate", "low", "very low")
#: Said wherever a draft is shown.
CERTAINTY_LABEL = "automated draft, not a formal GRADE assessment"
#: Risk-of-bias judgements that count against the evidence (all but "low").
NOT_LOW_RISK = frozenset({"high", "unclear", "some concerns"})
#: Flags that make the intervention an indirect answer to "does peer support work".
INDIRECT_FLAGS = frozenset({"borderline-peer", "peer-status-doubtful", "both-arms-peer"})
#: GRADE's rule-of-thumb optimal information sizes (GRADE guidelines 6).
OIS_PARTICIPANTS = 400
OIS_EVENTS = 300
#: Egger's test threshold (tests of asymmetry are judged at the 10% level).
EGGER_P = 0.10
I2_SERIOUS, I2_VERY_SERIOUS = 50.0, 75.0

#: The rules in words (for the About page and the Overview's expander).
CERTAINTY_RULES = (
    "Start at high (randomised trials).",
    "Risk of bias: −1 if more than half the weight comes from trials judged at high or unclear risk "
    "(RoB 2 'some concerns' counts as unclear); the draft says how many trials have no judgement at all.",
    "Inconsistency: −1 if I² ≥ 50% or the prediction interval crosses no effect while the confidence "
    "interval does not; −2 if I² ≥ 75% and both.",
    "Indirectness: −1 if more than half the weight comes from trials flagged as borderline peer support, "
    "doubtful peer status or peers in both arms.",
    "Imprecision: −1 if the confidence interval crosses no effect or the total falls short of the "
    "optimal information size (rule of thumb: 400 participants for continuous outcomes, 300 events for "
    "binary); −2 if both, or with two trials or fewer.",
    "Publication bias: −1 if Egger's test gives p < 0.10 with at least 10 trials (not assessed with fewer).",
    "The level is high, moderate, low or very low (never below very low).",
)


@dataclass(frozen=True)
class Downgrade:
    """One domain's downgrade: ``levels`` (1 or 2) and why."""

    domain: str
    levels: int
    reason: str


@dataclass(frozen=True)
class Certainty:
    """A certainty draft: the level, each downgrade with its reason, and notes that changed nothing."""

    level: str
    downgrades: tuple[Downgrade, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"certainty level {self.level!r} must be one of {LEVELS}")

    @property
    def total(self) -> int:
        """Levels taken off in all."""
        return sum(d.levels for d in self.downgrades)

    def explain(self) -> str:
        """The downgrades in one line ('no downgrade' when none)."""
        if not self.downgrades:
            return "No downgrade."
        return " ".join(f"{d.domain} (−{d.levels}): {d.reason}" for d in self.downgrades)


def level_after(total_downgrade: int) -> str:
    """High minus ``total_downgrade`` levels, floored at very low."""
    return LEVELS[min(max(int(total_downgrade), 0), len(LEVELS) - 1)]


def _weights(a: Analysis) -> np.ndarray:
    v = a.data.vi
    tau2 = a.pooled.tau2 if a.pooled is not None and a.k > 1 and math.isfinite(a.pooled.tau2) else 0.0
    w = 1.0 / (v + tau2)
    return w / w.sum()


def _share(weights: np.ndarray, mask: np.ndarray) -> float:
    return float(weights[mask].sum())


def _column(a: Analysis, name: str) -> list:
    """A stored column of the pooled rows (None throughout where the rows lack it)."""
    try:
        return a.data.column(name).tolist()
    except KeyError:  # an analysis assembled from a frame without the column
        return [None] * a.k


def _words(a: Analysis, name: str) -> np.ndarray:
    """A text column of the pooled rows, lower-cased, "" where missing (or where the rows lack it)."""
    return np.array([v.strip().lower() if isinstance(v, str) else "" for v in _column(a, name)], dtype=object)


#: A trial's risk-of-bias standing when no overall judgement is held (the forest plot's colour keys too).
ROB_DOMAIN_NOT_LOW = "domain high/unclear, no overall"
ROB_DOMAINS_LOW = "domains low, no overall"
ROB_NONE = "no judgement held"


def rob_standing(overall, worst_domain) -> str:
    """The overall judgement where one is held, else what the per-domain judgements say (a domain at high
    or unclear risk, the ``study_rob_domains`` view's worst domain, or every held domain low), else none."""
    if isinstance(overall, str) and overall.strip():
        return overall.strip().lower()
    worst = worst_domain.strip().lower() if isinstance(worst_domain, str) else ""
    if worst in ("high", "unclear"):
        return ROB_DOMAIN_NOT_LOW
    if worst == "low":
        return ROB_DOMAINS_LOW
    return ROB_NONE


#: How each risk-of-bias status (studies.rob_status) is counted in the note, in this order.
_STATUS_WORDS = (("overall judgement", "an overall judgement"),
                 ("domain judgements only", "domain judgements only"),
                 ("in a review we hold - judgement not retrieved", "a review's judgement we could not retrieve"),
                 ("not assessed by any review we hold", "no assessment by any review we hold"))


def _status_note(status: np.ndarray, k: int) -> str:
    parts = [f"{int((status == s).sum())} {words}" for s, words in _STATUS_WORDS if (status == s).any()]
    return f"Of the {k} trials: " + ", ".join(parts) + "."


def risk_of_bias(a: Analysis, weights: np.ndarray) -> tuple[Downgrade | None, str | None]:
    """Weight from trials not at low risk; a note counting the trials by what judgement we hold.

    Not at low risk: an overall judgement of high, unclear or some concerns, or, for a trial judged per
    domain only, a domain at high or unclear risk (the ``study_rob_domains`` view of the store).
    """
    standing = np.array([rob_standing(o, w) for o, w in zip(_column(a, "risk_of_bias"),
                                                             _column(a, "rob_worst_domain"))], dtype=object)
    status = _words(a, "rob_status")
    from_domains = standing == ROB_DOMAIN_NOT_LOW
    not_low = np.isin(standing, list(NOT_LOW_RISK)) | from_domains
    missing = int((standing == ROB_NONE).sum())
    note = None
    if missing == a.k:
        note = ("No trial has a risk-of-bias judgement" if a.k > 1 else "The trial has no risk-of-bias judgement"
                ) + ", so risk of bias could not be rated (no downgrade is not a clean bill)."
    elif missing:
        note = (f"{missing} of {a.k} trials ha{'ve' if missing != 1 else 's'} no risk-of-bias judgement at all; "
                "the risk-of-bias rating rests on the others.")
    if (status != "").any():
        note = ((note + " ") if note else "") + _status_note(status, a.k)
    share = _share(weights, not_low)
    n_not_low = int(not_low.sum())
    if share > 0.5:
        by_domain = int(from_domains.sum())
        how = (f" ({by_domain} of them judged per domain only, with a domain at high or unclear risk)"
               if by_domain else "")
        return Downgrade("Risk of bias", 1, f"{share:.0%} of the weight comes from {n_not_low} trial"
                         f"{'s' if n_not_low != 1 else ''} at high or unclear risk of bias{how}."), note
    return None, note


def _crosses(lo: float, hi: float) -> bool:
    return bool(lo <= 0.0 <= hi)


def inconsistency(a: Analysis) -> Downgrade | None:
    """I² bands and a prediction interval that crosses no effect when the CI does not."""
    p = a.pooled
    if p is None or a.k < 2:
        return None
    i2 = p.i2 if math.isfinite(p.i2) else 0.0
    pi_known = math.isfinite(p.pi_low) and math.isfinite(p.pi_high)
    pi_only = pi_known and _crosses(p.pi_low, p.pi_high) and not _crosses(p.ci_low, p.ci_high)
    if i2 >= I2_VERY_SERIOUS and pi_only:
        return Downgrade("Inconsistency", 2, f"I² = {i2:.0f}% (≥ 75%) and the prediction interval crosses "
                                             "no effect while the confidence interval does not.")
    if i2 >= I2_SERIOUS:
        return Downgrade("Inconsistency", 1, f"I² = {i2:.0f}% (≥ 50%): results varied between trials.")
    if pi_only:
        return Downgrade("Inconsistency", 1, "The prediction interval crosses no effect while the confidence "
                                             "interval does not.")
    return None


def indirectness(a: Analysis, weights: np.ndarray) -> Downgrade | None:
    """Weight from trials whose intervention may not be peer support as defined."""
    mask = np.array([isinstance(f, str) and bool(INDIRECT_FLAGS & set(f.split(";")))
                     for f in a.data.column("flags").tolist()], dtype=bool)
    share = _share(weights, mask)
    if share > 0.5:
        n = int(mask.sum())
        return Downgrade("Indirectness", 1, f"{share:.0%} of the weight comes from {n} trial{'s' if n != 1 else ''} "
                                            "flagged as borderline peer support, doubtful peer status or peers "
                                            "in both arms.")
    return None


def imprecision(a: Analysis, events: float | None = None, events_complete: bool = True) -> Downgrade | None:
    """CI crossing no effect, total short of the optimal information size, or k ≤ 2.

    ``events``: total events of the trials (binary analyses; None when no trial reports counts);
    ``events_complete``: False when some trials report no counts (then a shortfall is claimed only when
    even the participants, an upper bound on events, fall short).
    """
    p = a.pooled
    reasons = []
    crosses = p is not None and _crosses(p.ci_low, p.ci_high)
    if crosses:
        reasons.append("the confidence interval includes no effect")
    short = False
    n_known = bool(np.isfinite(a.data.n_total).any())
    if not n_known and not (a.is_ratio and events is not None):
        what = None  # neither participants nor events reported: the information size cannot be checked
    elif a.is_ratio:
        if events is not None and events_complete and events < OIS_EVENTS:
            short, what = True, f"{events:,.0f} events (fewer than {OIS_EVENTS})"
        elif n_known and a.participants < OIS_EVENTS:  # events cannot exceed participants
            short, what = True, f"{a.participants:,} participants, so fewer than {OIS_EVENTS} events"
        else:
            what = None  # counts for some trials only, and the participants could hold enough events
    else:
        short = a.participants < OIS_PARTICIPANTS
        what = f"{a.participants:,} participants (fewer than {OIS_PARTICIPANTS})" if short else None
    if short:
        reasons.append(f"the total falls short of the optimal information size: {what}")
    few = a.k <= 2
    if few:
        reasons.append(f"only {a.k} trial{'s' if a.k != 1 else ''}")
    if not reasons:
        return None
    levels = 2 if (crosses and short) or few else 1
    text = "; ".join(reasons)
    return Downgrade("Imprecision", levels, text[0].upper() + text[1:] + ".")


def publication_bias(a: Analysis) -> tuple[Downgrade | None, str | None]:
    """Egger's test with at least ten trials (weak below; not assessed then)."""
    if a.k < SMALL_STUDY_MIN_K:
        return None, (f"Publication bias not assessed: {a.k} trial{'s' if a.k != 1 else ''} (Egger's test needs "
                      f"at least {SMALL_STUDY_MIN_K}).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        egger = stats.egger_test(a.data.yi, a.data.vi, level=a.level)
    if math.isfinite(egger.p_value) and egger.p_value < EGGER_P:
        return Downgrade("Publication bias", 1, f"Egger's test p = {egger.p_value:.3f} (< {EGGER_P:.2f}) with "
                                                f"{a.k} trials: small trials report larger effects."), None
    return None, f"Egger's test p = {egger.p_value:.3f} with {a.k} trials: no downgrade for publication bias."


def certainty_draft(a: Analysis, *, events: float | None = None, events_complete: bool = True) -> Certainty:
    """The GRADE-style draft of one analysis (see the module docstring for every rule).

    ``events``/``events_complete``: total events for binary analyses (see :func:`imprecision`); the
    summary of findings passes them from the trials' arm counts.
    """
    if a.k == 0 or a.pooled is None:
        return Certainty("very low", (Downgrade("Imprecision", 3, "No trial."),))
    w = _weights(a)
    rob, rob_note = risk_of_bias(a, w)
    pub, pub_note = publication_bias(a)
    downgrades = tuple(d for d in (rob, inconsistency(a), indirectness(a, w),
                                   imprecision(a, events, events_complete), pub) if d is not None)
    notes = tuple(n for n in (rob_note, pub_note) if n)
    if a.is_ratio and events is None:
        notes += ("No trial reports event counts, so the events in the optimal information size are unknown.",)
    return Certainty(level_after(sum(d.levels for d in downgrades)), downgrades, notes)


def events_total(arms) -> tuple[float | None, bool]:
    """Total events (both arms) of the pooled trials from their candidate rows (``events_ps, events_ctl``:
    columns of a frame or arrays, row for row).

    Returns ``(total or None, complete)``: None when no trial has counts; complete when every trial has.
    """
    e1 = pd.to_numeric(pd.Series(arms["events_ps"]), errors="coerce").to_numpy(float)
    e2 = pd.to_numeric(pd.Series(arms["events_ctl"]), errors="coerce").to_numpy(float)
    both = np.isfinite(e1) & np.isfinite(e2)
    if not both.any():
        return None, False
    return float((e1[both] + e2[both]).sum()), bool(both.all())
