"""A sheet of 20,000 bad rows and a tab-separated sheet, uploaded as a user would (issue #14)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from evidence import ingest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_ingest import GOOD, bad_sheet  # noqa: E402


def _upload(app, name: str, data: bytes, dataset: str) -> None:
    app.open("")
    app.open(app.path_of("Data"))
    app.assert_healthy()
    app.page.get_by_role("tab", name="Add your own trials").click()
    app.page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    app.page.locator('[data-testid="stFileChipName"]').filter(has_text=name).wait_for()
    app.page.get_by_role("textbox", name="Dataset name").fill(dataset)
    app.page.get_by_role("textbox", name="Dataset name").press("Tab")
    app.after(app.page.get_by_role("button", name="Check and import").click)
    app.assert_healthy()


def test_twenty_thousand_bad_rows_give_a_capped_report_and_the_full_list_as_a_download(app):
    _upload(app, "bad_20000.csv", bad_sheet(20_000), "browser-test-20000")
    app.screenshot("data-20000-bad-rows")
    errors = [a for a in app.alerts() if "nothing was stored" in a]
    assert errors and "80,000 problem(s) found" in errors[0], app.alerts()
    main = app.page.locator('[data-testid="stMain"]')
    assert "The first 200 of 80,000 are listed below" in main.inner_text()
    with app.page.expect_download() as download_info:
        app.page.get_by_role("button", name="Problem report (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == 80_000
    assert {r["column"] for r in rows} == {"n_ps", "sd_ctl", "comparator", "year"}
    assert rows[0]["row"] == "2" and rows[-1]["row"] == "20001"
    assert "browser-test-20000" not in ingest.list_datasets()


def test_a_tab_separated_sheet_is_read_by_its_columns(app):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(ingest.SHEET_COLUMNS)
    w.writerow([dict(GOOD, sd_ps="0").get(c, "") for c in ingest.SHEET_COLUMNS])
    _upload(app, "tabs.tsv.csv", buf.getvalue().encode("utf-8"), "browser-test-tabs")
    app.screenshot("data-tab-separated")
    errors = [a for a in app.alerts() if "nothing was stored" in a]
    assert errors and "1 problem(s) found" in errors[0], app.alerts()
    text = app.page.locator('[data-testid="stMain"]').inner_text()
    assert "missing required column" not in text
