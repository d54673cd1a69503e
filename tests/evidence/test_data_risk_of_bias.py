"""Risk of bias in the shipped data: every trial states whose judgement it carries, or that no review we hold
assessed it; per-domain rows keep their verbatim source; an overall judgement is never made up from domains."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_study_has_a_risk_of_bias_status_and_the_status_matches_what_is_held():
    rob = _read("risk_of_bias.csv")
    domain_studies = {r["study_id"] for r in rob if r["domain"] != "overall"}
    members = {m["study_id"] for m in _read("raw/review_membership.csv")}
    for s in _read("studies.csv"):
        status = s["rob_status"]
        assert status, s["study_id"]
        if status == "overall judgement":
            assert s["risk_of_bias"] and s["rob_assessed_by"] and s["rob_tool"], s["study_id"]
        else:
            assert not s["risk_of_bias"], s["study_id"]
        if status == "domain judgements only":
            assert s["study_id"] in domain_studies and s["rob_domains"], s["study_id"]
        if status == "in a review we hold - judgement not retrieved":
            assert s["study_id"] in members and s["study_id"] not in domain_studies and s["rob_assessed_by"]
        if status == "not assessed by any review we hold":
            assert not s["rob_assessed_by"] and not s["rob_domains"] and s["study_id"] not in members


def test_domain_rows_name_their_review_tool_and_quote():
    studies = {s["study_id"] for s in _read("studies.csv")}
    rows = _read("risk_of_bias.csv")
    assert len(rows) >= 69
    for r in rows:
        assert r["study_id"] in studies
        assert r["review_id"] and r["tool"] in ("RoB 1", "RoB 2"), r["rob_id"]
        assert r["judgement"] in ("low", "unclear", "some concerns", "high"), r["rob_id"]
        assert r["source_url"].startswith("http") and r["source_quote"].strip(), r["rob_id"]


def test_known_judgements():
    by_id = {s["study_id"]: s for s in _read("studies.csv")}
    # Dalgaard 2025's RoB 2 overall judgement (coding sheet) and Chien 2019's RoB 1 sequence generation.
    druss = by_id["Druss2010"]
    assert druss["risk_of_bias"] == "high" and druss["rob_status"] == "overall judgement"
    assert druss["rob_tool"] == "RoB 1;RoB 2"
    assert "Chien2019 (RoB 1): random sequence generation (selection bias): low" in druss["rob_domains"]
    # Patil 2016 tabulates four domains for Cade 2009 and no overall judgement.
    cade = by_id["Cade2009"]
    assert cade["rob_status"] == "domain judgements only" and cade["risk_of_bias"] == ""
    assert "allocation concealment: high" in cade["rob_domains"]
