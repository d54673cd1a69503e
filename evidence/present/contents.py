"""What a presentation of the current view contains, gathered once from the same results the pages show.

:func:`gather` collects the summary of findings (one row per outcome under the view's filters), the
robustness grid of the view's outcome, the included trials with their citations, the question, the
filters and the method in words, and the dataset version; :func:`screens` orders them into the
screens the Present page steps through. The deck (:mod:`.deck`) and the report (:mod:`.report`)
read the same :class:`Contents`, so a number cannot differ between the projector, the slides and the
report. Nothing here renders or touches Streamlit.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from evidence.analysis import provenance, robustness_grid
from evidence.analysis.certainty import CERTAINTY_LABEL
from evidence.analysis.evidence_map import evidence_map as evidence_map_of
from evidence.analysis.summary import summary_of_findings
from evidence.core.errors import EvidenceError
from evidence.core.filters import FilterSpec
from evidence.core.measures import measure
from evidence.present import charts
from evidence.present.charts.evidence_map import evidence_map_chart
from evidence.present import summary_table as sot
from evidence.present import wording as words

__all__ = ["Contents", "Screen", "gather", "screens", "question_words", "method_words", "filters_words",
           "finding_row", "finding_chart", "robustness_chart", "map_chart", "effect_text", "certainty_text",
           "certainty_reasons", "certainty_source", "extra_sentences", "measure_name", "citation_line",
           "summary_table", "summary_parts", "SUMMARY_ROWS_PER_SCREEN", "SCREEN_COLUMNS", "SLIDE_COLUMNS",
           "REPORT_COLUMNS", "MAP_AXES", "CERTAINTY_LABEL"]

#: Rows of the summary-of-findings table on one screen or slide (28 px type on a 16:9 screen).
SUMMARY_ROWS_PER_SCREEN = 8


@dataclass(frozen=True, eq=False)
class Contents:
    """Everything a presentation of one view shows (see :func:`gather`)."""

    spec: FilterSpec
    method: str
    hartung_knapp: bool
    level: float
    question: str
    filters: str
    method_text: str
    dataset_version: str
    made_on: str
    summary: Any  # evidence.analysis.summary.SummaryOfFindings: the Overview's object
    findings: tuple  # its rows (FindingRow), in its order
    focus: Any  # the FindingRow of the view's outcome, or None when it has no finding
    robustness: pd.DataFrame | None
    robustness_text: str
    evidence_map: Any  # evidence.analysis.evidence_map.EvidenceMap of the view's outcome, or None
    map_text: str
    studies: pd.DataFrame  # one row per included trial, with its citation
    notes: tuple[str, ...]  # what could not be shown, in words
    labels: dict  # field -> value -> label of the controlled lists


@dataclass(frozen=True)
class Screen:
    """One screen of the Present page (and one slide of the deck): its kind, title and what it shows."""

    kind: str  # question | summary | finding | robustness | map | methods
    title: str
    outcome: str | None = None
    part: int = 0  # which block of summary rows


def _join(values) -> str:
    values = list(values)
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


#: How the question names each restriction it mentions.
_QUESTION_PARTS = (("population", "population"), ("setting", "setting"), ("ps_format", "format"),
                   ("ps_mode", "delivery"))


def question_words(spec: FilterSpec, labels: dict[str, dict[str, str]]) -> str:
    """The question the view asks, in words: who, where, delivered how, compared with what."""
    def named(field: str) -> str:
        return _join([labels.get(field, {}).get(v, v) for v in getattr(spec, field)])
    parts = [f"{word}: {named(field)}" for field, word in _QUESTION_PARTS if getattr(spec, field)]
    if spec.comparator:
        parts.append(f"compared with {named('comparator')}")
    return "What do randomised trials show about peer support" + (f" ({'; '.join(parts)})" if parts else "") + "?"


def filters_words(spec: FilterSpec) -> str:
    """The filters in words, across outcomes (the outcome is what the screens step through)."""
    text = replace(spec, outcome=None).describe()
    return "All trials (no filters)" if text == "Trials (no filters)" else text


def method_words(method: str, hartung_knapp: bool, level: float) -> str:
    """The estimator, the CI adjustment and the level in words."""
    name = words.METHOD_NAMES.get(method, method)
    model = "fixed (common) effect" if method == "FE" else f"random effects, τ² by {name}"
    ci = "Hartung-Knapp adjusted" if hartung_knapp else "standard (Wald)"
    return f"{method}: {model}; {ci} {level:.0%} confidence intervals"


def effect_text(row) -> str:
    """The effect as the Overview's table shows it, e.g. ``"SMD 0.37 (0.24 to 0.51)"``."""
    return sot.effect_text(row)


def certainty_text(row) -> str:
    """The Overview's certainty cell and the domains downgraded, e.g. ``"Low ⊕⊕◯◯ (inconsistency)"``."""
    domains = list(dict.fromkeys(d.domain.lower() for d in row.certainty.downgrades))
    return sot.certainty_text(row) + (f" ({', '.join(domains)})" if domains else "")


def measure_name(row) -> str:
    """The effect measure's name, e.g. ``"SMD (Hedges' g)"`` or ``"Odds ratio"``."""
    return measure(row.effect_measure).label


def extra_sentences(row) -> list[str]:
    """The finding's absolute effect per 1,000 and its mean difference in natural units, where known."""
    out = [row.absolute.sentence] if row.absolute is not None else []
    natural = getattr(row, "natural", None)
    return out + ([natural.sentence] if natural is not None else [])


def certainty_reasons(row) -> str:
    """Why the certainty is what it is, one line (the draft's own explanation)."""
    return row.certainty.explain()


def certainty_source(contents: Contents) -> str:
    """Where the certainty ratings come from, in words."""
    return (f"GRADE-style per outcome ({CERTAINTY_LABEL}): start at high for randomised trials, one level "
            "down per serious concern in risk of bias, inconsistency, indirectness, imprecision or "
            "publication bias")


def citation_line(study) -> str:
    """One source as cited: label, citation and DOI or PMID (a record of ``Contents.studies``)."""
    cite = str(study.get("Citation") or "")
    ident = str(study.get("DOI or PMID") or "")
    text = f"{study['Study']}: {cite}" if cite else str(study["Study"])
    return text + (f" {ident}" if ident and ident not in cite else "")


#: The summary columns of each medium (the Overview's cells, :data:`evidence.present.summary_table.SOF_COLUMNS`).
SCREEN_COLUMNS = ("Outcome", "Trials", "Participants", "Effect (95% CI)", "Prediction interval", "Certainty (draft)")
SLIDE_COLUMNS = SCREEN_COLUMNS[:5] + ("I²", "Certainty (draft)", "Per 1,000 people")
REPORT_COLUMNS = SLIDE_COLUMNS + ("Why this certainty",)


def summary_table(contents: Contents, part: int | None = None, columns=REPORT_COLUMNS) -> pd.DataFrame:
    """The summary-of-findings table as the Overview shows it: one row per outcome (all, or one screen's block)."""
    frame = sot.display_frame(contents.summary)
    if part is not None:
        size = summary_block_size(contents)
        frame = frame.iloc[part * size:(part + 1) * size]
    return frame[list(columns)].reset_index(drop=True)


def summary_parts(contents: Contents) -> int:
    """How many screens (slides) the summary table takes, at most SUMMARY_ROWS_PER_SCREEN rows each."""
    return max(1, math.ceil(len(contents.findings) / SUMMARY_ROWS_PER_SCREEN))


def summary_block_size(contents: Contents) -> int:
    """Rows per summary screen, spread evenly over :func:`summary_parts` (no screen with one lone row)."""
    return max(1, math.ceil(len(contents.findings) / summary_parts(contents)))


def _label(labels: dict[str, dict[str, str]], field: str, value) -> str:
    """A controlled value's label ('' when missing)."""
    if not isinstance(value, str) or not value:
        return ""
    return labels.get(field, {}).get(value, value)


def _studies(findings, con, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Every trial in any finding: label, year, country, population, risk of bias, outcomes, citation."""
    outcomes: dict[str, list[str]] = {}
    first: dict[str, Any] = {}
    for row in findings:
        for rec in row.analysis.effects.itertuples(index=False):
            outcomes.setdefault(rec.study_id, []).append(row.outcome_label)
            first.setdefault(rec.study_id, rec)
    cites = provenance.trial_citations(first, con).set_index("study_id")
    out = []
    for sid, rec in first.items():
        cite = cites.loc[sid] if sid in cites.index else None
        out.append({
            "Study": rec.label, "Year": rec.year, "Country": rec.country,
            "Population": _label(labels, "population", rec.population),
            "Setting": _label(labels, "setting", rec.setting),
            "Risk of bias": rec.risk_of_bias if isinstance(rec.risk_of_bias, str) else "not reported",
            "Outcomes": ", ".join(dict.fromkeys(outcomes[sid])),
            "Citation": cite["citation"] if cite is not None else "",
            "DOI or PMID": cite["doi_or_pmid"] if cite is not None else "",
            "study_id": sid,
        })
    frame = pd.DataFrame(out, columns=["Study", "Year", "Country", "Population", "Setting", "Risk of bias",
                                       "Outcomes", "Citation", "DOI or PMID", "study_id"])
    return frame.sort_values(["Study", "Year"], kind="stable").reset_index(drop=True)


def _robustness(focus, spec: FilterSpec, con, method: str, hartung_knapp: bool, level: float, grid=None):
    if focus is None or focus.k < 2:
        return None, "The robustness panel needs at least two trials of the outcome."
    if grid is None:
        try:
            grid = robustness_grid(spec, con, base_method=method, base_hartung_knapp=hartung_knapp, level=level)
        except EvidenceError as exc:
            return None, f"The robustness panel could not be computed: {exc}"
    pooled = focus.analysis.pooled
    main = words.conclusion_words(pooled.ci_low, pooled.ci_high, focus.analysis.favours.side)
    fitted = grid[grid["k"] > 0]
    return grid, words.robustness_sentence(len(fitted), int(fitted["survives"].sum()), main)


#: The evidence map's axes in a presentation (the Evidence map page's default).
MAP_AXES = ("population", "ps_format")


def _evidence_map(focus, spec: FilterSpec, con, method: str, hartung_knapp: bool, level: float, emap,
                  labels: dict[str, dict[str, str]]):
    if focus is None:
        return None, "The evidence map needs an outcome with trials."
    if emap is None:
        try:
            emap = evidence_map_of(spec, *MAP_AXES, con, method=method, hartung_knapp=hartung_knapp, level=level)
        except EvidenceError as exc:
            return None, f"The evidence map could not be computed: {exc}"
    cells = emap.cells[emap.cells["row_value"].notna() & emap.cells["col_value"].notna()]
    filled = int((cells["n_studies"] > 0).sum())
    return emap, (f"Trials of {focus.outcome_label} by population and peer-support format: {filled} of "
                  f"{len(cells)} combinations have at least one trial; the numbers are trials, the colour "
                  "the pooled effect where two or more were pooled (SMD, above 0 favours peer support).")


def map_chart(contents: Contents):
    """The evidence map of the view's outcome (an Altair chart), labelled with the lists' labels."""
    return evidence_map_chart(contents.evidence_map, contents.labels, row_title="Population",
                              col_title="Peer-support format")


def gather(spec: FilterSpec, con=None, *, method: str = "REML", hartung_knapp: bool = False,
           level: float = 0.95, today: _dt.date | None = None, summary=None, robustness=None,
           evidence_map=None) -> Contents:
    """Collect what a presentation of this view shows, from the results the pages show.

    The summary of findings is :func:`evidence.analysis.summary.summary_of_findings` on the view's
    filters (every outcome, the Overview's rows); the robustness panel is
    :func:`evidence.analysis.robustness_grid` of the view's own outcome; the evidence map is
    :func:`evidence.analysis.evidence_map.evidence_map` by population and format. ``summary``, ``robustness`` and ``evidence_map``: the same results already
    computed for this view (the app passes its cached ones, so every page shares one object).
    """
    labels = provenance.vocab_labels(con)
    sof = summary if summary is not None else summary_of_findings(spec, con, method=method,
                                                                  hartung_knapp=hartung_knapp, level=level)
    findings = sof.rows
    focus = next((r for r in findings if r.outcome == spec.outcome), None)
    grid, robust_text = _robustness(focus, spec, con, method, hartung_knapp, level, robustness)
    emap, map_text = _evidence_map(focus, spec, con, method, hartung_knapp, level, evidence_map, labels)
    notes = [f"Not in the summary: {label} ({why})." for label, why in sof.left_out]
    if spec.outcome and focus is None:
        notes.append(f"The view's outcome ({spec.outcome}) has no finding under these filters.")
    return Contents(
        spec=spec, method=method, hartung_knapp=hartung_knapp, level=level,
        question=question_words(spec, labels), filters=filters_words(spec),
        method_text=method_words(method, hartung_knapp, level),
        dataset_version=provenance.dataset_version(con),
        made_on=(today or _dt.date.today()).isoformat(), summary=sof, findings=findings, focus=focus,
        robustness=grid, robustness_text=robust_text, evidence_map=emap, map_text=map_text, labels=labels,
        studies=_studies(findings, con, labels), notes=tuple(notes))


def screens(contents: Contents) -> tuple[Screen, ...]:
    """The screens in order: the question, the summary (in blocks), one finding per outcome, the
    robustness panel of the view's outcome, the methods."""
    out = [Screen("question", "The question")]
    n_parts = summary_parts(contents)
    for part in range(n_parts):
        out.append(Screen("summary", "Summary of findings" + (f" ({part + 1} of {n_parts})" if n_parts > 1 else ""),
                          part=part))
    for row in contents.findings:
        out.append(Screen("finding", row.outcome_label, outcome=row.outcome))
    if contents.focus is not None:
        out.append(Screen("robustness", f"Does it hold? {contents.focus.outcome_label}",
                          outcome=contents.focus.outcome))
    if contents.evidence_map is not None:
        out.append(Screen("map", f"Where the evidence is: {contents.focus.outcome_label}",
                          outcome=contents.focus.outcome))
    out.append(Screen("methods", "Methods"))
    return tuple(out)


def finding_row(contents: Contents, outcome: str):
    """The finding of one outcome."""
    return next(r for r in contents.findings if r.outcome == outcome)


def finding_chart(row, title: str | None = None) -> dict:
    """The forest plot of a finding (prediction interval, risk-of-bias colours) as a Vega-Lite dict."""
    a = row.analysis
    if a.k == 1:
        return charts.forest_plot_spec(a.effects, None, effect_measure=a.effect_measure, ps_side=a.favours.side,
                                       level=a.level, title=title)
    return _fit_rows(charts.forest_spec(a, title=title), a.k)


#: Height a finding's forest plot may take on a 16:9 screen or slide (px), and the row height it never goes below.
FOREST_HEIGHT, MIN_ROW_STEP = 470, 16


def _fit_rows(spec: dict, k: int) -> dict:
    """Shrink the rows of a tall forest plot (many trials) so it fits one screen beside its sentence."""
    for part in spec.get("hconcat", ()):
        step = part.get("height", {}).get("step") if isinstance(part.get("height"), dict) else None
        if step:
            part["height"]["step"] = max(MIN_ROW_STEP, min(step, FOREST_HEIGHT // (k + 3)))
    return spec


def robustness_chart(contents: Contents, title: str | None = None):
    """The robustness heatmap of the view's outcome (an Altair chart)."""
    return charts.robustness_heatmap(contents.robustness, effect_measure=contents.focus.effect_measure,
                                     title=title)
