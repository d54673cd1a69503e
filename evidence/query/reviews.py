"""The review level of the store: every review we hold, the pooled results each reports, and which trials
each included (``review_trials``). Plain frames of the store's columns; the Reviews analysis
(:mod:`evidence.analysis.reviews`) shapes them for display."""

from __future__ import annotations

import duckdb
import pandas as pd

from evidence.store.connection import shared_connection

from ._sql import _query

__all__ = ["review_list", "review_result_rows", "review_trial_rows", "review_result", "outcome_directions"]


def _con(con: duckdb.DuckDBPyConnection | None) -> duckdb.DuckDBPyConnection:
    return con if con is not None else shared_connection()


def review_list(con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """One row per review with the length of its trial list (``n_listed``) and how many of those trials are
    in our data (``n_in_data``); newest first."""
    return _query(_con(con), """
        SELECT r.*, COALESCE(m.n_listed, 0) AS n_listed, COALESCE(m.n_in_data, 0) AS n_in_data,
               COALESCE(x.n_results, 0) AS n_results
        FROM reviews r
        LEFT JOIN (SELECT review_id, count(*) AS n_listed, count(study_id) AS n_in_data
                   FROM review_trials GROUP BY review_id) m USING (review_id)
        LEFT JOIN (SELECT review_id, count(*) AS n_results FROM review_results GROUP BY review_id) x
               USING (review_id)
        ORDER BY r.year DESC NULLS LAST, r.review_id""")


def review_result_rows(outcome: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """Every pooled result with its review's author, year and AMSTAR 2 rating (optionally one outcome)."""
    where, params = ("WHERE x.outcome = ?", [outcome]) if outcome is not None else ("", [])
    return _query(_con(con), f"""
        SELECT x.*, r.first_author, r.year, r.amstar2, r.review_type, r.n_primary_studies
        FROM review_results x JOIN reviews r USING (review_id)
        {where}
        ORDER BY r.year DESC NULLS LAST, x.review_id, x.result_id""", params)


def review_result(result_id: str, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The one pooled result ``result_id`` (empty frame when there is none), as :func:`review_result_rows`."""
    return _query(_con(con), """
        SELECT x.*, r.first_author, r.year, r.amstar2, r.review_type, r.n_primary_studies
        FROM review_results x JOIN reviews r USING (review_id)
        WHERE x.result_id = ?""", [result_id])


def review_trial_rows(review_id: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The trial lists: one row per review and trial, with the trial's author and year where it is in our
    data (``study_id`` is NULL for a trial we lack)."""
    where, params = ("WHERE m.review_id = ?", [review_id]) if review_id is not None else ("", [])
    return _query(_con(con), f"""
        SELECT m.review_id, m.trial_id, m.study_id, m.review_label, m.analysis, m.source_url,
               m.source_location, m.source_quote, s.first_author, s.year
        FROM review_trials m LEFT JOIN studies s ON s.study_id = m.study_id
        {where}
        ORDER BY m.review_id, m.trial_id""", params)


def outcome_directions(con: duckdb.DuckDBPyConnection | None = None) -> dict[str, float]:
    """Per outcome, the share of our effect rows whose measure is higher-is-better (rows that say)."""
    df = _query(_con(con), """
        SELECT outcome, avg(CASE WHEN higher_is_better THEN 1.0 ELSE 0.0 END) AS share
        FROM effects WHERE higher_is_better IS NOT NULL GROUP BY outcome""")
    return dict(zip(df["outcome"].astype(str), df["share"].astype(float)))
