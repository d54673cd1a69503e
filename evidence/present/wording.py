"""Plain-language sentences about a meta-analysis, for readers who are not statisticians.

Every function takes numbers (a ``stats.PooledEstimate``-like object or plain
floats) and returns plain text: no markup, no HTML. Pages render the result
with ``st.write``/``st.caption`` as text.

Words for sizes follow published conventions, cited where they are used:

* SMD magnitude: Cohen (1988), *Statistical Power Analysis for the Behavioral
  Sciences*, 2nd ed., section 2.2.3 (0.2 small, 0.5 medium, 0.8 large).
* I² bands: Cochrane Handbook for Systematic Reviews of Interventions v6.4,
  section 10.10.2 ("0% to 40%: might not be important; 30% to 60%: may
  represent moderate heterogeneity; 50% to 90%: substantial; 75% to 100%:
  considerable"). The bands overlap on purpose; we name the band whose lower
  end the value has passed most recently.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from evidence.core.measures import measure

__all__ = [
    "I2_DEFINITION",
    "TAU2_DEFINITION",
    "PI_DEFINITION",
    "format_number",
    "format_p",
    "format_interval",
    "magnitude_words",
    "direction",
    "pooled_sentence",
    "heterogeneity_sentence",
    "prediction_sentence",
    "certainty_warnings",
    "single_study_sentence",
    "egger_sentence",
    "trim_and_fill_sentence",
    "subgroup_test_sentence",
    "robustness_sentence",
    "conclusion_words",
    "format_probability",
    "probability_sentence",
    "BAYES_DEFINITION",
    "SMALL_K",
    "METHOD_NAMES",
    "SMALL_STUDY_MIN_K",
]

#: The τ² estimators by code, in words (the sidebar, the About page and the exports name them so).
METHOD_NAMES = {
    "FE": "fixed (common) effect",
    "DL": "DerSimonian-Laird",
    "REML": "restricted maximum likelihood",
    "PM": "Paule-Mandel",
    "ML": "maximum likelihood",
    "HE": "Hedges",
    "SJ": "Sidik-Jonkman",
}

#: Below this many studies, heterogeneity estimates are unreliable (warned about).
SMALL_K = 5
#: Below this many studies, funnel-plot asymmetry tests have too little power
#: (Sterne et al. 2011, BMJ 343:d4002, recommendation 1).
SMALL_STUDY_MIN_K = 10

I2_DEFINITION = (
    "I² is the share of the spread in the study results that reflects real differences between the "
    "studies rather than chance: I² = τ² / (τ² + s²) × 100%, where s² is the 'typical' within-study "
    "variance (Higgins & Thompson 2002). With the DerSimonian-Laird estimator this equals "
    "(Q − df) / Q × 100%, floored at 0. It says nothing about how large the differences are; τ² and "
    "the prediction interval do."
)
TAU2_DEFINITION = (
    "τ² is the estimated variance of the true effects across settings, on the effect-size scale "
    "(floored at 0); τ is their standard deviation."
)
PI_DEFINITION = (
    "The prediction interval is where the true effect of a new, similar study would lie with 95% "
    "probability, allowing for the heterogeneity (Higgins, Thompson & Spiegelhalter 2009; t "
    "distribution with k − 2 degrees of freedom as in Riley et al. 2011)."
)

def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _is_ratio(effect_measure: str) -> bool:
    return measure(effect_measure).is_ratio


def _display(value: float, effect_measure: str) -> float:
    return measure(effect_measure).to_display(value)


def format_number(value: Any, digits: int = 2) -> str:
    """``0.3 -> "0.30"``; missing or non-finite -> ``"not available"``."""
    if not _finite(value):
        return "not available"
    return f"{float(value):.{digits}f}"


def format_p(p: Any) -> str:
    """p-value for reading: ``p < 0.001`` below one in a thousand, else three decimals."""
    if not _finite(p):
        return "p not available"
    p = float(p)
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def format_interval(lo: Any, hi: Any, effect_measure: str = "SMD", digits: int = 2) -> str:
    """``"0.10 to 0.54"`` on the display scale (ratios exponentiated)."""
    if not (_finite(lo) and _finite(hi)):
        return "not available"
    return (f"{_display(float(lo), effect_measure):.{digits}f} to "
            f"{_display(float(hi), effect_measure):.{digits}f}")


def magnitude_words(estimate: float, effect_measure: str = "SMD") -> str:
    """How big an effect is in words.

    SMD: Cohen's (1988) benchmarks on ``|g|`` (below 0.2 "very small", 0.2
    "small", 0.5 "moderate", 0.8 "large"). Ratios: the relative change in the
    odds or risk, e.g. "18% lower risk".
    """
    if not _finite(estimate):
        return "not available"
    if _is_ratio(effect_measure):
        ratio = math.exp(float(estimate))
        change = (ratio - 1.0) * 100.0
        what = {"logRR": "risk", "logOR": "odds", "logIRR": "rate", "logHR": "hazard"}.get(effect_measure, "odds")
        if abs(change) < 0.5:
            return f"no difference in the {what}"
        return f"{abs(change):.0f}% {'higher' if change > 0 else 'lower'} {what}"
    g = abs(float(estimate))
    if g < 0.2:
        return "very small"
    if g < 0.5:
        return "small"
    if g < 0.8:
        return "moderate"
    return "large"


def direction(estimate: float, ps_side: str = "right") -> str:
    """``"peer support"``, ``"control"`` or ``"neither"``: which arm the estimate favours."""
    if not _finite(estimate) or float(estimate) == 0.0:
        return "neither"
    favours_right = float(estimate) > 0
    return "peer support" if favours_right == (ps_side == "right") else "control"


def _ci_excludes_null(lo: float, hi: float) -> bool:
    return _finite(lo) and _finite(hi) and (float(lo) > 0 or float(hi) < 0)


def pooled_sentence(pooled: Any, *, effect_measure: str = "SMD", ps_side: str = "right",
                    outcome: str | None = None, participants: int | None = None) -> str:
    """One or two sentences: what the pooled effect means here.

    Parameters
    ----------
    pooled : stats.PooledEstimate
        Estimate and CI on the analysis scale (log for ratios).
    ps_side : {"right", "left"}
        Side of the null (on the analysis scale: positive = right) that favours peer support.
    """
    est, lo, hi = float(pooled.estimate), float(pooled.ci_low), float(pooled.ci_high)
    k = int(pooled.k)
    level = float(getattr(pooled, "level", 0.95))
    what = f" on {outcome}" if outcome else ""
    trials = f"{k} trial{'s' if k != 1 else ''}"
    if participants:
        trials += f" ({participants:,} participants)"
    favoured = direction(est, ps_side)
    size = magnitude_words(est, effect_measure)
    if _is_ratio(effect_measure):
        name = measure(effect_measure).ratio_name
        head = (f"Across {trials}, the pooled {name}{what} is {_display(est, effect_measure):.2f} "
                f"({level:.0%} CI {format_interval(lo, hi, effect_measure)}): {size} with peer support")
    else:
        head = (f"Across {trials}, the pooled standardised mean difference{what} is {est:.2f} "
                f"({level:.0%} CI {format_interval(lo, hi)}), a {size} difference"
                + (f" favouring {favoured}" if favoured != "neither" else ""))
    if _ci_excludes_null(lo, hi):
        tail = (f"The confidence interval excludes no effect, so the average effect favours {favoured}.")
    else:
        tail = ("The confidence interval includes no effect, so these trials cannot tell whether peer "
                "support helps on average.")
    return f"{head}. {tail}"


def _i2_band(i2: float) -> str:
    # Cochrane Handbook 10.10.2 (overlapping bands; see module docstring).
    if i2 < 30:
        return "might not be important"
    if i2 < 50:
        return "may be moderate"
    if i2 < 75:
        return "may be substantial"
    return "is considerable"


def heterogeneity_sentence(pooled: Any) -> str:
    """Plain words for Q, I² and τ²: do the trials disagree more than chance would explain?"""
    k = int(pooled.k)
    if k < 2:
        return "Heterogeneity cannot be assessed with a single study."
    i2 = float(pooled.i2) if _finite(getattr(pooled, "i2", None)) else float("nan")
    parts = []
    if _finite(i2):
        parts.append(f"I² = {i2:.0f}%: the heterogeneity between these trials {_i2_band(i2)} "
                     f"(about {i2:.0f}% of the spread in results reflects real differences rather than chance)")
    q_p = getattr(pooled, "q_p", None)
    if _finite(q_p):
        if float(q_p) < 0.10:
            parts.append(f"the test for heterogeneity suggests the trials differ more than chance alone would "
                         f"explain (Q = {float(pooled.q):.2f}, df = {int(pooled.q_df)}, {format_p(q_p)})")
        else:
            parts.append(f"the test for heterogeneity finds no clear evidence that the trials differ "
                         f"(Q = {float(pooled.q):.2f}, df = {int(pooled.q_df)}, {format_p(q_p)}), but this "
                         "test has little power with few trials")
    text = "; ".join(parts)
    text = (text[0].upper() + text[1:] + ".") if text else "Heterogeneity statistics are not available."
    if k < SMALL_K:
        text += (f" With only {k} trials, I² and τ² are very uncertain; read their confidence intervals, "
                 "not the point values.")
    return text


def heterogeneity_table(pooled: Any) -> str:
    """Q, its test, τ², I² and H² with their intervals, as one Markdown table (statistic, value, 95% CI,
    what it says); the intervals of τ² and I² are Q-profile ones (Viechtbauer 2007)."""
    def interval(ci: Any, digits: int, unit: str = "") -> str:
        if ci is None or not all(_finite(x) for x in ci):
            return "not available"
        return f"{format_number(ci[0], digits)}{unit} to {format_number(ci[1], digits)}{unit} (Q-profile)"

    q = f"{float(pooled.q):.2f} ({int(pooled.q_df)})" if _finite(getattr(pooled, "q", None)) else "not available"
    rows = [
        ("Q (df)", q, "", "Cochran's Q with its degrees of freedom (k − 1)"),
        ("Heterogeneity test", format_p(pooled.q_p), "",
         "chi-square test of Q: do the trials differ more than chance would explain?"),
        ("τ²", format_number(pooled.tau2, 3), interval(getattr(pooled, "tau2_ci", None), 3),
         "variance of the true effects across settings, on the effect-size scale"),
        ("I²", f"{format_number(pooled.i2, 0)}%", interval(getattr(pooled, "i2_ci", None), 0, "%"),
         "share of the spread in results that reflects real differences rather than chance"),
        ("H²", format_number(pooled.h2), "", "total variability relative to sampling variability (1 = none)"),
    ]
    lines = ["| Statistic | Value | 95% CI | What it says |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def prediction_sentence(pooled: Any, *, effect_measure: str = "SMD", ps_side: str = "right") -> str:
    """What the prediction interval says about a new setting."""
    lo, hi = getattr(pooled, "pi_low", None), getattr(pooled, "pi_high", None)
    if not (_finite(lo) and _finite(hi)):
        return "A prediction interval needs at least three trials."
    span = format_interval(lo, hi, effect_measure)
    if _ci_excludes_null(lo, hi):
        return (f"In a new setting like these, the true effect would likely lie between {span}, which still "
                f"favours {direction(float(lo), ps_side)}.")
    return (f"In a new setting like these, the true effect would likely lie between {span}; that range "
            "includes no effect, so peer support might not help everywhere.")


def single_study_sentence(row: Any, *, effect_measure: str = "SMD", ps_side: str = "right") -> str:
    """Sentence for the k = 1 state: one study, nothing pooled."""
    label = str(row.get("label", row.get("study_id", "This study")))
    yi, sei = float(row["yi"]), float(row.get("sei", math.sqrt(float(row["vi"]))))
    lo, hi = yi - 1.959964 * sei, yi + 1.959964 * sei
    return (f"Only one study matches ({label}): effect {_display(yi, effect_measure):.2f} "
            f"(95% CI {format_interval(lo, hi, effect_measure)}), favouring {direction(yi, ps_side)}. "
            "Nothing is pooled from a single study, and heterogeneity cannot be assessed.")


def certainty_warnings(pooled: Any, *, risk_of_bias: Iterable[Any] = (), effect_measure: str = "SMD",
                       ps_side: str = "right") -> list[str]:
    """Warnings a policymaker should read before quoting the number (plain sentences)."""
    out: list[str] = []
    k = int(pooled.k) if pooled is not None else 0
    if 1 < k < SMALL_K:
        out.append(f"Only {k} trials: the heterogeneity (I², τ²) and small-study tests are unreliable, and the "
                   "pooled effect may change a lot as trials are added.")
    if pooled is not None and k >= 2 and not getattr(pooled, "hartung_knapp", False) \
            and getattr(pooled, "method", "") != "FE" and k < 10:
        out.append("With few trials, the standard confidence interval can be too narrow; try the "
                   "Hartung-Knapp adjustment (under Method in the sidebar).")
    rob = [str(r).lower() for r in risk_of_bias if r is not None and str(r) not in ("", "nan", "<NA>")]
    if rob:
        high = sum(r == "high" for r in rob)
        if high / max(k, len(rob)) >= 0.5:
            out.append(f"{high} of {max(k, len(rob))} trials are at high risk of bias; the certainty of this "
                       "evidence is lower. Compare with low-risk-of-bias trials only.")
    if pooled is not None and _finite(getattr(pooled, "pi_low", None)) and _finite(getattr(pooled, "pi_high", None)):
        ci_clear = _ci_excludes_null(pooled.ci_low, pooled.ci_high)
        pi_clear = _ci_excludes_null(pooled.pi_low, pooled.pi_high)
        if ci_clear and not pi_clear:
            out.append("The average effect is clear, but the prediction interval includes no effect: in some "
                       "settings peer support may not help.")
    return out


def egger_sentence(p_value: Any, k: int) -> str:
    """Egger's regression test in words (Egger et al. 1997, BMJ 315:629)."""
    text = (f"Egger's test: {format_p(p_value)}. "
            + ("Small studies show different effects from large ones (funnel asymmetry), which can signal "
               "publication bias." if _finite(p_value) and float(p_value) < 0.10 else
               "No clear sign that small studies show different effects from large ones."))
    if k < SMALL_STUDY_MIN_K:
        text += (f" Caution: with {k} trials (fewer than {SMALL_STUDY_MIN_K}) this test has little power; "
                 "absence of evidence of bias is not evidence of its absence.")
    return text


def trim_and_fill_sentence(n_filled: int, adjusted: Any, adjusted_low: Any, adjusted_high: Any, *,
                           effect_measure: str = "SMD", side: str | None = None) -> str:
    """Trim-and-fill (Duval & Tweedie 2000) in words."""
    if n_filled <= 0:
        return "Trim-and-fill imputes no missing studies; the estimate is unchanged."
    where = f" on the {side} side" if side else ""
    est = format_number(_display(float(adjusted), effect_measure)) if _finite(adjusted) else "not available"
    return (f"Trim-and-fill imputes {n_filled} missing stud{'y' if n_filled == 1 else 'ies'}{where}; the "
            f"adjusted estimate is {est} (95% CI {format_interval(adjusted_low, adjusted_high, effect_measure)}). "
            "This is a sensitivity check, not a corrected answer.")


def subgroup_test_sentence(q: Any, df: Any, p: Any, moderator: str) -> str:
    """Test for subgroup differences (between-groups Q) in words."""
    if not _finite(q):
        return "The test for subgroup differences needs at least two subgroups with studies."
    verdict = ("the subgroups differ more than chance would explain"
               if _finite(p) and float(p) < 0.05 else "no clear evidence that the effect differs between subgroups")
    return (f"Test for subgroup differences by {moderator}: Q = {float(q):.2f}, df = {int(df)}, {format_p(p)}: "
            f"{verdict}. Subgroup comparisons are observational, even within randomised trials.")


def robustness_sentence(n_scenarios: int, n_same: int, conclusion: str) -> str:
    """One-glance summary of the robustness grid."""
    if n_scenarios == 0:
        return "No scenario could be fitted."
    if n_same == n_scenarios:
        return f"The conclusion ({conclusion}) holds in all {n_scenarios} scenarios."
    return (f"The conclusion ({conclusion}) holds in {n_same} of {n_scenarios} scenarios; "
            "see which choices change it below.")


def conclusion_words(lo: Any, hi: Any, ps_side: str = "right") -> str:
    """Short conclusion from a CI: ``"favours peer support"``, ``"favours control"`` or ``"unclear"``."""
    if _ci_excludes_null(lo, hi):
        mid = (float(lo) + float(hi)) / 2.0
        return f"favours {direction(mid, ps_side)}"
    return "no clear effect"


BAYES_DEFINITION = (
    "The Bayesian analysis combines the same studies with a prior belief about how much true effects vary "
    "between settings (τ) and a flat prior on the overall effect; the credible interval then holds the "
    "overall effect with the stated probability, given the data and the prior (Röver 2020, bayesmeta). "
    "With few studies the prior on τ matters: the table below shows every prior side by side."
)


def format_probability(p: Any) -> str:
    """A probability as a whole percentage, never a false 0% or 100%."""
    if not _finite(p):
        return "n/a"
    pct = 100.0 * float(p)
    if pct < 1:
        return "under 1%"
    if pct > 99:
        return "over 99%"
    return f"{pct:.0f}%"


def probability_sentence(p_any: Any, p_mid: Any, *, outcome: str, mid_text: str, event: str | None = None,
                         reason: str = "") -> str:
    """"Probability that peer support improves <outcome> at all: 91%; by at least SMD 0.2: 48%."

    ``event``: for a ratio of events, ``"undesirable"`` (a benefit lowers its risk, e.g. readmission) or
    ``"desirable"`` (a benefit raises it); None for a continuous outcome.
    ``reason``: why no probability can be stated (then the sentence says so instead).
    """
    if reason:
        return f"No probability of benefit is given for {outcome}: {reason}."
    what = {None: f"improves {outcome}", "undesirable": f"lowers the risk of the event ({outcome})",
            "desirable": f"raises the chance of the event ({outcome})"}[event]
    return (f"Probability that peer support {what} at all: {format_probability(p_any)}; "
            f"by at least {mid_text}: {format_probability(p_mid)}.")
