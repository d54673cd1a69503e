"""Effect sizes against metafor escalc() and published worked examples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import gamma

import stats
from stats_settings import REL_CLOSED, as_float_array, assert_close, load_reference

ES = load_reference()["effect_sizes"]


def test_smd_matches_escalc():
    c = ES["continuous"]
    yi, vi = stats.smd(c["m1"], c["sd1"], c["n1"], c["m2"], c["sd2"], c["n2"])
    assert_close(yi, c["smd_yi"], rel=REL_CLOSED, what="smd yi")
    assert_close(vi, c["smd_vi"], rel=REL_CLOSED, what="smd vi")


def test_mean_difference_matches_escalc():
    c = ES["continuous"]
    yi, vi = stats.mean_difference(c["m1"], c["sd1"], c["n1"], c["m2"], c["sd2"], c["n2"])
    assert_close(yi, c["md_yi"], rel=REL_CLOSED, what="md yi")
    assert_close(vi, c["md_vi"], rel=REL_CLOSED, what="md vi")


def test_binary_measures_match_escalc_with_drop00():
    b = ES["binary"]
    with pytest.warns(stats.StatsWarning, match="set to NaN"):
        lor = stats.log_odds_ratio(b["e1"], b["n1"], b["e2"], b["n2"])
    with pytest.warns(stats.StatsWarning, match="set to NaN"):
        lrr = stats.log_risk_ratio(b["e1"], b["n1"], b["e2"], b["n2"])
    assert_close(lor.yi, b["or_yi"], rel=REL_CLOSED, what="OR yi")
    assert_close(lor.vi, b["or_vi"], rel=REL_CLOSED, what="OR vi")
    assert_close(lrr.yi, b["rr_yi"], rel=REL_CLOSED, what="RR yi")
    assert_close(lrr.vi, b["rr_vi"], rel=REL_CLOSED, what="RR vi")
    expected_nan = np.flatnonzero(np.isnan(as_float_array(b["or_yi"])))
    assert [e.position for e in lor.excluded] == expected_nan.tolist()
    assert expected_nan.size >= 2


def test_chinn_conversion_matches_escalc_or2dl():
    b = ES["binary"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        lor = stats.log_odds_ratio(b["e1"], b["n1"], b["e2"], b["n2"])
        yi, vi = stats.log_odds_ratio_to_smd(lor.yi, lor.vi)
    assert_close(yi, b["or2dl_yi"], rel=REL_CLOSED, what="OR2DL yi")
    assert_close(vi, b["or2dl_vi"], rel=REL_CLOSED, what="OR2DL vi")


def test_log_risk_ratio_bcg_matches_escalc():
    b = ES["bcg"]
    yi, vi = stats.log_risk_ratio(b["e1"], b["n1"], b["e2"], b["n2"])
    assert_close(yi, b["yi"], rel=REL_CLOSED, what="bcg yi")
    assert_close(vi, b["vi"], rel=REL_CLOSED, what="bcg vi")


def test_hedges_correction_is_the_exact_gamma_ratio():
    for m in (2, 5, 10, 38, 100):
        exact = gamma(m / 2) / (math.sqrt(m / 2) * gamma((m - 1) / 2))
        assert stats.hedges_correction(m) == pytest.approx(exact, rel=1e-13)
    # Large m would overflow gamma(); the log form stays finite and tends to 1.
    assert stats.hedges_correction(1e6) == pytest.approx(1 - 3 / (4 * 1e6 - 1), rel=1e-9)


def test_smd_sign_favours_group_one():
    yi, _ = stats.smd(12.0, 2.0, 20, 10.0, 2.0, 20)
    assert yi[0] > 0


def test_zero_cell_gets_half_added_to_all_four_cells():
    # a=0, b=10, c=5, d=5 -> 0.5, 10.5, 5.5, 5.5
    yi, vi = stats.log_odds_ratio(0, 10, 5, 10)
    assert yi[0] == pytest.approx(math.log(0.5 * 5.5 / (10.5 * 5.5)), rel=1e-14)
    assert vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 5.5 + 1 / 5.5, rel=1e-14)
    yi, vi = stats.log_risk_ratio(0, 10, 5, 10)
    assert yi[0] == pytest.approx(math.log((0.5 / 11) / (5.5 / 11)), rel=1e-14)
    assert vi[0] == pytest.approx(1 / 0.5 - 1 / 11 + 1 / 5.5 - 1 / 11, rel=1e-14)


def test_tables_without_zero_cells_are_not_corrected():
    yi, vi = stats.log_odds_ratio(3, 10, 5, 10)
    assert yi[0] == pytest.approx(math.log(3 * 5 / (7 * 5)), rel=1e-14)


def test_double_zero_study_is_excluded_with_reason():
    with pytest.warns(stats.StatsWarning, match=r"1 of 3 studies set to NaN .*no events in either arm.*\[1\]"):
        res = stats.log_risk_ratio([2, 0, 4], [20, 15, 30], [3, 0, 5], [20, 15, 30])
    assert np.isnan(res.yi[1]) and np.isnan(res.vi[1])
    assert np.isfinite(res.yi[[0, 2]]).all()
    assert res.excluded == (stats.Exclusion(1, stats.effect_sizes.REASON_NO_EVENTS),)
    assert res.to_dict()["excluded"] == [{"position": 1, "reason": stats.effect_sizes.REASON_NO_EVENTS}]


def test_all_events_in_both_arms_is_excluded():
    with pytest.warns(stats.StatsWarning, match="all participants had the event"):
        res = stats.log_odds_ratio([10], [10], [8], [8])
    assert res.excluded[0].reason == stats.effect_sizes.REASON_ALL_EVENTS


def test_missing_inputs_give_nan_and_a_reason():
    with pytest.warns(stats.StatsWarning, match="missing input"):
        res = stats.smd([10.0, np.nan], [2.0, 2.0], [20, 20], [12.0, 12.0], [2.0, 2.0], [20, 20])
    assert np.isnan(res.yi[1]) and np.isfinite(res.yi[0])
    assert res.excluded == (stats.Exclusion(1, stats.effect_sizes.REASON_MISSING),)


def test_effect_sizes_unpack_as_a_pair():
    out = stats.mean_difference([1.0, 2.0], [1.0, 1.0], [10, 10], [0.0, 0.0], [1.0, 1.0], [10, 10])
    yi, vi = out
    assert isinstance(out, tuple) and len(out) == 2
    assert out.yi is yi and out.vi is vi and out.excluded == ()
    assert vi.tolist() == pytest.approx([0.2, 0.2])


def test_from_confidence_interval_difference():
    # SE = (upper - lower) / 3.92 for a 95% CI (Cochrane Handbook 6.3.1).
    yi, vi = stats.from_confidence_interval(0.5, 0.1, 0.9)
    z = 1.959963984540054
    assert yi[0] == 0.5
    assert vi[0] == pytest.approx((0.8 / (2 * z)) ** 2, rel=1e-14)


def test_from_confidence_interval_ratio_uses_logs():
    yi, vi = stats.from_confidence_interval([0.8, 2.0], [0.5, 1.2], [1.28, 3.3], ratio=True)
    z = 1.959963984540054
    assert yi.tolist() == pytest.approx([math.log(0.8), math.log(2.0)], rel=1e-14)
    assert vi[1] == pytest.approx(((math.log(3.3) - math.log(1.2)) / (2 * z)) ** 2, rel=1e-14)


def test_from_confidence_interval_other_level():
    _, vi90 = stats.from_confidence_interval(0.0, -1.0, 1.0, level=0.90)
    assert vi90[0] == pytest.approx((1 / 1.6448536269514722) ** 2, rel=1e-12)


def test_chinn_factors():
    yi, vi = stats.log_odds_ratio_to_smd([1.0, -2.0], [0.1, 0.4])
    assert yi.tolist() == pytest.approx([math.sqrt(3) / math.pi, -2 * math.sqrt(3) / math.pi], rel=1e-14)
    assert vi.tolist() == pytest.approx([0.3 / math.pi**2, 1.2 / math.pi**2], rel=1e-14)


def test_scalars_broadcast_against_vectors():
    yi, vi = stats.smd([10.0, 11.0], 2.0, 20, 12.0, 2.0, 20)
    assert yi.shape == vi.shape == (2,)


def _t_interval_of_md(c, level=0.95):
    """The pooled-variance t interval of m1 - m2, as a trial report would print it (independent of stats)."""
    from scipy import stats as sps

    m1, sd1, n1 = (np.asarray(c[k], float) for k in ("m1", "sd1", "n1"))
    m2, sd2, n2 = (np.asarray(c[k], float) for k in ("m2", "sd2", "n2"))
    sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    half = sps.t.ppf(0.5 + level / 2, n1 + n2 - 2) * sp * np.sqrt(1 / n1 + 1 / n2)
    return m1 - m2, m1 - m2 - half, m1 - m2 + half, n1, n2


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_smd_from_md_ci_recovers_escalc_smd_from_the_printed_interval(level):
    """Cochrane Handbook 6.5.2.3: the SD implied by a t interval of the difference gives back escalc's g."""
    c = ES["continuous"]
    md, lo, hi, n1, n2 = _t_interval_of_md(c, level)
    keep = np.isfinite(md) & (hi > lo)
    yi, vi = stats.smd_from_mean_difference_ci(md[keep], lo[keep], hi[keep], n1[keep], n2[keep], level=level)
    assert_close(yi, np.asarray(c["smd_yi"], float)[keep], rel=1e-9, what="g from MD and CI")
    assert_close(vi, np.asarray(c["smd_vi"], float)[keep], rel=1e-9, what="vi from MD and CI")


def test_smd_from_md_ci_known_answer():
    # MD -2.5 with 95% CI (-4.9, -0.1), n = 30 and 28: se = 4.8 / (2 t_56), s = se / sqrt(1/30 + 1/28).
    t56 = 2.0032407188469383  # qt(0.975, 56)
    s = 4.8 / (2 * t56) / math.sqrt(1 / 30 + 1 / 28)
    j = math.exp(math.lgamma(28) - 0.5 * math.log(28) - math.lgamma(27.5))
    yi, vi = stats.smd_from_mean_difference_ci(-2.5, -4.9, -0.1, 30, 28)
    assert yi[0] == pytest.approx(j * -2.5 / s, rel=1e-12)
    assert vi[0] == pytest.approx(1 / 30 + 1 / 28 + (j * -2.5 / s) ** 2 / 116, rel=1e-12)


def test_smd_from_md_ci_rejects_bad_input_by_position_and_blanks_missing():
    with pytest.raises(ValueError, match=r"ci_low must be below ci_high; violated at positions \[1\]"):
        stats.smd_from_mean_difference_ci([1.0, 1.0], [0.0, 2.0], [2.0, 0.5], [10, 10], [10, 10])
    with pytest.raises(ValueError, match="outside"):
        stats.smd_from_mean_difference_ci([3.0], [0.0], [2.0], [10], [10])
    with pytest.raises(ValueError, match="n2"):
        stats.smd_from_mean_difference_ci([1.0], [0.0], [2.0], [10], [0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        es = stats.smd_from_mean_difference_ci([1.0, 1.0], [0.0, 0.0], [2.0, 2.0], [10, np.nan], [10, 12])
    assert np.isfinite(es.yi[0]) and np.isnan(es.yi[1]) and [e.position for e in es.excluded] == [1]
