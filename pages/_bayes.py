"""The Bayesian widgets and panels shared by Explore (the probability sentence) and Sensitivity (the panel).

The choices live in plain session keys (:data:`pages._state.KEY_PRIOR`, ``KEY_PRIOR_SCALE``, ``KEY_MID``)
that the URL codec reads and writes; each widget has its own key per page and copies its value over in
its callback, so a choice survives moving between pages and a link restores it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evidence import analysis as analysis_mod
from evidence.core.errors import EvidenceError
from evidence.analysis.findings_text import in_sentence
from evidence.core.measures import measure
from evidence.present import charts
from evidence.present import wording as words

from ._cache import result
from ._render import download_table, render_error, rounded, show_chart, view_inputs
from ._state import KEY_MID, KEY_PRIOR, KEY_PRIOR_SCALE

event_kind = analysis_mod.event_kind


def _copy(widget_key: str, target: str) -> None:
    st.session_state[target] = st.session_state[widget_key]


def current_prior() -> tuple[str, float]:
    ss = st.session_state
    prior = ss.get(KEY_PRIOR) or analysis_mod.DEFAULT_PRIOR
    if prior not in analysis_mod.PRIOR_CHOICES:
        prior = analysis_mod.DEFAULT_PRIOR
    return prior, float(ss.get(KEY_PRIOR_SCALE) or analysis_mod.DEFAULT_OWN_SCALE)


def current_mid(effect_measure: str) -> float:
    mid = st.session_state.get(KEY_MID)
    return analysis_mod.DEFAULT_MID[effect_measure] if mid is None else float(mid)


def mid_input(effect_measure: str, page: str) -> float:
    """The MID widget: an SMD for SMDs, a relative change (0.1 = 10%) for ratios."""
    is_ratio = measure(effect_measure).is_ratio
    key, top = f"w_mid_{page}", (0.9 if is_ratio else 5.0)
    # a link's value may exceed what this measure allows (a 30% change is fine, 300% is not): clamp it
    if st.session_state.get(KEY_MID) is not None:
        st.session_state[KEY_MID] = min(max(float(st.session_state[KEY_MID]), 0.0), top)
    st.session_state[key] = current_mid(effect_measure)
    st.number_input("Minimally important difference" + (" (relative change, 0.1 = 10%)" if is_ratio else " (SMD)"),
                    min_value=0.0, max_value=top, step=0.05, key=key,
                    on_change=_copy, args=(key, KEY_MID),
                    help="The smallest effect that would matter to the people concerned. Defaults: SMD 0.2 "
                         "(a small effect, Cohen 1988); for ratios a 10% change towards benefit (RR 0.9 for an "
                         "undesirable event such as readmission, 1.1 for a desirable one).")
    return current_mid(effect_measure)


def probability_text(view, analysis, outcome_label: str) -> str | None:
    """The probability sentence under the current prior and MID (None when no fit is possible)."""
    prior, scale = current_prior()
    try:
        fit = result("bayes", view, (prior, scale))
    except (EvidenceError, ValueError) as exc:
        render_error(exc)
        return None
    prob = analysis_mod.benefit_probability(fit, current_mid(analysis.effect_measure))
    return words.probability_sentence(prob.p_any, prob.p_mid, outcome=in_sentence(outcome_label), mid_text=prob.mid_text,
                                      event=event_kind(analysis), reason=prob.reason)


def render_probability(view, analysis, outcome_label: str, page: str) -> None:
    """The probability sentence with its MID control (Explore)."""
    st.subheader("How likely is a benefit?")
    left, right = st.columns([3, 1])
    with right:
        mid_input(analysis.effect_measure, page)
    text = probability_text(view, analysis, outcome_label)
    with left:
        if text:
            st.markdown(text)
            prior, scale = current_prior()
            fit = result("bayes", view, (prior, scale))
            st.caption(f"Bayesian random effects with a flat prior on the overall effect and, on τ, the "
                       f"{fit.prior_text}. Change the prior on the Sensitivity page.")


def render_panel(view, analysis, outcome_label: str) -> None:
    """Sensitivity's Bayesian panel: prior choice, posterior densities, intervals, prior-sensitivity table."""
    st.header("Bayesian")
    st.caption(words.BAYES_DEFINITION)
    prior, scale = current_prior()
    c1, c2, c3 = st.columns([3, 1, 1])
    st.session_state["w_prior"] = prior
    c1.selectbox("Prior on τ", list(analysis_mod.PRIOR_CHOICES), key="w_prior",
                 format_func=lambda c: analysis_mod.PRIOR_LABELS[c], on_change=_copy, args=("w_prior", KEY_PRIOR))
    scale = min(max(scale, 0.01), 10.0)
    st.session_state["w_prior_scale"] = scale
    c2.number_input("Your own scale", min_value=0.01, max_value=10.0, step=0.05, key="w_prior_scale",
                    on_change=_copy, args=("w_prior_scale", KEY_PRIOR_SCALE), disabled=prior != "own",
                    help="Scale of the half-normal prior on τ when 'your own scale' is chosen.")
    with c3:
        mid = mid_input(analysis.effect_measure, "sensitivity")
    try:
        fit = result("bayes", view, (prior, scale))
        table = result("bayes_priors", view, (scale, mid))
    except (EvidenceError, ValueError) as exc:
        render_error(exc)
        return
    est, m = fit.estimate, measure(analysis.effect_measure)
    st.markdown(f"**Prior:** {fit.prior_text}.")
    text = probability_text(view, analysis, outcome_label)
    if text:
        st.markdown(text)
    pooled = analysis.pooled
    pct = f"{100 * analysis.level:g}%"
    rows = [("Overall effect", m.to_display(est.mu_median), (m.to_display(est.mu_ci_low), m.to_display(est.mu_ci_high)),
             m.to_display(pooled.estimate), (m.to_display(pooled.ci_low), m.to_display(pooled.ci_high))),
            ("Prediction (new trial)", None, (m.to_display(est.pred_ci_low), m.to_display(est.pred_ci_high)),
             None, (m.to_display(pooled.pi_low), m.to_display(pooled.pi_high))),
            ("τ (between-study SD)", est.tau_median, (est.tau_ci_low, est.tau_ci_high),
             pooled.tau2 ** 0.5 if pooled.tau2 == pooled.tau2 else None,
             tuple(t ** 0.5 for t in pooled.tau2_ci))]
    st.dataframe(rounded(_comparison_frame(rows, pct, analysis.method)), hide_index=True, width="stretch")
    show_chart(lambda: charts.mu_posterior_chart(est, effect_measure=analysis.effect_measure,
                                                 ps_side=analysis.favours.side, title="Overall effect: posterior"),
               f"bayes_mu_{view.spec.outcome}", "bayes_mu", view_inputs(view, prior, scale))
    tp = analysis_mod.tau_prior(prior, analysis.effect_measure, scale)
    show_chart(lambda: charts.tau_posterior_chart(est, tp, title="τ: prior (dashed) and posterior"),
               f"bayes_tau_{view.spec.outcome}", "bayes_tau", view_inputs(view, prior, scale))
    st.subheader("Does the prior matter?")
    st.dataframe(_sensitivity_frame(table, pct, scale), hide_index=True, width="stretch")
    st.caption(f"One row per prior: posterior median and central {pct} credible interval of the overall effect and "
               f"of τ, the {pct} predictive interval for a new trial, and the probabilities of a benefit (MID "
               f"{analysis_mod.mid_text(analysis.effect_measure, analysis.favours, mid)}). The empirical prior is "
               + "; ".join(dict.fromkeys(t for c, t in zip(table["choice"], table["prior"]) if c == "empirical")) + ".")
    download_table(table, f"bayes_priors_{view.spec.outcome}", "bayes_priors")


def _sensitivity_frame(table: pd.DataFrame, pct: str, scale: float) -> pd.DataFrame:
    label = {**analysis_mod.PRIOR_LABELS, "own": f"Half-normal, your own scale {scale:g}"}
    two = lambda a, b: f"{a:.2f} to {b:.2f}"  # noqa: E731
    return pd.DataFrame({
        "Prior on τ": [label[c] for c in table["choice"]],
        "Overall effect": [f"{v:.2f}" for v in table["mu_median"]],
        f"{pct} CrI": [two(a, b) for a, b in zip(table["mu_ci_low"], table["mu_ci_high"])],
        "τ": [f"{v:.2f}" for v in table["tau_median"]],
        f"τ {pct} CrI": [two(a, b) for a, b in zip(table["tau_ci_low"], table["tau_ci_high"])],
        f"{pct} predictive": [two(a, b) for a, b in zip(table["pred_ci_low"], table["pred_ci_high"])],
        "P(benefit)": [words.format_probability(p) for p in table["p_benefit"]],
        "P(≥ MID)": [words.format_probability(p) for p in table["p_mid"]],
    })


def _comparison_frame(rows, pct: str, method: str):
    return pd.DataFrame([{
        "Quantity": name,
        "Bayesian median": "—" if bayes_mid is None else f"{bayes_mid:.2f}",
        f"{pct} credible / predictive": f"{lo_hi[0]:.2f} to {lo_hi[1]:.2f}",
        f"Frequentist ({method})": "—" if freq is None else f"{freq:.2f}",
        f"{pct} CI / PI": "n/a" if freq_ci is None or any(v != v for v in freq_ci)
        else f"{freq_ci[0]:.2f} to {freq_ci[1]:.2f}",
    } for name, bayes_mid, lo_hi, freq, freq_ci in rows])
