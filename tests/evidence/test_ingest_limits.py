"""Hostile and careless files (issue #14): a zip bomb, lying XLSX dimensions, broken workbooks, other separators,
and a sheet of 20,000 bad rows with its capped report. Times are measured in tests/benchmarks/bench_ingest.py."""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from evidence.ingest import read
from evidence.ingest.sheet import SHEET_COLUMNS, SHOWN_PROBLEMS, validate_sheet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_ingest import GOOD, bad_sheet, bomb_xlsx  # noqa: E402  (one generator for the test and the benchmark)

GOOD2 = dict(GOOD, study_id="Jones2018", first_author="Jones", year="2018")


def sheet(*rows: dict, delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(SHEET_COLUMNS)
    for r in rows:
        w.writerow([r.get(c, "") for c in SHEET_COLUMNS])
    return buf.getvalue().encode("utf-8")


def xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def only_problem(data: bytes, filename: str):
    rep = validate_sheet(data, filename)
    assert len(rep.problems) == 1, rep.problems
    return rep.problems[0]


def test_a_zip_bomb_is_refused_by_its_uncompressed_size_before_it_is_parsed():
    bomb = bomb_xlsx()
    expanded = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    assert len(bomb) < 5_000_000 and expanded > 900_000_000  # a few MB that would become about 1 GB
    p = only_problem(bomb, "bomb.xlsx")
    assert (p.row, p.column, p.kind) == (0, "", "limit")
    assert f"{expanded - 1000:,}"[:5] in p.message or "expands to" in p.message
    assert "xl/worksheets/sheet1.xml" in p.message and f"{read.MAX_XLSX_MEMBER_BYTES:,}" in p.message


def test_declared_dimensions_beyond_the_limits_are_refused():
    data = xlsx([list(SHEET_COLUMNS), [GOOD.get(c) for c in SHEET_COLUMNS]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<dimension ref="A1:AL2"/>', b'<dimension ref="A1:AL50000"/>')
                assert b"A1:AL50000" in body
            dst.writestr(info, body)
    p = only_problem(out.getvalue(), "tall.xlsx")
    assert p.message == f"the sheet declares 50,000 rows; the limit is {read.MAX_ROWS:,} data rows"
    wide = xlsx([[f"c{i}" for i in range(read.MAX_COLUMNS + 5)]])
    assert "columns; the limit is 200" in only_problem(wide, "wide.xlsx").message


@pytest.mark.parametrize("data, fragment", [
    (None, "not a readable .xlsx workbook"),  # truncated: filled in below
    ("no-workbook", "cannot be opened: parts of it are missing or damaged"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old Excel (.xls)"),
    (b"PK\x03\x04 not a zip at all", "not a readable .xlsx workbook"),
], ids=["truncated", "no-workbook-part", "old-xls", "not-a-zip"])
def test_a_broken_workbook_gets_a_message_a_person_understands(data, fragment):
    if data is None:
        full = xlsx([list(SHEET_COLUMNS)])
        data = full[: len(full) // 2]
    elif data == "no-workbook":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
        data = buf.getvalue()
    p = only_problem(data, "broken.xlsx")
    assert fragment in p.message, p.message
    assert "Error" not in p.message and "(" + "KeyError" not in p.message


def test_tab_and_semicolon_separated_sheets_are_read_as_such():
    for delimiter in ("\t", ";"):
        rep = validate_sheet(sheet(GOOD, GOOD2, delimiter=delimiter), "s.csv")
        assert rep.ok, rep.problems[:3]
        assert [r["study_id"] for r in rep.records] == ["Smith2020", "Jones2018"]
        assert rep.records[0]["mean_ps"] == 8.5
    assert read.sniff_delimiter("a,b;c") == "," and read.sniff_delimiter("a;b;c,d") == ";"
    assert read.sniff_delimiter("a\tb\tc") == "\t" and read.sniff_delimiter("abc") == ","


@pytest.mark.parametrize("data, fragment", [
    (b"study_id,year\x00\x01\x02", "not a text file"),
    (b'study_id,year\nA,"2001\n', "a quoted cell is never closed"),
    (b'study_id,year\nA,"' + b"x" * 200_000 + b"\n", "longer than 100,000 characters"),
], ids=["binary", "unclosed-quote", "huge-cell"])
def test_unreadable_text_files_get_a_human_message(data, fragment):
    p = only_problem(data, "s.csv")
    assert fragment in p.message, p.message


def test_twenty_thousand_bad_rows_each_named_by_row_and_column_with_counts_by_kind():
    rep = validate_sheet(bad_sheet(20_000), "bad.csv")
    assert len(rep.problems) == 80_000 and rep.records == ()
    where = {(p.row, p.column) for p in rep.problems}
    assert len(where) == 80_000
    assert {c for _, c in where} == {"n_ps", "sd_ctl", "comparator", "year"}
    assert {r for r, _ in where} == set(range(2, 20_002))
    counts = dict(zip(*rep.counts_by_kind().to_dict("list").values()))
    assert counts == {"not a number": 20_000, "sd_ctl > 0": 20_000, "not an allowed value": 20_000,
                      "year in range": 20_000}
    shown = rep.problems_frame(limit=SHOWN_PROBLEMS)
    assert len(shown) == SHOWN_PROBLEMS == 200 and shown["row"].is_monotonic_increasing
    assert len(rep.problems_frame()) == 80_000
    first = rep.problems[:4]
    assert [p.row for p in first] == [2, 2, 2, 2]
    assert {p.message for p in first} >= {"text where a number belongs: 'forty'", "SD must be greater than 0, got 0"}


def test_rows_beyond_the_limit_are_refused_with_the_limit_named():
    rep = validate_sheet(sheet(*[dict(GOOD, study_id=f"S{i}") for i in range(read.MAX_ROWS + 5)]), "big.csv")
    assert any(p.row == 0 and "the limit is 20,000" in p.message for p in rep.problems)
