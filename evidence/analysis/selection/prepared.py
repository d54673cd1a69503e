"""Every candidate row of a store, converted and classified once per read-only connection.

A filter then costs one short query for the matching ids and a ``take`` of these arrays (see
:class:`_PreparedStore`).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pandas as pd

from evidence import query
from evidence.analysis.selection.choose import _row_keys
from evidence.analysis.selection.classify import _classify_arrays
from evidence.analysis.selection.columns import _CODED, _Cols


class _PreparedStore:
    """Every candidate row of one store, converted and classified once (its connection is read-only).

    A filter then costs one short query for the matching ids and a ``take`` of these arrays: on the
    shipped store the wide candidate query and its frame were most of an analysis' time.
    """

    __slots__ = ("cols", "_sorted_ids", "_order", "_pos_of_rowid", "__weakref__")

    def __init__(self, rows: pd.DataFrame):
        self.cols = _Cols(rows)
        self.cols._root_converts = True
        self.cols.add(**_classify_arrays(self.cols))
        ids = self.cols.text("effect_id")
        self._order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._order]
        rowids = np.asarray(self.cols.num("effect_rowid"), dtype=np.int64) if len(ids) else np.empty(0, np.int64)
        self._pos_of_rowid = np.full(int(rowids.max()) + 1 if len(rowids) else 0, -1, dtype=np.intp)
        self._pos_of_rowid[rowids] = np.arange(len(rowids))
        rank = np.empty(len(ids), dtype=float)
        rank[self._order] = np.arange(len(ids))
        k_comparator, k_primary = _row_keys(self.cols)
        # the rule's row-local steps and its last tie-break, computed once instead of per analysis
        self.cols.add(effect_rank=rank, k_comparator=k_comparator, k_primary=k_primary)
        # integer codes of the grouping columns: a subset groups by them without factorising text again
        self.cols.add(**{f"{name}_code": pd.factorize(values(self.cols))[0] for name, values in _CODED.items()})

    def positions(self, effect_ids: np.ndarray) -> np.ndarray:
        """Row positions of the given effect ids, in store order (ids the store lacks are skipped)."""
        if not len(effect_ids) or not len(self._sorted_ids):
            return np.array([], dtype=np.intp)
        idx = np.searchsorted(self._sorted_ids, effect_ids)
        idx = np.minimum(idx, len(self._sorted_ids) - 1)
        found = self._sorted_ids[idx] == effect_ids
        return np.sort(self._order[idx[found]])


    def positions_of_rowids(self, rowids: np.ndarray) -> np.ndarray:
        """Row positions of the given effects-table row ids, in store order (unknown ids skipped)."""
        rowids = rowids[(rowids >= 0) & (rowids < len(self._pos_of_rowid))]
        pos = self._pos_of_rowid[rowids]
        return np.sort(pos[pos >= 0])


def _as_object_text(rows: pd.DataFrame) -> pd.DataFrame:
    """The store's text columns as numpy object arrays (missing as None), once per store: every analysis
    takes a few rows of each, and a numpy take holds the GIL where an Arrow take releases and re-acquires
    it per column, which under concurrent sessions cost a fifth of a rerun (a py-spy profile of the load
    test)."""
    out = {}
    for name in rows.columns:
        col = rows[name]
        if isinstance(col.dtype, pd.StringDtype):
            out[name] = col.astype(object).where(col.notna(), None)
        else:
            out[name] = col
    return pd.DataFrame(out, index=rows.index)


_prepared: "weakref.WeakKeyDictionary[object, _PreparedStore]" = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()


def _prepared_store(con) -> _PreparedStore:
    with _prepared_lock:
        hit = _prepared.get(con)
    if hit is None:
        hit = _PreparedStore(_as_object_text(query.all_candidate_rows(con)))
        with _prepared_lock:
            hit = _prepared.setdefault(con, hit)
    return hit
