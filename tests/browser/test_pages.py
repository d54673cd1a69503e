"""Every page of the dashboard loads in Debian chromium without a Streamlit exception box.

The page list is read from ``app.py`` (the ``st.Page`` registrations), so a new page is covered
without editing this file. Each page is screenshotted into ``artifacts/screenshots/`` (git-ignored)
for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADLINE_METRICS = ("Pooled effect", "95% CI", "Prediction interval", "I²", "τ²", "Studies (k)", "Participants")


def registered_pages() -> list[tuple[str, str, str]]:
    """(script, title, url_path) of every ``st.Page`` in app.py."""
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    pages = []
    for call in re.findall(r"st\.Page\((.*?)\)\s*,?\s*$", source, re.M):
        script = re.match(r"\s*[\"']([^\"']+)[\"']", call)
        title = re.search(r"title\s*=\s*[\"']([^\"']+)[\"']", call)
        url_path = re.search(r"url_path\s*=\s*[\"']([^\"']*)[\"']", call)
        assert script and title and url_path, f"cannot read st.Page({call})"
        pages.append((script.group(1), title.group(1), url_path.group(1)))
    return pages


PAGES = registered_pages()


def test_app_registers_the_pages_the_issue_asks_for():
    scripts = {script for script, _, _ in PAGES}
    assert {"pages/explore.py", "pages/data.py"} <= scripts, scripts
    assert len(PAGES) >= 4, PAGES
    for script, _, _ in PAGES:
        assert (ROOT / script).is_file(), f"app.py registers {script}, which does not exist"


@pytest.mark.parametrize(("script", "title", "url_path"), PAGES, ids=[p[2] or "home" for p in PAGES])
def test_page_loads_without_exception(app, script, title, url_path):
    app.open(url_path)
    app.screenshot(f"page-{url_path or 'home'}")
    app.assert_healthy()
    assert app.page.locator('[data-testid="stMain"] h1').count() >= 1, f"{title}: no page title"
    main_text = app.page.locator('[data-testid="stMain"]').inner_text()
    assert "Page not found" not in main_text
    assert "Traceback" not in main_text


def test_explore_shows_every_headline_metric(app):
    app.open("explore")
    metrics = app.metrics()
    missing = [label for label in HEADLINE_METRICS if label not in metrics]
    assert not missing, f"missing headline metrics {missing}; page shows {list(metrics)}"
    assert all(metrics[label] for label in HEADLINE_METRICS), metrics


def test_navigation_reaches_every_page_by_clicking(app):
    """The visible navigation links every registered page, and clicking one loads it."""
    app.open("explore")
    for _, title, url_path in PAGES:
        link = app.page.locator(f'a[href$="/{url_path}"]').filter(has_text=title).first
        assert link.count() == 1, f"no navigation link to {title!r} (/{url_path})"
    sensitivity = [p for p in PAGES if p[2] != "explore"][0]
    link = app.page.locator(f'a[href$="/{sensitivity[2]}"]').filter(has_text=sensitivity[1]).first
    app.after(link.click)
    app.page.wait_for_url(re.compile(rf"/{re.escape(sensitivity[2])}(\?|$)"))
    app.assert_healthy()
