"""Present mode in a real browser: a shared link with ``page=present`` opens exactly that screen, the arrow
keys step through the screens, the footer's link restores the screen shown, and the projector layout holds
(no sidebar, 28 px body type, a 16:9 frame). Screenshots go to ``artifacts/screenshots/present-*.png``."""

from __future__ import annotations

from evidence import query

from urllib.parse import parse_qsl, urlsplit

import pytest

#: A 16:9 projector.
PROJECTOR = {"width": 1600, "height": 900}

FRAME = ".st-key-present_frame"


@pytest.fixture
def present(app):
    app.page.set_viewport_size(PROJECTOR)
    return app


def _title(app) -> str:
    return app.page.locator(f"{FRAME} h1").first.inner_text().strip()


def _footer(app) -> str:
    return app.page.locator(".st-key-present_footer").inner_text()


def _press(app, key: str) -> None:
    app.page.locator(FRAME).click(position={"x": 5, "y": 5})  # focus the page, not a widget
    app.after(lambda: app.page.keyboard.press(key))


def test_a_shared_link_opens_the_screen_and_the_arrow_keys_step(present):
    app = present
    app.open("", {"outcome": "depression", "page": "present", "screen": "7"})
    app.assert_healthy()
    assert urlsplit(app.page.url).path.rstrip("/").endswith("/present"), app.page.url
    assert _title(app) == "Depression"
    footer = _footer(app)
    assert f"Dataset version {query.metadata()['dataset_version']}" in footer and "REML" in footer and "Restore this view" in footer, footer
    assert "All trials (no filters)" in footer, footer
    assert not app.page.locator('[data-testid="stSidebar"]').is_visible()
    sizes = app.page.eval_on_selector_all(f"{FRAME} [data-testid='stMarkdownContainer'] p",
                                          "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    body = [s for s in sizes if s < 40]
    assert body and min(body[:-1] or body) >= 28, sizes  # the last paragraph is the footer (18 px)
    box = app.page.locator(FRAME).bounding_box()
    assert abs(box["width"] / box["height"] - 16 / 9) < 0.02, box
    assert app.page.locator(f"{FRAME} [data-testid='stVegaLiteChart']").count() == 1  # the forest plot
    app.screenshot("present-07-depression")

    _press(app, "ArrowRight")
    assert _title(app) == "Quality of life"
    assert app.query().get("screen") == "8", app.page.url
    app.screenshot("present-08-next")

    _press(app, "ArrowLeft")
    _press(app, "ArrowLeft")
    assert app.query().get("screen") == "6", app.page.url
    assert _title(app).startswith("Summary of findings"), _title(app)
    app.screenshot("present-06-summary")
    app.assert_healthy()


def test_the_footer_link_restores_the_screen_in_a_fresh_session(present, browser):
    app = present
    app.open("present", {"outcome": "quality of life", "method": "DL", "screen": "1"})
    assert "What do randomised trials show about peer support" in _title(app)
    app.screenshot("present-01-question")
    _press(app, "ArrowRight")
    href = app.page.locator(".st-key-present_footer a").first.get_attribute("href")
    params = dict(parse_qsl(urlsplit(href).query))
    assert params.get("screen") == "2" and params.get("method") == "DL", href
    assert urlsplit(href).path.endswith("/present"), href
    other = browser.new_context(viewport=PROJECTOR)
    try:
        page = other.new_page()
        page.goto(href, wait_until="networkidle")
        page.locator(f"{FRAME} h1").first.wait_for(timeout=60_000)
        assert page.locator(f"{FRAME} h1").first.inner_text().strip() == _title(app)
        assert "DL" in page.locator(".st-key-present_footer").inner_text()
    finally:
        other.close()


def test_each_kind_of_screen_fits_the_frame(present):
    """Question, summary, finding, robustness, map and methods screens: nothing spills out of the 16:9 frame."""
    from evidence import FilterSpec
    from evidence.present import contents as pc

    app = present
    screens = pc.screens(pc.gather(FilterSpec(outcome="depression")))
    first = {}
    for i, s in enumerate(screens):
        first.setdefault(s.kind, i)
    for kind, i in first.items():
        app.open("present", {"outcome": "depression", "screen": str(i + 1)})
        app.assert_healthy()
        frame = app.page.locator(FRAME).bounding_box()
        body = app.page.eval_on_selector(
            ".st-key-present_frame", """f => Math.max(...[...f.querySelectorAll('h1, p, table, canvas, svg')]
                                          .filter(e => !e.closest('.st-key-present_footer'))
                                          .map(e => e.getBoundingClientRect().bottom))""")
        footer_top = app.page.locator(".st-key-present_footer").bounding_box()["y"]
        assert body <= footer_top + 1, f"{kind}: content ends at {body}, footer starts at {footer_top}"
        assert footer_top + 10 < frame["y"] + frame["height"], kind
        app.screenshot(f"present-kind-{kind}")


def test_the_downloads_are_the_deck_and_report_of_the_view_on_screen(present, tmp_path):
    import io

    from pptx import Presentation

    app = present
    app.open("", {"outcome": "depression", "method": "PM", "page": "present", "screen": "7"})
    shown = app.page.locator(f"{FRAME} [data-testid='stMarkdownContainer']").all_inner_texts()
    effect = next(t for t in shown if t.startswith("Effect (95% CI): "))[len("Effect (95% CI): "):].rstrip(".")
    with app.page.expect_download(timeout=120_000) as html_download:
        app.page.get_by_role("button", name="HTML report").click()
    html = (tmp_path / "r.html")
    html_download.value.save_as(html)
    text = html.read_text(encoding="utf-8")
    assert effect in text and "PM: random effects" in text and "<script" not in text
    with app.page.expect_download(timeout=180_000) as pptx_download:
        app.page.get_by_role("button", name="PowerPoint").click()
    deck = tmp_path / "d.pptx"
    pptx_download.value.save_as(deck)
    slides = list(Presentation(io.BytesIO(deck.read_bytes())).slides)
    depression = next(s for s in slides if s.shapes.title.text == "Depression")
    words = " ".join(sh.text_frame.text for sh in depression.shapes if sh.has_text_frame)
    assert effect in words and "method=PM" in words, words[:300]


def test_the_report_opens_offline_and_fetches_nothing(browser, tmp_path, screenshot_dir):
    """The HTML report in chromium with the network off: every chart drawn, no request beyond the file."""
    from evidence import FilterSpec
    from evidence.present import contents as pc
    from evidence.present import report

    view = pc.gather(FilterSpec(outcome="depression"))
    path = tmp_path / "report.html"
    path.write_bytes(report.build_report(view, "http://127.0.0.1/present?outcome=depression"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        assert [u for u in requests if u != path.as_uri()] == []
        assert page.locator("figure svg").count() == len(view.findings) + 2
        first = page.locator("figure svg").first.bounding_box()
        assert first["width"] > 300 and first["height"] > 200, first
        page.locator("#finding-depression").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "present-report-depression.png"))
    finally:
        context.close()
