"""Agreement with R metafor over the whole reference grid.

Every record of reference/metafor_reference.json (written by
reference/make_reference.R) becomes one test, with the record id as test id
(``kind|dataset|method|test``). The grid itself is checked for completeness.
"""

from __future__ import annotations

import numpy as np
import pytest

import stats
from stats_settings import ABS_FLOOR, ABS_FLOOR_I2, REL_CLOSED, REL_ITER, REL_REML_TIGHT, as_float_array, assert_close, load_reference, rel_for

REF = load_reference()
DATASETS = REF["datasets"]
RECORDS = {r["id"]: r for r in REF["records"]}
KINDS_K2 = ("pool", "leave1out", "influence", "cumul", "subgroups")
KINDS_K3 = ("metareg", "trimfill")
#: All effects equal: every residual is 0, so regression slopes, Egger's t and trim-and-fill ranks are
#: rounding noise in both programs; these cells are left out of the grid and tested in test_edge_cases.
DEGENERATE_FOR_REGRESSION = {"equal_effects"}
TESTS = ("z", "knha")


def data(name: str):
    d = DATASETS[name]
    return as_float_array(d["yi"]), as_float_array(d["vi"])


def ids(recs: list[dict]) -> list[str]:
    return [r["id"] for r in recs]


# ------------------------------------------------------------------ the grid


def test_reference_records_versions():
    meta = REF["meta"]
    assert meta["metafor_version"].startswith("3.") or meta["metafor_version"].startswith("4.")
    assert meta["r_version"].startswith("R version")
    assert meta["control"] == {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000}
    assert tuple(meta["methods"]) == stats.METHODS


def test_reference_covers_the_required_cases():
    names = set(DATASETS)
    for required in ("bcg", "homogeneous", "equal_effects", "dominant", "k1", "k2", "zero_events_or",
                     "zero_events_rr"):
        assert required in names
    random = [n for n in names if n.startswith("random_")]
    assert len(random) >= 30
    ks = [len(DATASETS[n]["yi"]) for n in random]
    assert min(ks) == 2 and max(ks) == 80
    taus = [float(n.rsplit("tau", 1)[1]) for n in random]
    assert min(taus) == 0.0 and max(taus) == 1.0


def test_reference_grid_is_complete():
    missing = []
    for name, d in DATASETS.items():
        k = len(d["yi"])
        kinds = ("pool",) if name.startswith("input:") or k < 2 else KINDS_K2
        regression_ok = k >= 3 and not name.startswith("input:") and name not in DEGENERATE_FOR_REGRESSION
        if regression_ok:
            kinds = kinds + KINDS_K3
        for kind in kinds:
            for method in stats.METHODS:
                for test in TESTS:
                    if f"{kind}|{name}|{method}|{test}" not in RECORDS:
                        missing.append(f"{kind}|{name}|{method}|{test}")
        if regression_ok and f"regtest|{name}|none|lm" not in RECORDS:
            missing.append(f"regtest|{name}")
    assert not missing, f"{len(missing)} grid cells missing, e.g. {missing[:5]}"


#: Grid cells where metafor itself stops with an error (explained in reference/README.md):
#: with all effects equal the Knapp-Hartung factor is 0, so every refit has a zero
#: variance and metafor's influence() cannot invert it nor subgroup weighting divide by it.
KNOWN_METAFOR_ERRORS = {f"{kind}|equal_effects|{method}|knha" for kind in ("influence", "subgroups")
                        for method in stats.METHODS}


def test_metafor_errors_are_only_the_documented_ones():
    errors = {rid for rid, r in RECORDS.items() if "error" in r["value"]}
    assert errors == KNOWN_METAFOR_ERRORS


def test_where_metafor_errors_we_still_answer():
    yi, vi = data("equal_effects")
    for method in stats.METHODS:
        inf = stats.influence(yi, vi, method=method, hartung_knapp=True)
        assert np.all(inf.hat > 0) and np.allclose(inf.tau2_del, 0.0)
        sub = stats.subgroups(yi, vi, DATASETS["equal_effects"]["groups"], method=method, hartung_knapp=True)
        assert all(e.estimate == pytest.approx(0.3) and e.se == 0.0 for e in sub.estimates)


def records(kind: str) -> list[dict]:
    return [r for r in REF["records"] if r["kind"] == kind and "error" not in r["value"]]


# ------------------------------------------------------------------ pooling


def floor(name: str) -> float:
    """Absolute floor: percentages (I^2, pseudo-R^2) amplify a near-zero tau2."""
    return ABS_FLOOR_I2 if name in ("i2", "r2") else ABS_FLOOR


def _check_pooled(ours: stats.PooledEstimate, ref: dict, method: str, what: str, *, single_ok: bool) -> None:
    rel = rel_for(method)
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert_close(getattr(ours, name), ref[name], rel=rel, what=f"{what} {name}")
    if ours.k == 1 and single_ok:
        # Heterogeneity is undefined with one study; metafor reports tau2 = 0, Q = 0, I2 = 0, H2 = 1.
        for name in ("tau2", "i2", "h2", "q", "q_p"):
            assert np.isnan(getattr(ours, name)), f"{what} {name} should be NaN when k = 1"
        return
    for name in ("tau2", "i2", "h2"):
        assert_close(getattr(ours, name), ref[name], rel=rel, abs_=floor(name), what=f"{what} {name}")
    assert_close(ours.q, ref["q"], rel=REL_CLOSED, what=f"{what} q")
    assert_close(ours.q_p, ref["q_p"], rel=REL_CLOSED, what=f"{what} q_p")


@pytest.mark.parametrize("rec", records("pool"), ids=ids(records("pool")))
def test_pool_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    method, hk = rec["method"], rec["hartung_knapp"]
    ref = rec["value"]
    ours = stats.pool(yi, vi, method=method, hartung_knapp=hk)
    assert (ours.k, ours.method, ours.hartung_knapp, ours.level) == (ref["k"], method, hk, 0.95)
    _check_pooled(ours, ref, method, rec["id"], single_ok=True)
    if ours.k >= 2:
        assert ours.q_df == ref["q_df"]
    if method == "FE" or ours.k == 1:
        assert np.isnan(ours.tau2_ci).all() and np.isnan(ours.i2_ci).all()
    else:
        assert_close(ours.tau2_ci, ref["tau2_ci"], rel=REL_ITER, what=f"{rec['id']} tau2_ci")
        assert_close(ours.i2_ci, ref["i2_ci"], rel=REL_ITER, abs_=ABS_FLOOR_I2, what=f"{rec['id']} i2_ci")
    if ours.k >= 3:
        assert_close((ours.pi_low, ours.pi_high), ref["pi"], rel=rel_for(method), what=f"{rec['id']} pi")
    else:
        assert np.isnan(ours.pi_low) and np.isnan(ours.pi_high)
    if ours.k >= 2 and method != "FE":
        # metafor's predict() uses the z (knha: t(k-1)) quantile; same fit, other quantile.
        df = ours.k - 1
        crit = stats._distributions.t_quantile(df, 0.975) if hk else stats._distributions.normal_quantile(0.975)
        half = crit * np.sqrt(ours.tau2 + ours.se**2)
        assert_close((ours.estimate - half, ours.estimate + half), ref["metafor_pi"], rel=rel_for(method),
                     what=f"{rec['id']} metafor_pi")


REML_POOL = [r for r in records("pool") if r["method"] == "REML" and r["value"]["k"] >= 2]


@pytest.mark.parametrize("rec", REML_POOL, ids=ids(REML_POOL))
def test_reml_matches_metafor_tightly(rec):
    yi, vi = data(rec["dataset"])
    ours = stats.pool(yi, vi, method="REML", hartung_knapp=rec["hartung_knapp"])
    for name in ("estimate", "se", "tau2", "ci_low", "ci_high"):
        assert_close(getattr(ours, name), rec["value"][name], rel=REL_REML_TIGHT, what=f"{rec['id']} {name}")


# ------------------------------------------------------------------ sensitivity

SERIES_FIELDS = ("estimate", "se", "ci_low", "ci_high", "p_value")
HETEROGENEITY_FIELDS = {"q": "q", "q_p": "q_p", "tau2": "tau2", "i2": "i2", "h2": "h2"}


def _check_series(series: stats.EstimateSeries, ref: dict, method: str, what: str) -> None:
    rel = rel_for(method)
    for name in SERIES_FIELDS:
        assert_close(series.column(name), ref[name], rel=rel, what=f"{what} {name}")
    ks = series.column("k")
    multi = ks >= 2
    for ours_name, ref_name in HETEROGENEITY_FIELDS.items():
        col = series.column(ours_name)
        if ours_name == "tau2" and method == "FE":
            # metafor's leave1out()/cumul() leave tau2 out for FE fits; ours is 0 by definition.
            assert ref[ref_name] == [] and np.all(col[multi] == 0.0)
            continue
        expected = as_float_array(ref[ref_name])
        assert_close(col[multi], expected[multi], rel=rel, abs_=floor(ours_name), what=f"{what} {ours_name}")
        assert np.isnan(col[~multi]).all(), f"{what} {ours_name} should be NaN for single-study fits"


@pytest.mark.parametrize("rec", records("leave1out"), ids=ids(records("leave1out")))
def test_leave_one_out_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    res = stats.leave_one_out(yi, vi, method=rec["method"], hartung_knapp=rec["hartung_knapp"])
    assert res.positions == tuple(range(len(yi))) and len(res) == len(yi)
    assert all(e.k == len(yi) - 1 for e in res)
    _check_series(res, rec["value"], rec["method"], rec["id"])


@pytest.mark.parametrize("rec", records("cumul"), ids=ids(records("cumul")))
def test_cumulative_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    order = as_float_array(DATASETS[rec["dataset"]]["order"])
    res = stats.cumulative(yi, vi, order, method=rec["method"], hartung_knapp=rec["hartung_knapp"])
    assert list(res.positions) == rec["value"]["order"]
    assert [e.k for e in res] == list(range(1, len(yi) + 1))
    _check_series(res, rec["value"], rec["method"], rec["id"])


@pytest.mark.parametrize("rec", records("influence"), ids=ids(records("influence")))
def test_influence_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    method = rec["method"]
    res = stats.influence(yi, vi, method=method, hartung_knapp=rec["hartung_knapp"])
    ref = rec["value"]
    rel = rel_for(method)
    for name in ("rstudent", "dffits", "cook_d", "cov_r", "hat", "weight", "dfbetas"):
        assert_close(getattr(res, name), ref[name], rel=rel, what=f"{rec['id']} {name}")
    if len(yi) >= 3:
        assert_close(res.tau2_del, ref["tau2_del"], rel=rel, what=f"{rec['id']} tau2_del")
        assert_close(res.q_del, ref["q_del"], rel=REL_CLOSED, what=f"{rec['id']} q_del")
    else:
        assert np.isnan(res.tau2_del).all() and np.isnan(res.q_del).all()
    assert res.is_influential.tolist() == ref["is_influential"]


# ------------------------------------------------------------------ moderators


@pytest.mark.parametrize("rec", records("subgroups"), ids=ids(records("subgroups")))
def test_subgroups_match_metafor(rec):
    yi, vi = data(rec["dataset"])
    groups = DATASETS[rec["dataset"]]["groups"]
    method = rec["method"]
    res = stats.subgroups(yi, vi, groups, method=method, hartung_knapp=rec["hartung_knapp"])
    ref = rec["value"]
    rel = rel_for(method)
    assert list(res.groups) == ref["groups"]
    assert [e.k for e in res.estimates] == ref["k"]
    for name in ("estimate", "se", "ci_low", "ci_high"):
        assert_close([getattr(e, name) for e in res.estimates], ref[name], rel=rel, what=f"{rec['id']} {name}")
    ours_tau2 = np.array([e.tau2 for e in res.estimates])
    ref_tau2 = as_float_array(ref["tau2"])
    multi = np.array(ref["k"]) >= 2
    assert_close(ours_tau2[multi], ref_tau2[multi], rel=rel, what=f"{rec['id']} tau2")
    assert res.df_between == ref["df_between"]
    assert_close(res.q_between, ref["q_between"], rel=rel, what=f"{rec['id']} q_between")
    assert_close(res.p_between, ref["p_between"], rel=rel, what=f"{rec['id']} p_between")


@pytest.mark.parametrize("rec", records("metareg"), ids=ids(records("metareg")))
def test_meta_regression_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    d = DATASETS[rec["dataset"]]
    X = np.array([[np.nan if x is None else x for x in row] for row in d["mods"]], dtype=float)
    method = rec["method"]
    res = stats.meta_regression(yi, vi, X, method=method, hartung_knapp=rec["hartung_knapp"], names=d["mod_names"])
    ref = rec["value"]
    rel = rel_for(method)
    assert res.names == ("intercept", *d["mod_names"])
    for name in ("coefficients", "se", "ci_low", "ci_high", "statistic", "p_values"):
        assert_close(getattr(res, name), ref[name], rel=rel, what=f"{rec['id']} {name}")
    for name in ("qm", "qm_p", "tau2", "i2", "h2", "r2"):
        assert_close(getattr(res, name), ref[name], rel=rel, abs_=floor(name), what=f"{rec['id']} {name}")
    assert_close(res.qe, ref["qe"], rel=REL_CLOSED, what=f"{rec['id']} qe")
    assert_close(res.qe_p, ref["qe_p"], rel=REL_CLOSED, what=f"{rec['id']} qe_p")
    assert list(res.qm_df) == ref["qm_df"] and res.qe_df == ref["qe_df"]


# ------------------------------------------------------------------ small-study effects


@pytest.mark.parametrize("rec", records("regtest"), ids=ids(records("regtest")))
def test_egger_matches_metafor_regtest(rec):
    yi, vi = data(rec["dataset"])
    res = stats.egger_test(yi, vi)
    ref = rec["value"]
    for name in ("intercept", "se", "t", "p_value", "limit_estimate", "limit_ci_low", "limit_ci_high"):
        assert_close(getattr(res, name), ref[name], rel=REL_CLOSED, what=f"{rec['id']} {name}")
    assert res.df == ref["df"]


@pytest.mark.parametrize("rec", records("trimfill"), ids=ids(records("trimfill")))
def test_trim_and_fill_matches_metafor(rec):
    yi, vi = data(rec["dataset"])
    method = rec["method"]
    res = stats.trim_and_fill(yi, vi, method=method, hartung_knapp=rec["hartung_knapp"])
    ref = rec["value"]
    rel = rel_for(method)
    assert res.side == ref["side"]
    assert res.k0 == ref["k0"]
    assert res.adjusted.k == ref["k"] == len(yi) + res.k0
    assert_close(res.se_k0, ref["se_k0"], rel=REL_CLOSED, what=f"{rec['id']} se_k0")
    for name in ("estimate", "se", "ci_low", "ci_high", "tau2"):
        assert_close(getattr(res.adjusted, name), ref[name], rel=rel, what=f"{rec['id']} {name}")
    assert_close(res.filled_yi, ref["filled_yi"], rel=rel, what=f"{rec['id']} filled_yi")
    assert_close(res.filled_vi, ref["filled_vi"], rel=REL_CLOSED, what=f"{rec['id']} filled_vi")
