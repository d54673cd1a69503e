"""What the store holds: trials and their characteristics, coverage by population and outcome, and
the pooled results published reviews report (the umbrella level).

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

#: How each review sign convention reads on screen.
SIGN_TEXT = {
    "ps_minus_ctl": "peer support minus control, on the measure as scored",
    "positive_favours_ps": "positive favours peer support",
    "negative_favours_ps": "negative favours peer support",
}


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


def review_findings(outcome: str | None = None, con=None) -> pd.DataFrame:
    """Pooled results reported by systematic reviews, optionally for one outcome, newest review first.

    Estimates are shown as the review printed them, with the sign convention in words (reviews
    differ: Lloyd-Evans 2014 prints negative SMDs for benefit, Bryan & Arkowitz 2015 positive ones).
    """
    con = con if con is not None else connection.shared_connection()
    results = rows.table("review_results", con)
    if outcome is not None:
        results = results[results["outcome"] == outcome]
    reviews = rows.table("reviews", con)[["review_id", "first_author", "year", "amstar2", "review_type"]]
    frame = results.merge(reviews, on="review_id", how="left")
    sign = frame["reported_sign"].map(lambda s: SIGN_TEXT.get(s, "not stated by the review"))
    frame = _labelled(frame, con)

    def estimate_text(r) -> str:
        if pd.isna(r["estimate"]):
            return "not reported"
        ci = (f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"])
              else " (no CI reported)")
        return f"{r['estimate']:.2f}{ci}"

    out = pd.DataFrame({
        "Review": [f"{a} {int(y)}" if pd.notna(a) and pd.notna(y) else rid
                   for a, y, rid in zip(frame["first_author"], frame["year"], frame["review_id"])],
        "AMSTAR 2": frame["amstar2"].fillna("not rated"),
        "Outcome as reported": frame["outcome_label"],
        "Subgroup": frame["subgroup"].fillna(""),
        "k": pd.array(frame["k_studies"], dtype="Int64"),
        "Participants": pd.array(frame["n_participants"], dtype="Int64"),
        "Effect": frame["effect_type"].fillna(""),
        "Estimate [95% CI]": [estimate_text(r) for _, r in frame.iterrows()],
        "Sign convention": sign,
        "I² (%)": frame["i2"],
        "Source": frame["source_url"].fillna(""),
        "Where": frame["source_location"].fillna(""),
        "_year": frame["year"],
    })
    return out.sort_values(["_year", "Review"], ascending=[False, True]).drop(columns="_year").reset_index(drop=True)
