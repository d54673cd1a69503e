"""AppTest of the Reviews page: a review's published result beside ours, its trials in three groups, the
review filter from a link, the forest plot and the overlap matrix."""

from __future__ import annotations

from app_helpers import PAGES, metric, run_app

from evidence.analysis import reviews as rv
from evidence.query import reviews as q


def _frames(at):
    return [d.value for d in at.dataframe]


def test_a_review_link_shows_published_and_our_result_and_the_three_groups():
    at = run_app({"review": "Chien2019", "outcome": "hospitalised"}, page=PAGES["Reviews"])
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="rev_result").value == "R-review_results-037"
    assert metric(at, "Published (RR)") == "0.44"
    assert metric(at, "Ours (RR, DL)") == "0.44"
    rep = rv.reproduce("R-review_results-037")
    counts = rep.group_counts()
    headers = [s.value for s in at.subheader]
    for group, n in counts.items():
        assert f"{group.capitalize()}: {n}" in headers
    assert sum(counts.values()) == len(q.review_trial_rows("Chien2019"))
    # the sidebar says in words that the set is restricted
    assert any("included in Chien 2019" in c.value for c in at.sidebar.caption)


def test_a_review_without_a_comparable_measure_says_why():
    at = run_app({"review": "Qi2015", "outcome": "glycaemic control (HbA1c)"}, page=PAGES["Reviews"])
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Ours") == "not available"
    assert any("not the same measure" in i.value for i in at.info)
    headers = [s.value for s in at.subheader]
    assert any(h.startswith("Not in our data: 2") for h in headers)  # Dang 2013 and Prezio 2013


def test_the_open_set_button_sets_the_review_filter_for_every_page():
    at = run_app({"review": "Patil2016", "outcome": "glycaemic control (HbA1c)"}, page=PAGES["Reviews"])
    at.button(key="btn_open_set").click().run()
    assert at.session_state["flt_review"] == "Patil2016"
    at = run_app({"review": "Patil2016", "outcome": "glycaemic control (HbA1c)"}, page=PAGES["Explore"])  # Explore with the link
    assert not at.exception, [e.value for e in at.exception]
    ours = rv.reproduce("R-review_results_extra-002", method="REML").analysis
    assert metric(at, "Studies (k)") == str(ours.k)
    assert any("included in Patil 2016" in c.value for c in at.caption)


def test_reviews_table_results_forest_and_overlap_are_shown():
    at = run_app({"outcome": "depression"}, page=PAGES["Reviews"])
    assert not at.exception, [e.value for e in at.exception]
    frames = _frames(at)
    catalogue = rv.review_catalogue()
    assert any(len(f) == len(catalogue) and "AMSTAR 2" in f.columns and "Search date" in f.columns for f in frames)
    results = rv.review_results_table()
    assert any(len(f) == len(results) and {"k", "N", "I² (%)", "Measure"} <= set(f.columns) for f in frames)
    assert any("Reviews share trials" in w.value for w in at.warning)
    ov = rv.overlap()
    assert metric(at, "Corrected covered area") == f"{100 * ov.cca:.1f}% ({ov.band} overlap)"


def _study_row(at, study: str):
    for frame in _frames(at):
        if "Study" in frame.columns and "Effect [95% CI]" in frame.columns:
            hit = frame[frame["Study"].astype(str).str.startswith(study)]
            if len(hit):
                return hit.iloc[0]
    raise AssertionError(f"no row for {study}")


def test_scale_choice_keeps_the_continuous_trial():
    ratio = run_app({"outcome": "psychiatric symptoms", "scale": "ratio"}, page=PAGES["Explore"])
    smd = run_app({"outcome": "psychiatric symptoms", "scale": "SMD"}, page=PAGES["Explore"])
    for at in (ratio, smd):
        assert not at.exception, [e.value for e in at.exception]
    assert metric(ratio, "Studies (k)") == "1" and metric(smd, "Studies (k)") == "3"
    assert smd.sidebar.radio(key="flt_scale").value == "SMD"
    _study_row(smd, "Mahlke")
    assert any("left out for their scale" in c.value and "Mahlke2017" in c.value for c in ratio.caption)
    assert any("the SMD scale would keep 3" in c.value for c in ratio.caption)


def test_the_follow_up_rule_changes_mahlke2017s_row_on_explore():
    longest = run_app({"outcome": "psychiatric symptoms"}, page=PAGES["Explore"])
    shortest = run_app({"outcome": "psychiatric symptoms", "followup": "shortest"}, page=PAGES["Explore"])
    a, b = _study_row(longest, "Mahlke")["Effect [95% CI]"], _study_row(shortest, "Mahlke")["Effect [95% CI]"]
    assert a != b
    assert a.startswith("-0.43") and b.startswith("0.35")
    assert any("longest follow-up is used" in c.value for c in longest.caption)
    assert any("shortest follow-up is used" in c.value for c in shortest.caption)
    assert shortest.sidebar.selectbox(key="flt_followup").value == "shortest"
