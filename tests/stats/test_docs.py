"""docs/stats.md documents every method option and every result field (docs cannot drift)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

import stats

DOC = (Path(__file__).resolve().parents[2] / "docs" / "stats.md").read_text(encoding="utf-8")


def _table_keys(heading: str) -> set[str]:
    """First-column backticked names of the table under a heading."""
    section = DOC.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+|[A-Z]+)` \|", section, flags=re.M))


def test_every_method_is_documented():
    assert _table_keys("## Methods (`method=`)") >= set(stats.METHODS)


def test_every_option_is_documented():
    assert {"hartung_knapp", "level"} <= _table_keys("## Methods (`method=`)")


def test_every_pooled_field_is_documented_exactly_once():
    documented = _table_keys("## `PooledEstimate` fields")
    assert documented == {f.name for f in fields(stats.PooledEstimate)}


@pytest.mark.parametrize("cls", [stats.Influence, stats.SubgroupAnalysis, stats.MetaRegression,
                                 stats.EggerTest, stats.TrimAndFill, stats.EstimateSeries])
def test_every_diagnostic_result_field_is_named_in_its_docstring(cls):
    doc = cls.__doc__ or ""
    for f in fields(cls):
        assert f.name in doc, f"{cls.__name__}.{f.name} is not documented in its docstring"


def test_every_public_function_is_documented():
    public = ["smd", "mean_difference", "log_risk_ratio", "log_odds_ratio", "from_confidence_interval",
              "log_odds_ratio_to_smd", "pool", "leave_one_out", "influence", "cumulative", "subgroups",
              "meta_regression", "egger_test", "trim_and_fill"]
    for name in public:
        assert f"`{name}`" in DOC or f"stats.{name}(" in DOC, name
        assert getattr(stats, name).__doc__, name


def test_bayes_fields_and_priors_are_documented():
    documented = _table_keys("### `BayesEstimate` fields")
    section = DOC.split("### `BayesEstimate` fields", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([a-z_]+)`", section))
    public = {f.name for f in fields(stats.BayesEstimate) if not f.name.startswith("_")}
    assert public <= names | documented
    for name in ("bayes_pool", "HalfNormal", "HalfCauchy", "LogNormalTau2", "LogTTau2", "empirical_tau_prior"):
        assert f"`{name}" in DOC and getattr(stats, name).__doc__, name
