"""The certainty draft: every rule once triggered and once not, at its boundary (issue #12).

Analyses here are real :class:`evidence.analysis.Analysis` objects pooled by ``stats.pool`` from small
invented effect sets (test cases, not evidence); where a rule reads one number of the pooled result (I², the
prediction interval) that number is set on a copy of a real ``PooledEstimate`` so the boundary is exact.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import stats
from evidence import FilterSpec
from evidence.analysis import certainty as grade
from evidence.analysis.analyse import Analysis
from evidence.core.measures import Favours
from evidence.analysis.selection import effect_set_from_frame


def make(yi, vi, *, n=None, rob=None, flags=None, measure="SMD", favours=None, pooled=None, worst=None,
         status=None) -> Analysis:
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = len(yi)
    n = [100.0] * k if n is None else n
    eff = pd.DataFrame({
        "study_id": [f"S{i}" for i in range(k)], "effect_id": [f"E{i}" for i in range(k)], "dataset": "shipped",
        "yi": yi, "vi": vi, "n_total": np.asarray(n, float), "risk_of_bias": rob or [None] * k,
        "flags": flags or [""] * k, "higher_is_better": [False] * k, "comparator": ["usual care"] * k,
        "measure": ["scale"] * k, "computed_from": ["arm means and SDs (Hedges' g)"] * k,
    })
    if worst is not None:
        eff["rob_worst_domain"] = worst
    if status is not None:
        eff["rob_status"] = status
    p = pooled or stats.pool(yi, vi, method="REML")
    fav = favours or Favours.for_scale(measure, -1.0)
    return Analysis(spec=FilterSpec(outcome="depression"), pooled=p,
                    effect_set=effect_set_from_frame(eff, effect_measure=measure, favours=fav),
                    effect_measure=measure, favours=fav, description="", scale_note="", warnings=())


def with_pooled(a: Analysis, **changes) -> Analysis:
    return replace(a, pooled=replace(a.pooled, **changes))


CLEAN = dict(yi=[0.3, 0.32, 0.28, 0.31], vi=[0.01, 0.01, 0.01, 0.01])  # homogeneous, precise, 4 trials


def domains(c: grade.Certainty) -> dict[str, int]:
    return {d.domain: d.levels for d in c.downgrades}


def test_clean_evidence_stays_high():
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=["low"] * 4))
    assert c.level == "high" and c.downgrades == ()


# -- risk of bias ---------------------------------------------------------------------------------

def test_risk_of_bias_more_than_half_the_weight_downgrades():
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=["high", "unclear", "some concerns", "low"]))
    assert domains(c)["Risk of bias"] == 1 and "75%" in c.downgrades[0].reason


def test_risk_of_bias_exactly_half_the_weight_does_not():
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=["high", "high", "low", "low"]))
    assert "Risk of bias" not in domains(c)


def test_missing_judgements_are_counted_not_treated_as_high():
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=["low", None, None, None]))
    assert "Risk of bias" not in domains(c)
    assert any("3 of 4 trials have no risk-of-bias judgement" in n for n in c.notes)
    none = grade.certainty_draft(make(**CLEAN, n=[150] * 4))
    assert any("could not be rated" in n for n in none.notes)


def test_a_domain_at_high_risk_counts_a_trial_judged_per_domain_only_as_not_low():
    status = ["domain judgements only"] * 3 + ["overall judgement"]
    half = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=[None, None, None, "low"],
                                      worst=["high", "unclear", "low", None], status=status))
    assert "Risk of bias" not in domains(half)  # two of four equal weights: not more than half
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=[None, None, None, "low"],
                                   worst=["high", "unclear", "high", None], status=status))
    assert domains(c)["Risk of bias"] == 1
    assert "75%" in c.downgrades[0].reason and "3 of them judged per domain only" in c.downgrades[0].reason


def test_all_domains_low_is_not_read_as_an_overall_low_nor_as_high():
    status = ["domain judgements only"] * 4
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, worst=["low"] * 4, status=status))
    assert "Risk of bias" not in domains(c)
    assert not any("no risk-of-bias judgement" in n for n in c.notes)
    assert any("Of the 4 trials: 4 domain judgements only." in n for n in c.notes)


def test_the_note_counts_trials_by_the_judgement_we_hold():
    status = ["overall judgement", "domain judgements only", "in a review we hold - judgement not retrieved",
              "not assessed by any review we hold"]
    c = grade.certainty_draft(make(**CLEAN, n=[150] * 4, rob=["low", None, None, None],
                                   worst=[None, "low", None, None], status=status))
    note = next(n for n in c.notes if n.startswith("2 of 4 trials have no risk-of-bias judgement"))
    assert ("Of the 4 trials: 1 an overall judgement, 1 domain judgements only, 1 a review's judgement we could "
            "not retrieve, 1 no assessment by any review we hold.") in note


# -- inconsistency --------------------------------------------------------------------------------

@pytest.mark.parametrize("i2, levels", [(49.9, 0), (50.0, 1), (74.9, 1), (75.0, 1)])
def test_inconsistency_by_i2_alone(i2, levels):
    a = with_pooled(make(**CLEAN), i2=i2, ci_low=0.2, ci_high=0.4, pi_low=0.1, pi_high=0.5)
    d = grade.inconsistency(a)
    assert (d.levels if d else 0) == levels


def test_prediction_interval_crossing_while_ci_does_not_downgrades_once():
    a = with_pooled(make(**CLEAN), i2=10.0, ci_low=0.2, ci_high=0.4, pi_low=-0.05, pi_high=0.65)
    assert grade.inconsistency(a).levels == 1
    both_cross = with_pooled(a, ci_low=-0.01)
    assert grade.inconsistency(both_cross) is None


def test_high_i2_and_crossing_prediction_interval_downgrade_twice():
    a = with_pooled(make(**CLEAN), i2=75.0, ci_low=0.2, ci_high=0.4, pi_low=-0.05, pi_high=0.65)
    assert grade.inconsistency(a).levels == 2
    assert grade.inconsistency(with_pooled(a, i2=74.9)).levels == 1


# -- imprecision ----------------------------------------------------------------------------------

def test_optimal_information_size_boundary_for_continuous_outcomes():
    short = grade.imprecision(make(**CLEAN, n=[100, 100, 100, 99]))
    assert short.levels == 1 and "399 participants" in short.reason
    assert grade.imprecision(make(**CLEAN, n=[100, 100, 100, 100])) is None


def test_ci_crossing_no_effect_downgrades_and_both_downgrade_twice():
    a = with_pooled(make(**CLEAN, n=[150] * 4), ci_low=-0.01, ci_high=0.5)
    assert grade.imprecision(a).levels == 1
    assert grade.imprecision(with_pooled(make(**CLEAN, n=[90] * 4), ci_low=-0.01, ci_high=0.5)).levels == 2


@pytest.mark.parametrize("k, levels", [(2, 2), (3, None)])
def test_two_trials_or_fewer_downgrade_twice(k, levels):
    a = make(yi=CLEAN["yi"][:k], vi=CLEAN["vi"][:k], n=[300] * k)
    d = grade.imprecision(a)
    assert (d.levels if d else None) == levels


def test_binary_outcomes_count_events_with_the_300_boundary():
    a = make(yi=[-0.4, -0.5, -0.45], vi=[0.01] * 3, n=[400] * 3, measure="logRR")
    assert grade.imprecision(a, events=299, events_complete=True).levels == 1
    assert grade.imprecision(a, events=300, events_complete=True) is None
    # counts for some trials only, and the participants could hold 300 events: no claim of a shortfall
    assert grade.imprecision(a, events=120, events_complete=False) is None
    few = make(yi=[-0.4, -0.5, -0.45], vi=[0.01] * 3, n=[90] * 3, measure="logRR")
    assert "270 participants, so fewer than 300 events" in grade.imprecision(few, None, False).reason


# -- indirectness and publication bias ------------------------------------------------------------

def test_indirectness_from_flagged_interventions():
    flagged = make(**CLEAN, n=[150] * 4, flags=["borderline-peer", "derived;peer-status-doubtful", "both-arms-peer", ""])
    assert domains(grade.certainty_draft(flagged))["Indirectness"] == 1
    other_flags = make(**CLEAN, n=[150] * 4, flags=["derived", "randomised-n", "borderline-peer", ""])
    assert "Indirectness" not in domains(grade.certainty_draft(other_flags))


def _asymmetric(k: int) -> tuple[np.ndarray, np.ndarray]:
    vi = np.linspace(0.005, 0.2, k)
    return 0.1 + 2.0 * np.sqrt(vi), vi  # small trials report larger effects


def test_egger_downgrades_from_ten_trials():
    y, v = _asymmetric(10)
    assert stats.egger_test(y, v).p_value < grade.EGGER_P  # the premise
    assert domains(grade.certainty_draft(make(y, v, n=[100] * 10)))["Publication bias"] == 1
    y9, v9 = _asymmetric(9)
    c9 = grade.certainty_draft(make(y9, v9, n=[100] * 9))
    assert "Publication bias" not in domains(c9) and any("not assessed" in n for n in c9.notes)


def test_symmetric_funnel_is_not_downgraded():
    rng = np.random.default_rng(12)
    v = np.linspace(0.01, 0.1, 12)
    y = 0.3 + rng.normal(0, 1, 12) * np.sqrt(v)
    assert stats.egger_test(y, v).p_value >= grade.EGGER_P
    assert "Publication bias" not in domains(grade.certainty_draft(make(y, v, n=[100] * 12)))


def test_level_never_goes_below_very_low():
    assert grade.level_after(0) == "high" and grade.level_after(3) == "very low"
    assert grade.level_after(6) == "very low"
    a = make(yi=[0.1, 0.9], vi=[0.05, 0.05], n=[20, 20], rob=["high", "high"], flags=["borderline-peer"] * 2)
    c = grade.certainty_draft(a)
    assert c.level == "very low" and c.total >= 4
    assert all(d.reason for d in c.downgrades)


# -- invariants -----------------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=120, deadline=None)
@given(i2=st.floats(0, 100), ci_low=st.floats(-1, 1), width=st.floats(0.01, 2), pi_extra=st.floats(0, 2),
       n=st.integers(10, 400), rob_high=st.integers(0, 4), flagged=st.integers(0, 4))
def test_level_is_high_minus_the_downgrades_and_more_concerns_never_raise_it(i2, ci_low, width, pi_extra, n,
                                                                            rob_high, flagged):
    rob = ["high"] * rob_high + ["low"] * (4 - rob_high)
    flags = ["borderline-peer"] * flagged + [""] * (4 - flagged)
    a = with_pooled(make(**CLEAN, n=[n] * 4, rob=rob, flags=flags), i2=i2, ci_low=ci_low, ci_high=ci_low + width,
                    pi_low=ci_low - pi_extra, pi_high=ci_low + width + pi_extra)
    c = grade.certainty_draft(a)
    assert c.level == grade.level_after(c.total)
    assert all(d.levels in (1, 2) and d.reason for d in c.downgrades)
    worse = with_pooled(make(**CLEAN, n=[n] * 4, rob=["high"] * 4, flags=flags), i2=max(i2, 80.0), ci_low=ci_low,
                        ci_high=ci_low + width, pi_low=ci_low - pi_extra, pi_high=ci_low + width + pi_extra)
    assert grade.LEVELS.index(grade.certainty_draft(worse).level) >= grade.LEVELS.index(c.level)
