"""How many trials each filter choice would leave (datasette's facets, in one scan)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd

from evidence.core.errors import InvalidChoice
from evidence.core.filters import CATEGORICAL_FIELDS, COLUMNS, FILTER_ORDER, FilterSpec
from evidence.core.filters import conditions as filter_conditions
from evidence.store.connection import dataset_connections

from ._sql import _fetchall, _fetchnumpy, _query

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
            raise InvalidChoice("field", field, allowed)
    if not fields:
        return {}
    # One scan instead of one statement per field: filters the counts never skip go into WHERE; each
    # counted filter comes back as a boolean column b<j> (its SQL decides, as everywhere), and field i
    # counts a row when every counted filter but its own holds. The matching rows are few (one per
    # usable effect row), so the combining and the distinct counting are done on the fetched arrays:
    # grouping an unpivot inside DuckDB cost four times the scan.
    own = [(name, sql, p) for name, sql, p in filter_conditions(spec) if name in fields]
    where, params = spec.where(skip=fields)
    inner = (["e.study_id"] + [f"CAST({COLUMNS[f]} AS VARCHAR) AS v{i}" for i, f in enumerate(fields)]
             + [f"COALESCE(({sql}), FALSE) AS b{j}" for j, (_, sql, _) in enumerate(own)])
    sql = (f"SELECT {', '.join(inner)} FROM effects e JOIN studies s ON s.study_id = e.study_id "
           "JOIN effect_usability u ON u.effect_id = e.effect_id "
           f"WHERE {where} AND u.computable_from IS NOT NULL")
    bound = [v for _, _, p in own for v in p] + params
    parts = [_fetchnumpy(c, sql, bound) for _, c in dataset_connections(spec.dataset, con, uploads_dir)]
    # the same trial id in two datasets is one trial: the ids of every dataset are counted together
    col = {k: np.concatenate([np.asarray(part[k], dtype=bool if k.startswith("b") else object)
                              for part in parts]) for k in parts[0]}
    study, _ = pd.factorize(col["study_id"])
    holds = [col[f"b{j}"] for j in range(len(own))]
    out: dict[str, dict[str, int]] = {}
    for i, field in enumerate(fields):
        ok = np.ones(len(study), dtype=bool)
        for j, (name, _, _) in enumerate(own):
            if name != field:
                ok &= holds[j]
        values = col[f"v{i}"]
        ok &= pd.notna(values)
        codes, uniq = pd.factorize(values[ok])
        pairs = np.unique(codes.astype(np.int64) * (len(study) + 1) + study[ok])
        n = np.bincount(pairs // (len(study) + 1), minlength=len(uniq))
        by_value = {str(v): int(c) for v, c in zip(uniq, n)}
        out[field] = dict(sorted(by_value.items(), key=lambda vn: (-vn[1], vn[0])))
    return out


#: Fields an evidence map may put on an axis.
MAP_FIELDS: tuple[str, ...] = ("population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
                               "comparator", "outcome")


def trial_counts_by_pair(spec: FilterSpec, row_field: str, col_field: str,
                         con: duckdb.DuckDBPyConnection | None = None, *,
                         uploads_dir: str | Path | None = None) -> pd.DataFrame:
    """Trials with usable numbers in each (row value, column value) cell of an evidence map.

    The two axis fields' own filters are ignored (as in :func:`choice_counts`), every other filter applies.
    A trial whose characteristic is not reported counts under a missing value (None). A trial with two
    comparators counts in both cells.

    Returns
    -------
    DataFrame
        ``row_value, col_value, n_studies`` for the non-empty cells.
    """
    for field in (row_field, col_field):
        if field not in MAP_FIELDS:
            raise InvalidChoice("evidence-map axis", field, MAP_FIELDS)
    if row_field == col_field:
        raise InvalidChoice("evidence-map columns (must differ from the rows)", col_field,
                            tuple(f for f in MAP_FIELDS if f != row_field))
    where, params = spec.where(skip=(row_field, col_field))
    sql = (f"SELECT DISTINCT CAST({COLUMNS[row_field]} AS VARCHAR) AS r, CAST({COLUMNS[col_field]} AS VARCHAR) AS c, "
           "e.study_id FROM effects e JOIN studies s ON s.study_id = e.study_id "
           "JOIN effect_usability u ON u.effect_id = e.effect_id "
           f"WHERE {where} AND u.computable_from IS NOT NULL")
    ids: dict[tuple, set] = {}
    for _, c in dataset_connections(spec.dataset, con, uploads_dir):
        for r, col, study_id in _fetchall(c, sql, params):
            ids.setdefault((r, col), set()).add(study_id)
    cells = sorted(ids.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    return pd.DataFrame({"row_value": pd.Series([k[0] for k, _ in cells], dtype=object),
                         "col_value": pd.Series([k[1] for k, _ in cells], dtype=object),
                         "n_studies": pd.Series([len(v) for _, v in cells], dtype="int64")})
