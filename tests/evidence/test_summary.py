"""The summary of findings and the evidence map on the shipped store, checked against independent
recomputations (analyse per outcome, stats on the candidate rows, count_studies per cell)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import stats
from evidence import FilterSpec, analyse, query
from evidence.analysis import evidence_map as emap
from evidence.analysis.summary import summary_of_findings
from evidence.present import gaps, summary_table
from evidence.present.charts import evidence_map as map_chart
from evidence.store.connection import shared_connection


@pytest.fixture(scope="module")
def con():
    return shared_connection()


@pytest.fixture(scope="module")
def sof(con):
    return summary_of_findings(FilterSpec(), con)


def test_one_row_per_outcome_with_usable_trials_and_catch_all_left_out(sof, con):
    usable = query.choice_counts_all(FilterSpec(), ("outcome",), con)["outcome"]
    shown = {r.outcome for r in sof.rows}
    assert shown <= set(usable) - {"other"}
    # an outcome whose rows have numbers but none the selection can pool (e.g. no direction recorded) is
    # left out with its reason, never dropped silently
    labels = dict(zip(query.vocab_frame(con).query("field == 'outcome'")["value"],
                      query.vocab_frame(con).query("field == 'outcome'")["label"]))
    left = dict(sof.left_out)
    assert left["Other outcome"].startswith("collects unrelated measures")
    for outcome in set(usable) - shown - {"other"}:
        assert left[labels[outcome]] == "no trial has numbers that can be pooled"
    ks = [r.k for r in sof.rows]
    assert ks == sorted(ks, reverse=True)


def test_rows_equal_their_own_analysis(sof, con):
    for r in sof.rows:
        a = analyse(FilterSpec(outcome=r.outcome), con=con)
        assert r.k == a.k and r.participants == a.participants and r.effect_measure == a.effect_measure
        shown = math.exp(a.pooled.estimate) if a.is_ratio else a.pooled.estimate
        assert r.estimate == pytest.approx(shown, rel=1e-12)
        assert r.analysis.effects["effect_id"].tolist() == a.effects["effect_id"].tolist()
        assert (r.k < 2) == (not r.pooled)


def test_one_id_query_for_all_outcomes_selects_the_same_rows(con):
    ids = query.matching_effect_ids_by_outcome(FilterSpec(population=("depression",)), con)
    for outcome, these in ids.items():
        spec = FilterSpec(outcome=outcome, population=("depression",))
        assert sorted(these) == sorted(query.matching_effect_ids(spec, con))


def test_a_filter_changes_the_rows(sof, con):
    narrow = summary_of_findings(FilterSpec(population=("SMI/psychosis",)), con)
    assert narrow.rows and {r.outcome for r in narrow.rows} != {r.outcome for r in sof.rows}
    dep = narrow.row("recovery") or narrow.rows[0]
    assert dep.k <= (sof.row(dep.outcome).k)


def test_absolute_effect_of_overdose_by_hand(sof, con):
    row = sof.row("overdose")
    assert row is not None and row.absolute is not None
    eff = row.analysis.effects
    cand = query.candidate_rows(FilterSpec(outcome="overdose"), con).set_index("effect_id").loc[eff["effect_id"]]
    risks = (cand["events_ctl"].astype(float) / cand["n_ctl"].astype(float)).to_numpy()
    acr = float(np.median(risks))
    p = stats.pool(eff["yi"].to_numpy(float), eff["vi"].to_numpy(float), method="REML")
    assert row.absolute.assumed_control_risk == pytest.approx(acr)
    assert row.absolute.control_per_1000 == pytest.approx(1000 * acr)
    assert row.absolute.peer_per_1000 == pytest.approx(1000 * acr * math.exp(p.estimate))
    assert row.absolute.ci_low_per_1000 == pytest.approx(1000 * acr * math.exp(p.ci_low))
    assert row.absolute.n_trials == len(risks)
    assert "median control-arm risk" in row.absolute.sentence


def test_continuous_outcomes_have_no_absolute_effect_and_hba1c_has_its_md(sof, con):
    assert sof.row("depression").absolute is None and sof.row("depression").natural is None
    row = sof.row("glycaemic control (HbA1c)")
    md = row.natural
    assert md is not None and md.unit == "HbA1c (%)" and md.k == row.k
    eff = row.analysis.effects
    cand = query.candidate_rows(FilterSpec(outcome="glycaemic control (HbA1c)"), con).set_index("effect_id")
    y, v = [], []
    for eid, measure_name, route in zip(eff["effect_id"], eff["measure"], eff["computed_from"]):
        c = cand.loc[eid]
        factor = 0.09148 if "mmol/mol" in measure_name else 1.0
        if route.startswith("arm means"):
            es = stats.mean_difference([c.mean_ps], [c.sd_ps], [c.n_ps], [c.mean_ctl], [c.sd_ctl], [c.n_ctl])
        else:
            es = stats.from_confidence_interval([c.reported_effect], [c.reported_ci_low], [c.reported_ci_high])
        y.append(es[0][0] * factor)
        v.append(es[1][0] * factor ** 2)
    p = stats.pool(np.array(y), np.array(v), method="REML")
    assert md.estimate == pytest.approx(p.estimate) and md.ci_high == pytest.approx(p.ci_high)
    assert md.lower_is_better and "lower is better" in md.sentence


def test_display_frame_and_csv_frame_have_a_row_per_outcome(sof):
    shown = summary_table.display_frame(sof)
    assert list(shown.columns) == list(summary_table.SOF_COLUMNS) and len(shown) == len(sof.rows)
    assert all(s.endswith(".") for s in shown["Summary"])
    csv = sof.as_frame()
    assert len(csv) == len(sof.rows) and set(csv["Certainty (draft)"]) <= {"high", "moderate", "low", "very low"}
    single = shown[shown["Trials"] == 1]
    assert single["Effect (95% CI)"].str.endswith("not pooled").all()


# -- evidence map ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def depression_map(con):
    return emap.evidence_map(FilterSpec(outcome="depression"), "population", "ps_format", con)


def test_every_cell_counts_the_trials_of_both_values(depression_map, con):
    cells = depression_map.cells
    known = cells[cells["row_value"].notna() & cells["col_value"].notna()]
    assert len(known) == len(emap._values("population", cells["row_value"].iloc[:0])) * 3  # every listed value
    for rv, cv, n in zip(known["row_value"], known["col_value"], known["n_studies"]):
        spec = FilterSpec(outcome="depression", population=(rv,), ps_format=(cv,))
        assert n == query.count_studies(spec, con)


def test_coloured_cells_have_two_pooled_trials_and_their_oriented_effect(depression_map, con):
    coloured = depression_map.cells[depression_map.cells["effect"].notna()]
    assert len(coloured)
    for rv, cv, k, effect in zip(coloured["row_value"], coloured["col_value"], coloured["k"], coloured["effect"]):
        a = analyse(FilterSpec(outcome="depression", population=(rv,), ps_format=(cv,)), con=con)
        assert k == a.k >= emap.MIN_K_COLOUR and effect == pytest.approx(a.pooled.estimate)


def test_gaps_are_the_empty_known_cells_in_words(depression_map):
    sentences = gaps.gap_sentences(depression_map, {"population": {"SMI/psychosis": "SMI / psychosis"},
                                                    "ps_format": {"group": "Group"}})
    assert len(sentences) == depression_map.n_gaps > 0
    empty = depression_map.cells[(depression_map.cells["n_studies"] == 0)]
    if ((empty["row_value"] == "SMI/psychosis") & (empty["col_value"] == "group")).any():
        assert "No trial of group peer support for SMI / psychosis." in sentences
    assert gaps.value_phrase("setting", "Primary care") == "in primary care settings"


def test_outcome_as_an_axis_counts_every_outcome(con):
    m = emap.evidence_map(FilterSpec(), "outcome", "ps_format", con)
    counts = m.cells.groupby("row_value")["n_studies"].sum()
    assert counts.get("depression", 0) >= 16 and "other" not in set(m.cells["row_value"].dropna())


def test_map_chart_keeps_gaps_visible_and_selects_cells(depression_map):
    records = map_chart.map_records(depression_map)
    assert (records["state"] == "gap").sum() >= depression_map.n_gaps
    spec = map_chart.evidence_map_chart(depression_map, selected=("perinatal depression", "group")).to_dict()
    assert any(p.get("name") == map_chart.SELECTION for p in spec.get("params", []))


def test_unknown_axis_is_refused(con):
    from evidence.core.errors import InvalidChoice

    with pytest.raises(InvalidChoice):
        query.trial_counts_by_pair(FilterSpec(), "population", "colour", con)
    with pytest.raises(InvalidChoice):
        query.trial_counts_by_pair(FilterSpec(), "population", "population", con)


def test_a_risk_ratio_map_is_coloured_by_the_oriented_log_risk_ratio(con):
    m = emap.evidence_map(FilterSpec(outcome="overdose"), "population", "ps_format", con)
    assert m.colour_scale == "logRR"
    coloured = m.cells[m.cells["effect"].notna()]
    assert len(coloured) >= 1
    for rv, cv, effect in zip(coloured["row_value"], coloured["col_value"], coloured["effect"]):
        a = analyse(FilterSpec(outcome="overdose", population=(rv,), ps_format=(cv,)), con=con)
        assert a.favours.side == "left" and effect == pytest.approx(-a.pooled.estimate)  # RR < 1 favours peer support
    spec = map_chart.evidence_map_chart(m).to_dict()
    assert "log risk ratio" in str(spec)
