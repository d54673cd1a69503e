"""Hostile strings in every filter and every upload field: no crash, no extra rows, nothing executed."""

from __future__ import annotations

import csv
import io

import pytest

from evidence import FilterSpec, NoMatchingStudies, UnknownDataset, analyse, effects, ingest
from evidence import query
from evidence.core.filters import CATEGORICAL_FIELDS
from evidence.ingest.sheet import OPTIONAL_COLUMNS, SHEET_COLUMNS, validate_sheet

HOSTILE = [
    "'; DROP TABLE studies; --",
    "\" OR 1=1 --",
    "depression' OR '1'='1",
    "<script>alert(1)</script>",
    "=HYPERLINK(\"http://x\")",
    "@SUM(1+1)",
    "x" * 10_000,
    "é\udce9\x00nul",
    "../../etc/passwd",
    "%27%3B%20DROP",
    "depression,anxiety",
]
IDS = ["sql-drop", "sql-or", "sql-quote", "script", "formula", "at-formula", "10k", "bad-bytes", "path", "urlenc",
       "comma"]

BASE = FilterSpec(outcome="depression")


def _table_counts(con):
    return {t: len(query.table(t, con)) for t in ("studies", "effects", "sources")}


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
@pytest.mark.parametrize("field", CATEGORICAL_FIELDS)
def test_hostile_value_in_each_categorical_filter_matches_nothing(con, field, value):
    before = _table_counts(con)
    out = effects(FilterSpec(outcome="depression", **{field: (value,)}), con)
    assert len(out) == 0
    with pytest.raises(NoMatchingStudies) as info:
        analyse(FilterSpec(outcome="depression", **{field: (value,)}), con=con)
    assert info.value.culprit == field
    assert _table_counts(con) == before


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_outcome_and_exclusions(con, value):
    assert len(effects(FilterSpec(outcome=value), con)) == 0
    baseline = set(effects(BASE, con)["study_id"])
    # excluding a study id that does not exist removes nothing and adds nothing
    assert set(effects(FilterSpec(outcome="depression", exclude_studies=(value,)), con)["study_id"]) == baseline


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_dataset_is_a_domain_error(con, uploads, value):
    with pytest.raises(UnknownDataset):
        effects(FilterSpec(outcome="depression", dataset=value), con, uploads_dir=uploads)


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_url_values_are_dropped_with_notices(value):
    fields = ("outcome",) + CATEGORICAL_FIELDS + ("exclude_studies", "timepoint_months", "year", "dataset",
                                                  "include_flagged")
    spec, notices = FilterSpec.from_query_params({f: value for f in fields} | {"outcome": "depression"})
    # the comma case splits into two valid values for list fields; nothing else survives
    allowed = {"depression", "anxiety"}
    for f in CATEGORICAL_FIELDS:
        assert set(getattr(spec, f)) <= allowed
    assert spec.outcome == "depression" and spec.dataset == "shipped"
    assert all(len(n) < 2000 for n in notices)  # notices quote at most a short prefix


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_choice_counts(con, value):
    counts = query.choice_counts(FilterSpec(outcome="depression", population=(value,)), "setting", con)
    assert len(counts) == 0


GOOD = dict(study_id="Smith2020", first_author="Smith", year="2020", population="depression", comparator="usual care",
            outcome="depression", measure="PHQ-9", higher_is_better="no", timepoint_months="6", n_ps="40",
            mean_ps="8.5", sd_ps="4.1", n_ctl="42", mean_ctl="10.2", sd_ctl="4.4")
COLUMNS = SHEET_COLUMNS + OPTIONAL_COLUMNS


def _sheet(*rows: dict) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for row in rows:
        w.writerow([row.get(c, "") for c in COLUMNS])
    return buf.getvalue().encode("utf-8", errors="surrogateescape")


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_hostile_upload_fields_never_crash_or_add_rows(tmp_path, value):
    """The value in each column in turn: a clear problem, or an import that stores it verbatim."""
    accepted = []
    for k, column in enumerate(COLUMNS):
        row = dict(GOOD, study_id=f"Hostile{k}", **({column: value} if column != "study_id" else {}))
        if column == "study_id":
            row["study_id"] = value
        rep = validate_sheet(_sheet(row))
        if rep.ok:
            accepted.append((column, row))
        else:
            assert all(p.row in (0, 1, 2) and p.message for p in rep.problems)
    if not accepted:  # e.g. a 10,000-character value: too long for every column
        assert len(value) > ingest.MAX_CELL_CHARS or "\udce9" in value  # too long, or not UTF-8
        return
    res = ingest.import_sheet(_sheet(*(r for _, r in accepted)), "h.csv", "hostile", uploads_dir=tmp_path)
    assert res.n_effects == len(accepted) and res.n_studies == len(accepted)
    frames = ingest.load_dataset_frames("hostile", tmp_path)
    assert len(frames["effects"]) == len(accepted)
    merged = (frames["effects"].merge(frames["studies"], on="study_id", suffixes=("", "_study"))
              .merge(frames["sources"], on="source_id", suffixes=("", "_source")))
    for column, row in accepted:
        stored = merged[merged["study_id"] == row["study_id"]].iloc[0]
        if column in stored.index and column not in ("derived",):
            assert stored[column] == value.strip(), column  # kept verbatim as inert text


def test_non_utf8_bytes_in_every_field_are_reported(tmp_path):
    for column in COLUMNS:
        data = _sheet(dict(GOOD, **{column: "ab"})).replace(b"ab", b"a\xff", 1)
        ps = validate_sheet(data).problems
        assert any(p.column == column and "not valid UTF-8 (bytes 0xFF)" in p.message for p in ps), column
