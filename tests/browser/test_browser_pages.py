"""Every page of the dashboard loads in Debian chromium without a Streamlit exception box.

The pages are the ones the app's own navigation links to (so a new page is covered without
editing this file); the issue's pages must be among them. Each page is screenshotted into
``artifacts/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

EXPLORE = "explore"  # the landing page is the Overview; these tests read Explore

HEADLINE_METRICS = ("Pooled effect", "95% CI", "Prediction interval", "I²", "τ²", "Studies (k)", "Participants")
#: Pages issues 4 and 5 ask for, as words their navigation titles must contain.
REQUIRED_PAGES = ("Explore", "Sensitivity", "Subgroups", "Small-study", "Data")


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def test_navigation_offers_the_pages_the_issues_ask_for(app):
    app.open("")
    titles = [title for title, _ in app.nav_pages()]
    missing = [word for word in REQUIRED_PAGES if not any(word.lower() in t.lower() for t in titles)]
    assert not missing, f"navigation lacks {missing}; it offers {titles}"


def test_every_page_loads_without_exception(app):
    app.open("")
    pages = app.nav_pages()
    assert len(pages) >= len(REQUIRED_PAGES), pages
    problems = []
    for title, path in pages:
        app.open(path)
        app.screenshot(f"page-{slug(title)}")
        main = app.page.locator('[data-testid="stMain"]')
        found = [f"exception box: {e[:300]}" for e in app.exceptions()]
        found += [f"page error: {e}" for e in app.page_errors] + [f"dialog: {d}" for d in app.dialogs]
        if main.locator("h1").count() == 0:
            found.append("no page title (h1)")
        if "Page not found" in main.inner_text():
            found.append("'Page not found'")
        problems += [f"{title} (/{path}): {f}" for f in found]
        app.page_errors.clear()
    assert not problems, "\n".join(problems)


def test_explore_shows_every_headline_metric(app):
    app.open(EXPLORE)
    metrics = app.metrics()
    missing = [label for label in HEADLINE_METRICS if label not in metrics]
    assert not missing, f"missing headline metrics {missing}; page shows {list(metrics)}"
    assert all(metrics[label] for label in HEADLINE_METRICS), metrics


def test_clicking_a_navigation_link_opens_the_page_and_keeps_the_filters(app):
    app.open("", {"outcome": "depression", "method": "DL"})
    title, path = next((t, p) for t, p in app.nav_pages() if "sensitivity" in t.lower())
    link = app.page.locator('[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]').filter(has_text=title)
    app.after(link.first.click)
    app.page.wait_for_url(re.compile(rf"/{re.escape(path)}(\?|$)"))
    app.assert_healthy()
    assert app.query().get("method") == "DL", app.page.url
    assert app.page.locator('[data-testid="stMain"] h1').count() >= 1


def test_pages_fetch_nothing_from_other_sites(app):
    """Opening the dashboard contacts only its own server (offline installs, visitors' privacy)."""
    app.open("")
    app.open(app.path_of("Sensitivity"))
    own = urlsplit(app.base_url).netloc
    elsewhere = sorted({u for u in app.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                        and urlsplit(u).netloc != own})
    assert not elsewhere, f"the page fetched from other sites: {elsewhere}"
