"""The connection and the SQL of the evidence store (the only module with query text).

The shipped store (``data/evidence.duckdb``) is opened **read-only**; imported
datasets live in their own DuckDB files under ``data/uploads/`` (or in memory)
and are opened read-only too. A DuckDB connection is not thread-safe, so every
query takes its own ``.cursor()``. Values are bound parameters; table and column
names come from the whitelists below and from :data:`evidence.filters.COLUMNS`.
Every function returns a pandas frame or plain Python values.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from pathlib import Path
from typing import Iterable

import duckdb
import pandas as pd

from .errors import UnknownDataset
from .filters import CATEGORICAL_FIELDS, COLUMNS, DATASET_NAME_PATTERN, FILTER_ORDER, FilterSpec
from .filters import conditions as filter_conditions

__all__ = [
    "PROJECT_ROOT", "DATA_DIR", "DB_PATH", "UPLOADS_DIR",
    "connect", "shared_connection", "connect_dataset", "register_memory_dataset",
    "forget_memory_dataset", "list_datasets", "dataset_connections",
    "candidate_rows", "choice_counts", "study_counts_by_filter", "count_studies",
    "table", "vocab_frame", "metadata",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DB_PATH = DATA_DIR / "evidence.duckdb"
UPLOADS_DIR = DATA_DIR / "uploads"

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

_lock = threading.Lock()
_shared: dict[str, duckdb.DuckDBPyConnection] = {}
_memory: dict[str, duckdb.DuckDBPyConnection] = {}


def connect(db_path: str | Path | None = None, *, data_dir: str | Path | None = None,
            build_if_needed: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the shipped store read-only, building it first when missing or older than the CSVs.

    Parameters
    ----------
    db_path : path, optional
        Defaults to ``data/evidence.duckdb``.
    data_dir : path, optional
        Folder of the source CSVs (for the freshness check); defaults to ``data/``.
    build_if_needed : bool
        Call :func:`evidence.build.ensure_database` first.
    """
    db_path = Path(db_path) if db_path is not None else DB_PATH
    if build_if_needed:
        from .build import ensure_database  # imported late: build is optional for readers
        ensure_database(Path(data_dir) if data_dir is not None else db_path.parent, db_path)
    return duckdb.connect(str(db_path), read_only=True)


def shared_connection(db_path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """One read-only connection per store path for the process; callers take a cursor per query."""
    key = str(Path(db_path) if db_path is not None else DB_PATH)
    with _lock:
        con = _shared.get(key)
        if con is None:
            con = connect(key)
            _shared[key] = con
        return con


def register_memory_dataset(name: str, con: duckdb.DuckDBPyConnection) -> None:
    """Make an in-memory imported dataset available under ``name`` for this process."""
    with _lock:
        _memory[name] = con


def forget_memory_dataset(name: str) -> None:
    """Drop an in-memory dataset (no error when absent)."""
    with _lock:
        con = _memory.pop(name, None)
    if con is not None:
        con.close()


def list_datasets(uploads_dir: str | Path | None = None) -> tuple[str, ...]:
    """Names of imported datasets: files ``<name>.duckdb`` in the uploads folder, then in-memory ones."""
    folder = Path(uploads_dir) if uploads_dir is not None else UPLOADS_DIR
    names = set(_memory)
    if folder.is_dir():
        names.update(p.stem for p in folder.glob("*.duckdb") if DATASET_NAME_PATTERN.match(p.stem))
    return tuple(sorted(names))


def connect_dataset(name: str, uploads_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Read-only connection to one imported dataset (cached per file)."""
    with _lock:
        if name in _memory:
            return _memory[name]
    folder = Path(uploads_dir) if uploads_dir is not None else UPLOADS_DIR
    path = folder / f"{name}.duckdb"
    if not DATASET_NAME_PATTERN.match(name) or not path.is_file():
        raise UnknownDataset(name, ("shipped", "all") + list_datasets(folder))
    key = str(path.resolve())
    with _lock:
        con = _shared.get(key)
        if con is None:
            con = duckdb.connect(key, read_only=True)
            _shared[key] = con
        return con


def _close_cached(path: Path) -> None:
    # ingest replaces a dataset file atomically; a cached handle on the old file must go.
    key = str(path.resolve())
    with _lock:
        con = _shared.pop(key, None)
    if con is not None:
        con.close()


def dataset_connections(dataset: str, con: duckdb.DuckDBPyConnection | None = None,
                        uploads_dir: str | Path | None = None
                        ) -> list[tuple[str, duckdb.DuckDBPyConnection]]:
    """The ``(dataset name, connection)`` pairs a spec's ``dataset`` refers to.

    ``"shipped"`` is the shipped store (``con`` or the shared connection), an imported name is that
    dataset alone, ``"all"`` is the shipped store followed by every imported dataset.
    """
    shipped = con if con is not None else None
    if dataset == "shipped":
        return [("shipped", shipped if shipped is not None else shared_connection())]
    if dataset == "all":
        out = [("shipped", shipped if shipped is not None else shared_connection())]
        out += [(n, connect_dataset(n, uploads_dir)) for n in list_datasets(uploads_dir)]
        return out
    return [(dataset, connect_dataset(dataset, uploads_dir))]


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: Iterable = ()) -> pd.DataFrame:
    cur = con.cursor()
    try:
        return cur.execute(sql, list(params)).df()
    finally:
        cur.close()


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


def count_studies(spec: FilterSpec, con: duckdb.DuckDBPyConnection | None = None, *,
                  usable_only: bool = True, uploads_dir: str | Path | None = None,
                  skip: Iterable[str] = ()) -> int:
    """Distinct trials with at least one matching effect row (usable rows only by default)."""
    where, params = spec.where(skip=skip)
    usable = " AND u.computable_from IS NOT NULL" if usable_only else ""
    sql = ("SELECT DISTINCT e.study_id FROM effects e JOIN studies s ON s.study_id = e.study_id "
           "JOIN effect_usability u ON u.effect_id = e.effect_id "
           f"WHERE {where}{usable}")
    ids: set[str] = set()
    for _, c in dataset_connections(spec.dataset, con, uploads_dir):
        ids.update(_query(c, sql, params)["study_id"])
    return len(ids)


def study_counts_by_filter(spec: FilterSpec, con: duckdb.DuckDBPyConnection | None = None, *,
                           uploads_dir: str | Path | None = None) -> list[tuple[str, int]]:
    """Trials left (with usable numbers) as the active filters are applied one at a time.

    The first entry is ``("dataset", n)`` with no filter; then one entry per active filter in
    :data:`evidence.filters.FILTER_ORDER`. Used to name the filter that emptied the set.
    """
    active = spec.active_filters()
    out = [("dataset", count_studies(spec, con, uploads_dir=uploads_dir, skip=FILTER_ORDER))]
    for i, name in enumerate(active):
        later = [f for f in FILTER_ORDER if f not in active[: i + 1]]
        out.append((name, count_studies(spec, con, uploads_dir=uploads_dir, skip=later)))
    return out


def choice_counts(spec: FilterSpec, field: str, con: duckdb.DuckDBPyConnection | None = None, *,
                  uploads_dir: str | Path | None = None) -> pd.DataFrame:
    """How many trials each value of one filter would leave, given the other filters.

    Parameters
    ----------
    spec : FilterSpec
        The current filter; its own value for ``field`` is ignored.
    field : str
        ``"outcome"`` or one of :data:`evidence.filters.CATEGORICAL_FIELDS`.

    Returns
    -------
    DataFrame
        Columns ``value, n_studies`` (trials with usable numbers), one row per value present.
    """
    counts = choice_counts_all(spec, (field,), con, uploads_dir=uploads_dir)[field]
    return pd.DataFrame({"value": pd.Series(list(counts), dtype=object),
                         "n_studies": pd.Series(list(counts.values()), dtype="int64")})


def choice_counts_all(spec: FilterSpec, fields: Iterable[str], con: duckdb.DuckDBPyConnection | None = None, *,
                      uploads_dir: str | Path | None = None) -> dict[str, dict[str, int]]:
    """:func:`choice_counts` for several filters at once, in one query per dataset, as plain dicts.

    The sidebar asks for a dozen of these on every rerun, so they come from one scan of the matching
    rows rather than one statement each.

    Returns
    -------
    dict
        ``field -> {value: n_studies}``, most trials first (ties by value): the rows of
        :func:`choice_counts`. Plain dicts because the sidebar reads them on every rerun.
    """
    fields = tuple(fields)
    allowed = ("outcome",) + CATEGORICAL_FIELDS
    for field in fields:
        if field not in allowed:
            from .errors import InvalidChoice
            raise InvalidChoice("field", field, allowed)
    # One scan instead of one statement per field (planning a dozen joined statements cost more than the
    # counting): filters the counts never skip go into WHERE; each counted filter becomes a boolean
    # column b<j>, and field i counts a row when every counted filter but its own holds. DuckDB then
    # unpivots (field, value, ok) and counts distinct trials, so the work stays in the database.
    if not fields:
        return {}
    own = [(name, sql, p) for name, sql, p in filter_conditions(spec) if name in fields]
    where, params = spec.where(skip=fields)
    inner = (["e.study_id"] + [f"CAST({COLUMNS[f]} AS VARCHAR) AS v{i}" for i, f in enumerate(fields)]
             + [f"COALESCE(({sql}), FALSE) AS b{j}" for j, (_, sql, _) in enumerate(own)])
    ok = [" AND ".join(f"b{j}" for j, (name, _, _) in enumerate(own) if name != field) or "TRUE"
          for field in fields]
    unpivot = (f"SELECT study_id, UNNEST([{', '.join(str(i) for i in range(len(fields)))}]) AS field, "
               f"UNNEST([{', '.join(f'v{i}' for i in range(len(fields)))}]) AS value, "
               f"UNNEST([{', '.join(ok)}]) AS ok "
               f"FROM (SELECT {', '.join(inner)} FROM effects e JOIN studies s ON s.study_id = e.study_id "
               "JOIN effect_usability u ON u.effect_id = e.effect_id "
               f"WHERE {where} AND u.computable_from IS NOT NULL)")
    bound = [v for _, _, p in own for v in p] + params
    conns = dataset_connections(spec.dataset, con, uploads_dir)
    counted: list[dict] = [{} for _ in fields]
    if len(conns) == 1:
        sql = (f"SELECT field, value, count(DISTINCT study_id) FROM ({unpivot}) "
               "WHERE ok AND value IS NOT NULL GROUP BY field, value")
        for field, value, n in _fetchall(conns[0][1], sql, bound):
            counted[field][value] = n
    else:  # the same trial id in two datasets is one trial: collect the ids, count their union
        sql = f"SELECT DISTINCT field, value, study_id FROM ({unpivot}) WHERE ok AND value IS NOT NULL"
        ids: list[dict] = [{} for _ in fields]
        for _, c in conns:
            for field, value, study_id in _fetchall(c, sql, bound):
                ids[field].setdefault(value, set()).add(study_id)
        counted = [{v: len(s) for v, s in by_value.items()} for by_value in ids]
    return {field: dict(sorted(by_value.items(), key=lambda vn: (-vn[1], vn[0])))
            for field, by_value in zip(fields, counted)}


def _fetchall(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    cur = con.cursor()
    try:
        return cur.execute(sql, params).fetchall()
    finally:
        cur.close()


def table(name: str, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """A whole table or view of the shipped store, by whitelisted name."""
    if name not in TABLES:
        from .errors import InvalidChoice
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
    """Counts that decide the analysis scale (see :func:`evidence.effects.choose_scale`)."""
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
