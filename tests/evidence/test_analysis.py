"""analyse() and the orchestration helpers: results equal stats on the same rows, warnings, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import stats
from evidence import FilterSpec, NoMatchingStudies, analyse
from evidence.analysis import (
    compare_specs,
    cumulative_table,
    influence_table,
    leave_one_out_table,
    meta_regression_table,
    robustness_grid,
    small_study,
    subgroup_table,
)
from evidence.core.errors import IncomparableAnalyses, TooFewStudies

DEP = FilterSpec(outcome="depression")


@pytest.mark.parametrize("method", stats.METHODS)
@pytest.mark.parametrize("hk", [False, True])
def test_pooled_equals_stats_on_the_selected_rows(con, method, hk):
    a = analyse(DEP, method=method, hartung_knapp=hk, con=con)
    p = stats.pool(a.effects["yi"].to_numpy(), a.effects["vi"].to_numpy(), method=method, hartung_knapp=hk)
    assert a.pooled.estimate == pytest.approx(p.estimate) and a.pooled.se == pytest.approx(p.se)
    assert a.pooled.method == method and a.pooled.hartung_knapp is hk
    assert a.k == 6 and a.description.startswith("6 trials where outcome = depression")


def test_analysis_fields_of_the_contract(con):
    a = analyse(DEP, con=con)
    for f in ("spec", "effects", "excluded", "pooled", "effect_measure", "favours", "description",
              "scale_note", "warnings"):
        assert hasattr(a, f)
    assert a.effect_measure == "SMD" and str(a.favours) == "Positive values favour peer support" and a.favours.side == "right"
    assert "Chinn" in a.scale_note
    assert a.participants == int(round(a.effects["n_total"].sum()))
    d = a.to_dict()
    assert d["pooled"]["k"] == 6 and d["spec"] == {"outcome": "depression"}


def test_few_studies_warning(con):
    a = analyse(FilterSpec(outcome="hospitalised"), con=con)
    assert a.k == 3
    assert any(w.startswith("Only 3 studies: the between-study variance") for w in a.warnings)


def test_single_study_is_not_pooled(con):
    a = analyse(FilterSpec(outcome="quality of life"), con=con)
    assert a.k == 1 and a.pooled.k == 1
    assert a.pooled.estimate == pytest.approx(a.effects["yi"].iat[0])
    assert math.isnan(a.pooled.tau2) and math.isnan(a.pooled.i2)
    assert a.warnings[0].startswith("Only one study: nothing is pooled")


def test_flag_and_risk_of_bias_warnings(con):
    a = analyse(DEP, con=con)
    text = " ".join(a.warnings)
    assert "carry flags" in text and "high risk of bias" in text


@pytest.mark.parametrize("spec, culprit", [
    (FilterSpec(outcome="hope"), "outcome"),
    (FilterSpec(outcome="depression", population=("diabetes",)), "population"),
    (FilterSpec(outcome="depression", ps_format=("group",), risk_of_bias=("some concerns",)), "risk_of_bias"),
    (FilterSpec(outcome="depression", year=(1990, 1995)), "year"),
    (FilterSpec(outcome="depression", setting=("online",), include_flagged=False), "include_flagged"),
], ids=["outcome", "population", "rob-after-format", "year", "flags"])
def test_no_matching_studies_names_the_culprit(con, spec, culprit):
    with pytest.raises(NoMatchingStudies) as info:
        analyse(spec, con=con)
    assert info.value.culprit == culprit
    assert info.value.counts[-1] == (culprit, 0)
    assert f"the '{culprit}' filter removed" in str(info.value)


def test_no_usable_numbers_is_its_own_culprit(con):
    # G2012's depression row is an MD: the row matches but cannot be pooled.
    with pytest.raises(NoMatchingStudies, match="none reports numbers that can be pooled") as info:
        analyse(FilterSpec(outcome="depression", setting=("inpatient/discharge",)), con=con)
    assert info.value.culprit == "usable numbers"


def test_invalid_method_lists_choices(con):
    with pytest.raises(ValueError, match=r"Invalid method 'reml2'; must be one of \['FE', 'DL'"):
        analyse(DEP, method="reml2", con=con)


# -- helpers --------------------------------------------------------------------------------

def test_leave_one_out_matches_stats(con):
    a = analyse(DEP, con=con)
    t = leave_one_out_table(a)
    assert list(t["omitted"]) == list(a.effects["study_id"])
    y, v = a.effects["yi"].to_numpy(), a.effects["vi"].to_numpy()
    for i, sid in enumerate(a.effects["study_id"]):
        p = stats.pool(np.delete(y, i), np.delete(v, i), method="REML")
        assert t.loc[t["omitted"] == sid, "estimate"].iat[0] == pytest.approx(p.estimate, rel=1e-6)
    assert t["k"].eq(5).all() and "verdict_changes" in t


def test_influence_table_flags(con):
    t = influence_table(analyse(DEP, con=con))
    assert len(t) == 6 and t["weight"].sum() == pytest.approx(100.0)
    assert t["flagged"].dtype == bool


def test_cumulative_by_year(con):
    t = cumulative_table(analyse(DEP, con=con))
    assert list(t["year"]) == sorted(t["year"]) and list(t["k"]) == [1, 2, 3, 4, 5, 6]
    assert t["estimate"].iat[-1] == pytest.approx(analyse(DEP, con=con).pooled.estimate)


def test_robustness_grid_is_complete(con):
    g = robustness_grid(DEP, con)
    assert len(g) == len(stats.METHODS) * 2 * 2 * 2
    assert set(g["trials"]) == {"all trials", "low risk of bias only"}
    base = g[(g["method"] == "REML") & (~g["hartung_knapp"]) & (g["trials"] == "all trials")
             & (g["outliers"] == "kept")]
    assert base["survives"].all()
    low = g[(g["trials"] == "low risk of bias only") & (g["outliers"] == "kept") & (g["method"] == "REML")
            & (~g["hartung_knapp"])]
    expected = analyse(FilterSpec(outcome="depression", risk_of_bias=("low",)), con=con).pooled
    assert low["k"].iat[0] == 3 and low["estimate"].iat[0] == pytest.approx(expected.estimate)


def test_subgroups_by_moderator(con):
    r = subgroup_table(analyse(DEP, con=con), "ps_format")
    assert set(r.table["group"]) == {"group", "one-to-one", "mixed"}
    assert r.table["k"].sum() == 6 and r.df_between == 2 and 0 <= r.p_between <= 1
    with pytest.raises(ValueError, match="Invalid moderator 'study_id; DROP'; must be one of"):
        subgroup_table(analyse(DEP, con=con), "study_id; DROP")


def test_meta_regression_on_year(con):
    a = analyse(DEP, con=con)
    r = meta_regression_table(a, "year")
    ref = stats.meta_regression(a.effects["yi"].to_numpy(), a.effects["vi"].to_numpy(),
                                a.effects["year"].to_numpy(float), names=["year"])
    assert r.k == 6 and r.table["coefficient"].to_numpy() == pytest.approx(ref.coefficients)
    with pytest.raises(TooFewStudies, match="needs at least 3 studies"):
        meta_regression_table(analyse(FilterSpec(outcome="hospitalised"), con=con), "n_total")


def test_compare_two_filters(con):
    c = compare_specs(FilterSpec(outcome="depression", ps_format=("group",)),
                      FilterSpec(outcome="depression", ps_format=("one-to-one",)), con=con)
    z = c.difference / c.se
    assert c.q == pytest.approx(z * z, rel=1e-6)  # two independent estimates: Q = z²
    assert c.difference == pytest.approx(c.a.pooled.estimate - c.b.pooled.estimate)
    assert c.shared_studies == () and c.note == ""
    overlap = compare_specs(DEP, FilterSpec(outcome="depression", ps_format=("group",)), con=con)
    assert set(overlap.shared_studies) == {"A2001", "C2010"} and "not independent" in overlap.note
    with pytest.raises(IncomparableAnalyses, match="Cannot compare an analysis on SMD with one on logRR"):
        compare_specs(DEP, FilterSpec(outcome="hospitalised"), con=con)


def test_small_study_notes(con):
    s = small_study(analyse(DEP, con=con))
    assert s.egger is not None and s.trim_and_fill is not None
    assert "little power" in s.notes[0]
    one = small_study(analyse(FilterSpec(outcome="quality of life"), con=con))
    assert one.egger is None and "at least 3 studies" in one.notes[0]


def test_too_few_for_leave_one_out(con):
    with pytest.raises(TooFewStudies, match="Leave-one-out needs at least 2 studies; this analysis has 1"):
        leave_one_out_table(analyse(FilterSpec(outcome="quality of life"), con=con))


def test_catch_all_outcome_warns_that_its_pooled_effect_mixes_unrelated_measures():
    from evidence import FilterSpec, analyse

    other = analyse(FilterSpec(outcome="other"))
    assert other.warnings[0].startswith("'Other outcome' collects unrelated measures")
    depression = analyse(FilterSpec(outcome="depression"))
    assert not any("collects unrelated measures" in w for w in depression.warnings)


def test_effect_data_is_the_frame_s_numbers_in_the_frame_s_order():
    """The typed container handed to stats holds exactly the frame's yi, vi, ids and sizes, read-only."""
    from evidence.analysis.data import EffectData

    a = analyse(FilterSpec(outcome="depression"))
    assert isinstance(a.data, EffectData) and a.data.k == a.k > 1
    assert a.effect_set._effects is None  # pooling alone does not build the wide table
    frame = a.effects
    np.testing.assert_array_equal(a.data.yi, frame["yi"].to_numpy(float))
    np.testing.assert_array_equal(a.data.vi, frame["vi"].to_numpy(float))
    assert a.data.study_id.tolist() == frame["study_id"].tolist()
    np.testing.assert_allclose(a.data.n_total, frame["n_total"].to_numpy(float))
    assert a.as_frame() is frame and a.effects is frame  # built once
    with pytest.raises(ValueError):
        a.data.yi[0] = 0.0
    assert a.data.column("risk_of_bias").tolist() == [
        None if pd.isna(x) else x for x in frame["risk_of_bias"].tolist()]


def test_effect_data_rejects_ragged_columns():
    from evidence.analysis.data import EffectData

    with pytest.raises(ValueError, match="one value per study"):
        EffectData(yi=[0.1, 0.2], vi=[0.01], study_id=["a", "b"], n_total=[10, 20], effect_measure="SMD")
