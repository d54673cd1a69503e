"""Import of a user's sheet: every validation rule with a failing example and its message pinned."""

from __future__ import annotations

import csv
import hashlib
import io

import openpyxl
import pytest

from evidence import FilterSpec, InvalidDatasetName, InvalidSheet, analyse, effects, ingest
from evidence import query
from evidence.ingest.sheet import OPTIONAL_COLUMNS, SHEET_COLUMNS, blank_template_csv, validate_sheet

GOOD = dict(study_id="Smith2020", first_author="Smith", year="2020", country="UK", population="depression",
            setting="primary care", ps_format="group", comparator="usual care", outcome="depression",
            measure="PHQ-9", higher_is_better="no", timepoint_months="6", n_ps="40", mean_ps="8.5", sd_ps="4.1",
            n_ctl="42", mean_ctl="10.2", sd_ctl="4.4", source_review="primary paper",
            source_url="https://example.org/smith", source_location="Table 2", source_quote="8.5 (4.1) vs 10.2 (4.4)")
GOOD2 = dict(GOOD, study_id="Jones2018", first_author="Jones", year="2018", n_ps="30", mean_ps="9.0", sd_ps="5.0",
             n_ctl="29", mean_ctl="11.5", sd_ctl="5.2", population="perinatal depression")


def sheet(*rows: dict, columns=SHEET_COLUMNS, delimiter=",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return buf.getvalue().encode("utf-8")


def problems(data: bytes, filename="sheet.csv"):
    return validate_sheet(data, filename).problems


def only(data: bytes):
    ps = problems(data)
    assert len(ps) == 1, ps
    return ps[0]


def test_valid_sheet_has_no_problems():
    rep = validate_sheet(sheet(GOOD, GOOD2))
    assert rep.ok and rep.warnings == () and len(rep.records) == 2
    assert rep.records[0]["n_ps"] == 40 and rep.records[0]["mean_ps"] == 8.5 and rep.records[0]["__row__"] == 2


def test_blank_template_has_every_column_and_validates_as_header_only():
    header = blank_template_csv().decode("utf-8").strip().split(",")
    assert header == list(SHEET_COLUMNS + OPTIONAL_COLUMNS)
    assert problems(blank_template_csv()) == (ingest.Problem(0, "", "the sheet has a header but no data rows"),)


# -- one rule at a time: (id, row overrides, expected problem) ------------------------------------
RULES = [
    ("text-for-number", dict(n_ps="forty"), (2, "n_ps", "text where a number belongs: 'forty'")),
    ("decimal-comma", dict(mean_ps="8,5"), (2, "mean_ps", "text where a number belongs: '8,5' (use '.' as the decimal point)")),
    ("formula-in-number", dict(sd_ps="=SUM(A1:A3)"),
     (2, "sd_ps", "text where a number belongs: '=SUM(A1:A3)' looks like a spreadsheet formula (formulas are never evaluated; type the number itself)")),
    ("whole-number", dict(n_ctl="41.5"), (2, "n_ctl", "'41.5' must be a whole number")),
    ("sd-zero", dict(sd_ctl="0"), (2, "sd_ctl", "SD must be greater than 0, got 0")),
    ("sd-negative", dict(sd_ps="-1.5"), (2, "sd_ps", "SD must be greater than 0, got -1.5")),
    ("n-below-1", dict(n_ps="0"), (2, "n_ps", "n must be at least 1, got 0")),
    ("events-over-n", dict(mean_ps="", sd_ps="", mean_ctl="", sd_ctl="", n_ps="10", events_ps="12", events_ctl="3"),
     (2, "events_ps", "12 events is more than n_ps = 10")),
    ("events-negative", dict(mean_ps="", sd_ps="", mean_ctl="", sd_ctl="", events_ps="4", events_ctl="-1"),
     (2, "events_ctl", "events must be 0 or more, got -1")),
    ("ci-not-bracketing", dict(reported_effect="0.9", reported_effect_type="SMD", reported_ci_low="0.1",
                               reported_ci_high="0.5"),
     (2, "reported_effect", "estimate 0.9 is above its CI upper bound 0.5")),
    ("ci-inverted", dict(reported_effect="0.3", reported_effect_type="SMD", reported_ci_low="0.5",
                         reported_ci_high="0.1"), None),  # two problems, checked below
    ("ratio-not-positive", dict(reported_effect="0", reported_effect_type="RR", reported_ci_low="0",
                                reported_ci_high="1.2"), None),
    ("one-ci-bound", dict(reported_effect="0.3", reported_effect_type="SMD", reported_ci_low="0.1"),
     (2, "reported_ci_high", "give both CI bounds or neither")),
    ("effect-without-type", dict(reported_effect="0.3", reported_ci_low="0.1", reported_ci_high="0.5"),
     (2, "reported_effect_type", "required when reported_effect is given (SMD, g, d, MD, RR, OR, IRR or HR)")),
    ("unknown-category", dict(comparator="usual car"),
     (2, "comparator", "'usual car' is not an allowed comparator value; did you mean 'usual care'? Valid values: "
                       "['usual care', 'waitlist', 'attention control', 'active', 'group CBT', 'other']")),
    ("yes-no", dict(higher_is_better="maybe"), (2, "higher_is_better", "'maybe' must be 'yes' or 'no'")),
    ("direction-needed", dict(higher_is_better=""),
     (2, "higher_is_better", "needed to orient the numbers: 'yes' if higher scores (or the event) are good, else 'no'")),
    ("year-range", dict(year="20019"), (2, "year", None)),
    ("study-id", dict(study_id="Smith 2020!"), (2, "study_id", None)),
    ("study-id-empty", dict(study_id=""), (2, "study_id", "must not be empty")),
    ("outcome-empty", dict(outcome=""), (2, "outcome", "must not be empty")),
    ("negative-follow-up", dict(timepoint_months="-3"), (2, "timepoint_months", "must be 0 or more, got -3")),
    ("too-long", dict(measure="x" * 10_000), (2, "measure", "10,000 characters; the limit is 2,000")),
]


@pytest.mark.parametrize("override, expected", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_fails_with_its_message(override, expected):
    ps = problems(sheet(dict(GOOD, **override)))
    assert ps, "expected a problem"
    if expected is None:
        return
    row, column, message = expected
    hits = [p for p in ps if p.row == row and p.column == column]
    assert hits, ps
    if message is not None:
        assert hits[0].message == message


def test_inverted_ci_and_non_positive_ratio_messages():
    ps = problems(sheet(dict(GOOD, reported_effect="0.3", reported_effect_type="SMD", reported_ci_low="0.5",
                             reported_ci_high="0.1")))
    assert ingest.Problem(2, "reported_ci_low", "CI lower bound 0.5 is above the upper bound 0.1") in ps
    ps = problems(sheet(dict(GOOD, reported_effect="0", reported_effect_type="RR", reported_ci_low="0",
                             reported_ci_high="1.2")))
    assert ingest.Problem(2, "reported_effect", "a RR and its CI must be greater than 0, got 0") in ps
    assert ingest.Problem(2, "reported_ci_low", "a RR and its CI must be greater than 0, got 0") in ps


def test_year_and_study_id_messages():
    p = only(sheet(dict(GOOD, year="20019")))
    assert p.column == "year" and p.message.startswith("20019 is outside 1950–")
    p = only(sheet(dict(GOOD, study_id="Smith 2020!")))
    assert p.message.startswith("'Smith 2020!' is not a valid study id")


def test_missing_required_column():
    cols = [c for c in SHEET_COLUMNS if c != "sd_ps"]
    ps = problems(sheet(GOOD, columns=cols))
    assert ingest.Problem(1, "sd_ps", "missing required column") in ps


def test_misspelt_column_is_suggested():
    cols = [("sd_pss" if c == "sd_ps" else c) for c in SHEET_COLUMNS]
    rep = validate_sheet(sheet({**GOOD, "sd_pss": "4.1"}, columns=cols))
    assert ingest.Problem(1, "sd_ps", "missing required column; is 'sd_pss' meant to be it?") in rep.problems
    assert any(w.column == "sd_pss" and "did you mean 'sd_ps'" in w.message for w in rep.warnings)


def test_duplicate_rows_and_conflicting_study_characteristics():
    ps = problems(sheet(GOOD, GOOD))
    assert ingest.Problem(3, "study_id", "duplicate row: same study, comparison, outcome, measure, follow-up and "
                                         "source as row 2") in ps
    ps = problems(sheet(GOOD, dict(GOOD, timepoint_months="12", year="2021")))
    assert ingest.Problem(3, "year", "study Smith2020 has '2020' on row 2 but '2021' here; one study has one value") in ps


def test_every_problem_is_reported_not_just_the_first():
    bad = dict(GOOD, n_ps="zero", sd_ctl="-2", comparator="usual", year="abc")
    ps = problems(sheet(bad, dict(GOOD2, events_ps="5", n_ps="3", mean_ps="", sd_ps="", mean_ctl="", sd_ctl="",
                                   events_ctl="1")))
    assert {(p.row, p.column) for p in ps} >= {(2, "n_ps"), (2, "sd_ctl"), (2, "comparator"), (2, "year"),
                                                (3, "events_ps")}


def test_formula_and_html_text_is_kept_inert_and_flagged(uploads):
    row = dict(GOOD, measure="=HYPERLINK(\"http://x\")", source_quote="<script>alert(1)</script>",
               country="@SUM(1)")
    rep = validate_sheet(sheet(row))
    assert rep.ok
    msgs = {(w.column, w.message) for w in rep.warnings}
    assert ("measure", "'=HYPERLINK(\"http://x\")' looks like a spreadsheet formula; it is kept as plain text and "
                       "never evaluated") in msgs
    assert ("source_quote", "'<script>alert(1)</script>' looks like HTML; it is kept as plain text and never "
                            "rendered") in msgs
    res = ingest.import_sheet(sheet(row), "mine.csv", "inert", uploads_dir=uploads)
    frames = ingest.load_dataset_frames("inert", uploads)
    assert frames["effects"]["measure"].iat[0] == "=HYPERLINK(\"http://x\")"
    assert frames["sources"]["source_quote"].iat[0] == "<script>alert(1)</script>"
    assert len(res.warnings) == 3


def test_non_utf8_bytes_are_reported_by_row_and_column():
    data = sheet(GOOD, GOOD2).replace(b",Jones,", b",J\xe9nes,", 1)
    ps = problems(data)
    assert ingest.Problem(3, "first_author", "not valid UTF-8 (bytes 0xE9); save the file as UTF-8") in ps


def test_empty_and_oversized_files():
    assert problems(b"") == (ingest.Problem(0, "", "the file is empty"),)
    assert problems(b"  \n\n") == (ingest.Problem(0, "", "the file is empty"),)
    ps = validate_sheet(b"x" * 2000, "big.csv", max_bytes=1000).problems
    assert ps == (ingest.Problem(0, "", "the file is 2,000 bytes; the limit is 1,000 bytes"),)


def test_semicolon_separated_csv_is_read():
    assert validate_sheet(sheet(GOOD, delimiter=";")).ok


def _xlsx(rows, formula_cell=None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(SHEET_COLUMNS))
    for r in rows:
        ws.append([r.get(c, None) for c in SHEET_COLUMNS])
    if formula_cell:
        ws[formula_cell[0]] = formula_cell[1]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_sheet_with_numbers_and_a_formula_cell():
    numeric = {k: (float(v) if k in ("mean_ps", "sd_ps", "mean_ctl", "sd_ctl") else int(v)
                   if k in ("n_ps", "n_ctl", "year", "timepoint_months") else v) for k, v in GOOD.items()}
    rep = validate_sheet(_xlsx([numeric]), "trials.xlsx")
    assert rep.ok and rep.records[0]["n_ps"] == 40 and rep.records[0]["sd_ps"] == 4.1
    # a formula in a number cell is read as its text, never computed
    col = openpyxl.utils.get_column_letter(SHEET_COLUMNS.index("n_ps") + 1)
    rep = validate_sheet(_xlsx([numeric], (f"{col}2", "=40+0")), "trials.xlsx")
    assert rep.problems[0].column == "n_ps" and "looks like a spreadsheet formula" in rep.problems[0].message


def test_corrupt_xlsx():
    assert problems(b"PK\x03\x04 not really a zip", "x.xlsx")[0].message.startswith("this is not a readable .xlsx workbook")


# -- storing ------------------------------------------------------------------------------------

def _hash(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_valid_import_is_a_separate_dataset(con, store_path, uploads):
    before = _hash(store_path)
    res = ingest.import_sheet(sheet(GOOD, GOOD2), "my trials.csv", "My Trials!", uploads_dir=uploads)
    assert res.name == "my-trials" and res.n_studies == 2 and res.n_effects == 2
    assert (uploads / "my-trials.duckdb").is_file()
    assert ingest.list_datasets(uploads) == ("my-trials",)
    assert ingest.dataset_info("my-trials", uploads)["source_file"] == "my trials.csv"
    alone = effects(FilterSpec(outcome="depression", dataset="my-trials"), con, uploads_dir=uploads)
    assert set(alone["study_id"]) == {"Smith2020", "Jones2018"} and (alone["dataset"] == "my-trials").all()
    merged = analyse(FilterSpec(outcome="depression", dataset="all"), con=con, uploads_dir=uploads)
    assert merged.k == 8 and set(merged.effects["dataset"]) == {"shipped", "my-trials"}
    assert any("imported data" in w for w in merged.warnings)
    assert "[my-trials]" in merged.effects.loc[merged.effects["study_id"] == "Smith2020", "label"].iat[0]
    assert _hash(store_path) == before  # the shipped store is never written to


def test_failed_import_changes_nothing(uploads):
    ingest.import_sheet(sheet(GOOD), "a.csv", "keep", uploads_dir=uploads)
    before = {p.name: _hash(p) for p in uploads.iterdir()}
    with pytest.raises(InvalidSheet) as info:
        ingest.import_sheet(sheet(dict(GOOD, sd_ps="0")), "a.csv", "keep", uploads_dir=uploads, replace=True)
    assert info.value.problems == [ingest.Problem(2, "sd_ps", "SD must be greater than 0, got 0")]
    with pytest.raises(InvalidSheet):
        ingest.import_sheet(sheet(dict(GOOD, sd_ps="0")), "a.csv", "other", uploads_dir=uploads)
    assert {p.name: _hash(p) for p in uploads.iterdir()} == before


def test_dataset_names(uploads):
    assert ingest.safe_dataset_name("My Trials!") == "my-trials"
    assert ingest.safe_dataset_name("../../etc/passwd") == "etc-passwd"
    assert ingest.safe_dataset_name("Ünïcode 2024") == "unicode-2024"
    for bad in ("shipped", "ALL", "!!!", ""):
        with pytest.raises(InvalidDatasetName):
            ingest.safe_dataset_name(bad)
    ingest.import_sheet(sheet(GOOD), "a.csv", "taken", uploads_dir=uploads)
    with pytest.raises(InvalidDatasetName, match="already exists; choose another name"):
        ingest.import_sheet(sheet(GOOD2), "a.csv", "taken", uploads_dir=uploads)
    res = ingest.import_sheet(sheet(GOOD2), "a.csv", "taken", uploads_dir=uploads, replace=True)
    assert res.n_studies == 1 and set(ingest.load_dataset_frames("taken", uploads)["studies"]["study_id"]) == {"Jones2018"}
    assert ingest.delete_dataset("taken", uploads) and ingest.list_datasets(uploads) == ()


def test_unknown_dataset_lists_valid_names(con, uploads):
    from evidence import UnknownDataset

    with pytest.raises(UnknownDataset, match=r"Unknown dataset 'nope'; must be one of \['shipped', 'all'\]"):
        effects(FilterSpec(outcome="depression", dataset="nope"), con, uploads_dir=uploads)


def test_choice_counts_across_datasets(con, uploads):
    ingest.import_sheet(sheet(GOOD, GOOD2), "a.csv", "extra", uploads_dir=uploads)
    counts = query.choice_counts(FilterSpec(outcome="depression", dataset="all"), "population", con, uploads_dir=uploads)
    got = dict(zip(counts["value"], counts["n_studies"]))
    assert got["depression"] == 4 and got["perinatal depression"] == 3
