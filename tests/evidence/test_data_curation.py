"""scripts/curate_raw.py on tiny raw extractions built in tmp_path: the merge, provenance, duplicate,
verification and White 2020 rules, each shown on a case made to exercise it."""

from __future__ import annotations

import csv
import re
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _load_curate():
    spec = importlib.util.spec_from_file_location("curate_raw", ROOT / "scripts" / "curate_raw.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("curate_raw", module)
    spec.loader.exec_module(module)
    return sys.modules["curate_raw"]


curate = _load_curate()


def _write(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def trial_row(study_id: str, **kw) -> dict:
    row = {c: "" for c in curate.TRIAL_COLUMNS}
    row.update(study_id=study_id, first_author=study_id[:-4], year=study_id[-4:], country="UK", design="RCT",
               pilot="no", population="depression", comparator="usual care", source_review="primary paper",
               source_url="https://example.org", source_location="Abstract", peer_paid="unclear")
    row.update(kw)
    return row


CURATION_HEADERS = {
    "study_aliases": ["alias_id", "study_id", "reason"],
    "study_overrides": ["study_id", "column", "value", "reason"],
    "peer_deliverer": ["study_id", "peer_deliverer", "basis", "extra_flags"],
    "effect_codings": ["raw_file", "raw_row", "column", "value", "reason"],
    "derivations": ["raw_file", "raw_row", "study_id", "cells", "kind", "derivation"],
    "review_outcomes": ["outcome_label", "outcome", "subgroup"],
    "review_signs": ["review_id", "outcome_label", "estimate", "reported_sign", "reason"],
}
WHITE_COLUMNS = ["white_ref", "study_id", "first_author", "year", "citation", "country", "design", "pilot",
                 "arms_note", "ps_role", "org_support", "org_support_components", "setting", "population",
                 "peer_role", "ps_mode", "peer_employer_peer_led", "outcomes_measured", "n_total", "source_location"]


def make_dirs(tmp_path: Path, trials: list[dict], curation: dict[str, list[dict]] | None = None,
              verification: list[dict] | None = None, white: list[dict] | None = None) -> Path:
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    (data / "curation").mkdir()
    shutil.copy(ROOT / "data" / "curation" / "controlled_lists.csv", data / "curation" / "controlled_lists.csv")
    for name, header in CURATION_HEADERS.items():
        _write(data / "curation" / f"{name}.csv", (curation or {}).get(name, []), header)
    _write(data / "raw" / "fixture_trials.csv", trials, curate.TRIAL_COLUMNS)
    _write(data / "raw" / "verification.csv", verification or [],
           ["file", "row_number", "study_id", "outcome", "timepoint_months", "status", "corrections", "checked_url",
            "note"])
    _write(data / "raw" / "white2020_trials.csv", white or [], WHITE_COLUMNS)
    for name in ("reviews.csv", "reviews_extra.csv"):
        _write(data / "raw" / name, [], curate.REVIEWS_COLUMNS[:-1])
    for name in ("review_results.csv", "review_results_extra.csv"):
        _write(data / "raw" / name, [], ["review_id", "outcome", "population", "ps_format", "timepoint",
                                          "k_studies", "n_participants", "effect_type", "estimate", "ci_low",
                                          "ci_high", "p_value", "i2", "comparator", "source_url",
                                          "source_location", "source_quote"])
    _write(data / "raw" / "white2020_pooled.csv", [], ["outcome", "k_trials", "n_participants", "effect_type",
                                                       "estimate", "ci_low", "ci_high", "i2", "q", "q_p",
                                                       "followup_range", "note", "source_quote"])
    return data


EVENTS = dict(outcome="depression", measure="EPDS>12", higher_is_better="no", n_ps="297", n_ctl="315",
              events_ps="40", events_ctl="78", source_quote="14% (40/297) vs 25% (78/315)")


def test_a_number_missing_from_its_quote_stops_the_curation(tmp_path):
    data = make_dirs(tmp_path, [trial_row("Dennis2009", timepoint_months="2.76", **EVENTS)])
    with pytest.raises(curate.CurationError) as err:
        curate.curate(data, write=False)
    assert "fixture_trials.csv row 1 (Dennis2009): timepoint_months=2.76 not printed in source_quote" in str(err.value)


def test_a_written_derivation_marks_the_row_derived_and_only_substantive_kinds_flag_it(tmp_path):
    trials = [trial_row("Dennis2009", timepoint_months="2.76", **EVENTS),
              trial_row("Dennis2003", timepoint_months="0.92", **{**EVENTS, "n_ps": "20", "n_ctl": "22",
                                                                  "events_ps": "2", "events_ctl": "9",
                                                                  "source_quote": "9 (40.9%) vs 2 (10%)"})]
    derivations = [
        {"raw_file": "fixture_trials.csv", "raw_row": "1", "study_id": "Dennis2009", "cells": "timepoint_months",
         "kind": "weeks-to-months", "derivation": "timepoint_months 2.76 = 12 weeks / 4.345"},
        {"raw_file": "fixture_trials.csv", "raw_row": "2", "study_id": "Dennis2003",
         "cells": "n_ps;n_ctl;timepoint_months", "kind": "back-calculated;weeks-to-months",
         "derivation": "n_ps 20 = 2/0.10, n_ctl 22 = 9/0.409; timepoint_months 0.92 = 4 weeks / 4.345"},
    ]
    out = curate.curate(make_dirs(tmp_path, trials, {"derivations": derivations}), write=False)
    eff = {e["study_id"]: e for e in out["effects"]}
    assert eff["Dennis2009"]["derived"] is True and "derived" not in eff["Dennis2009"]["flags"].split(";")
    assert eff["Dennis2003"]["derived"] is True and "derived" in eff["Dennis2003"]["flags"].split(";")
    assert eff["Dennis2003"]["derivation_kind"] == "back-calculated;weeks-to-months"
    studies = {s["study_id"]: s for s in out["studies"]}
    assert "derived" in studies["Dennis2003"]["flags"].split(";")
    assert "derived" not in studies["Dennis2009"]["flags"].split(";")


def test_a_derivation_that_misses_a_cell_is_refused(tmp_path):
    trials = [trial_row("Dennis2009", timepoint_months="2.76", **{**EVENTS, "n_ps": "300"})]
    derivations = [{"raw_file": "fixture_trials.csv", "raw_row": "1", "study_id": "Dennis2009",
                    "cells": "timepoint_months", "kind": "weeks-to-months", "derivation": "timepoint_months 2.76"}]
    with pytest.raises(curate.CurationError, match=r"cells \['n_ps'\] are not in the quote"):
        curate.curate(make_dirs(tmp_path, trials, {"derivations": derivations}), write=False)


def test_aliases_merge_one_trial_and_conflicts_are_resolved_by_most_rows_and_noted(tmp_path):
    trials = [
        trial_row("Sells2006", pilot="no", **{**EVENTS, "source_quote": EVENTS["source_quote"]}),
        trial_row("Sells2006", pilot="no", setting="community mental health"),
        trial_row("Sells2008", pilot="yes", year="2008"),
    ]
    aliases = [{"alias_id": "Sells2008", "study_id": "Sells2006", "reason": "same N and arms"}]
    out = curate.curate(make_dirs(tmp_path, trials, {"study_aliases": aliases}), write=False)
    assert [s["study_id"] for s in out["studies"]] == ["Sells2006"]
    st = out["studies"][0]
    assert st["pilot"] == "no" and st["year"] == "2006" and st["setting"] == "community mental health"
    assert st["id_aliases"] == "Sells2008"
    assert "pilot: sources differ" in st["notes"] and "merged raw id Sells2008 (same N and arms)" in st["notes"]
    assert {s["study_id"] for s in out["sources"]} == {"Sells2006"} and len(out["sources"]) == 3


def test_a_hand_override_wins_and_is_noted(tmp_path):
    trials = [trial_row("Kelly2017", **EVENTS), trial_row("Kelly2017", doi_or_pmid="10.1/b")]
    overrides = [{"study_id": "Kelly2017", "column": "doi_or_pmid", "value": "10.1/a", "reason": "main paper"}]
    out = curate.curate(make_dirs(tmp_path, trials, {"study_overrides": overrides}), write=False)
    assert out["studies"][0]["doi_or_pmid"] == "10.1/a"
    assert "doi_or_pmid: '10.1/b' -> '10.1/a' by hand (main paper)" in out["studies"][0]["notes"]


def test_characteristics_only_rows_give_a_study_and_source_but_no_effect(tmp_path):
    trials = [trial_row("Valenstein2016", outcome="depression", n_ps="200", n_ctl="243",
                        measure_note="Characteristics-only row")]
    out = curate.curate(make_dirs(tmp_path, trials), write=False)
    assert out["effects"] == []
    st = out["studies"][0]
    assert st["flags"] == "characteristics-only" and st["outcomes_no_data"] == "depression"
    assert st["peer_deliverer"] == "unclear" and "not yet classified" in st["peer_deliverer_basis"]
    assert len(out["sources"]) == 1


def test_same_quantity_from_two_sources_is_grouped_then_compared(tmp_path):
    same = dict(outcome="glycaemic control (HbA1c)", measure="HbA1c (%)", timepoint_months="6",
                reported_effect_type="MD", higher_is_better="no")
    trials = [
        trial_row("Long2012", reported_effect="-1.07", reported_ci_low="-1.84", reported_ci_high="-0.31",
                  source_quote="−1.07% (95% CI, −1.84% to −0.31%) at 6 months", **same),
        trial_row("Long2012", reported_effect="-1.01", reported_ci_low="-1.86", reported_ci_high="-0.16",
                  source_quote="-1.01 (-1.86 to -0.16) at 6 months", source_review="conference abstract", **same),
        trial_row("Long2012", reported_effect="-1.07", reported_ci_low="-1.84", reported_ci_high="-0.31",
                  source_quote="−1.07% (−1.84% to −0.31%) 6 months", source_review="review", **{**same,
                                                                                             "measure": "HbA1c, %"}),
    ]
    out = curate.curate(make_dirs(tmp_path, trials), write=False)
    effects = out["effects"]
    assert len({e["duplicate_group"] for e in effects}) == 1
    assert all("sources-disagree" in e["flags"].split(";") for e in effects)
    assert "reported_effect: -1.07 (E-fixture_trials-001) vs -1.01 (E-fixture_trials-002)" in effects[0]["disagreement"]


def test_verification_is_carried_and_missing_rows_are_unverified(tmp_path):
    trials = [trial_row("Dennis2009", timepoint_months="", **EVENTS), trial_row("Other2010", **EVENTS)]
    verification = [{"file": "fixture_trials.csv", "row_number": "1", "study_id": "Dennis2009",
                     "outcome": "depression", "timepoint_months": "", "status": "verified", "corrections": "",
                     "checked_url": "https://example.org", "note": "matches"}]
    out = curate.curate(make_dirs(tmp_path, trials, verification=verification), write=False)
    got = {e["study_id"]: (e["verification"], e["verification_note"]) for e in out["effects"]}
    assert got == {"Dennis2009": ("verified", "matches"), "Other2010": ("unverified", "")}


def test_verification_of_another_study_is_refused(tmp_path):
    trials = [trial_row("Dennis2009", **EVENTS)]
    verification = [{"file": "fixture_trials.csv", "row_number": "1", "study_id": "Somebody2001",
                     "outcome": "", "timepoint_months": "", "status": "verified", "corrections": "",
                     "checked_url": "", "note": ""}]
    with pytest.raises(curate.CurationError, match="study Somebody2001 but the raw row is Dennis2009"):
        curate.curate(make_dirs(tmp_path, trials, verification=verification), write=False)


def test_white2020_coding_wins_for_role_and_support_and_fills_gaps(tmp_path):
    trials = [trial_row("Solomon1995", population="SMI/psychosis", ps_role="adjunctive")]
    white = [{c: "" for c in WHITE_COLUMNS} | {
        "white_ref": "23", "study_id": "Solomon1995", "first_author": "Solomon", "year": "1995", "country": "USA",
        "design": "individually randomised RCT", "pilot": "no", "ps_role": "substitute", "org_support": "higher",
        "setting": "community mental health services", "ps_mode": "face-to-face", "source_location": "L1387"}]
    out = curate.curate(make_dirs(tmp_path, trials, white=white), write=False)
    st = out["studies"][0]
    assert (st["ps_role"], st["org_support"], st["setting"], st["ps_mode"]) == (
        "substitute", "higher", "community mental health", "face-to-face")
    assert st["in_white2020"] is True and st["white2020_ref"] == "23"
    assert "ps_role: extraction says 'adjunctive', White 2020 codes 'substitute'" in st["notes"]


def test_unknown_category_in_a_raw_row_is_reported_with_the_list(tmp_path):
    trials = [trial_row("Dennis2009", comparator="TAU", **{k: v for k, v in EVENTS.items()})]
    with pytest.raises(curate.CurationError, match=r"row 1, column comparator: 'TAU' is not in the controlled list"):
        curate.curate(make_dirs(tmp_path, trials), write=False)


def test_numbers_cannot_be_set_by_hand(tmp_path):
    trials = [trial_row("Dennis2009", **EVENTS)]
    codings = [{"raw_file": "fixture_trials.csv", "raw_row": "1", "column": "events_ps", "value": "41",
                "reason": "typo"}]
    with pytest.raises(curate.CurationError, match="numbers are never overridden"):
        curate.curate(make_dirs(tmp_path, trials, {"effect_codings": codings}), write=False)


def test_curation_is_deterministic(tmp_path):
    trials = [trial_row("Dennis2009", **EVENTS), trial_row("Amani2021", **EVENTS)]
    data = make_dirs(tmp_path, trials)
    curate.curate(data)
    first = {p.name: p.read_bytes() for p in data.glob("*.csv")}
    curate.curate(data)
    assert {p.name: p.read_bytes() for p in data.glob("*.csv")} == first
    assert [r["study_id"] for r in csv.DictReader(open(data / "studies.csv"))] == ["Amani2021", "Dennis2009"]


def test_no_effect_row_is_other_unless_listed_as_uncategorisable():
    notes = (DATA / "curation" / "outcome_recodes.NOTES.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (E-[^ |]+) \|", notes, flags=re.MULTILINE))
    with open(DATA / "effects.csv", newline="", encoding="utf-8") as fh:
        other = {r["effect_id"] for r in csv.DictReader(fh) if r["outcome"] == "other"}
    assert other == listed, (sorted(other - listed), sorted(listed - other))


def test_outcome_recodes_only_name_outcomes_of_the_controlled_list():
    with open(DATA / "curation" / "effect_codings.csv", newline="", encoding="utf-8") as fh:
        recodes = [r for r in csv.DictReader(fh) if r["column"] == "outcome"]
    with open(DATA / "curation" / "controlled_lists.csv", newline="", encoding="utf-8") as fh:
        outcomes = {r["value"] for r in csv.DictReader(fh) if r["field"] == "outcome"}
    assert recodes and all(r["value"] in outcomes and r["value"] != "other" and r["reason"] for r in recodes)
