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
from evidence.analysis.summary import summary_of_findings
from evidence.core.errors import EvidenceError
from evidence.core.filters import CATEGORICAL_FIELDS, FilterSpec
from evidence.core.measures import measure
from evidence.present import charts
from evidence.present import wording as words

__all__ = ["Contents", "Screen", "gather", "screens", "question_words", "method_words", "filters_words",
           "finding_chart", "robustness_chart", "effect_text", "certainty_text", "summary_table",
           "certainty_source", "certainty_reasons", "extra_sentences", "measure_name", "CERTAINTY_LABEL", "citation_line", "finding_row", "summary_parts",
           "SUMMARY_ROWS_PER_SCREEN"]

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
    findings: tuple  # FindingRow of evidence.analysis.summary, in the summary's order
    focus: Any  # the FindingRow of the view's outcome, or None when it has no finding
    robustness: pd.DataFrame | None
    robustness_text: str
    studies: pd.DataFrame  # one row per included trial, with its citation
    notes: tuple[str, ...]  # what could not be shown, in words


@dataclass(frozen=True)
class Screen:
    """One screen of the Present page (and one slide of the deck): its kind, title and what it shows."""

    kind: str  # question | summary | finding | robustness | methods
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
    model = "fixed (common) effect" if method == "FE" else f"random effects, τ² by {words.METHOD_NAMES.get(method, method)}"
    ci = "Hartung-Knapp adjusted" if hartung_knapp else "standard (Wald)"
    return f"{method}: {model}; {ci} {level:.0%} confidence intervals"


def _num(value: float) -> str:
    return words.format_number(value) if math.isfinite(value) else "n/a"


def effect_text(row) -> str:
    """Pooled effect and CI as the summary shows them (display scale), e.g. ``"0.37 (0.24 to 0.51)"``."""
    return f"{_num(row.estimate)} ({_num(row.ci_low)} to {_num(row.ci_high)})"


def _pi_text(row) -> str:
    if not (math.isfinite(row.pi_low) and math.isfinite(row.pi_high)):
        return "needs k ≥ 3"
    return f"{_num(row.pi_low)} to {_num(row.pi_high)}"


def certainty_text(row) -> str:
    """Certainty level and the domains it was downgraded for, e.g. ``"Low (risk of bias, imprecision)"``."""
    cert = row.certainty
    domains = list(dict.fromkeys(d.domain.lower() for d in cert.downgrades))
    return cert.level[:1].upper() + cert.level[1:] + (f" ({', '.join(domains)})" if domains else "")


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


def summary_table(contents: Contents, part: int | None = None) -> pd.DataFrame:
    """The summary-of-findings table as shown: one row per outcome (all rows, or one screen's block)."""
    rows = contents.findings
    if part is not None:
        size = summary_block_size(contents)
        rows = rows[part * size:(part + 1) * size]
    return pd.DataFrame({
        "Outcome": [r.outcome_label for r in rows],
        "Trials": [r.k for r in rows],
        "Participants": [f"{r.participants:,}" for r in rows],
        "Effect (95% CI)": [effect_text(r) for r in rows],
        "Measure": [measure(r.effect_measure).label for r in rows],
        "Prediction interval": [_pi_text(r) for r in rows],
        "I²": [f"{r.i2:.0f}%" if math.isfinite(r.i2) else "n/a" for r in rows],
        "Certainty": [certainty_text(r) for r in rows],
    })


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
            "Setting": _label(labels, "setting", rec.setting), "Risk of bias": rec.risk_of_bias if isinstance(rec.risk_of_bias, str)
            else "not reported", "Outcomes": ", ".join(dict.fromkeys(outcomes[sid])),
            "Citation": cite["citation"] if cite is not None else "",
            "DOI or PMID": cite["doi_or_pmid"] if cite is not None else "",
            "study_id": sid,
        })
    frame = pd.DataFrame(out, columns=["Study", "Year", "Country", "Population", "Setting", "Risk of bias",
                                       "Outcomes", "Citation", "DOI or PMID", "study_id"])
    return frame.sort_values(["Study", "Year"], kind="stable").reset_index(drop=True)


def _robustness(focus, spec: FilterSpec, con, method: str, hartung_knapp: bool, level: float):
    if focus is None or focus.k < 2:
        return None, "The robustness panel needs at least two trials of the outcome."
    try:
        grid = robustness_grid(spec, con, base_method=method, base_hartung_knapp=hartung_knapp, level=level)
    except EvidenceError as exc:
        return None, f"The robustness panel could not be computed: {exc}"
    pooled = focus.analysis.pooled
    main = words.conclusion_words(pooled.ci_low, pooled.ci_high, focus.analysis.favours.side)
    fitted = grid[grid["k"] > 0]
    return grid, words.robustness_sentence(len(fitted), int(fitted["survives"].sum()), main)


def gather(spec: FilterSpec, con=None, *, method: str = "REML", hartung_knapp: bool = False,
           level: float = 0.95, today: _dt.date | None = None) -> Contents:
    """Collect what a presentation of this view shows, from the results the pages show.

    The summary of findings is :func:`evidence.analysis.summary.summary_of_findings` on the view's
    filters (every outcome, the Overview's rows); the robustness panel is :func:`evidence.analysis.robustness_grid` of the
    view's own outcome.
    """
    labels = provenance.vocab_labels(con)
    sof = summary_of_findings(spec, con, method=method, hartung_knapp=hartung_knapp, level=level)
    findings = sof.rows
    focus = next((r for r in findings if r.outcome == spec.outcome), None)
    grid, robust_text = _robustness(focus, spec, con, method, hartung_knapp, level)
    notes = [f"Not in the summary: {label} ({why})." for label, why in sof.left_out]
    if spec.outcome and focus is None:
        notes.append(f"The view's outcome ({spec.outcome}) has no finding under these filters.")
    return Contents(
        spec=spec, method=method, hartung_knapp=hartung_knapp, level=level,
        question=question_words(spec, labels), filters=filters_words(spec),
        method_text=method_words(method, hartung_knapp, level),
        dataset_version=provenance.dataset_version(con),
        made_on=(today or _dt.date.today()).isoformat(), findings=findings, focus=focus,
        robustness=grid, robustness_text=robust_text, studies=_studies(findings, con, labels), notes=tuple(notes))


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
    return charts.forest_spec(a, title=title)


def robustness_chart(contents: Contents, title: str | None = None):
    """The robustness heatmap of the view's outcome (an Altair chart)."""
    return charts.robustness_heatmap(contents.robustness, effect_measure=contents.focus.effect_measure,
                                     title=title)
