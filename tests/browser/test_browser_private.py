"""Imported datasets are private to their browser session (issue 14), in a real browser: two browser
contexts (two sessions) on one server. Session A uploads a sheet; B's Dataset list does not show it, a
guessed ``?dataset=<name>`` link gives a neutral notice naming only B's choices, and only A's explicit
share link opens it for B (read-only). A downloads it as a sheet that validates again, then deletes it."""

from __future__ import annotations

import csv
import io
import re
import secrets

from pathlib import Path

from evidence.ingest.sheet import SHEET_COLUMNS, validate_sheet
from stbrowser import PROBE_JS, AppPage

ROW = dict(first_author="Private", country="UK", population="depression", setting="primary care",
           ps_format="group", comparator="usual care", outcome="depression", measure="PHQ-9",
           higher_is_better="no", timepoint_months="6", source_review="primary paper",
           source_url="https://example.org/private", source_location="Table 2", source_quote="invented test row")


def good_sheet() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHEET_COLUMNS)
    for sid, year, nums in (("Private2020", "2020", ("40", "8.5", "4.1", "42", "10.2", "4.4")),
                            ("Private2018", "2018", ("30", "9.0", "5.0", "29", "11.5", "5.2"))):
        r = dict(ROW, study_id=sid, year=year, **dict(zip(("n_ps", "mean_ps", "sd_ps", "n_ctl", "mean_ctl",
                                                             "sd_ctl"), nums)))
        w.writerow([r.get(c, "") for c in SHEET_COLUMNS])
    return buf.getvalue().encode("utf-8")


def dataset_box(app: AppPage):
    """The sidebar's Dataset combobox, once the sidebar has been painted (waits for it, up to 30 s)."""
    box = app.page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Dataset", exact=True)
    box.wait_for(state="visible", timeout=30_000)
    return box


def dataset_options(app: AppPage) -> list[str]:
    """The texts of the sidebar's Dataset choices, read from the open dropdown like a user would."""
    listbox = app.open_dropdown(dataset_box(app))
    options = app.page.locator(f'[id="{listbox}"] [role="option"]')
    options.first.wait_for()
    texts = [t.strip() for t in options.all_inner_texts()]
    app.page.keyboard.press("Escape")
    return texts


def dataset_value(app: AppPage) -> str:
    return dataset_box(app).input_value().strip()


def go(app: AppPage, title: str) -> None:
    """Navigate inside the app (same session; a page load would start a new session without the upload)."""
    link = app.page.locator('[data-testid="stTopNavLink"]').filter(has_text=title)
    app.after(link.first.click)


def second_session(browser, app: AppPage) -> AppPage:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(PROBE_JS)
    return AppPage(context.new_page(), app.base_url, app.log_path, app.screenshot_dir)


def test_an_upload_is_private_to_its_session_until_shared(app, browser):
    name = f"private-{secrets.token_hex(3)}"
    # -- session A imports a sheet
    app.open("data")
    app.page.get_by_role("tab", name="Add your own trials").click()
    app.page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "private.csv", "mimeType": "text/csv", "buffer": good_sheet()}])
    app.page.locator('[data-testid="stFileChipName"]').filter(has_text="private.csv").wait_for()
    app.page.get_by_role("textbox", name="Dataset name").fill(name)
    app.page.get_by_role("textbox", name="Dataset name").press("Tab")
    app.after(app.page.get_by_role("button", name="Check and import").click)
    app.assert_healthy()
    assert any(f"Imported '{name}': 2 studies" in a for a in app.alerts()), app.alerts()
    go(app, "Explore")
    assert f"Imported: {name}" in dataset_options(app)
    app.pick("Dataset", f"Imported: {name}")
    assert dataset_value(app) == f"Imported: {name}" and app.metric("Studies (k)") == "2"

    other = second_session(browser, app)
    try:
        # -- session B: not in the list, not by a guessed link
        other.open("explore", {"outcome": "depression"})
        assert dataset_options(other) == ["Shipped dataset", "Shipped + your imported datasets"]
        other.open("explore", {"outcome": "depression", "dataset": name})
        other.assert_healthy()
        notice = " ".join(other.alerts())
        assert "no such dataset" in notice and "Datasets you can open: shipped, all" in notice, notice
        assert dataset_value(other) == "Shipped dataset"
        assert other.metric("Studies (k)") != "2"
        other.open("data")
        other.page.get_by_role("tab", name="Add your own trials").click()
        assert name not in other.page.locator('[data-testid="stMain"]').inner_text()
        # -- A makes a share link; B opens it read-only
        go(app, "Data")
        app.page.get_by_role("tab", name="Add your own trials").click()
        app.after(app.page.get_by_role("button", name="Make a share link").click)
        app.page.get_by_text("Whoever opens this link").scroll_into_view_if_needed()
        app.screenshot("data-private-datasets")
        link = app.page.locator('[data-testid="stCode"]').filter(has_text="share=").inner_text().strip()
        token = re.search(r"share=([A-Za-z0-9_-]+)", link).group(1)
        assert len(token) >= 32 and link.startswith(app.base_url)
        other.page.goto(link, wait_until="domcontentloaded")
        other.settle(0)
        other.quiet()
        other.assert_healthy()
        assert dataset_value(other) == f"Imported: {name}"
        assert "share" not in other.query() and other.query()["dataset"] == name
        assert not [a for a in other.alerts() if "ignored" in a.lower()], other.alerts()
        other.page.get_by_role("tab", name="Add your own trials").click()
        assert "Delete it now" in other.page.locator('[data-testid="stMain"]').inner_text()
        assert "Make a share link" not in other.page.locator('[data-testid="stMain"]').inner_text()
        go(other, "Explore")
        assert other.metric("Studies (k)") == "2"
    finally:
        other.page.context.close()
    # -- A keeps a copy as a sheet that imports again, then deletes the dataset
    with app.page.expect_download() as download_info:
        app.page.get_by_role("button", name="Download the sheet (CSV)").click()
    kept = validate_sheet(Path(download_info.value.path()).read_bytes(), "kept.csv")
    assert kept.ok and sorted(r["study_id"] for r in kept.records) == ["Private2018", "Private2020"]
    app.after(app.page.get_by_role("button", name="Delete it now").click)
    go(app, "Explore")
    assert dataset_options(app) == ["Shipped dataset", "Shipped + your imported datasets"]
