"""The deck and the report of a view: the slides and sections they must have, the pooled numbers the
screen shows (recomputed here with stats.pool on the same trials), every included trial cited, the
filters, method and dataset version named, and a report that loads nothing from anywhere."""

from __future__ import annotations

import io
import math
import re
from html.parser import HTMLParser

import pytest
from pptx import Presentation

import stats
from evidence import FilterSpec, effects
from evidence.present import contents as pc
from evidence.present import deck, report

LINK = "http://dashboard.example/present?outcome=depression&version=1.2.0&screen=1"


def _pooled_text(spec: FilterSpec, method: str = "REML", hk: bool = False) -> str:
    eff = effects(spec)
    p = stats.pool(eff["yi"].to_numpy(float), eff["vi"].to_numpy(float), method=method, hartung_knapp=hk)
    conv = math.exp if eff["effect_measure"].iat[0] in ("logRR", "logOR") else (lambda v: v)
    return f"{conv(p.estimate):.2f} ({conv(p.ci_low):.2f} to {conv(p.ci_high):.2f})"


@pytest.fixture(scope="module")
def view():
    return pc.gather(FilterSpec(outcome="depression"))


@pytest.fixture(scope="module")
def slides(view):
    return list(Presentation(io.BytesIO(deck.build_deck(view, LINK))).slides)


@pytest.fixture(scope="module")
def html(view):
    return report.build_report(view, LINK).decode("utf-8")


def _texts(slide) -> list[str]:
    out = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            out.append(shape.text_frame.text)
        if shape.has_table:
            out += [c.text for row in shape.table.rows for c in row.cells]
    return out


def _title(slide) -> str:
    return slide.shapes.title.text


def test_the_deck_has_its_slides_in_order(view, slides):
    titles = [_title(s) for s in slides]
    n_summary = pc.summary_parts(view)
    assert titles[0] == view.question
    assert titles[1:1 + n_summary] == [f"Summary of findings ({i} of {n_summary})" for i in range(1, n_summary + 1)]
    findings = titles[1 + n_summary:1 + n_summary + len(view.findings)]
    assert findings == [r.outcome_label for r in view.findings]
    rest = titles[1 + n_summary + len(view.findings):]
    assert rest[:3] == ["Does it hold? Depression", "Where the evidence is: Depression", "Methods"]
    assert all(t.startswith("Sources") for t in rest[3:]) and rest[3:]


def test_every_slide_has_the_footer(view, slides):
    for slide in slides:
        footer = [t for t in _texts(slide) if t.startswith("Dataset version")]
        assert footer, _title(slide)
        assert f"Dataset version {view.dataset_version}" in footer[0] and view.filters in footer[0]
        assert view.method_text in footer[0] and LINK in footer[0]


def test_the_summary_is_a_native_table_with_the_pooled_numbers(view, slides):
    tables = [sh.table for s in slides if _title(s).startswith("Summary of findings") for sh in s.shapes
              if sh.has_table]
    assert len(tables) == pc.summary_parts(view)
    rows = [[c.text for c in row.cells] for t in tables for row in list(t.rows)[1:]]
    assert [r[0] for r in rows] == [f.outcome_label for f in view.findings]
    by_outcome = {r[0]: r for r in rows}
    for outcome, label in (("depression", "Depression"), ("quality of life", "Quality of life")):
        assert by_outcome[label][3] == "SMD " + _pooled_text(FilterSpec(outcome=outcome))


def test_each_outcome_slide_has_its_forest_plot_and_sentence(view, slides):
    by_title = {_title(s): s for s in slides}
    for row in view.findings:
        slide = by_title[row.outcome_label]
        assert sum(sh.shape_type == 13 for sh in slide.shapes) == 1, row.outcome  # one picture
        text = " ".join(_texts(slide))
        assert row.sentence in text and pc.effect_text(row) in text
    assert _pooled_text(FilterSpec(outcome="depression")) in " ".join(_texts(by_title["Depression"]))
    robust = by_title["Does it hold? Depression"]
    assert view.robustness_text in " ".join(_texts(robust))
    assert sum(sh.shape_type == 13 for sh in robust.shapes) == 1
    emap = by_title["Where the evidence is: Depression"]
    assert view.map_text in " ".join(_texts(emap)) and sum(sh.shape_type == 13 for sh in emap.shapes) == 1


def test_methods_and_sources_name_everything(view, slides):
    methods = " ".join(_texts(next(s for s in slides if _title(s) == "Methods")))
    for part in (view.method_text, view.filters, view.dataset_version, view.made_on, LINK, "Hartung-Knapp"):
        assert part in methods, part
    sources = " ".join(t for s in slides if _title(s).startswith("Sources") for t in _texts(s))
    included = {lab for row in view.findings for lab in effects(FilterSpec(outcome=row.outcome))["label"]}
    missing = [lab for lab in included if f"{lab}:" not in sources]
    assert not missing and len(included) == len(view.studies)


class _Resources(HTMLParser):
    """Every src/href of the document and whether any element is a script or an external style."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value:
                self.refs.append((tag, value))
        if tag in ("script", "link", "iframe", "img", "object", "embed"):
            self.refs.append((tag, dict(attrs).get("src") or dict(attrs).get("href") or ""))


def test_the_report_loads_nothing_and_runs_nothing(view, html):
    parser = _Resources()
    parser.feed(html)
    loaded = [(t, v) for t, v in parser.refs if t != "a"]
    assert loaded == [], loaded
    links = [v for t, v in parser.refs if t == "a"]
    assert set(links) == {LINK}  # the one link is to the dashboard, for the reader to follow
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html)
    assert html.count("<svg") == 2 + len(view.findings)  # each forest plot, the robustness panel, the map


def test_the_report_has_the_numbers_the_studies_and_the_method(view, html):
    assert _pooled_text(FilterSpec(outcome="depression")) in html
    for row in view.findings:
        assert f"<h2>{row.outcome_label}</h2>" in html.replace("&amp;", "&") or row.outcome_label in html
        assert pc.effect_text(row) in html
    assert f"Included studies ({len(view.studies)})" in html
    for study in view.studies["Study"]:
        assert study in html
    for part in (view.method_text, view.filters, f"Dataset version {view.dataset_version}"):
        assert part in html


def test_method_and_filters_change_what_the_exports_say():
    view = pc.gather(FilterSpec(outcome="depression", ps_format=("group",)), method="DL", hartung_knapp=True)
    assert "DL" in view.method_text and "Hartung-Knapp" in view.method_text
    assert view.question == "What do randomised trials show about peer support (format: Group)?"
    row = next(r for r in view.findings if r.outcome == "depression")
    expected = _pooled_text(FilterSpec(outcome="depression", ps_format=("group",)), method="DL", hk=True)
    assert pc.effect_text(row) == "SMD " + expected
    text = report.build_report(view, LINK).decode("utf-8")
    assert expected in text and "format = group" in text


def test_the_report_escapes_every_text():
    view = pc.gather(FilterSpec(outcome="depression"))
    hostile = view.studies.assign(Study='<script>alert(1)</script>', Citation='<img src=x onerror=alert(1)>')
    from dataclasses import replace
    text = report.build_report(replace(view, studies=hostile), LINK).decode("utf-8")
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
