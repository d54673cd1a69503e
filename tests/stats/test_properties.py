"""Invariants of pooling, checked on random data with hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stats

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def meta_data(draw, min_k: int = 2, max_k: int = 25):
    k = draw(st.integers(min_k, max_k))
    yi = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(0.001, 2.0, allow_nan=False), min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


methods = st.sampled_from(stats.METHODS)


@SETTINGS
@given(meta_data(), methods, st.booleans(), st.randoms(use_true_random=False))
def test_study_order_does_not_matter(data, method, hk, rnd):
    yi, vi = data
    perm = list(range(len(yi)))
    rnd.shuffle(perm)
    a = stats.pool(yi, vi, method=method, hartung_knapp=hk)
    b = stats.pool(yi[perm], vi[perm], method=method, hartung_knapp=hk)
    for name in ("estimate", "se", "tau2", "i2", "q", "pi_low"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.isclose(x, y, rtol=1e-7, atol=1e-10, equal_nan=True), (name, x, y)
    assert np.allclose(a.tau2_ci, b.tau2_ci, rtol=1e-7, atol=1e-10, equal_nan=True)


@SETTINGS
@given(meta_data(), methods, st.booleans())
def test_ci_contains_estimate_and_ranges_hold(data, method, hk):
    yi, vi = data
    res = stats.pool(yi, vi, method=method, hartung_knapp=hk)
    assert res.ci_low <= res.estimate <= res.ci_high
    assert res.pi_low <= res.estimate <= res.pi_high or np.isnan(res.pi_low)
    assert res.tau2 >= 0
    assert 0 <= res.i2 <= 100
    assert res.h2 >= 1 or method == "FE"
    assert 0 <= res.p_value <= 1 and 0 <= res.q_p <= 1
    if method != "FE":
        lo, hi = res.tau2_ci
        assert 0 <= lo <= hi
        assert 0 <= res.i2_ci[0] <= res.i2_ci[1] <= 100


@SETTINGS
@given(meta_data())
def test_paule_mandel_lies_in_its_q_profile_interval(data):
    # Q(tau2_PM) = k - 1 lies between the chi-square quantiles that define the Q-profile bounds.
    yi, vi = data
    res = stats.pool(yi, vi, method="PM")
    lo, hi = res.tau2_ci
    assert lo - 1e-9 <= res.tau2 <= hi + 1e-9


@SETTINGS
@given(meta_data(), methods, st.booleans(), st.floats(-5, 5, allow_nan=False))
def test_shifting_all_effects_shifts_the_estimate(data, method, hk, shift):
    yi, vi = data
    a = stats.pool(yi, vi, method=method, hartung_knapp=hk)
    b = stats.pool(yi + shift, vi, method=method, hartung_knapp=hk)
    assert np.isclose(b.estimate, a.estimate + shift, rtol=1e-8, atol=1e-8)
    assert np.isclose(b.tau2, a.tau2, rtol=1e-6, atol=1e-9)
    assert np.isclose(b.se, a.se, rtol=1e-6, atol=1e-9)


@SETTINGS
@given(meta_data(min_k=3, max_k=15), methods)
def test_leave_one_out_equals_refitting(data, method):
    yi, vi = data
    loo = stats.leave_one_out(yi, vi, method=method)
    for i in (0, len(yi) - 1):
        ref = stats.pool(np.delete(yi, i), np.delete(vi, i), method=method)
        assert np.isclose(loo[i].estimate, ref.estimate, rtol=1e-7, atol=1e-9)
        assert np.isclose(loo[i].tau2, ref.tau2, rtol=1e-6, atol=1e-9)


@SETTINGS
@given(meta_data(min_k=2, max_k=15), methods)
def test_cumulative_last_step_is_the_full_fit(data, method):
    yi, vi = data
    cum = stats.cumulative(yi, vi, method=method)
    full = stats.pool(yi, vi, method=method)
    assert np.isclose(cum[-1].estimate, full.estimate, rtol=1e-7, atol=1e-9)
