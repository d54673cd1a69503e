"""AppTest of the Bayesian panel (Sensitivity) and the probability sentence (Explore): what they show equals the
evidence-level computation on the same view, and the prior, its scale and the MID survive a link."""

from __future__ import annotations

from evidence import FilterSpec, analyse
from evidence import analysis as am
from evidence.present import wording as words

from app_helpers import PAGES, run_app


def _expected_sentence(outcome: str, label: str, prior: str = "empirical", scale: float = 1.0,
                       mid: float | None = None) -> str:
    analysis = analyse(FilterSpec(outcome=outcome))
    fit = am.bayes_analysis(analysis, prior, scale)
    prob = am.benefit_probability(fit, am.DEFAULT_MID[analysis.effect_measure] if mid is None else mid)
    return words.probability_sentence(prob.p_any, prob.p_mid, outcome=label, mid_text=prob.mid_text,
                                      event=am.event_kind(analysis), reason=prob.reason)


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_sensitivity_shows_the_bayesian_panel_with_every_prior():
    at = run_app({"outcome": "depression"}, page=PAGES["Sensitivity"])
    assert not at.exception
    assert "Bayesian" in [h.value for h in at.header]
    assert _expected_sentence("depression", "depression") in _markdown(at)
    assert any(t.startswith("**Prior:** log-t prior on τ²") and "Rhodes et al. 2015" in t for t in _markdown(at))
    [prior_box] = [s for s in at.selectbox if s.label == "Prior on τ"]
    assert prior_box.value == "empirical"
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "Prior on τ" in f.columns)
    assert len(table) == len(am.PRIOR_CHOICES)
    expected = am.prior_sensitivity_table(analyse(FilterSpec(outcome="depression")))
    assert list(table["Overall effect"]) == [f"{v:.2f}" for v in expected["mu_median"]]
    assert list(table["P(≥ MID)"]) == [words.format_probability(p) for p in expected["p_mid"]]
    comparison = next(f for f in frames if "Quantity" in f.columns)
    assert list(comparison["Quantity"]) == ["Overall effect", "Prediction (new trial)", "τ (between-study SD)"]


def test_explore_states_the_probability_of_benefit_for_an_undesirable_event():
    at = run_app({"outcome": "hospitalised"}, page=PAGES["Explore"])
    assert not at.exception
    expected = _expected_sentence("hospitalised", "hospitalised")
    assert expected in _markdown(at)
    assert "lowers the risk of the event (hospitalised)" in expected and "RR 0.9" in expected


def test_prior_scale_and_mid_survive_a_link():
    params = {"outcome": "depression", "prior": "own", "prior_scale": "0.8", "mid": "0.3"}
    at = run_app(params, page=PAGES["Sensitivity"])
    assert not at.exception
    written = {k: at.query_params[k] for k in at.query_params}
    flat = {k: (v[0] if isinstance(v, list) else v) for k, v in written.items()}
    for key, value in params.items():
        assert flat[key] == value, (key, flat)
    assert [s.value for s in at.selectbox if s.label == "Prior on τ"] == ["own"]
    assert _expected_sentence("depression", "depression", "own", 0.8, 0.3) in _markdown(at)
    # the written link, opened again (on Explore), gives the same sentence
    again = run_app(flat, page=PAGES["Explore"])
    assert _expected_sentence("depression", "depression", "own", 0.8, 0.3) in _markdown(again)


def test_invalid_bayesian_url_values_are_ignored_with_a_notice():
    at = run_app({"outcome": "depression", "prior": "jeffreys", "prior_scale": "-2", "mid": "abc"},
                 page=PAGES["Explore"])
    assert not at.exception
    notice = " ".join(i.value for i in at.info).replace("\\", "")  # the notice is markdown-escaped
    assert "Ignored prior 'jeffreys'" in notice and "Ignored prior_scale '-2'" in notice
    assert "Ignored mid 'abc'" in notice
    assert _expected_sentence("depression", "depression") in _markdown(at)


def test_a_link_mid_too_large_for_a_ratio_is_clamped_not_an_error():
    at = run_app({"outcome": "hospitalised", "mid": "3", "prior_scale": "0.001"}, page=PAGES["Sensitivity"])
    assert not at.exception
    [mid] = [n for n in at.number_input if n.label.startswith("Minimally important difference")]
    assert mid.value == 0.9
    assert _expected_sentence("hospitalised", "hospitalised", mid=0.9) in _markdown(at)


def test_the_probability_sentence_keeps_an_acronym_s_capitals():
    outcome = "glycaemic control (HbA1c)"
    at = run_app({"outcome": outcome}, page=PAGES["Explore"])
    assert not at.exception
    expected = _expected_sentence(outcome, "glycaemic control (HbA1c)")
    assert expected in _markdown(at) and "(hba1c)" not in " ".join(_markdown(at))
