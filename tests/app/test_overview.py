"""AppTest of the policymaker's pages: the Overview is the landing page, its table follows the filters and
opens Explore; the Evidence map counts follow the filters and its axes switch."""

from __future__ import annotations

from evidence import FilterSpec
from evidence.analysis.summary import summary_of_findings
from evidence.analysis import evidence_map as emap
from evidence.store.connection import shared_connection

from app_helpers import PAGES, run_app


def _table(at):
    assert at.dataframe, "no table on the page"
    return at.dataframe[0].value


def test_the_landing_page_is_the_overview():
    at = run_app()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.startswith("Overview")
    shown = _table(at)
    expected = summary_of_findings(FilterSpec(), shared_connection())
    assert shown["Outcome"].tolist() == [r.outcome_label for r in expected.rows]
    assert shown["Summary"].tolist() == [r.sentence for r in expected.rows]
    assert any("automated draft, not a formal GRADE assessment" in c.value for c in at.caption)


def test_changing_a_filter_changes_the_rows():
    before = _table(run_app())
    after_at = run_app({"population": "SMI/psychosis"})
    after = _table(after_at)
    expected = summary_of_findings(FilterSpec(population=("SMI/psychosis",)), shared_connection())
    assert after["Outcome"].tolist() == [r.outcome_label for r in expected.rows]
    assert after["Trials"].tolist() != before["Trials"].tolist()
    assert after_at.query_params.get("population") in (["SMI/psychosis"], "SMI/psychosis")


def test_open_in_explore_keeps_the_filters_and_picks_the_outcome():
    at = run_app({"population": "SMI/psychosis"})
    button = at.button(key="open_recovery")
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["flt_outcome"] == "recovery"
    assert at.session_state["flt_population"] == ["SMI/psychosis"]
    assert at.title[0].value.startswith("Explore")


def test_evidence_map_counts_follow_the_filters_and_axes_switch():
    at = run_app({"outcome": "depression"}, page=PAGES["Evidence map"])
    assert not at.exception, [e.value for e in at.exception]
    gaps_before = [m.value for m in at.markdown if m.value.startswith("- No trial")]
    expected = emap.evidence_map(FilterSpec(outcome="depression"), "population", "ps_format", shared_connection())
    assert len(gaps_before[0].splitlines()) == expected.n_gaps
    narrow = run_app({"outcome": "depression", "ps_mode": "telephone"}, page=PAGES["Evidence map"])
    gaps_after = [m.value for m in narrow.markdown if m.value.startswith("- No trial")]
    assert gaps_after != gaps_before
    at.selectbox(key="map_cols").set_value("setting").run()
    assert not at.exception
    assert any("settings" in m.value for m in at.markdown if m.value.startswith("- No trial"))
