"""Filters in the browser: a shared link restores the view, and clicking a filter updates the numbers.

Expected values are computed in the test from the same shipped store: ``evidence.analyse`` selects
the rows for a ``FilterSpec`` and ``stats.pool`` pools them; the page must show those numbers (to
the digits it prints). The filter values used are chosen from the data at run time, so the tests
follow the shipped dataset as it grows.
"""

from __future__ import annotations

import math
import re

import pytest

import stats
from evidence import FilterSpec, NoMatchingStudies, analyse
from evidence import query
from evidence.store import connection
from stbrowser import parse_interval, parse_number

EXPLORE = "explore"  # the landing page is the Overview; these tests read Explore

#: Sidebar labels of the widgets these tests click (what a user reads on screen).
POPULATION = "Population"
ESTIMATOR = "Estimator of τ²"
#: Half a unit in the last printed digit (estimate and CI: 2 decimals; τ²: 3; I²: 0), plus float slack.
TOL_EFFECT = 0.005 + 1e-9
TOL_TAU2 = 0.0005 + 1e-9
TOL_I2 = 0.5 + 1e-9


def expected_numbers(spec: FilterSpec, method: str = "REML", hartung_knapp: bool = False) -> dict:
    """Headline numbers for ``spec``: evidence picks the rows, stats.pool pools them."""
    analysis = analyse(spec, method=method, hartung_knapp=hartung_knapp)
    yi = analysis.effects["yi"].to_numpy(dtype=float)
    vi = analysis.effects["vi"].to_numpy(dtype=float)
    pooled = stats.pool(yi, vi, method=method, hartung_knapp=hartung_knapp)
    back = math.exp if analysis.is_ratio else (lambda v: v)
    return {"estimate": back(pooled.estimate), "ci": (back(pooled.ci_low), back(pooled.ci_high)),
            "k": pooled.k, "i2": pooled.i2, "tau2": pooled.tau2}


def assert_page_shows(app, expected: dict) -> None:
    """The Explore metrics equal ``expected`` to the printed precision."""
    shown = app.metrics()
    assert parse_number(shown["Pooled effect"]) == pytest.approx(expected["estimate"], abs=TOL_EFFECT), shown
    low, high = parse_interval(shown["95% CI"])
    assert (low, high) == pytest.approx(expected["ci"], abs=TOL_EFFECT), shown
    assert int(parse_number(shown["Studies (k)"])) == expected["k"], shown
    assert parse_number(shown["I²"]) == pytest.approx(expected["i2"], abs=TOL_I2), shown
    assert parse_number(shown["τ²"]) == pytest.approx(expected["tau2"], abs=TOL_TAU2), shown


def spec_from_url(app) -> tuple[FilterSpec, str]:
    """The FilterSpec and estimator the page's own URL encodes (what a copied link would restore)."""
    params = app.query()
    spec, notices = FilterSpec.from_query_params(params)
    assert not notices, f"the app wrote a URL its own parser rejects: {params} -> {notices}"
    return spec, params.get("method", "REML")


@pytest.fixture(scope="module")
def population_choice():
    """A population (value, label) that leaves >= 2 trials on the default outcome and moves the estimate."""
    base_spec = FilterSpec(outcome="depression")
    base = analyse(base_spec).pooled.estimate
    vocab = query.vocab_frame(connection.shared_connection())
    rows = vocab[vocab["field"] == "population"].sort_values("sort_order")
    for value, label in zip(rows["value"], rows["label"]):
        try:
            analysis = analyse(FilterSpec(outcome="depression", population=(value,)))
        except NoMatchingStudies:
            continue
        if analysis.k >= 2 and abs(analysis.pooled.estimate - base) > 0.02:
            return str(value), str(label) if isinstance(label, str) and label.strip() else str(value)
    pytest.fail("no population in the shipped data leaves >= 2 depression trials with a different estimate")


def test_clicking_filters_updates_the_metrics(app, population_choice):
    value, label = population_choice
    app.open(EXPLORE)
    app.assert_healthy()
    spec, method = spec_from_url(app)
    assert_page_shows(app, expected_numbers(spec, method))
    before = app.metric("Pooled effect")

    app.pick(POPULATION, label)
    app.assert_healthy()
    assert app.page.locator('[data-testid="stMain"] [data-stale="true"]').count() == 0, "stale elements left"
    assert any(tag.startswith(label) for tag in app.selected(POPULATION)), app.selected(POPULATION)
    spec, method = spec_from_url(app)
    assert spec.population == (value,), app.query()
    assert_page_shows(app, expected_numbers(spec, method))
    assert app.metric("Pooled effect") != before

    app.pick(ESTIMATOR, "DL")
    app.assert_healthy()
    spec, method = spec_from_url(app)
    assert method == "DL" and spec.population == (value,), app.query()
    assert_page_shows(app, expected_numbers(spec, "DL"))
    app.screenshot("explore-after-clicks")


def test_shared_link_restores_the_view(app, population_choice):
    value, label = population_choice
    spec = FilterSpec(outcome="depression", population=(value,))
    link = {**spec.to_query_params(), "method": "DL", "hk": "1"}
    app.open(EXPLORE, link)
    app.assert_healthy()
    assert not [a for a in app.alerts() if "ignored" in a.lower()], app.alerts()
    assert_page_shows(app, expected_numbers(spec, "DL", hartung_knapp=True))
    assert any(tag.startswith(label) for tag in app.selected(POPULATION)), app.selected(POPULATION)
    estimator = app.sidebar_widget(ESTIMATOR).get_by_role("combobox").input_value()
    assert re.match(r"^DL\b", estimator), estimator
    # The link survives the app re-writing the URL: same filter, estimator and adjustment.
    restored, method = spec_from_url(app)
    assert (restored.outcome, restored.population, method, app.query().get("hk")) == \
        ("depression", (value,), "DL", "1"), app.query()
    app.screenshot("explore-shared-link")


PAID = "Paid or volunteer peers"


@pytest.fixture(scope="module")
def long_pick_above_a_chip():
    """(spec with a peer_paid chip, population label to pick): the longest population label that still
    leaves trials, so its chip fills the box (the case where a focused box used to grow a line)."""
    vocab = query.vocab_frame(connection.shared_connection())
    names = {f: dict(zip(vocab.loc[vocab["field"] == f, "value"], vocab.loc[vocab["field"] == f, "label"]))
             for f in ("population", "peer_paid")}
    best = None
    for outcome in query.choice_counts(FilterSpec(), "outcome")["value"]:
        paid = query.choice_counts(FilterSpec(outcome=outcome), "peer_paid")
        for paid_value in paid.loc[paid["n_studies"] > 0, "value"]:
            spec = FilterSpec(outcome=outcome, peer_paid=(paid_value,))
            pops = query.choice_counts(spec, "population")
            for value in pops.loc[pops["n_studies"] > 0, "value"]:
                label = str(names["population"].get(value) or value)
                if best is None or len(label) > len(best[1]):
                    best = (spec, label, str(names["peer_paid"].get(paid_value) or paid_value))
    assert best is not None, "no outcome with a peer_paid value and a population that leave trials"
    return best


def test_a_chip_below_the_box_just_used_can_be_removed_at_once(app, long_pick_above_a_chip):
    """Regression: after a pick the population box kept focus and grew a line, so the mousedown on a
    chip's × further down first shrank it (blur), the chip moved up, and the click landed beside it."""
    spec, population_label, paid_label = long_pick_above_a_chip
    app.open(EXPLORE, spec.to_query_params())
    app.assert_healthy()
    assert any(tag.startswith(paid_label) for tag in app.selected(PAID)), app.selected(PAID)
    app.pick(POPULATION, population_label)  # leaves the population box focused, as a user's pick does
    remove = app.sidebar_widget(PAID).locator('button[aria-label^="Remove "]')
    before = app.runs()
    remove.first.click()
    try:
        app.settle(before, timeout_s=10)
    except Exception:
        pytest.fail(f"clicking × on the '{paid_label}' chip started no run (chips now {app.selected(PAID)})")
    app.quiet()
    app.assert_healthy()
    assert app.selected(PAID) == [], app.selected(PAID)
    restored, _ = spec_from_url(app)
    assert restored.peer_paid == () and len(restored.population) == 1, app.query()


#: Geometry of Streamlit's data editor (Glide data grid, drawn on a canvas): header and rows 35 px high,
#: the "Exclude" checkbox column set to width "small" (75 px), its checkbox drawn in the cell's centre.
GRID_ROW_PX = 35
CHECKBOX_X_PX = 37


def test_ticking_a_study_in_the_table_excludes_it_and_everything_recomputes(app):
    app.open(EXPLORE, {"outcome": "depression"})
    app.assert_healthy()
    spec, method = spec_from_url(app)
    first_row = str(analyse(spec, method=method).effects["study_id"].iloc[0])  # the table lists studies in this order
    k_before = int(parse_number(app.metric("Studies (k)")))
    editor = app.page.locator('[data-testid="stColumn"]').filter(has_text="Include / exclude").locator(
        '[data-testid="stDataFrame"]')
    assert editor.count() == 1, "no single include/exclude table beside the forest plot"
    editor.scroll_into_view_if_needed()
    box = editor.bounding_box()
    app.after(lambda: app.page.mouse.click(box["x"] + CHECKBOX_X_PX, box["y"] + GRID_ROW_PX * 1.5))
    app.assert_healthy()
    excluded, method = spec_from_url(app)
    assert excluded.exclude_studies == (first_row,), app.query()
    assert int(parse_number(app.metric("Studies (k)"))) == k_before - 1
    assert_page_shows(app, expected_numbers(excluded, method))
    assert first_row in " ".join(app.page.locator('[data-testid="stSidebar"]').all_inner_texts())  # "excluded by hand"
    app.screenshot("explore-after-excluding-a-study")
