"""Bayesian random effects for an :class:`~evidence.analysis.Analysis`: prior choice, the fit, the
prior-sensitivity table and the probability of a benefit, oriented by the analysis's
:class:`~evidence.core.measures.Favours` (never by the sign alone).

The maths is :func:`stats.bayes_pool`; this module says which prior a choice means for an effect
measure and which side of a threshold is a benefit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

import stats
from evidence.core.errors import InvalidChoice, TooFewStudies
from evidence.core.measures import Favours, measure

from .analyse import Analysis

#: Prior choices offered (URL values), in display order.
PRIOR_CHOICES = ("empirical", "half_normal", "half_cauchy", "own")
PRIOR_LABELS = {
    "empirical": "Empirical (published) prior for this measure",
    "half_normal": "Half-normal, scale 0.5",
    "half_cauchy": "Half-Cauchy, scale 0.5",
    "own": "Half-normal with your own scale",
}
DEFAULT_PRIOR = "empirical"
WEAK_SCALE = 0.5
DEFAULT_OWN_SCALE = 1.0
#: Minimally important difference by default: SMD 0.2 (a "small" effect, Cohen 1988); for ratios a 10%
#: relative change towards benefit (RR 0.9 for an undesirable event, 1.1 for a desirable one).
DEFAULT_MID = {"SMD": 0.2, "logRR": 0.1, "logOR": 0.1}
#: Which published predictive distributions serve which analysis scale. Turner et al. 2015 derived theirs
#: for log odds ratios; for log risk ratios they are an approximation, and the prior's label says so.
_EMPIRICAL_MEASURE = {"SMD": "smd", "logOR": "log_or", "logRR": "log_or"}


def tau_prior(choice: str, effect_measure: str, own_scale: float = DEFAULT_OWN_SCALE) -> stats.TauPrior:
    """The prior on tau a choice stands for on an analysis scale."""
    if choice not in PRIOR_CHOICES:
        raise InvalidChoice("prior", choice, PRIOR_CHOICES)
    measure(effect_measure)
    if choice == "half_normal":
        return stats.HalfNormal(WEAK_SCALE)
    if choice == "half_cauchy":
        return stats.HalfCauchy(WEAK_SCALE)
    if choice == "own":
        if not (isinstance(own_scale, (int, float)) and math.isfinite(own_scale) and own_scale > 0):
            raise InvalidChoice("prior scale", str(own_scale), ("a positive number",))
        return stats.HalfNormal(float(own_scale))
    prior = stats.empirical_tau_prior(_EMPIRICAL_MEASURE[effect_measure])
    if effect_measure == "logRR":
        note = prior.source + " (derived for log odds ratios; used here for log risk ratios)"
        prior = stats.LogNormalTau2(prior.mean, prior.sd, source=note)
    return prior


@dataclass(frozen=True)
class BayesResult:
    """A Bayesian fit of one analysis: the estimate, the prior in words, and the benefit side."""

    estimate: stats.BayesEstimate
    choice: str
    prior_text: str
    effect_measure: str
    favours: Favours

    @property
    def k(self) -> int:
        return self.estimate.k


def bayes_analysis(analysis: Analysis, prior: str = DEFAULT_PRIOR,
                   own_scale: float = DEFAULT_OWN_SCALE) -> BayesResult:
    """Fit the Bayesian random-effects model (flat prior on mu) to the analysis's yi and vi."""
    if analysis.k < 1:
        raise TooFewStudies("a Bayesian analysis", analysis.k, 1)
    tp = tau_prior(prior, analysis.effect_measure, own_scale)
    est = _fit(analysis.data.yi.tobytes(), analysis.data.vi.tobytes(), prior, analysis.effect_measure,
               float(own_scale), float(analysis.level))
    return BayesResult(est, prior, tp.describe(), analysis.effect_measure, analysis.favours)


@functools.lru_cache(maxsize=256)
def _fit(yi: bytes, vi: bytes, prior: str, effect_measure: str, own_scale: float, level: float
         ) -> stats.BayesEstimate:
    # Keyed on the numbers themselves: many filter settings leave the same trials (a population that no
    # trial of the outcome has, say), and the posterior depends on nothing else. The estimate is frozen.
    return stats.bayes_pool(np.frombuffer(yi), np.frombuffer(vi),
                            tau_prior=tau_prior(prior, effect_measure, own_scale), level=level)


def benefit_threshold(effect_measure: str, favours: Favours, mid: float) -> float:
    """The threshold on the analysis scale a benefit of at least ``mid`` crosses.

    SMD: ``+mid`` (SMDs are oriented so larger favours peer support). Ratios: ``mid`` is a relative change,
    so ``log(1 + mid)`` when the event is desirable and ``log(1 - mid)`` when it is undesirable.
    """
    if not (math.isfinite(mid) and mid >= 0):
        raise InvalidChoice("minimally important difference", str(mid), ("a number >= 0",))
    if not measure(effect_measure).is_ratio:
        return favours.benefit_sign * mid
    if favours.side == "left":
        if mid >= 1:
            raise InvalidChoice("minimally important difference", str(mid), ("a relative change below 1",))
        return math.log(1 - mid)
    return math.log1p(mid)


@dataclass(frozen=True)
class BenefitProbability:
    """P(peer support improves the outcome at all) and P(by at least the MID), or why not stated."""

    p_any: float | None
    p_mid: float | None
    mid: float
    mid_text: str
    reason: str = ""


def mid_text(effect_measure: str, favours: Favours, mid: float) -> str:
    """The MID in words on the display scale, e.g. ``SMD 0.2`` or ``RR 0.9``."""
    m = measure(effect_measure)
    if not m.is_ratio:
        return f"SMD {mid:g}"
    short = {"logRR": "RR", "logOR": "OR"}[effect_measure]
    value = 1 - mid if favours.side == "left" else 1 + mid
    return f"{short} {value:g}"


def benefit_probability(result: BayesResult, mid: float) -> BenefitProbability:
    """P(mu on the benefit side of the null) and P(mu beyond the MID on that side)."""
    text = mid_text(result.effect_measure, result.favours, mid)
    if not result.favours.event_known:
        return BenefitProbability(None, None, mid, text, "the trials do not say whether the event is desirable, "
                                  "so which side is a benefit is unknown")
    threshold = benefit_threshold(result.effect_measure, result.favours, mid)
    est = result.estimate
    if result.favours.side == "right":
        return BenefitProbability(est.prob_mu_above(0.0), est.prob_mu_above(threshold), mid, text)
    return BenefitProbability(est.prob_mu_below(0.0), est.prob_mu_below(threshold), mid, text)


def event_kind(analysis: Analysis) -> str | None:
    """For wording: None for a continuous scale, else whether the event is "desirable" or "undesirable"."""
    if not measure(analysis.effect_measure).is_ratio:
        return None
    return "undesirable" if analysis.favours.side == "left" else "desirable"


def prior_sensitivity_table(analysis: Analysis, own_scale: float = DEFAULT_OWN_SCALE,
                            mid: float | None = None) -> pd.DataFrame:
    """Every prior choice on one row: the posterior of mu (display scale), of tau, the predictive
    interval and the probabilities of a benefit."""
    mid = DEFAULT_MID[analysis.effect_measure] if mid is None else mid
    show = measure(analysis.effect_measure).to_display
    rows = []
    for choice in PRIOR_CHOICES:
        res = bayes_analysis(analysis, choice, own_scale)
        est, prob = res.estimate, benefit_probability(res, mid)
        rows.append({
            "choice": choice, "prior": res.prior_text, "mu_median": show(est.mu_median),
            "mu_ci_low": show(est.mu_ci_low), "mu_ci_high": show(est.mu_ci_high), "tau_median": est.tau_median,
            "tau_ci_low": est.tau_ci_low, "tau_ci_high": est.tau_ci_high, "pred_ci_low": show(est.pred_ci_low),
            "pred_ci_high": show(est.pred_ci_high), "p_benefit": prob.p_any, "p_mid": prob.p_mid,
        })
    return pd.DataFrame(rows)
