"""The public names and signatures other rooms rely on (docs/contracts.md), and the package's purity."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import stats

ROOT = Path(__file__).resolve().parents[2]


def params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


def test_methods_constant():
    assert stats.METHODS == ("FE", "DL", "REML", "PM", "ML", "HE", "SJ")


def test_effect_size_signatures():
    assert [n for n, _ in params(stats.smd)] == ["m1", "sd1", "n1", "m2", "sd2", "n2"]
    assert [n for n, _ in params(stats.mean_difference)] == ["m1", "sd1", "n1", "m2", "sd2", "n2"]
    assert [n for n, _ in params(stats.log_risk_ratio)] == ["e1", "n1", "e2", "n2"]
    assert [n for n, _ in params(stats.log_odds_ratio)] == ["e1", "n1", "e2", "n2"]
    assert params(stats.from_confidence_interval)[3:] == [("ratio", False), ("level", 0.95)]
    assert [n for n, _ in params(stats.log_odds_ratio_to_smd)] == ["yi", "vi"]


def test_pool_signature_and_fields():
    assert params(stats.pool) == [("yi", inspect.Parameter.empty), ("vi", inspect.Parameter.empty),
                                  ("method", "REML"), ("hartung_knapp", False), ("level", 0.95)]
    assert stats.POOLED_FIELDS == ("k", "estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "tau2_ci", "i2",
                                   "i2_ci", "h2", "q", "q_df", "q_p", "pi_low", "pi_high", "method",
                                   "hartung_knapp", "level")


def test_diagnostic_signatures():
    for fn in (stats.leave_one_out, stats.influence, stats.cumulative, stats.subgroups, stats.meta_regression,
               stats.trim_and_fill):
        names = dict(params(fn))
        assert names["method"] == "REML" and names["hartung_knapp"] is False and names["level"] == 0.95
    assert [n for n, _ in params(stats.cumulative)][:3] == ["yi", "vi", "order"]
    assert [n for n, _ in params(stats.subgroups)][:3] == ["yi", "vi", "groups"]
    assert [n for n, _ in params(stats.meta_regression)][:3] == ["yi", "vi", "X"]
    assert [n for n, _ in params(stats.egger_test)][:2] == ["yi", "vi"]


def test_stats_imports_no_pandas_duckdb_or_streamlit():
    code = ("import sys; import stats; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'duckdb', 'streamlit', 'altair'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bayes_signature_and_fields():
    from dataclasses import fields
    assert params(stats.bayes_pool) == [("yi", inspect.Parameter.empty), ("vi", inspect.Parameter.empty),
                                        ("tau_prior", inspect.Parameter.empty), ("mu_prior_sd", None),
                                        ("level", 0.95)]
    public = [f.name for f in fields(stats.BayesEstimate) if not f.name.startswith("_")]
    assert public == ["k", "mu_mean", "mu_median", "mu_ci_low", "mu_ci_high", "tau_median", "tau_ci_low",
                      "tau_ci_high", "pred_ci_low", "pred_ci_high", "level", "mu_prior_sd", "prior"]
