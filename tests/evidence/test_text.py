"""Plain-language sentences: right words for the numbers, no markup, warnings when they apply."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import stats
from evidence.present import wording as text


@pytest.fixture()
def fit():
    rng = np.random.default_rng(7)
    yi = rng.normal(0.35, 0.2, 12)
    vi = rng.uniform(0.01, 0.05, 12)
    return stats.pool(yi, vi, method="REML")


@pytest.mark.parametrize("g, words", [(0.1, "very small"), (-0.1, "very small"), (0.2, "small"),
                                      (0.49, "small"), (0.5, "moderate"), (0.8, "large"), (-1.2, "large")])
def test_smd_magnitude_follows_cohen(g, words):
    assert text.magnitude_words(g, "SMD") == words


def test_ratio_magnitude_is_relative_change():
    assert text.magnitude_words(math.log(0.82), "logRR") == "18% lower risk"
    assert text.magnitude_words(math.log(1.5), "logOR") == "50% higher odds"


def test_direction_respects_side():
    assert text.direction(0.3, "right") == "peer support"
    assert text.direction(-0.3, "right") == "control"
    assert text.direction(-0.3, "left") == "peer support"
    assert text.direction(0.0) == "neither"


def test_pooled_sentence_reports_numbers_and_conclusion(fit):
    s = text.pooled_sentence(fit, outcome="depression", participants=1234)
    assert f"{fit.estimate:.2f}" in s and f"{fit.ci_low:.2f} to {fit.ci_high:.2f}" in s
    assert "12 trials (1,234 participants)" in s
    expected = "excludes no effect" if (fit.ci_low > 0 or fit.ci_high < 0) else "includes no effect"
    assert expected in s
    null = replace(fit, estimate=0.05, ci_low=-0.1, ci_high=0.2)
    assert "cannot tell whether peer support helps" in text.pooled_sentence(null)


def test_pooled_sentence_for_ratios_is_on_ratio_scale(fit):
    rr = replace(fit, estimate=math.log(0.8), ci_low=math.log(0.7), ci_high=math.log(0.9))
    s = text.pooled_sentence(rr, effect_measure="logRR", ps_side="left")
    assert "risk ratio" in s and "0.80" in s and "0.70 to 0.90" in s
    assert "favours peer support" in s


@pytest.mark.parametrize("i2, band", [(10, "might not be important"), (40, "may be moderate"),
                                      (60, "may be substantial"), (90, "is considerable")])
def test_heterogeneity_words_follow_cochrane_bands(fit, i2, band):
    assert band in text.heterogeneity_sentence(replace(fit, i2=i2))


def test_heterogeneity_sentence_mentions_q_and_small_k(fit):
    s = text.heterogeneity_sentence(fit)
    assert f"Q = {fit.q:.2f}" in s and f"df = {fit.q_df}" in s
    few = stats.pool([0.1, 0.4, 0.2], [0.02, 0.03, 0.04])
    assert "very uncertain" in text.heterogeneity_sentence(few)
    one = replace(few, k=1)
    assert "single study" in text.heterogeneity_sentence(one)


def test_prediction_sentence(fit):
    wide = replace(fit, pi_low=-0.2, pi_high=0.8)
    assert "includes no effect" in text.prediction_sentence(wide)
    narrow = replace(fit, pi_low=0.1, pi_high=0.6)
    assert "still favours peer support" in text.prediction_sentence(narrow)
    assert "at least three" in text.prediction_sentence(replace(fit, pi_low=float("nan")))


def test_certainty_warnings(fit):
    few = stats.pool([0.1, 0.4, 0.2], [0.02, 0.03, 0.04])
    warnings = text.certainty_warnings(few, risk_of_bias=["high", "high", "low"])
    joined = " ".join(warnings)
    assert "Only 3 trials" in joined and "Hartung-Knapp" in joined and "high risk of bias" in joined
    hk = stats.pool([0.1, 0.4, 0.2, 0.3, 0.5, 0.2], [0.02] * 6, hartung_knapp=True)
    assert not any("Hartung-Knapp" in w for w in text.certainty_warnings(hk))


def test_small_study_sentences_warn_under_ten():
    assert "fewer than 10" in text.egger_sentence(0.3, 6)
    assert "fewer than 10" not in text.egger_sentence(0.3, 12)
    assert "p < 0.001" in text.egger_sentence(0.0001, 12)
    assert "imputes no missing" in text.trim_and_fill_sentence(0, 0.3, 0.1, 0.5)
    s = text.trim_and_fill_sentence(2, 0.2, 0.0, 0.4, side="left")
    assert "2 missing studies on the left side" in s and "0.20" in s


def test_sentences_contain_no_markup(fit):
    for s in (text.pooled_sentence(fit), text.heterogeneity_sentence(fit), text.prediction_sentence(fit),
              text.I2_DEFINITION, text.subgroup_test_sentence(3.2, 1, 0.07, "format")):
        assert "<" not in s and "**" not in s


def test_format_helpers():
    assert text.format_p(0.0004) == "p < 0.001"
    assert text.format_p(0.0312) == "p = 0.031"
    assert text.format_p(float("nan")) == "p not available"
    assert text.format_number(None) == "not available"
    assert text.format_interval(math.log(0.5), 0.0, "logOR") == "0.50 to 1.00"
    assert text.conclusion_words(0.1, 0.5) == "favours peer support"
    assert text.conclusion_words(-0.1, 0.5) == "no clear effect"
