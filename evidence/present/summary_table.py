"""The summary of findings as a reader's table: one text row per outcome, every number formatted once here
(the Overview page, downloads, slides and reports show the same cells)."""

from __future__ import annotations

import math

import pandas as pd

from evidence.analysis.summary import FindingRow, SummaryOfFindings, participants_complete

__all__ = ["display_frame", "effect_text", "interval_text", "per_1000_text", "certainty_text", "SOF_COLUMNS"]

#: Columns of :func:`display_frame`, in order (``outcome`` is the value behind the label, for links).
SOF_COLUMNS = ("Outcome", "Trials", "Participants", "Effect (95% CI)", "Prediction interval", "I²",
               "Certainty (draft)", "Why this certainty", "Per 1,000 people", "Summary", "outcome")


def _f(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if x is not None and math.isfinite(float(x)) else "–"


def _name(row: FindingRow) -> str:
    return {"logRR": "RR", "logOR": "OR"}.get(row.effect_measure, "SMD")


def effect_text(row: FindingRow) -> str:
    """E.g. "SMD 0.37 (0.24 to 0.51)" or "RR 0.66 (0.41 to 1.05)"; "not pooled" for one trial."""
    text = f"{_name(row)} {_f(row.estimate)} ({_f(row.ci_low)} to {_f(row.ci_high)})"
    return text + (" · not pooled" if not row.pooled else "")


def interval_text(row: FindingRow) -> str:
    """The prediction interval, or why there is none (it needs at least three trials)."""
    if row.k < 3 or not (math.isfinite(row.pi_low) and math.isfinite(row.pi_high)):
        return "needs ≥ 3 trials"
    return f"{_f(row.pi_low)} to {_f(row.pi_high)}"


def per_1000_text(row: FindingRow) -> str:
    """Absolute effect in short: "300 → 528 (443 to 611)"; MD in the natural unit for e.g. HbA1c."""
    a = row.absolute
    if a is not None:
        return (f"{a.control_per_1000:.0f} with {a.comparator} → {a.peer_per_1000:.0f} with peer support "
                f"({a.ci_low_per_1000:.0f} to {a.ci_high_per_1000:.0f})")
    if row.natural is not None:
        n = row.natural
        return f"MD {n.estimate:+.2f} {n.unit} ({n.ci_low:+.2f} to {n.ci_high:+.2f})"
    return ""


def certainty_text(row: FindingRow) -> str:
    """The level with a mark for each level taken off: "Low ⊕⊕◯◯"."""
    filled = {"high": 4, "moderate": 3, "low": 2, "very low": 1}[row.certainty.level]
    return f"{row.certainty.level.capitalize()} {'⊕' * filled}{'◯' * (4 - filled)}"


def display_frame(sof: SummaryOfFindings) -> pd.DataFrame:
    """One row per outcome with the cells of :data:`SOF_COLUMNS` (text, except the trial count; participants
    "≥ n" when some trials do not report their N, as Explore shows them)."""
    recs = []
    for r in sof.rows:
        why = r.certainty.explain()
        if r.certainty.notes:
            why += " " + " ".join(r.certainty.notes)
        recs.append({
            "Outcome": r.outcome_label, "Trials": r.k,
            "Participants": f"{'' if participants_complete(r.analysis) else '≥ '}{r.participants:,}",
            "Effect (95% CI)": effect_text(r), "Prediction interval": interval_text(r),
            "I²": f"{r.i2:.0f}%" if r.pooled and math.isfinite(r.i2) else "–",
            "Certainty (draft)": certainty_text(r), "Why this certainty": why,
            "Per 1,000 people": per_1000_text(r), "Summary": r.sentence, "outcome": r.outcome,
        })
    return pd.DataFrame.from_records(recs, columns=list(SOF_COLUMNS))
