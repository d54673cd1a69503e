"""The current view as one self-contained HTML file, from the same :class:`~.contents.Contents` the Present
page and the deck show, plus the included-studies table.

Charts are inline SVG rendered by vl-convert: the file opens without a network, prints, and runs no
script (vl-convert could embed its 0.9 MB Vega bundle for interactive charts, but a report is read, not
explored). Every text is HTML-escaped; study labels and citations may come from an imported sheet.
"""

from __future__ import annotations

import html
import re

import pandas as pd

from evidence.present import contents as pc
from evidence.present.export import chart_svg

__all__ = ["build_report"]

_STYLE = """
body {font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1a1a1a;
      max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45;}
h1 {font-size: 1.9rem;} h2 {font-size: 1.4rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc;}
table {border-collapse: collapse; width: 100%; font-size: 0.92rem; margin: 0.6rem 0;}
th, td {border: 1px solid #d0d0d0; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top;}
th {background: #f2f2f2;}
.meta {color: #444; font-size: 0.95rem;}
.certainty {font-weight: 600;}
figure {margin: 0.8rem 0; padding-left: 2.5rem; overflow-x: auto;}
figure svg {max-width: 100%; height: auto; overflow: visible;}
figure svg text {font-family: "Liberation Sans", Arial, Helvetica, sans-serif;}
footer {margin-top: 3rem; border-top: 1px solid #ccc; padding-top: 0.6rem; color: #444; font-size: 0.9rem;}
"""

# The charts' text was measured by vl-convert in Liberation Sans (metrics of Arial); a wider fallback font
# (e.g. DejaVu Sans) would push right-aligned labels past the left edge, hence the font rule above and,
# where no such font is installed, room to the left of each figure for the overflow.

# vl-convert's SVG starts with an XML declaration, which is not allowed inside an HTML document.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>\s*")


def _e(value: object) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))


def _svg(chart) -> str:
    return _XML_DECL.sub("", chart_svg(chart).decode("utf-8"))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _finding(row) -> str:
    return (f'<section class="finding" id="finding-{_e(row.outcome)}"><h2>{_e(row.outcome_label)}</h2>'
            f'<p class="certainty">Certainty: {_e(pc.certainty_text(row))}</p>'
            f"<p>{_e(row.sentence)}</p>"
            + "".join(f"<p>{_e(x)}</p>" for x in pc.extra_sentences(row))
            + f"<p>Effect (95% CI): {_e(pc.effect_text(row))}; {_e(pc.measure_name(row))}.</p>"
            f'<p class="meta">{_e(pc.certainty_reasons(row))} Certainty is an {_e(pc.CERTAINTY_LABEL)}.</p>'
            f"<figure>{_svg(pc.finding_chart(row))}</figure></section>")


def _robustness(contents: pc.Contents) -> str:
    if contents.focus is None:
        return ""
    out = f"<h2>Does it hold? {_e(contents.focus.outcome_label)}</h2><p>{_e(contents.robustness_text)}</p>"
    if contents.robustness is not None:
        out += f"<figure>{_svg(pc.robustness_chart(contents))}</figure>"
    return out


def _map(contents: pc.Contents) -> str:
    if contents.evidence_map is None:
        return ""
    return (f"<h2>Where the evidence is: {_e(contents.focus.outcome_label)}</h2><p>{_e(contents.map_text)}</p>"
            f"<figure>{_svg(pc.map_chart(contents))}</figure>")


def _methods(contents: pc.Contents, link: str) -> str:
    items = [f"Estimator: {contents.method_text}.",
             f"Hartung-Knapp adjustment: {'yes' if contents.hartung_knapp else 'no'}.",
             f"Filters: {contents.filters}.",
             f"Dataset version {contents.dataset_version}; made on {contents.made_on}.",
             "One result per trial and outcome, oriented so that the side favouring peer support is stated.",
             f"Certainty of the evidence: {pc.certainty_source(contents)}.", *contents.notes]
    lis = "".join(f"<li>{_e(i)}</li>" for i in items)
    return (f"<h2>Methods</h2><ul>{lis}<li>Restore this view: {_link(link)}</li></ul>")


def _link(link: str) -> str:
    # A link to the dashboard is navigation the reader chooses, not a resource the file loads.
    if link.startswith(("http://", "https://")):
        return f'<a href="{_e(link)}">{_e(link)}</a>'
    return _e(link)


def _studies(contents: pc.Contents) -> str:
    shown = contents.studies.drop(columns=["study_id", "Citation", "DOI or PMID"])
    sources = "".join(f"<li>{_e(pc.citation_line(rec))}</li>" for rec in contents.studies.to_dict("records"))
    return (f"<h2>Included studies ({len(shown)})</h2>{_table(shown)}"
            f"<h2>Sources</h2><ol>{sources}</ol>")


def build_report(contents: pc.Contents, link: str) -> bytes:
    """The report as UTF-8 HTML bytes: one file, no external resource, no script."""
    meta = (f"Dataset version {_e(contents.dataset_version)} · {_e(contents.filters)} · "
            f"{_e(contents.method_text)} · made on {_e(contents.made_on)}")
    summary = (_table(pc.summary_table(contents)) if contents.findings
               else "<p>No outcome has trials with usable numbers under these filters.</p>")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(contents.question)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{_e(contents.question)}</h1><p class=\"meta\">{meta}</p></header>",
        f"<h2>Summary of findings</h2>{summary}",
        *(_finding(row) for row in contents.findings),
        _robustness(contents),
        _map(contents),
        _methods(contents, link),
        _studies(contents),
        f"<footer>{meta} · Restore this view: {_link(link)}</footer>",
        "</body></html>",
    ]
    return "\n".join(parts).encode("utf-8")
