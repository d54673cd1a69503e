"""The policymaker's pages in a real browser: the Overview is what a visitor lands on, and a click on an
evidence-map cell applies both of its values as filters (the trial count in the sidebar and the URL follow).

The cell is found as a user finds it: by pointing at the map until the tooltip names the wanted cell.
"""

from __future__ import annotations

import re

from evidence import FilterSpec, query
from evidence.store.connection import shared_connection
from stbrowser import parse_number

TOOLTIP = "#vg-tooltip-element"


def _outcome_count(app) -> int:
    return int(parse_number(app.metric("Trials of Depression (k)")))


def _point_at(app, box, x: float, y: float) -> str:
    app.page.mouse.move(box["x"] + x, box["y"] + y)
    app.page.wait_for_timeout(40)
    tip = app.page.locator(TOOLTIP)
    if tip.count() == 0 or "visible" not in (tip.get_attribute("class") or ""):
        return ""
    return tip.inner_text()


def _find_cell(app, row_label: str, col_label: str) -> tuple[float, float]:
    """Screen offsets inside the chart where the tooltip names both labels (rows first, then columns)."""
    chart = app.page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    step = 12
    for x in range(int(box["width"] * 0.2), int(box["width"]), step):  # a column of cells, top to bottom
        for y in range(0, int(box["height"]), step):
            text = _point_at(app, box, x, y)
            if row_label in text:
                for x2 in range(0, int(box["width"]), step):
                    text = _point_at(app, box, x2, y)
                    if row_label in text and re.search(rf"\b{re.escape(col_label)}\b", text):
                        return box["x"] + x2, box["y"] + y
                break
    raise AssertionError(f"no cell {row_label!r} × {col_label!r} found under the pointer")


def test_the_overview_is_the_landing_page(app):
    app.open("")
    app.assert_healthy()
    assert app.page.locator('[data-testid="stMain"] h1').first.inner_text().startswith("Overview")
    table = app.page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]')
    assert table.count() >= 1
    assert "automated draft, not a formal GRADE assessment" in app.page.locator('[data-testid="stMain"]').inner_text()
    app.screenshot("overview")


def test_clicking_an_evidence_map_cell_applies_both_filters(app):
    app.open("evidence_map", {"outcome": "depression"})
    app.assert_healthy()
    k_before = _outcome_count(app)
    con = shared_connection()
    assert k_before == query.count_studies(FilterSpec(outcome="depression"), con)
    app.screenshot("evidence-map-before")
    x, y = _find_cell(app, "Perinatal depression", "Group")
    app.after(lambda: app.page.mouse.click(x, y))
    app.assert_healthy()
    expected = query.count_studies(FilterSpec(outcome="depression", population=("perinatal depression",),
                                              ps_format=("group",)), con)
    k_after = _outcome_count(app)
    assert k_after == expected and k_after != k_before
    params = app.query()
    assert params.get("population") == "perinatal depression" and params.get("ps_format") == "group", params
    app.screenshot("evidence-map-after-click")


#: Geometry of the Overview table (Glide data grid on a canvas): a 35 px header, rows 70 px high
#: (row_height=70), the row-selection box drawn at the left edge.
HEADER_PX, ROW_PX, SELECT_X_PX = 35, 70, 16


def test_selecting_a_row_of_the_summary_opens_explore_for_it(app):
    app.open("", {"population": "perinatal depression"})
    app.assert_healthy()
    table = app.page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').first
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    app.after(lambda: app.page.mouse.click(box["x"] + SELECT_X_PX, box["y"] + HEADER_PX + ROW_PX / 2))
    app.page.wait_for_url(re.compile(r"/explore(\?|$)"))
    app.quiet()
    app.assert_healthy()
    params = app.query()
    assert params.get("outcome") == "depression" and params.get("population") == "perinatal depression", params
    expected = query.count_studies(FilterSpec(outcome="depression", population=("perinatal depression",)),
                                   shared_connection())
    assert int(parse_number(app.metric("Studies (k)"))) <= expected
    app.screenshot("explore-from-overview-row")
