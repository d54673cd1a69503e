"""What the store holds: trials and their characteristics, and coverage by population and outcome (the
pooled results published reviews report are tabled by :mod:`evidence.analysis.reviews`).

Pure functions of the shipped store returning display-ready frames; labels come from the controlled
lists so the tables read like the sidebar.
"""

from __future__ import annotations

import pandas as pd

from evidence.query import rows
from evidence.store import connection

#: Study characteristics shown in the trial overview, in order, with their column titles.
STUDY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "Study"), ("country", "Country"), ("population", "Population"), ("setting", "Setting"),
    ("ps_format", "Format"), ("ps_mode", "Mode"), ("ps_role", "Role"), ("peer_paid", "Paid or volunteer"),
    ("org_support", "Organisational support"), ("peer_deliverer", "Delivered by"),
    ("risk_of_bias", "Risk of bias"), ("rob_status", "Risk of bias held"), ("rob_assessed_by", "Risk of bias judged by"),
    ("rob_tool", "Risk-of-bias tool"), ("contributes_effect", "Poolable numbers"),
    ("usable_outcomes", "Outcomes with numbers"), ("outcomes_no_data", "Outcomes without usable numbers"),
    ("flags", "Flags"), ("study_id", "study_id"),
)

def _labelled(frame: pd.DataFrame, con) -> pd.DataFrame:
    """Replace controlled-list values by their labels (unknown values are kept as they are)."""
    vocab = rows.vocab_frame(con)
    out = frame.copy()
    for field, sub in vocab.groupby("field"):
        if field in out.columns:
            names = dict(zip(sub["value"].astype(str), sub["label"].astype(str)))
            out[field] = out[field].map(lambda v: names.get(str(v), v) if pd.notna(v) else v)
    return out


def study_overview(con=None) -> pd.DataFrame:
    """One row per trial: characteristics, whether it has poolable numbers, and for which outcomes."""
    con = con if con is not None else connection.shared_connection()
    studies = rows.table("studies", con)
    contribution = rows.table("study_contribution", con)[["study_id", "contributes_effect", "usable_outcomes"]]
    frame = studies.merge(contribution, on="study_id", how="left")
    year = pd.to_numeric(frame["year"], errors="coerce")
    frame["label"] = [f"{a} {int(y)}" if pd.notna(a) and pd.notna(y) else sid
                      for a, y, sid in zip(frame["first_author"], year, frame["study_id"])]
    frame = _labelled(frame, con)
    frame["contributes_effect"] = frame["contributes_effect"].map({True: "yes", False: "no"}).fillna("no")
    for col in ("usable_outcomes", "outcomes_no_data", "flags"):
        frame[col] = frame[col].fillna("").astype(str).str.replace(";", ", ", regex=False)
    frame = frame.assign(_year=year).sort_values(["_year", "label"], na_position="last")
    text_columns = [c for c, _ in STUDY_COLUMNS if c not in ("label", "study_id")]
    frame[text_columns] = frame[text_columns].astype(object).where(frame[text_columns].notna(), "")
    return frame[[c for c, _ in STUDY_COLUMNS]].rename(columns=dict(STUDY_COLUMNS)).reset_index(drop=True)


def coverage_table(con=None) -> pd.DataFrame:
    """Trials with poolable numbers per population (rows) and outcome (columns), with row totals.

    A trial counts once per outcome it has at least one usable effect row for; the last column counts
    trials of that population that have characteristics (and perhaps partial numbers) but nothing poolable.
    """
    con = con if con is not None else connection.shared_connection()
    studies = rows.table("studies", con)[["study_id", "population"]]
    contribution = rows.table("study_contribution", con)[["study_id", "contributes_effect", "usable_outcomes"]]
    frame = _labelled(studies.merge(contribution, on="study_id", how="left"), con)
    frame["population"] = frame["population"].fillna("not reported")
    pairs = (frame.assign(outcome=frame["usable_outcomes"].fillna("").astype(str).str.split(";"))
             .explode("outcome"))
    pairs = pairs[pairs["outcome"] != ""]
    outcome_labels = dict(rows.vocab_frame(con).query("field == 'outcome'")[["value", "label"]].astype(str).values)
    pairs["outcome"] = pairs["outcome"].map(lambda v: outcome_labels.get(v, v))
    table = pd.crosstab(pairs["population"], pairs["outcome"]) if len(pairs) else pd.DataFrame()
    populations = sorted(frame["population"].astype(str).unique())
    table = table.reindex(populations, fill_value=0)
    # Most-covered outcomes first; the catch-all "other" last.
    totals = table.sum(axis=0)
    order = sorted(table.columns, key=lambda c: (c == outcome_labels.get("other"), -totals[c], c))
    table = table[order]
    with_numbers = frame.groupby("population")["contributes_effect"].apply(lambda s: int(s.fillna(False).sum()))
    total = frame.groupby("population")["study_id"].count()
    table["Trials with numbers"] = with_numbers.reindex(populations).fillna(0).astype(int)
    table["No poolable numbers"] = (total - with_numbers).reindex(populations).fillna(0).astype(int)
    table.loc["All populations"] = [int(pairs.loc[pairs["outcome"] == c, "study_id"].nunique()) for c in order] + [
        int(frame["contributes_effect"].fillna(False).sum()), int((~frame["contributes_effect"].fillna(False)).sum())]
    table.index.name = "Population"
    table.columns.name = None
    return table.reset_index()
