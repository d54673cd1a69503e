"""Edge cases: k = 1, Q < df, zero events, equal effects, NaN rows, extreme data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import stats
from stats.pooling import fit_batch
from stats.tau2 import Batch


@pytest.mark.parametrize("method", stats.METHODS)
@pytest.mark.parametrize("hk", [False, True])
def test_single_study_returns_itself(method, hk):
    res = stats.pool([0.4], [0.05], method=method, hartung_knapp=hk)
    se = math.sqrt(0.05)
    assert res.k == 1 and res.estimate == 0.4 and res.se == pytest.approx(se)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.4 - 1.959963984540054 * se, 0.4 + 1.959963984540054 * se))
    for name in ("tau2", "i2", "h2", "q", "q_p", "pi_low", "pi_high"):
        assert math.isnan(getattr(res, name)), name
    assert res.q_df == 0 and all(math.isnan(x) for x in res.tau2_ci + res.i2_ci)


@pytest.mark.parametrize("method", stats.METHODS)
def test_q_below_df_puts_tau2_on_the_boundary(method):
    yi = [0.20, 0.25, 0.18, 0.22, 0.21, 0.19]
    vi = [0.04, 0.05, 0.03, 0.06, 0.05, 0.04]
    res = stats.pool(yi, vi, method=method)
    assert res.q < res.q_df
    if method != "SJ":  # SJ is positive unless all effects are equal
        assert res.tau2 == 0.0 and res.i2 == 0.0
        # H2 is (tau2 + s2) / s2 for random-effects methods, Q / df for FE.
        assert res.h2 == (pytest.approx(res.q / res.q_df) if method == "FE" else 1.0)
    fe = stats.pool(yi, vi, method="FE")
    if method != "SJ":
        assert res.estimate == pytest.approx(fe.estimate, rel=1e-12)
    if method != "FE":
        assert res.tau2_ci[0] == 0.0


@pytest.mark.parametrize("method", stats.METHODS)
@pytest.mark.parametrize("hk", [False, True])
def test_equal_effects(method, hk):
    res = stats.pool([0.3] * 5, [0.02, 0.05, 0.04, 0.08, 0.03], method=method, hartung_knapp=hk)
    assert res.estimate == pytest.approx(0.3, rel=1e-14)
    assert res.q == pytest.approx(0.0, abs=1e-25) and res.tau2 == 0.0 and res.i2 == 0.0
    if method != "FE":
        assert res.tau2_ci == (0.0, 0.0)
    if hk:
        # The weighted residual sum of squares is 0, so the Hartung-Knapp SE is 0 (as metafor).
        assert res.se == 0.0 and res.ci_low == res.ci_high == pytest.approx(0.3)


def test_nan_rows_must_be_dropped_explicitly():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        yi, vi = stats.log_odds_ratio([2, 0, 5], [20, 20, 20], [4, 0, 6], [20, 20, 20])
    with pytest.raises(ValueError, match=r"positions \[1\]"):
        stats.pool(yi, vi)
    with pytest.warns(stats.StatsWarning, match=r"1 of 3 studies dropped .* positions \[1\]"):
        y2, v2, kept = stats.drop_missing(yi, vi)
    assert kept.tolist() == [0, 2]
    assert stats.pool(y2, v2).k == 2


def test_zero_event_arm_is_poolable():
    yi, vi = stats.log_risk_ratio([0, 3, 1], [30, 40, 25], [4, 8, 5], [30, 41, 24])
    res = stats.pool(yi, vi, method="DL")
    assert np.isfinite(res.estimate) and res.k == 3


def test_two_studies_have_no_prediction_interval_but_a_tau2_ci():
    res = stats.pool([0.2, 0.6], [0.04, 0.05], method="REML")
    assert math.isnan(res.pi_low) and math.isnan(res.pi_high)
    assert res.q_df == 1 and np.isfinite(res.tau2_ci).all()


def test_leave_one_out_with_two_studies_gives_single_study_fits():
    res = stats.leave_one_out([0.2, 0.6], [0.04, 0.05])
    assert [e.estimate for e in res] == pytest.approx([0.6, 0.2], rel=1e-14)
    assert all(math.isnan(e.tau2) for e in res)


def test_dominant_study_drives_the_estimate():
    res = stats.pool([0.5, 0.1, 0.3, 0.6, -0.1, 0.2], [0.0005, 0.1, 0.08, 0.12, 0.09, 0.1], method="FE")
    assert res.estimate == pytest.approx(0.5, abs=0.02)
    inf = stats.influence([0.5, 0.1, 0.3, 0.6, -0.1, 0.2], [0.0005, 0.1, 0.08, 0.12, 0.09, 0.1], method="FE")
    assert int(np.argmax(inf.hat)) == 0 and inf.is_influential[0]


def test_large_tau2_q_profile_upper_bound_is_found():
    # Effects far apart relative to their variances: tau2 near 100, bounds well above it.
    yi = [-20.0, 0.0, 20.0, 5.0]
    vi = [0.01, 0.02, 0.01, 0.03]
    res = stats.pool(yi, vi, method="PM")
    assert res.tau2_ci[0] < res.tau2 < res.tau2_ci[1]
    assert res.tau2_ci[1] > 1000


@pytest.mark.parametrize("method", stats.METHODS)
def test_batch_fit_matches_single_fits(method):
    rng = np.random.default_rng(3)
    y = rng.normal(size=12)
    v = rng.uniform(0.01, 0.3, size=12)
    mask = (rng.uniform(size=(5, 12)) > 0.3).astype(float)
    mask[:, :2] = 1.0
    for batch, subsets in ((Batch(y, v, mask=mask), mask == 1),
                           (Batch(y, v, drop=np.array([0, 5, 11])), ~np.eye(12, dtype=bool)[[0, 5, 11]])):
        fit = fit_batch(batch, method=method, hartung_knapp=True, level=0.9)
        for i, keep in enumerate(subsets):
            single = stats.pool(y[keep], v[keep], method=method, hartung_knapp=True, level=0.9)
            assert fit["estimate"][i] == pytest.approx(single.estimate, rel=1e-10)
            assert fit["tau2"][i] == pytest.approx(single.tau2, rel=1e-8, abs=1e-12)
            assert fit["tau2_high"][i] == pytest.approx(single.tau2_ci[1], rel=1e-8, nan_ok=True)


@pytest.mark.parametrize("method", stats.METHODS)
def test_regression_without_moderators_equals_pool(method):
    # The general-X code path (meta_regression) and the vectorised one (pool) must agree.
    rng = np.random.default_rng(11)
    yi = rng.normal(0.3, 0.5, size=15)
    vi = rng.uniform(0.01, 0.2, size=15)
    reg = stats.meta_regression(yi, vi, np.ones(15), method=method, intercept=False)
    res = stats.pool(yi, vi, method=method)
    assert reg.coefficients[0] == pytest.approx(res.estimate, rel=1e-9)
    assert reg.tau2 == pytest.approx(res.tau2, rel=1e-8, abs=1e-14)
    assert reg.se[0] == pytest.approx(res.se, rel=1e-9)
    assert reg.qe == pytest.approx(res.q, rel=1e-10)
    assert math.isnan(reg.r2)
    # Without an intercept every coefficient is tested: QM is the squared z of the mean.
    assert reg.qm == pytest.approx((res.estimate / res.se) ** 2, rel=1e-8)


def test_results_are_frozen_and_serialisable():
    res = stats.pool([0.1, 0.3, 0.2], [0.02, 0.03, 0.04])
    with pytest.raises(AttributeError):
        res.estimate = 1.0  # type: ignore[misc]
    d = res.to_dict()
    assert set(d) == set(stats.POOLED_FIELDS)
    assert d["tau2_ci"] == list(res.tau2_ci)
    assert res.describe() == "REML, k = 3"
    assert stats.pool([0.1, 0.3, 0.2], [0.02, 0.03, 0.04], hartung_knapp=True).describe() == \
        "REML, Hartung-Knapp, k = 3"
    for obj in (stats.leave_one_out([0.1, 0.3, 0.2], [0.02, 0.03, 0.04]),
                stats.influence([0.1, 0.3, 0.2], [0.02, 0.03, 0.04]),
                stats.subgroups([0.1, 0.3, 0.2], [0.02, 0.03, 0.04], ["a", "b", "a"]),
                stats.meta_regression([0.1, 0.3, 0.2, 0.5], [0.02, 0.03, 0.04, 0.02], [1, 2, 3, 5]),
                stats.egger_test([0.1, 0.3, 0.2], [0.02, 0.03, 0.04]),
                stats.trim_and_fill([0.1, 0.3, 0.2, 0.8], [0.02, 0.03, 0.04, 0.2])):
        assert isinstance(obj.to_dict(), dict)


def test_subgroup_single_group_has_no_between_test():
    res = stats.subgroups([0.1, 0.3, 0.2], [0.02, 0.03, 0.04], ["x", "x", "x"])
    assert res.df_between == 0 and math.isnan(res.q_between) and math.isnan(res.p_between)
    assert res.positions == ((0, 1, 2),)


def test_equal_effects_in_small_study_methods():
    yi, vi = [0.3] * 5, [0.02, 0.05, 0.04, 0.08, 0.03]
    tf = stats.trim_and_fill(yi, vi)
    assert tf.k0 == 0 and tf.adjusted == tf.original
    with pytest.raises(ValueError, match="egger_test needs effects that are not all equal"):
        stats.egger_test(yi, vi)
    reg = stats.meta_regression(yi, vi, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert reg.coefficients[0] == pytest.approx(0.3) and reg.coefficients[1] == pytest.approx(0.0, abs=1e-12)
    assert reg.tau2 == 0.0 and reg.qe == pytest.approx(0.0, abs=1e-20)
