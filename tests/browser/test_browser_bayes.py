"""The Bayesian panel in a real browser: choosing a prior and a minimally important difference updates the
probability sentence and the link, and the link restores both on another page."""

from __future__ import annotations

from evidence import FilterSpec, analyse
from evidence import analysis as am
from evidence.present import wording as words


def _sentence(outcome: str, prior: str, mid: float) -> str:
    analysis = analyse(FilterSpec(outcome=outcome))
    prob = am.benefit_probability(am.bayes_analysis(analysis, prior), mid)
    return words.probability_sentence(prob.p_any, prob.p_mid, outcome=outcome, mid_text=prob.mid_text,
                                      event=am.event_kind(analysis), reason=prob.reason)


def _main_text(app) -> str:
    return app.page.locator('[data-testid="stMain"]').inner_text()


def test_choosing_a_prior_and_mid_updates_the_sentence_and_the_link(app):
    app.open("", {"outcome": "recovery"})
    app.open(app.path_of("Sensitivity"), {"outcome": "recovery"})
    app.assert_healthy()
    assert _sentence("recovery", "empirical", 0.2) in _main_text(app)

    box = app.page.get_by_role("combobox", name="Prior on τ", exact=True)
    listbox = app.open_dropdown(box)
    option = app.option(listbox, "Half-Cauchy")
    option.first.wait_for()
    app.after(option.first.click)
    app.assert_healthy()
    assert app.query().get("prior") == "half_cauchy"
    assert _sentence("recovery", "half_cauchy", 0.2) in _main_text(app)

    mid = app.page.get_by_label("Minimally important difference (SMD)", exact=True)
    mid.fill("0.3")
    app.after(lambda: mid.press("Enter"))
    assert app.query().get("mid") == "0.3"
    assert _sentence("recovery", "half_cauchy", 0.3) in _main_text(app)
    app.screenshot("bayes-panel-recovery")

    # the link, opened fresh on Explore, shows the same statement
    link, explore = app.query(), app.path_of("Explore")
    app.open(explore, link)
    app.assert_healthy()
    assert _sentence("recovery", "half_cauchy", 0.3) in _main_text(app)
