"""evidence.query.catalogue: the trial overview, the population x outcome coverage and the reviews' results,
checked against the CSVs they are built from (an independent count, not the same code path)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from evidence.query import catalogue as coverage
from evidence.analysis.reviews import SIGN_TEXT, review_results_table
from evidence.store import connection

DATA = Path(__file__).resolve().parents[2] / "data"


def _csv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _usable(row: dict[str, str], study_flags: dict[str, str]) -> bool:
    """The usability rule restated from docs/data-model.md (the store writes it from evidence.store.usability)."""
    has = lambda *cols: all(row[c] != "" for c in cols)  # noqa: E731
    if "not-poolable" in row["flags"].split(";") + study_flags[row["study_id"]].split(";"):
        return False
    more_than_two = has("n_ps", "n_ctl") and float(row["n_ps"]) + float(row["n_ctl"]) > 2
    reported = has("reported_effect", "reported_ci_low", "reported_ci_high", "reported_effect_type") and (
        row["reported_effect_type"] != "MD" or more_than_two)
    arm_means = has("n_ps", "n_ctl", "mean_ps", "mean_ctl", "sd_ps", "sd_ctl") and more_than_two
    numbers = arm_means or has("n_ps", "n_ctl", "events_ps", "events_ctl") or reported
    states_sign = (not arm_means and not has("n_ps", "n_ctl", "events_ps", "events_ctl")
                   and row["reported_effect_type"] in ("SMD", "g", "d", "MD")
                   and row["reported_sign"] in ("positive_favours_ps", "negative_favours_ps"))
    return numbers and (row["higher_is_better"] != "" or states_sign)


def _study_flags() -> dict[str, str]:
    return {s["study_id"]: s["flags"] for s in _csv("studies.csv")}


@pytest.fixture(scope="module")
def con():
    return connection.shared_connection()


def test_overview_has_one_row_per_trial_and_says_which_have_numbers(con):
    overview = coverage.study_overview(con)
    studies = _csv("studies.csv")
    assert sorted(overview["study_id"]) == sorted(s["study_id"] for s in studies)
    flags = _study_flags()
    with_numbers = {e["study_id"] for e in _csv("effects.csv") if _usable(e, flags)}
    shown = dict(zip(overview["study_id"], overview["Poolable numbers"]))
    assert {s for s, v in shown.items() if v == "yes"} == with_numbers
    assert overview["Study"].map(lambda s: isinstance(s, str) and s != "").all()


def test_coverage_counts_trials_per_population_and_outcome(con):
    table = coverage.coverage_table(con).set_index("Population")
    labels = {(v["field"], v["value"]): v["label"] for v in _csv("vocab.csv")}
    population = {s["study_id"]: labels.get(("population", s["population"]), s["population"] or "not reported")
                  for s in _csv("studies.csv")}
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    flags = _study_flags()
    for e in _csv("effects.csv"):
        if _usable(e, flags):
            expected[(population[e["study_id"]], labels[("outcome", e["outcome"])])].add(e["study_id"])
    for (pop, outcome), ids in expected.items():
        assert table.loc[pop, outcome] == len(ids), (pop, outcome)
    outcome_columns = [c for c in table.columns if c not in ("Trials with numbers", "No poolable numbers")]
    assert table.loc[[p for p in table.index if p != "All populations"], outcome_columns].to_numpy().sum() == \
        sum(len(v) for v in expected.values())
    assert table.loc["All populations", "Trials with numbers"] + table.loc["All populations", "No poolable numbers"] \
        == len(population)
    assert outcome_columns[-1] == labels[("outcome", "other")]  # the catch-all comes last


def test_review_findings_keep_the_published_numbers_and_say_the_sign(con):
    results = [r for r in _csv("review_results.csv") if r["outcome"] == "depression"]
    found = review_results_table("depression", con)
    assert len(found) == len(results)
    printed = set(zip(found["Effect"], found["CI low"], found["CI high"]))
    for r in results:
        if r["estimate"] and r["ci_low"] and r["ci_high"]:
            assert (float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])) in printed
    signs = set(found["Sign as printed"])
    assert signs <= set(SIGN_TEXT.values()) | {"not stated by the review"}
    years = found["Review"].str.extract(r"(\d{4})$")[0].astype(float)
    assert list(years) == sorted(years, reverse=True)


def test_review_findings_for_an_outcome_no_review_pooled_is_empty(con):
    assert review_results_table("no such outcome", con).empty


def test_overview_states_whose_risk_of_bias_judgement_each_trial_carries(con):
    overview = coverage.study_overview(con).set_index("study_id")
    labels = {v["value"]: v["label"] for v in _csv("vocab.csv") if v["field"] == "rob_status"}
    for s in _csv("studies.csv"):
        row = overview.loc[s["study_id"]]
        assert row["Risk of bias held"] == labels[s["rob_status"]]
        assert row["Risk of bias judged by"] == s["rob_assessed_by"]
    assert (overview["Risk of bias held"] == "Not assessed by any review we hold").sum() == sum(
        s["rob_status"] == "not assessed by any review we hold" for s in _csv("studies.csv"))
