"""Bad input raises ValueError with a message that names the problem (pinned here)."""

from __future__ import annotations

import numpy as np
import pytest

import stats

YI = [0.1, 0.3, 0.2, 0.5]
VI = [0.02, 0.03, 0.04, 0.05]


@pytest.mark.parametrize("fn", [stats.pool, stats.leave_one_out, stats.influence, stats.cumulative,
                                stats.trim_and_fill])
def test_unknown_method_lists_valid_ones(fn):
    with pytest.raises(ValueError, match=r"Invalid method 'reml2'; must be one of \['FE', 'DL', 'REML', 'PM', "
                                         r"'ML', 'HE', 'SJ'\]"):
        fn(YI, VI, method="reml2")


def test_method_is_case_insensitive_and_recorded_canonically():
    assert stats.pool(YI, VI, method="reml").method == "REML"


def test_unknown_method_in_subgroups_and_regression():
    with pytest.raises(ValueError, match="must be one of"):
        stats.subgroups(YI, VI, ["a", "a", "b", "b"], method="EB")
    with pytest.raises(ValueError, match="must be one of"):
        stats.meta_regression(YI, VI, [1, 2, 3, 4], method=None)


def test_empty_input():
    with pytest.raises(ValueError, match="empty: at least one study is needed"):
        stats.pool([], [])


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="same length: yi has 3, vi has 2"):
        stats.pool([0.1, 0.2, 0.3], [0.1, 0.2])


@pytest.mark.parametrize("bad, positions", [
    ([0.02, 0.0, 0.04, 0.05], r"\[1\]"),
    ([0.02, -0.1, 0.04, np.nan], r"\[1, 3\]"),
    ([np.inf, 0.03, 0.04, 0.05], r"\[0\]"),
])
def test_invalid_variances_name_positions(bad, positions):
    with pytest.raises(ValueError, match=r"vi must be finite and positive; invalid values at positions " + positions):
        stats.pool(YI, bad)


def test_missing_effects_name_positions():
    with pytest.raises(ValueError, match=r"yi must be finite; missing or infinite values at positions \[2\]"):
        stats.pool([0.1, 0.2, np.nan], [0.1, 0.1, 0.1])


def test_bad_level_and_flag():
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        stats.pool(YI, VI, level=95)
    with pytest.raises(ValueError, match="hartung_knapp must be True or False"):
        stats.pool(YI, VI, hartung_knapp="yes")


def test_many_positions_are_shortened():
    vi = [-1.0] * 15
    with pytest.raises(ValueError, match=r"\[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\. \(15 in total\)\]"):
        stats.pool([0.0] * 15, vi)


def test_effect_size_errors():
    with pytest.raises(ValueError, match=r"more events than participants \(e1 > n1\) at positions \[1\]"):
        stats.log_odds_ratio([1, 12], [10, 10], [2, 2], [10, 10])
    with pytest.raises(ValueError, match=r"e2 must be non-negative; invalid values at positions \[0\]"):
        stats.log_risk_ratio([1], [10], [-2], [10])
    with pytest.raises(ValueError, match=r"n1 must be positive; invalid values at positions \[0\]"):
        stats.smd(1.0, 1.0, 0, 1.0, 1.0, 10)
    with pytest.raises(ValueError, match=r"sd2 must be non-negative"):
        stats.mean_difference(1.0, 1.0, 10, 1.0, -1.0, 10)
    with pytest.raises(ValueError, match=r"pooled SD is zero"):
        stats.smd(1.0, 0.0, 10, 2.0, 0.0, 10)
    with pytest.raises(ValueError, match=r"same length: m1 has 2, sd1 has 3"):
        stats.smd([1, 2], [1, 1, 1], 10, 1, 1, 10)


def test_confidence_interval_errors():
    with pytest.raises(ValueError, match=r"ci_low must be below ci_high; violated at positions \[1\]"):
        stats.from_confidence_interval([0.1, 0.2], [0.0, 0.5], [0.2, 0.4])
    with pytest.raises(ValueError, match=r"estimate lies outside \[ci_low, ci_high\] at positions \[0\]"):
        stats.from_confidence_interval(0.9, 0.0, 0.5)
    with pytest.raises(ValueError, match=r"ci_low must be positive"):
        stats.from_confidence_interval(1.2, 0.0, 2.0, ratio=True)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        stats.from_confidence_interval(0.1, 0.0, 0.2, level=1.5)


def test_diagnostics_need_enough_studies():
    with pytest.raises(ValueError, match="leave_one_out needs at least two studies, got k = 1"):
        stats.leave_one_out([0.1], [0.1])
    with pytest.raises(ValueError, match="influence needs at least two studies"):
        stats.influence([0.1], [0.1])
    with pytest.raises(ValueError, match="egger_test needs at least three studies, got k = 2"):
        stats.egger_test([0.1, 0.2], [0.1, 0.2])
    with pytest.raises(ValueError, match="trim_and_fill needs at least three studies"):
        stats.trim_and_fill([0.1, 0.2], [0.1, 0.2])
    with pytest.raises(ValueError, match="needs at least 3 studies, got k = 2"):
        stats.meta_regression([0.1, 0.2], [0.1, 0.2], [1.0, 2.0])


def test_egger_needs_different_standard_errors():
    with pytest.raises(ValueError, match="all vi are equal"):
        stats.egger_test([0.1, 0.2, 0.4], [0.1, 0.1, 0.1])


def test_trim_and_fill_side_is_checked():
    with pytest.raises(ValueError, match=r"Invalid side 'up'; must be one of \['auto', 'left', 'right'\]"):
        stats.trim_and_fill(YI, VI, side="up")


def test_subgroup_labels_checked():
    with pytest.raises(ValueError, match=r"groups has missing labels at positions \[2\]"):
        stats.subgroups(YI, VI, ["a", "b", None, "a"])
    with pytest.raises(ValueError, match="yi has 4, groups has 3"):
        stats.subgroups(YI, VI, ["a", "b", "a"])


def test_meta_regression_input_checks():
    with pytest.raises(ValueError, match=r"X must be finite; missing or infinite values at \(row 1, column 0\)"):
        stats.meta_regression(YI, VI, [1.0, np.nan, 2.0, 3.0])
    with pytest.raises(ValueError, match="X is not of full rank"):
        stats.meta_regression(YI, VI, [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="yi has 4, X has 3 rows"):
        stats.meta_regression(YI, VI, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="names has 2 entries but X has 1 columns"):
        stats.meta_regression(YI, VI, [1.0, 2.0, 3.0, 4.0], names=["a", "b"])


def test_cumulative_order_checked():
    with pytest.raises(ValueError, match="yi has 4, order has 2"):
        stats.cumulative(YI, VI, [1, 2])
    with pytest.raises(ValueError, match=r"order has missing values at positions \[3\]"):
        stats.cumulative(YI, VI, [2001, 2002, 2003, np.nan])


def test_series_column_checked():
    res = stats.leave_one_out(YI, VI)
    with pytest.raises(ValueError, match="Invalid field 'tau'; must be one of"):
        res.column("tau")


def test_estimate_tau2_checks():
    with pytest.raises(ValueError, match="at least two studies"):
        stats.estimate_tau2([0.1], [0.1])
    with pytest.raises(ValueError, match="must be one of"):
        stats.estimate_tau2(YI, VI, method="EB")
