"""The current view as a PowerPoint deck (python-pptx), from the same :class:`~.contents.Contents` the
Present page shows: a title slide with the question, the summary of findings as a native table, one
slide per outcome with its forest plot (PNG via vl-convert) and sentence, the robustness panel, a
methods slide and a sources slide citing every included trial. Every slide's footer names the dataset
version, the filters, the method and the link that restores the view."""

from __future__ import annotations

import io
import math

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from evidence.present import contents as pc
from evidence.present.export import chart_png

__all__ = ["build_deck", "SLIDE_WIDTH", "SLIDE_HEIGHT", "SOURCES_PER_SLIDE"]

#: 16:9 at PowerPoint's default widescreen size (13.333 × 7.5 inches).
SLIDE_WIDTH, SLIDE_HEIGHT = Inches(13.333), Inches(7.5)

#: Citations on one sources slide (12 pt, one or two lines each).
SOURCES_PER_SLIDE = 12

_GREY = RGBColor(0x44, 0x44, 0x44)
_MARGIN = Inches(0.5)
_BODY_TOP = Inches(1.3)
_FOOTER_TOP = Inches(6.85)


def _text(slide, left, top, width, height, paragraphs, *, size: int = 20, bold: bool = False,
          colour: RGBColor | None = None):
    """A text box with one paragraph per item (each item a string)."""
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(paragraphs):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = para.add_run()
        run.text = line
        run.font.size = Pt(size)
        run.font.bold = bold
        if colour is not None:
            run.font.color.rgb = colour
    return box


def _add_lines(box, lines, *, size: int, colour: RGBColor | None = None) -> None:
    """More paragraphs in an existing text box, at their own size."""
    for line in lines:
        run = box.text_frame.add_paragraph().add_run()
        run.text = line
        run.font.size = Pt(size)
        if colour is not None:
            run.font.color.rgb = colour


def _slide(prs, title: str, contents: pc.Contents, link: str):
    """A blank slide with its title and the footer every slide carries."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
    slide.shapes.title.text = title
    t = slide.shapes.title
    t.left, t.top, t.width, t.height = _MARGIN, Inches(0.3), SLIDE_WIDTH - 2 * _MARGIN, Inches(0.9)
    for para in t.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(32)
            run.font.bold = True
    _footer(slide, contents, link)
    return slide


def footer_text(contents: pc.Contents, link: str) -> str:
    """The footer of every slide: dataset version, filters, method, restoring link."""
    return (f"Dataset version {contents.dataset_version} · {contents.filters} · {contents.method_text} · "
            f"Restore this view: {link}")


def _footer(slide, contents: pc.Contents, link: str) -> None:
    box = _text(slide, _MARGIN, _FOOTER_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.55),
                [footer_text(contents, link)], size=10, colour=_GREY)
    run = box.text_frame.paragraphs[0].runs[0]
    if link.startswith(("http://", "https://")):
        run.hyperlink.address = link


def _picture(slide, png: bytes, left, top, max_width, max_height) -> None:
    """A PNG scaled to fit the box, keeping its aspect ratio, centred horizontally in it."""
    pic = slide.shapes.add_picture(io.BytesIO(png), left, top)
    scale = min(max_width / pic.width, max_height / pic.height)
    pic.width, pic.height = Emu(int(pic.width * scale)), Emu(int(pic.height * scale))
    pic.left = Emu(int(left + (max_width - pic.width) / 2))


def _title_slide(prs, contents: pc.Contents, link: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    # The default template's placeholders sit where a 4:3 slide has them: put them across the 16:9 one.
    title, subtitle = slide.shapes.title, slide.placeholders[1]
    title.left, title.top, title.width, title.height = _MARGIN, Inches(1.6), SLIDE_WIDTH - 2 * _MARGIN, Inches(2.2)
    subtitle.left, subtitle.top, subtitle.width, subtitle.height = (_MARGIN, Inches(4.0), SLIDE_WIDTH - 2 * _MARGIN,
                                                                    Inches(1.6))
    title.text = contents.question
    trials = len(contents.studies)
    subtitle.text = (f"{trials} trials, {len(contents.findings)} outcomes · {contents.filters}\n"
                                  f"Dataset version {contents.dataset_version} · {contents.made_on}")
    _footer(slide, contents, link)


def _summary_slides(prs, contents: pc.Contents, link: str) -> None:
    n_parts = pc.summary_parts(contents)
    for part in range(n_parts):
        slide = _slide(prs, "Summary of findings" + (f" ({part + 1} of {n_parts})" if n_parts > 1 else ""),
                       contents, link)
        table = pc.summary_table(contents, part, pc.SLIDE_COLUMNS)
        if table.empty:
            _text(slide, _MARGIN, _BODY_TOP, Inches(12), Inches(1), ["No outcome has trials under these filters."])
            continue
        rows, cols = len(table) + 1, len(table.columns)
        shape = slide.shapes.add_table(rows, cols, _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN,
                                       Inches(0.45) * rows)
        grid = shape.table
        widths = [2.2, 0.75, 1.25, 2.2, 1.45, 0.65, 1.5, 2.333]  # inches, 12.333 in all
        for j, w in enumerate(widths[:cols]):
            grid.columns[j].width = Inches(w)
        for j, name in enumerate(table.columns):
            grid.cell(0, j).text = str(name)
        for i, record in enumerate(table.itertuples(index=False), start=1):
            for j, value in enumerate(record):
                grid.cell(i, j).text = str(value)
        for i in range(rows):
            for j in range(cols):
                for para in grid.cell(i, j).text_frame.paragraphs:
                    for run in para.runs:
                        run.font.size = Pt(12)
                        run.font.bold = i == 0


def _finding_slides(prs, contents: pc.Contents, link: str) -> None:
    for row in contents.findings:
        slide = _slide(prs, row.outcome_label, contents, link)
        box = _text(slide, _MARGIN, _BODY_TOP, Inches(4.4), Inches(5.3),
                    [f"Certainty: {pc.certainty_text(row)}"], size=20, bold=True)
        effect = f"Effect (95% CI): {pc.effect_text(row)}; {pc.measure_name(row)}."
        _add_lines(box, [row.sentence, *pc.extra_sentences(row), effect], size=16)
        _add_lines(box, [f"{pc.certainty_reasons(row)} Certainty is an {pc.CERTAINTY_LABEL}."], size=11,
                   colour=_GREY)
        png = chart_png(pc.finding_chart(row))
        _picture(slide, png, Inches(5.1), _BODY_TOP, Inches(7.7), Inches(5.45))


def _robustness_slide(prs, contents: pc.Contents, link: str) -> None:
    if contents.focus is None:
        return
    slide = _slide(prs, f"Does it hold? {contents.focus.outcome_label}", contents, link)
    _text(slide, _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.8), [contents.robustness_text], size=20)
    if contents.robustness is not None:
        _picture(slide, chart_png(pc.robustness_chart(contents)), _MARGIN, Inches(2.1),
                 SLIDE_WIDTH - 2 * _MARGIN, Inches(4.6))


def _map_slide(prs, contents: pc.Contents, link: str) -> None:
    if contents.evidence_map is None:
        return
    slide = _slide(prs, f"Where the evidence is: {contents.focus.outcome_label}", contents, link)
    _text(slide, _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.8), [contents.map_text], size=16)
    _picture(slide, chart_png(pc.map_chart(contents)), _MARGIN, Inches(2.1), SLIDE_WIDTH - 2 * _MARGIN, Inches(4.6))


def _methods_slide(prs, contents: pc.Contents, link: str) -> None:
    slide = _slide(prs, "Methods", contents, link)
    _text(slide, _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(5.3), [
        f"Estimator: {contents.method_text}.",
        f"Hartung-Knapp adjustment: {'yes' if contents.hartung_knapp else 'no'}.",
        f"Filters: {contents.filters}.",
        f"Dataset version {contents.dataset_version}; made on {contents.made_on}.",
        "One result per trial and outcome, oriented so that the side favouring peer support is stated.",
        f"Certainty of the evidence: {pc.certainty_source(contents)}.",
        f"Restore this view: {link}",
        *contents.notes,
    ], size=20)


def _sources_slides(prs, contents: pc.Contents, link: str) -> None:
    studies = contents.studies
    n_parts = max(1, math.ceil(len(studies) / SOURCES_PER_SLIDE))
    for part in range(n_parts):
        block = studies.iloc[part * SOURCES_PER_SLIDE:(part + 1) * SOURCES_PER_SLIDE]
        slide = _slide(prs, "Sources" + (f" ({part + 1} of {n_parts})" if n_parts > 1 else ""), contents, link)
        lines = [pc.citation_line(rec) for rec in block.to_dict("records")] or ["No trials included."]
        _text(slide, _MARGIN, Inches(1.2), SLIDE_WIDTH - 2 * _MARGIN, Inches(5.5), lines, size=12)


def build_deck(contents: pc.Contents, link: str) -> bytes:
    """The deck as .pptx bytes (16:9)."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    prs.core_properties.title = contents.question
    prs.core_properties.subject = f"Dataset version {contents.dataset_version}; {contents.filters}"
    _title_slide(prs, contents, link)
    _summary_slides(prs, contents, link)
    _finding_slides(prs, contents, link)
    _robustness_slide(prs, contents, link)
    _map_slide(prs, contents, link)
    _methods_slide(prs, contents, link)
    _sources_slides(prs, contents, link)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
