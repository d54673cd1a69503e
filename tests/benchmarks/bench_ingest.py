"""Benchmark of a user's sheet check (issue #14): time to validate a sheet of 20,000 bad rows, and time to refuse
an XLSX whose sheet expands to about 1 GB. Figures are printed, never asserted. Not collected by pytest.

Run: ``.venv/bin/python tests/benchmarks/bench_ingest.py``
"""

from __future__ import annotations

import csv
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evidence.ingest.sheet import SHEET_COLUMNS, validate_sheet  # noqa: E402

GOOD = dict(study_id="Smith2020", first_author="Smith", year="2020", country="UK", population="depression",
            setting="primary care", ps_format="group", comparator="usual care", outcome="depression",
            measure="PHQ-9", higher_is_better="no", timepoint_months="6", n_ps="40", mean_ps="8.5", sd_ps="4.1",
            n_ctl="42", mean_ctl="10.2", sd_ctl="4.4", source_review="primary paper",
            source_url="https://example.org/smith", source_location="Table 2", source_quote="8.5 (4.1) vs 10.2 (4.4)")


def bad_sheet(n_rows: int = 20_000) -> bytes:
    """n rows, each with four bad cells (text for a number, SD 0, unknown comparator, year out of range)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHEET_COLUMNS)
    for i in range(n_rows):
        row = dict(GOOD, study_id=f"S{i}", n_ps="forty", sd_ctl="0", comparator="usual car", year="20019")
        w.writerow([row.get(c, "") for c in SHEET_COLUMNS])
    return buf.getvalue().encode("utf-8")


def bomb_xlsx(rows: int = 250_000, cols: int = 100) -> bytes:
    """A real workbook (made by openpyxl) whose one sheet XML is replaced by ``rows * cols`` repeated cells
    (about 1 GB uncompressed for the defaults, a few MB compressed)."""
    import openpyxl

    small = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active["A1"] = "study_id"
    wb.save(small)
    row_xml = "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * cols + "</row>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info.filename, src.read(info.filename))
        with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
                     b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            chunk = (row_xml * 1000).encode()
            for _ in range(rows // 1000):
                fh.write(chunk)
            fh.write(b"</sheetData></worksheet>")
    return out.getvalue()


def main() -> int:
    validate_sheet(bad_sheet(10), "warm-up.csv")  # imports and the controlled lists, as in a running server
    data = bad_sheet()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = validate_sheet(data, "bad.csv")
        times.append(time.perf_counter() - t0)
    print(f"validate_sheet, 20,000 bad rows ({len(data) / 1e6:.1f} MB): median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}), {len(report.problems):,} problems (goal < 2 s)")
    bomb = bomb_xlsx()
    size = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    t0 = time.perf_counter()
    report = validate_sheet(bomb, "bomb.xlsx")
    dt = time.perf_counter() - t0
    print(f"validate_sheet, XLSX of {len(bomb) / 1e6:.1f} MB expanding to {size / 1e9:.2f} GB: {dt:.2f} s, "
          f"first problem: {report.problems[0] if report.problems else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
