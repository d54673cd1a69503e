"""AppTest of the Present page: a link with ``page=present`` (or the page's own address) opens exactly the
screen it names, the buttons step through the screens, every screen carries the footer, and the finding
on screen has the pooled numbers stats.pool gives on the same trials."""

from __future__ import annotations

from evidence import query

import math

import pytest

import stats
from evidence import FilterSpec, effects
from evidence.present import contents as pc

from app_helpers import run_app

OUTCOME = "depression"


@pytest.fixture(scope="module")
def contents():
    return pc.gather(FilterSpec(outcome=OUTCOME))


@pytest.fixture(scope="module")
def screens(contents):
    return pc.screens(contents)


def _screen_of(screens, kind: str, outcome: str | None = None) -> int:
    return next(i for i, s in enumerate(screens) if s.kind == kind and (outcome is None or s.outcome == outcome))


def _footer(at) -> str:
    found = [m.value for m in at.markdown if m.value.startswith("Screen ")]
    assert len(found) == 1, [m.value[:80] for m in at.markdown]
    return found[0]


def _pooled_text(spec: FilterSpec) -> str:
    """The effect and CI as the finding shows them, computed independently: evidence.effects + stats.pool."""
    eff = effects(spec)
    p = stats.pool(eff["yi"].to_numpy(float), eff["vi"].to_numpy(float), method="REML")
    conv = math.exp if eff["effect_measure"].iat[0] in ("logRR", "logOR") else (lambda v: v)
    return f"{conv(p.estimate):.2f} ({conv(p.ci_low):.2f} to {conv(p.ci_high):.2f})"


def test_a_link_with_page_present_opens_the_named_screen(screens):
    at_screen = _screen_of(screens, "finding", OUTCOME)
    at = run_app({"outcome": OUTCOME, "page": "present", "screen": str(at_screen + 1)})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Depression"
    footer = _footer(at)
    assert footer.startswith(f"Screen {at_screen + 1} of {len(screens)}")
    assert f"Dataset version {query.metadata()['dataset_version']}" in footer and "REML" in footer and "All trials \\(no filters\\)" in footer
    assert f"screen={at_screen + 1}" in footer and "/present?" in footer
    assert at.query_params["screen"] == [str(at_screen + 1)] or at.query_params["screen"] == str(at_screen + 1)


def test_the_finding_shows_the_pooled_numbers_of_stats_pool(screens):
    at = run_app({"outcome": OUTCOME, "screen": str(_screen_of(screens, "finding", OUTCOME) + 1)},
                 page="pages/present.py")
    shown = " ".join(m.value for m in at.markdown)
    assert _pooled_text(FilterSpec(outcome=OUTCOME)).replace(".", "\\.").replace("(", "\\(").replace(
        ")", "\\)") in shown, shown[:600]
    assert "Certainty: " in shown


def test_next_and_previous_step_through_the_screens(screens):
    at = run_app({"outcome": OUTCOME}, page="pages/present.py")
    assert at.title[0].value.startswith("What do randomised trials show about peer support")
    assert at.button(key="present_prev").disabled
    at.button(key="present_next").click().run()
    assert at.title[0].value == screens[1].title
    assert _footer(at).startswith(f"Screen 2 of {len(screens)}")
    at.button(key="present_next").click().run()
    at.button(key="present_prev").click().run()
    assert at.title[0].value == screens[1].title


def test_every_screen_renders_with_its_footer(screens, contents):
    kinds = {}
    for i, s in enumerate(screens):
        kinds.setdefault(s.kind, i)
    for kind, i in kinds.items():
        at = run_app({"outcome": OUTCOME, "screen": str(i + 1)}, page="pages/present.py")
        assert not at.exception, (kind, [e.value for e in at.exception])
        assert at.title[0].value == (contents.question if kind == "question" else screens[i].title), kind
        assert "Dataset version" in _footer(at), kind
    summary = run_app({"outcome": OUTCOME, "screen": str(kinds["summary"] + 1)}, page="pages/present.py")
    table = summary.table[0].value
    assert "Depression" in table.index and table.loc["Depression", "Effect (95% CI)"] == "SMD " + _pooled_text(
        FilterSpec(outcome=OUTCOME))


def test_a_screen_beyond_the_end_shows_the_last_and_a_bad_one_is_named(screens):
    at = run_app({"outcome": OUTCOME, "screen": "999"}, page="pages/present.py")
    assert at.title[0].value == screens[-1].title
    assert at.button(key="present_next").disabled
    bad = run_app({"outcome": OUTCOME, "page": "present", "screen": "x"})
    assert any("Ignored screen" in i.value for i in bad.info), [i.value for i in bad.info]
    unknown = run_app({"outcome": OUTCOME, "page": "nowhere"})
    assert any("Ignored page" in i.value for i in unknown.info)


def test_filters_and_method_reach_the_question_and_the_footer():
    at = run_app({"outcome": OUTCOME, "ps_format": "group", "method": "DL", "hk": "1"}, page="pages/present.py")
    assert not at.exception
    footer = _footer(at).replace("\\", "")  # Markdown escapes
    assert "DL: random effects, τ² by DerSimonian-Laird; Hartung-Knapp adjusted" in footer, footer
    assert "format = group" in footer and "method=DL&hk=1" in footer, footer
    assert at.title[0].value == "What do randomised trials show about peer support (format: Group)?"


def test_no_trial_left_shows_a_plain_summary():
    at = run_app({"outcome": OUTCOME, "year": "1990,1991", "screen": "2"}, page="pages/present.py")
    assert not at.exception, [e.value for e in at.exception]
