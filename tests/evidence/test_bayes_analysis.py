"""evidence.analysis.bayes on the shipped store: the fit is stats.bayes_pool on the analysis's rows, priors
map to the published presets, and a benefit is read from Favours, not from the sign alone."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import stats
from evidence import FilterSpec, analyse
from evidence import analysis as am
from evidence.core.errors import InvalidChoice
from evidence.core.measures import Favours
from evidence.present import charts
from evidence.present import wording as words


@pytest.fixture(scope="module")
def smd_analysis():
    return analyse(FilterSpec(outcome="depression"))


@pytest.fixture(scope="module")
def ratio_analysis():
    a = analyse(FilterSpec(outcome="hospitalised"))
    assert a.effect_measure == "logRR" and a.favours.side == "left"  # an undesirable event
    return a


def test_fit_is_stats_bayes_pool_on_the_analysis_rows(smd_analysis):
    res = am.bayes_analysis(smd_analysis, "half_normal")
    direct = stats.bayes_pool(smd_analysis.effects["yi"].to_numpy(), smd_analysis.effects["vi"].to_numpy(),
                              tau_prior=stats.HalfNormal(0.5), level=smd_analysis.level)
    assert res.estimate == direct
    assert res.k == smd_analysis.k and "half-normal" in res.prior_text


def test_priors_map_to_the_presets():
    smd = am.tau_prior("empirical", "SMD")
    assert smd == stats.empirical_tau_prior("smd") and "Rhodes" in smd.describe()
    lor = am.tau_prior("empirical", "logOR")
    assert lor == stats.empirical_tau_prior("log_or") and "Turner" in lor.describe()
    lrr = am.tau_prior("empirical", "logRR")
    assert (lrr.mean, lrr.sd) == (lor.mean, lor.sd) and "derived for log odds ratios" in lrr.describe()
    assert am.tau_prior("half_cauchy", "SMD") == stats.HalfCauchy(0.5)
    assert am.tau_prior("own", "SMD", 0.8) == stats.HalfNormal(0.8)
    with pytest.raises(InvalidChoice, match="prior"):
        am.tau_prior("jeffreys", "SMD")
    with pytest.raises(InvalidChoice, match="prior scale"):
        am.tau_prior("own", "SMD", -1.0)


def test_benefit_of_an_undesirable_event_is_a_ratio_below_one(ratio_analysis):
    res = am.bayes_analysis(ratio_analysis, "half_normal")
    prob = am.benefit_probability(res, 0.1)
    assert prob.p_any == pytest.approx(res.estimate.prob_mu_below(0.0), abs=1e-15)
    assert prob.p_mid == pytest.approx(res.estimate.prob_mu_below(math.log(0.9)), abs=1e-15)
    assert prob.p_mid < prob.p_any and prob.mid_text == "RR 0.9"
    # the same fit read for a desirable event: the complementary side, RR 1.1
    flipped = am.benefit_probability(replace(res, favours=Favours("logRR", "right")), 0.1)
    assert flipped.p_any == pytest.approx(1 - prob.p_any, abs=1e-12)
    assert flipped.p_mid == pytest.approx(res.estimate.prob_mu_above(math.log(1.1)), abs=1e-15)
    assert flipped.mid_text == "RR 1.1"


def test_benefit_on_smd_is_above_the_mid(smd_analysis):
    res = am.bayes_analysis(smd_analysis)
    prob = am.benefit_probability(res, 0.2)
    assert prob.p_any == res.estimate.prob_mu_above(0.0) and prob.p_mid == res.estimate.prob_mu_above(0.2)
    assert prob.mid_text == "SMD 0.2"


def test_unknown_event_direction_gives_no_probability(ratio_analysis):
    res = replace(am.bayes_analysis(ratio_analysis), favours=Favours("logRR", "right", event_known=False))
    prob = am.benefit_probability(res, 0.1)
    assert prob.p_any is None and prob.p_mid is None and "desirable" in prob.reason
    text = words.probability_sentence(prob.p_any, prob.p_mid, outcome="hospitalisation", mid_text=prob.mid_text,
                                      reason=prob.reason)
    assert text.startswith("No probability of benefit")


def test_prior_sensitivity_table_has_every_prior_on_the_display_scale(ratio_analysis):
    table = am.prior_sensitivity_table(ratio_analysis, own_scale=1.0)
    assert list(table["choice"]) == list(am.PRIOR_CHOICES)
    fit = am.bayes_analysis(ratio_analysis, "half_cauchy")
    row = table.set_index("choice").loc["half_cauchy"]
    assert row["mu_median"] == pytest.approx(math.exp(fit.estimate.mu_median))
    assert row["tau_median"] == pytest.approx(fit.estimate.tau_median)
    assert row["p_benefit"] == pytest.approx(fit.estimate.prob_mu_below(0.0))
    assert np.all(table["mu_ci_low"] < table["mu_median"]) and np.all(table["mu_median"] < table["mu_ci_high"])


def test_probability_sentence_wording():
    text = words.probability_sentence(0.912, 0.4849, outcome="recovery", mid_text="SMD 0.2")
    assert text == "Probability that peer support improves recovery at all: 91%; by at least SMD 0.2: 48%."
    assert "lowers the risk of the event (readmission)" in words.probability_sentence(
        0.5, 0.2, outcome="readmission", mid_text="RR 0.9", event="undesirable")
    assert words.format_probability(0.999) == "over 99%" and words.format_probability(0.001) == "under 1%"
    assert words.format_probability(float("nan")) == "n/a"


def test_event_kind_follows_favours(smd_analysis, ratio_analysis):
    assert am.event_kind(smd_analysis) is None and am.event_kind(ratio_analysis) == "undesirable"


def test_mid_must_be_valid():
    with pytest.raises(InvalidChoice):
        am.bayes.benefit_threshold("SMD", Favours("SMD"), -0.1)
    with pytest.raises(InvalidChoice):
        am.bayes.benefit_threshold("logRR", Favours("logRR", "left"), 1.0)


def test_posterior_charts(smd_analysis, ratio_analysis):
    fit = am.bayes_analysis(smd_analysis)
    spec = charts.mu_posterior_chart(fit.estimate, effect_measure="SMD", title="mu").to_dict()
    assert spec["layer"] and "Posterior density" in str(spec)
    rfit = am.bayes_analysis(ratio_analysis)
    rspec = charts.mu_posterior_chart(rfit.estimate, effect_measure="logRR", ps_side="left").to_dict()
    assert '"type": "log"' in str(rspec).replace("'", '"')
    tspec = charts.tau_posterior_chart(fit.estimate, am.tau_prior("empirical", "SMD")).to_dict()
    assert "prior" in str(tspec) and "posterior" in str(tspec)
