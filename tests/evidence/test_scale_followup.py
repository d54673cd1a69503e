"""The scale choice (auto / SMD / ratio) and the follow-up rule (longest / shortest / nearest a time)."""

from __future__ import annotations

import pytest

from evidence import FilterSpec
from evidence.analysis import effect_set
from evidence.core.errors import EvidenceError
from evidence.core.filters import vocabulary

SYMPTOMS = "psychiatric symptoms"


def test_scale_and_followup_travel_in_the_url_and_in_words():
    spec = FilterSpec(outcome=SYMPTOMS, scale="ratio", followup=12)
    assert spec.to_query_params() == {"outcome": SYMPTOMS, "scale": "ratio", "followup": "12"}
    back, notices = FilterSpec.from_query_params(spec.to_query_params(), {"outcome": (SYMPTOMS,)})
    assert back == spec and notices == []
    assert "ratio scale" in spec.describe(1) and "nearest 12 months" in spec.describe(1)
    assert FilterSpec().to_query_params() == {}  # the defaults (auto, longest) stay out of the link
    _, notices = FilterSpec.from_query_params({"scale": "logRR", "followup": "-3"}, {})
    assert len(notices) == 2


def test_the_ratio_scale_lists_the_continuous_trials_it_leaves_out():
    smd = effect_set(FilterSpec(outcome=SYMPTOMS, scale="SMD"))
    ratio = effect_set(FilterSpec(outcome=SYMPTOMS, scale="ratio"))
    assert {"Mahlke2017", "Chinman2015"} <= set(smd.effects["study_id"])
    assert not {"Mahlke2017", "Chinman2015"} & set(ratio.effects["study_id"])
    reasons = set(ratio.excluded[ratio.excluded["study_id"].isin(["Mahlke2017", "Chinman2015"])]["reason"])
    assert {"reported mean difference cannot be pooled on a ratio scale",
            "continuous result cannot be pooled on a ratio scale (choose the SMD scale to keep it)"} <= reasons
    assert "left out for their scale" in ratio.scale_note and "Mahlke2017" in ratio.scale_note
    assert "the SMD scale would keep 3" in ratio.scale_note  # the choice is said, never silent


def test_auto_keeps_the_most_trials_on_every_shipped_outcome():
    for outcome in vocabulary()["outcome"]:
        try:
            auto, smd, ratio = (len(effect_set(FilterSpec(outcome=outcome, scale=s)).effects)
                                for s in ("auto", "SMD", "ratio"))
        except EvidenceError:
            continue
        assert auto == max(smd, ratio), outcome


def test_the_follow_up_rule_changes_mahlke2017s_row():
    """Mahlke 2017's CGI is stored at Chien 2019's 'medium term' (-0.30) and 'long term' (+0.40, worse) with
    no months: the longest rule takes the long-term row, the shortest the medium-term one."""
    rows = {}
    for rule in ("longest", "shortest"):
        es = effect_set(FilterSpec(outcome=SYMPTOMS, followup=rule))
        rows[rule] = es.effects.set_index("study_id").loc["Mahlke2017"]
    assert rows["longest"]["effect_id"] == "E-smi_trials-011" and "long term" in rows["longest"]["selection_reason"]
    assert rows["shortest"]["effect_id"] == "E-smi_trials-010"
    # MD +0.40 on a lower-is-better scale is oriented against peer support, -0.30 for it
    assert rows["longest"]["display_estimate"] < 0 < rows["shortest"]["display_estimate"]


def test_an_invalid_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        FilterSpec(scale="logRR")


def test_chan2014_rate_ratio_is_never_pooled_as_a_risk_ratio():
    """Chan 2014's hospitalisation result is a rate ratio (frequency of hospitalisations): coded IRR, it stays
    out of the risk-ratio pool with its reason, and alone it is analysed on its own scale."""
    from evidence import analyse
    from evidence.core.measures import measure

    rr = effect_set(FilterSpec(outcome="hospitalised"))
    assert rr.effect_measure == "logRR" and "Chan2014" not in set(rr.effects["study_id"])
    reason = rr.excluded.set_index("study_id").loc["Chan2014", "reason"]
    assert "rate ratio: its own measure" in reason
    own = analyse(FilterSpec(outcome="hospitalised", review="Patil2016"))
    assert own.effect_measure == "logIRR" and list(own.effects["study_id"]) == ["Chan2014"]
    assert round(measure("logIRR").to_display(own.pooled.estimate), 2) == 0.52
    assert measure("logIRR").label == "Rate ratio" and measure("logHR").is_ratio
