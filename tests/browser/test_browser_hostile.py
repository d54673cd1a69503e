"""Hostile input in the browser: odd links and a bad sheet are refused visibly and change nothing.

* Link parameters with unknown values or injection strings are ignored with a visible notice; the
  page shows the default numbers, no exception box, and no script runs (a ``dialog`` listener
  catches ``alert``; the DOM is checked for injected elements and ``javascript:`` links).
* A sheet with wrong types and values, uploaded on the Data page, gets the row-by-row report
  (checked cell for cell against ``evidence.ingest.sheet.validate_sheet`` through the report's CSV
  download) and leaves the shipped data as they were (CSV hashes, the pooled effect, no dataset).
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from evidence import FilterSpec, ingest

EXPLORE = "explore"  # the landing page is the Overview; these tests read Explore

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "ignored"

#: (id, link parameters). Each must be ignored with a notice and leave the default view.
HOSTILE_LINKS = [
    ("unknown-value", {"outcome": "depression", "population": "not-a-population"}),
    ("sql-outcome", {"outcome": "'; DROP TABLE studies;--"}),
    ("script-tag", {"outcome": "depression", "population": "<script>alert(1)</script>"}),
    ("img-onerror", {"outcome": "depression", "setting": "<img src=x onerror=alert(document.domain)>"}),
    ("markdown-js-link", {"outcome": "depression", "ps_mode": "[click me](javascript:alert(1))"}),
    ("markdown-image", {"outcome": "depression", "comparator": "![x](http://127.0.0.1:9/pwned.png)"}),
    ("markdown-link", {"outcome": "depression", "ps_role": "[official update](https://example.org/pwned)"}),
    ("sql-exclude", {"outcome": "depression", "exclude_studies": "x'); DELETE FROM effects;--"}),
    ("bad-method-and-ranges", {"outcome": "depression", "method": "<svg onload=alert(1)>",
                               "year": "abc", "timepoint_months": "1,2,3", "hk": "maybe"}),
    ("path-dataset", {"outcome": "depression", "dataset": "../../etc/passwd"}),
]


def shipped_csv_hashes() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((ROOT / "data").glob("*.csv"))}


@pytest.fixture(scope="module")
def default_view(browser, app_server, screenshot_dir):
    """Metrics of the default Explore view in a fresh session (what an ignored link must fall back to)."""
    from stbrowser import AppPage, PROBE_JS

    url, log_path = app_server
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(PROBE_JS)
    try:
        ui = AppPage(context.new_page(), url, log_path, screenshot_dir)
        ui.open(EXPLORE)
        ui.assert_healthy()
        return ui.metrics()
    finally:
        context.close()


def assert_no_injected_markup(app) -> None:
    """Nothing from a link became live markup: no injected elements or links, no requests, no dialogs.

    The notice quotes what it ignored; it must quote it as text. Rendered as Markdown, a crafted
    link would make every visitor's browser fetch an address of the sender's choosing
    (``![x](http://...)``) or show a clickable link of their choosing inside the dashboard.
    """
    main = app.page.locator('[data-testid="stMain"]')
    assert main.locator('img[src="x"], img[src*="pwned"], svg[onload], [onerror]').count() == 0, \
        "link text was rendered as an image/markup"
    assert main.locator('a[href*="pwned"]').count() == 0, "link text was rendered as a clickable link"
    assert app.page.locator('a[href^="javascript:" i]').count() == 0
    fetched = [u for u in app.requests if "pwned" in urlsplit(u).path or urlsplit(u).netloc == "127.0.0.1:9"]
    assert not fetched, f"link text made the page fetch {fetched}"
    assert app.page.evaluate("() => window.__pwned === undefined")
    assert app.dialogs == [], app.dialogs


@pytest.mark.parametrize("params", [p for _, p in HOSTILE_LINKS], ids=[i for i, _ in HOSTILE_LINKS])
def test_hostile_link_is_ignored_with_a_notice(app, default_view, params):
    app.open(EXPLORE, params)
    app.assert_healthy()
    notices = [a for a in app.alerts() if NOTICE in a.lower()]
    assert notices, f"no visible notice for {params}; alerts: {app.alerts()}"
    assert_no_injected_markup(app)
    for label in ("Pooled effect", "95% CI", "Studies (k)"):
        assert app.metric(label) == default_view[label], (label, app.metrics(), default_view)
    # The page re-writes the link without the ignored parts, so a copied link is clean.
    spec, url_notices = FilterSpec.from_query_params(app.query())
    assert not url_notices, app.query()


def test_hostile_link_on_every_page_shows_the_notice_not_an_exception(app):
    """The same bad link opened on each analysis page: notice, no exception, no script."""
    params = {"outcome": "depression", "population": "<script>alert(1)</script>", "method": "nope"}
    app.open("")
    pages = app.nav_pages()
    assert len(pages) >= 5, pages
    for title, path in pages:
        if title == "About":
            continue  # the About page shows no analysis and need not repeat the notice
        app.open(path, params)
        app.assert_healthy()
        assert any(NOTICE in a.lower() for a in app.alerts()), (title, app.alerts())
        assert_no_injected_markup(app)


def bad_sheet() -> bytes:
    """A sheet in the template's columns whose rows break types, vocabularies and required cells."""
    header = ingest.blank_template_csv().decode("utf-8").strip().split(",")
    rows = [
        {"study_id": "bt-bad-1", "year": "nineteen", "outcome": "depression", "measure": "BDI",
         "higher_is_better": "no", "timepoint_months": "3", "n_ps": "abc", "mean_ps": "10", "sd_ps": "2",
         "n_ctl": "20", "mean_ctl": "12", "sd_ctl": "2"},
        {"study_id": "", "year": "2020", "outcome": "not-an-outcome", "measure": "PHQ-9",
         "higher_is_better": "no", "timepoint_months": "-1", "n_ps": "15", "mean_ps": "8", "sd_ps": "-3",
         "n_ctl": "15", "mean_ctl": "9", "sd_ctl": "3"},
        {"study_id": "bt-bad-3", "year": "2021", "outcome": "depression", "measure": "EPDS",
         "higher_is_better": "maybe", "timepoint_months": "6", "population": "martians",
         "n_ps": "12.5", "mean_ps": "x", "sd_ps": "2", "n_ctl": "10", "mean_ctl": "9", "sd_ctl": "2"},
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def test_bad_sheet_upload_shows_row_by_row_report_and_changes_nothing(app):
    data = bad_sheet()
    report = ingest.validate_sheet(data, "bad_sheet.csv")
    assert not report.ok and len({p.row for p in report.problems}) == 3, report.problems
    dataset = "browser-test-bad-sheet"
    hashes = shipped_csv_hashes()

    app.open(EXPLORE)
    pooled_before = app.metric("Pooled effect")

    app.open(app.path_of("Data"))
    app.assert_healthy()
    app.page.get_by_role("tab", name="Add your own trials").click()
    app.page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "bad_sheet.csv", "mimeType": "text/csv", "buffer": data}])
    app.page.locator('[data-testid="stFileChipName"]').filter(has_text="bad_sheet.csv").wait_for()
    app.page.get_by_role("textbox", name="Dataset name").fill(dataset)
    app.page.get_by_role("textbox", name="Dataset name").press("Tab")
    app.after(app.page.get_by_role("button", name="Check and import").click)
    app.assert_healthy()
    app.screenshot("data-bad-sheet-report")

    errors = [a for a in app.alerts() if "nothing was stored" in a]
    assert errors and f"{len(report.problems)} problem" in errors[0], app.alerts()
    assert app.page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').count() >= 1

    # The report a user can download lists each problem with its row and column.
    with app.page.expect_download() as download_info:
        app.page.get_by_role("button", name="Problem report (CSV)").click()
    shown = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    got = {(r["severity"], int(r["row"]), r["column"]) for r in shown}
    want = {("problem", p.row, p.column) for p in report.problems}
    assert want <= got, f"report misses {sorted(want - got)}"
    assert {2, 3, 4} <= {int(r["row"]) for r in shown if r["severity"] == "problem"}

    from evidence.store.connection import UPLOADS_DIR  # every session's folder lies below it
    assert not list(UPLOADS_DIR.rglob(f"{dataset}.*")), "a refused sheet was stored"
    assert shipped_csv_hashes() == hashes, "shipped data/*.csv changed"
    app.open(EXPLORE)
    assert app.metric("Pooled effect") == pooled_before
    app.assert_healthy()
