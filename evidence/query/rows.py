"""Rows of the evidence store: effect rows passing a filter, whole tables, metadata, and the
analysis-ready selection in SQL. With :mod:`evidence.query.counts` and :mod:`evidence.query.catalogue`
this folder holds every statement the dashboard runs; values are bound parameters and table and
column names come from whitelists (:data:`TABLES`, :data:`evidence.core.filters.COLUMNS`).
"""

from __future__ import annotations

import warnings
import weakref
from pathlib import Path
from typing import Iterable

import duckdb
import pandas as pd

from evidence.core.errors import InvalidChoice
from evidence.core.filters import FilterSpec
from evidence.store.connection import dataset_connections, shared_connection

from ._sql import _fetchall, _query

#: Tables that :func:`table` may read.
TABLES: tuple[str, ...] = ("studies", "effects", "sources", "reviews", "review_results", "vocab",
                           "metadata", "study_flags", "effect_flags", "effect_usability",
                           "study_contribution")

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
    e.verification, s.flags AS study_flags, e.flags AS effect_flags,
    src.source_review, src.source_url, src.source_location, src.source_quote
FROM effects e
JOIN studies s ON s.study_id = e.study_id
LEFT JOIN sources src ON src.source_id = e.source_id
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
# Analysis-ready selection in SQL (one dataset): classification, scale summary, one row per study.
# The rules are those of evidence.effects (which documents them and holds the same logic in pandas
# for merged datasets); reasons come back as codes that evidence.effects turns into words.

_CLASSIFIED = """
WITH c AS (
    {select},
        (e.n_ps IS NOT NULL AND e.n_ctl IS NOT NULL AND e.mean_ps IS NOT NULL AND e.mean_ctl IS NOT NULL
         AND e.sd_ps IS NOT NULL AND e.sd_ctl IS NOT NULL AND e.n_ps + e.n_ctl > 2) AS _arm_c,
        (e.n_ps IS NOT NULL AND e.n_ctl IS NOT NULL AND e.events_ps IS NOT NULL AND e.events_ctl IS NOT NULL) AS _arm_b,
        (e.reported_effect IS NOT NULL AND e.reported_ci_low IS NOT NULL AND e.reported_ci_high IS NOT NULL
         AND e.reported_effect_type IS NOT NULL) AS _rep,
        contains(COALESCE(s.flags, '') || ';' || COALESCE(e.flags, ''), 'not-poolable') AS _np
    FROM effects e
    JOIN studies s ON s.study_id = e.study_id
    {sources_join}
    WHERE {where}
), r0 AS (
    SELECT *,
        CASE WHEN _arm_c THEN 'arm_continuous' WHEN _arm_b THEN 'arm_binary'
             WHEN _rep AND reported_effect_type IN ('SMD', 'g', 'd') THEN 'reported_smd'
             WHEN _rep AND reported_effect_type = 'RR' THEN 'reported_rr'
             WHEN _rep AND reported_effect_type = 'OR' THEN 'reported_or'
             WHEN _rep AND reported_effect_type = 'MD' AND n_ps IS NOT NULL AND n_ctl IS NOT NULL
                  AND n_ps + n_ctl > 2 THEN 'reported_md' END AS _route_raw
    FROM c
), r AS (
    SELECT *,
        (_route_raw IS NOT NULL AND higher_is_better IS NULL AND NOT (_route_raw IN ('reported_smd', 'reported_md')
            AND COALESCE(reported_sign, 'ps_minus_ctl') IN ('positive_favours_ps', 'negative_favours_ps'))) AS _no_dir
    FROM r0
), classified AS (
    SELECT * EXCLUDE (_arm_c, _arm_b, _rep, _np, _route_raw, _no_dir),
        CASE WHEN _np OR _no_dir THEN NULL ELSE _route_raw END AS route,
        CASE WHEN _np OR _no_dir OR _route_raw IS NULL THEN NULL
             WHEN _route_raw IN ('arm_continuous', 'reported_smd', 'reported_md') THEN 'continuous'
             ELSE 'binary' END AS kind,
        CASE WHEN _np THEN 'not_poolable' WHEN _no_dir THEN 'no_direction'
             WHEN _route_raw IS NOT NULL THEN NULL
             WHEN _rep AND reported_effect_type = 'MD' AND n_ps IS NOT NULL AND n_ctl IS NOT NULL THEN 'md_too_few'
             WHEN _rep AND reported_effect_type = 'MD' THEN 'md'
             WHEN reported_effect IS NOT NULL AND reported_effect_type IS NULL THEN 'no_type'
             WHEN reported_effect IS NOT NULL THEN 'no_ci'
             WHEN (mean_ps IS NOT NULL OR mean_ctl IS NOT NULL) AND (sd_ps IS NULL OR sd_ctl IS NULL) THEN 'mean_no_sd'
             WHEN (mean_ps IS NOT NULL OR events_ps IS NOT NULL) AND (n_ps IS NULL OR n_ctl IS NULL) THEN 'no_n'
             WHEN mean_ps IS NOT NULL AND n_ps + n_ctl <= 2 THEN 'too_few'
             ELSE 'no_numbers' END AS reason_code
    FROM r
)
"""

_SELECT_BODY = """
, usable AS (
    -- the selection runs on a narrow key table; wide rows are joined back for the winners only
    SELECT effect_id, study_id, comparison, comparator, measure, timepoint_months, route, kind,
           source_review, verification
    FROM classified
    WHERE list_contains(?, route)
      AND (? IS NULL OR kind = 'continuous' OR higher_is_better = ?)
), measure_use AS (
    -- distinct counts by plain aggregates (cheaper than windows): trials per measure (NULL is one
    -- measure), comparisons per trial (NULL is one comparison)
    SELECT measure, count(DISTINCT study_id) AS n_trials FROM usable GROUP BY measure
), comparisons AS (
    SELECT study_id,
           count(DISTINCT comparison) + max(CASE WHEN comparison IS NULL THEN 1 ELSE 0 END) AS n_comparisons
    FROM usable GROUP BY study_id
), keyed AS (
    SELECT u.effect_id, u.study_id, u.comparison,
        CASE u.comparator WHEN 'usual care' THEN 0 WHEN 'waitlist' THEN 1 WHEN 'attention control' THEN 2
             WHEN 'other' THEN 3 WHEN 'active' THEN 4 WHEN 'group CBT' THEN 5 ELSE 6 END AS k_comparator,
        CASE WHEN ? = 'SMD' AND u.kind = 'binary' THEN 1 ELSE 0 END AS k_native,
        COALESCE(abs(u.timepoint_months - ?), 'infinity'::DOUBLE) AS k_time,
        COALESCE(-u.timepoint_months, 'infinity'::DOUBLE) AS k_time_long,
        -m.n_trials AS k_measure,
        n.n_comparisons,
        -- every reported route (reported_smd, reported_md, reported_rr, reported_or) after arm data
        CASE WHEN u.route LIKE 'reported%' THEN 1 ELSE 0 END AS k_arm,
        CASE WHEN contains(lower(COALESCE(u.source_review, '')), 'primary') THEN 0 ELSE 1 END AS k_primary,
        0 AS k_dataset,
        CASE WHEN COALESCE(u.verification, '') = 'verified' THEN 0 ELSE 1 END AS k_verified
    FROM usable u
    JOIN measure_use m ON m.measure IS NOT DISTINCT FROM u.measure
    JOIN comparisons n ON n.study_id = u.study_id
), ranked AS (
    SELECT effect_id, n_comparisons, k_measure,
        row_number() OVER w AS _rank,
        count(*) OVER (PARTITION BY {partition}) AS n_candidates,
        [k_comparator, k_native, k_time, k_time_long, k_measure, k_arm, k_primary, k_dataset,
         k_verified]::DOUBLE[] AS _keys,
        lead([k_comparator, k_native, k_time, k_time_long, k_measure, k_arm, k_primary, k_dataset,
              k_verified]::DOUBLE[]) OVER w AS _next
    FROM keyed
    WINDOW w AS (PARTITION BY {partition} ORDER BY k_comparator, k_native, k_time, k_time_long, k_measure,
                 k_arm, k_primary, k_dataset, k_verified, effect_id)
), winners AS (
    SELECT effect_id, n_candidates, n_comparisons, -k_measure AS measure_use,
       CASE WHEN _next IS NULL THEN NULL
            WHEN _keys[1] <> _next[1] THEN 'k_comparator'
            WHEN _keys[2] <> _next[2] THEN 'k_native'
            WHEN _keys[3] <> _next[3] THEN 'k_time'
            WHEN _keys[4] <> _next[4] THEN 'k_time_long'
            WHEN _keys[5] <> _next[5] THEN 'k_measure'
            WHEN _keys[6] <> _next[6] THEN 'k_arm'
            WHEN _keys[7] <> _next[7] THEN 'k_primary'
            WHEN _keys[9] <> _next[9] THEN 'k_verified'
            ELSE 'effect_id' END AS decisive
    FROM ranked WHERE _rank = 1
)
SELECT c.*, w.n_candidates, w.n_comparisons, w.measure_use, w.decisive
FROM winners w JOIN classified c ON c.effect_id = w.effect_id
"""

_SUMMARY = """
SELECT
    count(*) FILTER (WHERE route IS NOT NULL) AS n_usable,
    count(*) FILTER (WHERE kind = 'continuous') AS n_continuous,
    count(DISTINCT study_id) FILTER (WHERE route IS NOT NULL) AS studies,
    count(DISTINCT study_id) FILTER (WHERE route IN ('arm_binary', 'reported_rr')) AS rr_studies,
    count(DISTINCT study_id) FILTER (WHERE route IN ('arm_binary', 'reported_or')) AS or_studies,
    avg(CASE WHEN higher_is_better THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE route IN ('arm_binary', 'reported_rr') AND higher_is_better IS NOT NULL) AS hib_rr,
    avg(CASE WHEN higher_is_better THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE route IN ('arm_binary', 'reported_or') AND higher_is_better IS NOT NULL) AS hib_or,
    count(*) AS n_rows
FROM classified
"""


_SOURCES_JOIN = "LEFT JOIN sources src ON src.source_id = e.source_id"
#: Columns the classification and the scale summary read (no source: its join is not needed there).
_SUMMARY_SELECT = """
SELECT
    e.effect_id, e.study_id, e.higher_is_better,
    e.n_ps, e.mean_ps, e.sd_ps, e.n_ctl, e.mean_ctl, e.sd_ctl, e.events_ps, e.events_ctl,
    e.reported_effect, e.reported_effect_type, e.reported_ci_low, e.reported_ci_high, e.reported_sign"""


def _classified_sql(spec: FilterSpec, *, summary_only: bool = False, for_selection: bool = False
                    ) -> tuple[str, list]:
    where, params = spec.where()
    if summary_only:
        # the filter reads only studies (s) and effects (e); a source (its primary key) adds no row
        return _CLASSIFIED.format(select=_SUMMARY_SELECT.rstrip(), sources_join="", where=where), params
    select = _CANDIDATE_SELECT.split("FROM effects e")[0].rstrip()
    if for_selection:  # what the analysis reads of a chosen row (the rest only widens every row)
        select = select.replace(" e.score_type, e.derived, e.derivation,", "", 1)
    return _CLASSIFIED.format(select=select, sources_join=_SOURCES_JOIN, where=where), params


_row_counts: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, int]" = weakref.WeakKeyDictionary()


def effect_row_count(con: duckdb.DuckDBPyConnection) -> int:
    """Number of effect rows in a store (chooses the selection engine; both engines give the same
    result, so the count is kept per connection: stores are opened read-only)."""
    try:
        return _row_counts[con]
    except (KeyError, TypeError):
        pass
    n = int(_fetchall(con, "SELECT count(*) FROM effects", [])[0][0])
    try:
        _row_counts[con] = n
    except TypeError:  # a connection type without weak references: count every time
        pass
    return n


def route_summary(spec: FilterSpec, con: duckdb.DuckDBPyConnection) -> dict:
    """Counts that decide the analysis scale (see :func:`evidence.analysis.effects._scale_from_summary`)."""
    sql, params = _classified_sql(spec, summary_only=True)
    cur = con.cursor()
    try:
        row = cur.execute(sql + _SUMMARY, params).fetchone()
        names = [d[0] for d in cur.description]
    finally:
        cur.close()
    return dict(zip(names, row))


def selected_rows(spec: FilterSpec, con: duckdb.DuckDBPyConnection, *, routes: Iterable[str], scale: str,
                  target_months: float, by_comparison: bool, keep_direction: bool | None) -> pd.DataFrame:
    """One row per study (or per study and comparison) chosen by the selection rule, in SQL.

    Parameters
    ----------
    routes : iterable of str
        Routes usable on this scale.
    keep_direction : bool or None
        For risk-ratio analyses, binary rows whose ``higher_is_better`` differs are left out.

    Returns
    -------
    DataFrame
        Candidate columns (less ``score_type, derived, derivation``, which the analysis does not read)
        plus ``route, kind, reason_code, n_candidates, n_comparisons, decisive, measure_use``.
    """
    sql, params = _classified_sql(spec, for_selection=True)
    partition = "study_id, comparison" if by_comparison else "study_id"
    body = _SELECT_BODY.format(partition=partition)
    keep = None if keep_direction is None else bool(keep_direction)
    return _query_arrow(con, sql + body, params + [list(routes), keep, keep, scale, float(target_months)])


def _query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Iterable = ()) -> pd.DataFrame:
    # Large results: Arrow -> pandas is about twice as fast as .df() for string-heavy rows. Executed
    # as one statement (not a relation, which parses and binds the long query once more before running
    # it): measured faster here even with the copy the warning below is about.
    cur = con.cursor()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
            return cur.execute(sql, list(params)).to_arrow_table().to_pandas()
    finally:
        cur.close()


def classified_rows(spec: FilterSpec, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every matching row with ``route, kind, reason_code`` (the SQL twin of ``classify_rows``)."""
    sql, params = _classified_sql(spec)
    return _query(con, sql + "SELECT study_id, effect_id, route, kind, reason_code, higher_is_better FROM classified",
                  params)
