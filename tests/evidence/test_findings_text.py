"""Graded plain-language sentences: verb by certainty, size by the stated SMD thresholds, direction by the
outcome's orientation (never the sign alone), small k; plus absolute effects per 1,000 worked by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from evidence.analysis import findings_text as ft
from evidence.analysis.summary import _apply_ratio
from evidence.core.measures import Favours

SMD = Favours("SMD")


def sentence(est, certainty="low", *, lower_is_better=True, measure="SMD", favours=SMD, k=5, n=600, label="Depression",
             varied=False, noun=None):
    return ft.finding_sentence(outcome_label=label, certainty=certainty, estimate=est, ci_low=est - 0.2,
                               ci_high=est + 0.2, effect_measure=measure, favours=favours,
                               lower_is_better=lower_is_better, k=k, participants=n, varied=varied, noun=noun)


def test_smd_059_low_certainty_may_reduce_moderately():
    # SMDs are oriented (positive favours peer support); lower depression scores are better
    assert sentence(0.59).startswith("Peer support may reduce depression moderately (5 trials, 600 people; "
                                     "SMD 0.59 favouring peer support, 95% CI 0.39 to 0.79)")
    # the same size against an outcome where higher is better, as measured: SMD -0.59 favours control
    assert sentence(-0.59, lower_is_better=False, label="Quality of life").startswith(
        "Peer support may reduce quality of life moderately")


@pytest.mark.parametrize("certainty, head", [
    ("high", "Peer support reduces depression slightly"),
    ("moderate", "Peer support probably reduces depression slightly"),
    ("low", "Peer support may reduce depression slightly"),
    ("very low", "We are very uncertain whether peer support reduces depression"),
])
def test_the_verb_follows_the_certainty(certainty, head):
    assert sentence(0.3, certainty).startswith(head + " (")


@pytest.mark.parametrize("g, words", [(0.19, "little to no difference in"), (0.2, "slightly"), (0.49, "slightly"),
                                      (0.5, "moderately"), (0.79, "moderately"), (0.8, "substantially")])
def test_size_words_follow_cohen_thresholds(g, words):
    assert words in sentence(g, "moderate")


def test_little_to_no_difference_phrases_by_certainty():
    assert sentence(0.1, "high").startswith("Peer support results in little to no difference in depression")
    assert sentence(0.1, "low").startswith("Peer support may result in little to no difference in depression")
    assert sentence(0.1, "very low").startswith("We are very uncertain whether peer support makes a difference to")


def test_improves_when_higher_is_better_and_increases_when_a_bad_outcome_rises():
    assert sentence(0.3, "high", lower_is_better=False, label="Recovery").startswith("Peer support improves recovery")
    assert sentence(-0.3, "high").startswith("Peer support increases depression slightly")
    assert "favouring control" in sentence(-0.3, "high")


def test_ratio_direction_comes_from_the_event_side():
    bad_event = Favours("logRR", "left")   # readmission: ratios below 1 favour peer support
    good_event = Favours("logOR", "right")  # engagement: ratios above 1 favour peer support
    s = sentence(math.log(0.66), "moderate", measure="logRR", favours=bad_event, noun="hospital admission")
    assert s.startswith("Peer support probably reduces hospital admission by about 34%") and "RR 0.66" in s
    s = sentence(math.log(2.61), "high", measure="logOR", favours=good_event, lower_is_better=False,
                 noun="treatment engagement")
    assert s.startswith("Peer support increases treatment engagement moderately") and "OR 2.61" in s


def test_small_k_says_not_pooled_and_unknown_n_is_said():
    assert "(1 trial, 80 people; not pooled: SMD" in sentence(0.3, k=1, n=80)
    assert "number of people not reported" in sentence(0.3, k=1, n=None)


def test_results_varied_only_with_two_or_more_trials():
    assert sentence(0.3, varied=True).endswith("; results varied between trials.")
    assert not sentence(0.3, k=1, varied=True).endswith("varied between trials.")


def test_unknown_certainty_is_refused():
    with pytest.raises(ValueError):
        sentence(0.3, "certain")


# -- invariants ---------------------------------------------------------------------------------

estimates = st.floats(min_value=-3, max_value=3, allow_nan=False).filter(lambda x: abs(x) > 1e-6)
levels = st.sampled_from(["high", "moderate", "low", "very low"])


@settings(max_examples=200, deadline=None)
@given(est=estimates, lower=st.booleans(), side=st.sampled_from(["right", "left"]), level=levels,
       measure=st.sampled_from(["SMD", "logRR", "logOR"]))
def test_direction_follows_orientation_not_sign(est, lower, side, level, measure):
    fav = Favours(measure, side if measure != "SMD" else "right")
    lower = (fav.side == "left") if measure != "SMD" else lower
    s = sentence(est, level, lower_is_better=lower, measure=measure, favours=fav, noun="the outcome")
    if ft.size_word(est, measure) == ft.NO_DIFFERENCE:
        return
    helps = est * fav.benefit_sign > 0
    went_down = helps == lower  # peer support helped an outcome where lower is better, or harmed one where higher is
    assert ("reduce" in s.split(" (")[0]) == went_down
    # mirrored: the other side of the null with the other orientation says the same thing
    if measure != "SMD":
        mirrored = Favours(measure, "left" if fav.side == "right" else "right")
        s2 = sentence(-est, level, lower_is_better=not lower, measure=measure, favours=mirrored, noun="the outcome")
        assert (("reduce" in s2.split(" (")[0]) != went_down)


@settings(max_examples=200, deadline=None)
@given(est=estimates, level=levels, lower=st.booleans())
def test_verb_strength_follows_certainty(est, level, lower):
    head = sentence(est, level, lower_is_better=lower).split(" (")[0]
    assert head.startswith("We are very uncertain") == (level == "very low")
    assert ("probably" in head) == (level == "moderate")
    assert (" may " in head) == (level == "low")


# -- absolute effects ---------------------------------------------------------------------------

def test_absolute_risk_from_a_risk_ratio_and_an_odds_ratio_by_hand():
    assert _apply_ratio(0.2, math.log(0.5), "logRR") == pytest.approx(0.1)
    # odds 0.2/0.8 = 0.25, times OR 2 = 0.5, back to a risk 0.5/1.5
    assert _apply_ratio(0.2, math.log(2.0), "logOR") == pytest.approx(1 / 3)
    assert _apply_ratio(0.8, math.log(2.0), "logRR") == 1.0  # a risk cannot pass 1


def test_absolute_sentence_names_the_assumed_risk():
    text = ft.absolute_sentence(ft.AbsoluteText(300, 528, 443, 611, 4, "usual care"))
    assert text.startswith("Per 1,000 people: 300 with usual care, 528 with peer support (95% CI 443 to 611)")
    assert "median control-arm risk of the 4 included trials" in text


def test_a_total_missing_some_trials_n_is_a_lower_bound():
    s = ft.finding_sentence(outcome_label="Depression", certainty="low", estimate=0.5, ci_low=0.3, ci_high=0.7,
                            effect_measure="SMD", favours=SMD, lower_is_better=True, k=8, participants=1638,
                            participants_complete=False)
    assert "(8 trials, at least 1,638 people;" in s


@pytest.mark.parametrize("label, expected", [("Depression", "depression"), ("Quality of life", "quality of life"),
                                             ("HIV viral suppression", "HIV viral suppression"), ("HbA1c", "HbA1c")])
def test_a_label_in_a_sentence_keeps_an_acronym(label, expected):
    assert ft.in_sentence(label) == expected
