"""Graded plain-language sentences for a summary of findings (Cochrane conventions).

The verb follows the certainty, as in Cochrane plain-language summaries and GRADE informative statements
(Santesso et al. 2020, J Clin Epidemiol 119:126-135): high "reduces", moderate "probably reduces", low "may
reduce", very low "We are very uncertain whether ... reduces". The size word follows stated thresholds: for
SMDs |g| below 0.2 is "little to no difference", 0.2 "slightly", 0.5 "moderately", 0.8 "substantially"
(Cohen 1988, section 2.2.3); odds ratios are put on that scale with Chinn's factor (ln OR × √3/π; Chinn
2000); risk ratios say the relative change instead. The direction comes from the outcome's orientation
(:class:`evidence.core.measures.Favours` and whether lower values are better), never from the sign alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evidence.core.measures import Favours, measure

__all__ = ["SIZE_THRESHOLDS", "SIZE_RULE", "VERB_RULE", "AbsoluteText", "size_word", "changes_upward",
           "finding_sentence", "absolute_sentence", "outcome_noun"]

#: SMD thresholds (Cohen 1988) for the size words, and the words.
SIZE_THRESHOLDS = ((0.8, "substantially"), (0.5, "moderately"), (0.2, "slightly"))
NO_DIFFERENCE = "little to no difference"
SIZE_RULE = ("Size words follow Cohen's SMD thresholds: below 0.2 'little to no difference', from 0.2 "
             "'slightly', from 0.5 'moderately', from 0.8 'substantially'; odds ratios are put on the SMD "
             "scale with Chinn's factor (ln OR × √3/π); risk ratios give the relative change instead.")
VERB_RULE = ("The verb follows the certainty (Cochrane plain language): high 'reduces', moderate 'probably "
             "reduces', low 'may reduce', very low 'We are very uncertain whether ...'.")
_CHINN = math.sqrt(3.0) / math.pi

#: How a binary outcome's event reads in a sentence, by outcome value and side (None: either side).
_EVENT_NOUNS = {
    ("hospitalised", None): "hospital admission",
    ("readmission", None): "readmission",
    ("overdose", None): "opioid overdose",
    ("suicide attempt", None): "suicide attempts",
    ("incident diabetes", None): "new type 2 diabetes",
    ("adverse events", None): "adverse events",
    ("HIV viral suppression", "left"): "virological failure (detectable viral load)",
    ("HIV viral suppression", "right"): "HIV viral suppression",
}


#: Continuous outcomes whose label names a construct that moves the other way from its measure.
_MEASURE_NOUNS = {"glycaemic control (HbA1c)": "HbA1c"}


def in_sentence(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless it starts an acronym (HIV, HbA1c)."""
    first = label.split(" ", 1)[0]
    return label if any(ch.isupper() for ch in first[1:]) else label[:1].lower() + label[1:]


def outcome_noun(outcome: str, label: str, favours: Favours, is_ratio: bool) -> str:
    """The outcome in a sentence: a ratio's event, a measure where the label would mislead (HbA1c, not
    "glycaemic control", goes down when it improves), else the label in lower case."""
    if is_ratio:
        hit = _EVENT_NOUNS.get((outcome, favours.side)) or _EVENT_NOUNS.get((outcome, None))
    else:
        hit = _MEASURE_NOUNS.get(outcome)
    return hit or in_sentence(label)


def size_word(estimate: float, effect_measure: str) -> str | None:
    """The size word of an analysis-scale estimate; None for risk ratios (they give a percentage)."""
    if effect_measure == "logRR":
        return None
    g = abs(float(estimate)) * (_CHINN if effect_measure == "logOR" else 1.0)
    for threshold, word in SIZE_THRESHOLDS:
        if g >= threshold:
            return word
    return NO_DIFFERENCE


def changes_upward(estimate: float, favours: Favours, lower_is_better: bool) -> bool:
    """Does the outcome itself go up with peer support?

    ``estimate`` is on the analysis scale; ``favours.side`` says which side favours peer support, and
    ``lower_is_better`` whether less of the outcome is good (depression, readmission). An estimate on the
    side favouring peer support means the outcome moved the good way: down when lower is better.
    """
    favours_ps = float(estimate) * favours.benefit_sign > 0
    return favours_ps != bool(lower_is_better)


_VERBS = {  # certainty -> (prefix, verb form for "reduce"/"increase"/"improve", no-difference phrase)
    "high": ("", "s", "results in little to no difference in"),
    "moderate": ("probably ", "s", "probably results in little to no difference in"),
    "low": ("may ", "", "may result in little to no difference in"),
}


def _verb(stem: str, certainty: str) -> str:
    prefix, ending = _VERBS[certainty][:2]
    return f"{prefix}{stem}{ending}"


def _numbers(k: int, participants: int | None, effect_measure: str, estimate: float, ci_low: float, ci_high: float,
             favours: Favours, level: float, participants_complete: bool = True) -> str:
    people = ("number of people not reported" if participants is None
              else f"{'' if participants_complete else 'at least '}{participants:,} "
                   f"{'person' if participants == 1 else 'people'}")
    trials = f"{k} trial{'s' if k != 1 else ''}, {people}"
    m = measure(effect_measure)
    ci = f"{level:.0%} CI {m.to_display(ci_low):.2f} to {m.to_display(ci_high):.2f}"
    if m.is_ratio:
        name = "RR" if effect_measure == "logRR" else "OR"
        effect = f"{name} {m.to_display(estimate):.2f}, {ci}"
    else:
        side = ("favouring peer support" if estimate * favours.benefit_sign > 0
                else "favouring control" if estimate != 0 else "no difference")
        effect = f"SMD {abs(estimate):.2f} {side}, {ci}"
    return f"{trials}; {'not pooled: ' if k < 2 else ''}{effect}"


def finding_sentence(*, outcome_label: str, certainty: str, estimate: float, ci_low: float, ci_high: float,
                     effect_measure: str, favours: Favours, lower_is_better: bool, k: int, participants: int | None,
                     varied: bool = False, level: float = 0.95, noun: str | None = None,
                     participants_complete: bool = True) -> str:
    """One graded sentence with every number from the result, e.g. "Peer support probably reduces
    depression slightly (16 trials, 2,345 people; SMD 0.38 favouring peer support, 95% CI 0.20 to 0.55);
    results varied between trials."

    ``estimate``/``ci_*`` are on the analysis scale (log for ratios); ``noun`` names the outcome in the
    sentence (default: the label in lower case; ratios: the event, see :func:`outcome_noun`);
    ``participants_complete``: False when some trials do not report their N (then "at least").
    """
    if certainty not in ("high", "moderate", "low", "very low"):
        raise ValueError(f"certainty {certainty!r} is not a GRADE level")
    what = noun or in_sentence(outcome_label)
    numbers = _numbers(k, participants, effect_measure, estimate, ci_low, ci_high, favours, level,
                       participants_complete)
    if m_ratio := measure(effect_measure).is_ratio:
        if not favours.event_known:  # the trials do not say whether the event is good: no claim of benefit
            lower_is_better = False
    up = changes_upward(estimate, favours, lower_is_better)
    size = size_word(estimate, effect_measure)
    stem = "increase" if up and (m_ratio or lower_is_better) else "improve" if up else "reduce"
    if size == NO_DIFFERENCE:
        claim = (f"We are very uncertain whether peer support makes a difference to {what}" if certainty == "very low"
                 else f"Peer support {_VERBS[certainty][2]} {what}")
    elif certainty == "very low":
        claim = f"We are very uncertain whether peer support {stem}s {what}"
    else:
        tail = f" {size}" if size else ""
        if size is None:  # risk ratio: the relative change
            change = abs(math.exp(estimate) - 1.0) * 100.0
            tail = f" by about {change:.0f}%" if change >= 0.5 else ""
        claim = f"Peer support {_verb(stem, certainty)} {what}{tail}"
    extra = "; results varied between trials" if varied and k >= 2 else ""
    return f"{claim} ({numbers}){extra}."


@dataclass(frozen=True)
class AbsoluteText:
    """The numbers a per-1,000 sentence needs (see :class:`evidence.analysis.summary.AbsoluteEffect`)."""

    control_per_1000: float
    peer_per_1000: float
    ci_low_per_1000: float
    ci_high_per_1000: float
    n_trials: int
    comparator: str = "usual care"


def absolute_sentence(a: AbsoluteText) -> str:
    """Cochrane's absolute effect: "per 1,000 people: X with usual care, Y with peer support (95% CI A to B)"."""
    return (f"Per 1,000 people: {a.control_per_1000:.0f} with {a.comparator}, {a.peer_per_1000:.0f} with peer "
            f"support (95% CI {a.ci_low_per_1000:.0f} to {a.ci_high_per_1000:.0f}); assumed risk with "
            f"{a.comparator} = " + (f"the median control-arm risk of the {a.n_trials} included trials that report "
                                    "event counts." if a.n_trials != 1 else
                                    "the control-arm risk of the one included trial that reports event counts."))
