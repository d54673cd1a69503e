"""Rows of the evidence store: effect rows passing a filter, whole tables, metadata, and what the
selection reads (every candidate row once, then the ids a filter keeps). With :mod:`evidence.query.counts` and :mod:`evidence.query.catalogue`
this folder holds every statement the dashboard runs; values are bound parameters and table and
column names come from whitelists (:data:`TABLES`, :data:`evidence.core.filters.COLUMNS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd

from evidence.core.errors import InvalidChoice
from evidence.core.filters import FilterSpec
from evidence.store.connection import dataset_connections, shared_connection

from ._sql import _fetchall, _query

#: Tables that :func:`table` may read.
TABLES: tuple[str, ...] = ("studies", "effects", "sources", "reviews", "review_results", "vocab",
                           "metadata", "study_flags", "effect_flags", "effect_usability",
                           "study_contribution", "study_rob_domains")

#: Columns of the analysis candidate query (effect row + its study + its source).
_CANDIDATE_SELECT = """
SELECT
    e.effect_id, e.study_id, s.first_author, s.year, s.country, s.design,
    s.population, s.setting, s.ps_format, s.ps_mode, s.ps_role, s.peer_paid, s.org_support,
    s.peer_deliverer, e.comparison, e.comparator, e.shared_control, e.shared_arm,
    e.outcome, e.measure, e.higher_is_better, e.timepoint_months,
    e.n_ps, e.mean_ps, e.sd_ps, e.n_ctl, e.mean_ctl, e.sd_ctl, e.events_ps, e.events_ctl,
    e.reported_effect, e.reported_effect_type, e.reported_ci_low, e.reported_ci_high,
    e.reported_sign, e.score_type, e.derived, e.derivation,
    COALESCE(e.risk_of_bias, s.risk_of_bias) AS risk_of_bias,
    s.rob_status, s.rob_assessed_by, s.rob_domains, rd.worst_domain AS rob_worst_domain,
    e.verification, s.flags AS study_flags, e.flags AS effect_flags,
    src.source_review, src.source_url, src.source_location, src.source_quote,
    -- the source's own words for a follow-up whose months are not recorded (Cochrane's "medium term"):
    -- 1 short, 2 medium, 3 long term, 0 none; the selection ranks such rows by it, never by a guessed month
    CASE WHEN e.timepoint_months IS NOT NULL THEN 0
         WHEN regexp_matches(lower(COALESCE(src.source_location, '') || ' ' || COALESCE(src.source_quote, '')),
                             'long[ -]term') THEN 3
         WHEN regexp_matches(lower(COALESCE(src.source_location, '') || ' ' || COALESCE(src.source_quote, '')),
                             'medium[ -]term') THEN 2
         WHEN regexp_matches(lower(COALESCE(src.source_location, '') || ' ' || COALESCE(src.source_quote, '')),
                             'short[ -]term') THEN 1
         ELSE 0 END AS timepoint_term
FROM effects e
JOIN studies s ON s.study_id = e.study_id
LEFT JOIN sources src ON src.source_id = e.source_id
LEFT JOIN study_rob_domains rd ON rd.study_id = e.study_id
"""

def candidate_rows(spec: FilterSpec, con: duckdb.DuckDBPyConnection | None = None, *,
                   uploads_dir: str | Path | None = None, skip: Iterable[str] = ()) -> pd.DataFrame:
    """Every effect row that passes the filter, joined with its study and its source.

    Returns
    -------
    DataFrame
        One row per effect row, with a ``dataset`` column naming where it came from.
    """
    where, params = spec.where(skip=skip)
    sql = _CANDIDATE_SELECT + f"WHERE {where}"
    frames = []
    for name, c in dataset_connections(spec.dataset, con, uploads_dir):
        df = _query(c, sql, params)
        df.insert(0, "dataset", name)
        frames.append(df)
    if len(frames) == 1:
        return frames[0]
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True)


def table(name: str, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """A whole table or view of the shipped store, by whitelisted name."""
    if name not in TABLES:
        raise InvalidChoice("table", name, TABLES)
    return _query(con if con is not None else shared_connection(), f"SELECT * FROM {name}")


def vocab_frame(con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The controlled lists (``field, value, label, description, sort_order``) in display order."""
    return _query(con if con is not None else shared_connection(),
                  "SELECT field, value, label, description, sort_order FROM vocab "
                  "ORDER BY field, sort_order, value")


def metadata(con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """The store's metadata table (dataset version, content hash, build date, ...)."""
    df = _query(con if con is not None else shared_connection(), "SELECT key, value FROM metadata")
    return dict(zip(df["key"], df["value"]))


# ---------------------------------------------------------------------------------------------
# What the selection (evidence.analysis.selection) reads: every candidate row of a store once, then
# per filter only the ids of the rows that pass it (one short statement instead of a wide result).

def all_candidate_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every effect row of one store with its study and source (the candidate columns), by effect id;
    ``effect_rowid`` is the row's id in the effects table (what :func:`matching_effect_rowids` returns)."""
    return _query(con, _CANDIDATE_SELECT.replace("SELECT", "SELECT e.rowid AS effect_rowid,", 1)
                  + "ORDER BY e.effect_id")


def _matching(spec: FilterSpec, con: duckdb.DuckDBPyConnection, columns: str,
              skip: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Columns (``"e.x AS x, ..."``) of every effect row of one store that passes the filter (less ``skip``)."""
    where, params = spec.where(skip=skip)
    cur = con.cursor()
    try:
        return cur.execute(f"SELECT {columns} FROM effects e JOIN studies s ON s.study_id = e.study_id "
                           f"WHERE {where}", params).fetchnumpy()
    finally:
        cur.close()


def matching_effect_ids(spec: FilterSpec, con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """The ``effect_id`` of every row of one store that passes the filter, as an array of str."""
    ids = _matching(spec, con, "e.effect_id AS v")["v"]
    return np.asarray(ids, dtype=object).astype(str) if len(ids) else np.array([], dtype=str)


def matching_effect_rowids(spec: FilterSpec, con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """The effects-table row id of every row of one store that passes the filter (int64; integers travel
    and compare faster than the ids' text on large stores). Stable while the store is open read-only."""
    return np.asarray(_matching(spec, con, "e.rowid AS v")["v"], dtype=np.int64)


def matching_effect_ids_by_outcome(spec: FilterSpec, con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """:func:`matching_effect_ids` for every outcome at once (``spec.outcome`` ignored): outcome -> ids.

    One statement instead of one per outcome, for pages that analyse every outcome of a filter.
    """
    got = _matching(spec, con, "e.effect_id AS effect_id, e.outcome AS outcome", skip=("outcome",))
    ids = np.asarray(got["effect_id"], dtype=object).astype(str)
    outcomes = np.asarray(got["outcome"], dtype=object).astype(str)
    return {str(o): ids[outcomes == o] for o in np.unique(outcomes)} if len(ids) else {}
