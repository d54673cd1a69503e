"""Columns as arrays: every stage of the selection reads a frame's columns through :class:`_Cols`, which
fetches and converts each at most once, and groups rows by the integer codes of :data:`_CODED`."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _as_objects(a) -> np.ndarray:
    """Object array with None where missing."""
    if isinstance(a, np.ndarray):
        out = a.astype(object)
        if a.dtype.kind in "Ofc":
            miss = pd.isna(out)
            if miss.any():
                out[miss] = None
        return out
    if isinstance(a, pd.arrays.ArrowStringArray):  # Arrow's own conversion: same objects, faster
        import pyarrow as pa
        return np.asarray(pa.array(a).to_numpy(zero_copy_only=False), dtype=object)
    return a.to_numpy(dtype=object, na_value=None)


def _as_floats(a) -> np.ndarray:
    """Float array with NaN where missing or not a number."""
    if isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
        return a.astype(float)
    if isinstance(a, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)):
        return a.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(pd.Series(a, copy=False), errors="coerce").astype(float).to_numpy()


class _Cols:
    """The columns of a frame as arrays, each fetched and converted at most once.

    On small frames pandas column access and ``astype`` round trips cost more than the work itself;
    on large ones turning arrow-backed text into Python objects does. So every stage reads columns
    through this: ``raw`` (the column's own array), ``obj`` (object array, None where missing),
    ``num`` (float array, NaN where missing or not a number), ``isna`` and ``boolean``. ``take``
    selects rows (lazily for columns not read yet) and ``add`` attaches computed columns. Arrays
    handed out are shared: callers copy before writing into them.
    """

    __slots__ = ("_df", "_pos", "_extra", "_cache", "_parent", "_inherited", "_root_converts", "n")

    def __init__(self, df: pd.DataFrame, pos: np.ndarray | None = None, extra: dict | None = None):
        self._df = df
        self._pos = pos
        self._extra = dict(extra or {})
        self._cache: dict = {}
        self._parent: tuple[_Cols, np.ndarray] | None = None  # (the rows taken from, positions)
        self._inherited: frozenset[str] = frozenset()  # computed columns of the rows taken from (read lazily)
        self._root_converts = False  # a shared store's rows: subsets convert columns here, once
        self.n = len(df) if pos is None else len(pos)

    def _delegates(self, name: str) -> bool:
        """Whether column ``name`` is converted by a shared ancestor (then taken) rather than here."""
        if self._parent is None or name in self._extra:
            return False
        parent = self._parent[0]
        return parent._root_converts or parent._delegates(name)

    def _get(self, key):
        hit = self._cache.get(key)
        if hit is None and self._parent is not None and key[1] not in self._extra and key[0] != "codes":
            parent, pos = self._parent
            hit = parent._get(key)  # converted there already: take it rather than convert again
            if hit is not None:
                hit = self._cache[key] = hit.take(pos)
        return hit

    def _memo(self, kind: str, name: str, convert):
        """Column ``name`` converted by ``convert(raw array)``, once per kind (or taken from the parent)."""
        key = (kind, name)
        hit = self._get(key)
        if hit is None:
            if self._delegates(name):  # convert the whole store's column once, then take these rows
                parent, pos = self._parent
                hit = self._cache[key] = parent._memo(kind, name, convert).take(pos)
            else:
                hit = self._cache[key] = convert(self.raw(name))
        return hit

    @classmethod
    def wrap(cls, obj) -> "_Cols":
        return obj if isinstance(obj, _Cols) else cls(obj)

    def add(self, **arrays) -> "_Cols":
        for name, values in arrays.items():
            self._extra[name] = values
            self._inherited = self._inherited - {name}
            for key in [k for k in self._cache if k[1] == name]:
                del self._cache[key]
        return self

    def take(self, pos, *, copy: bool = False) -> "_Cols":
        """The rows at ``pos``; ``copy=True`` always gives a new object (one that ``add`` may change
        without touching this one, e.g. a store's rows shared between analyses)."""
        pos = np.asarray(pos, dtype=np.intp)
        if not copy and len(pos) == self.n and (pos == np.arange(self.n)).all():
            return self
        out = _Cols(self._df, pos if self._pos is None else self._pos[pos])
        out._parent = (self, pos)
        out._inherited = frozenset(self._extra) | self._inherited  # taken from the parent when read
        return out

    def has(self, name: str) -> bool:
        """Whether a computed column ``name`` was attached (here or to the rows taken from)."""
        return name in self._extra or name in self._inherited

    def raw(self, name: str):
        key = ("raw", name)
        hit = self._get(key)
        if hit is None:
            if name in self._extra:
                hit = self._extra[name]
            elif name in self._inherited:
                parent, pos = self._parent
                hit = parent.raw(name).take(pos)
            else:
                s = self._df[name]
                hit = s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()
                if self._pos is not None:
                    hit = hit.take(self._pos)
            self._cache[key] = hit
        return hit

    def obj(self, name: str) -> np.ndarray:
        return self._memo("obj", name, _as_objects)

    def plain(self, name: str) -> np.ndarray:
        """Object array as ``Series.to_numpy(dtype=object)`` gives it (NaN for missing text)."""
        return self._memo("plain", name,
                          lambda a: a.astype(object) if isinstance(a, np.ndarray) else a.to_numpy(dtype=object))

    def num(self, name: str) -> np.ndarray:
        return self._memo("num", name, _as_floats)

    def isna(self, name: str) -> np.ndarray:
        return self._memo("isna", name, lambda a: np.asarray(pd.isna(a), dtype=bool))

    def boolean(self, name: str) -> pd.arrays.BooleanArray:
        return self._memo("boolean", name, lambda a: pd.Series(a, copy=False).astype("boolean").array)

    def is_in(self, name: str, values) -> np.ndarray:
        """Rows whose value is one of ``values`` (the column is factorised once; rows compare as codes)."""
        key = ("codes", name)
        hit = self._cache.get(key)  # not taken from a parent: its codes are not arrays of these rows
        if hit is None:
            codes, uniques = pd.factorize(self.obj(name))
            hit = self._cache[key] = (codes, list(uniques))
        codes, uniques = hit
        wanted = [i for i, u in enumerate(uniques) if u in values]
        return np.isin(codes, wanted) if wanted else np.zeros(self.n, dtype=bool)

    def text(self, name: str) -> np.ndarray:
        """``Series.to_numpy(dtype=str)``."""
        return self._memo("text", name, lambda a: a.astype(str) if isinstance(a, np.ndarray) else a.to_numpy(dtype=str))


def _isin(values: np.ndarray, choices) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    for c in choices:
        out |= values == c
    return out


def _has_column(c: "_Cols", name: str) -> bool:
    """A computed column or one of the frame's own (older stores' rows may lack e.g. ``timepoint_term``)."""
    return c.has(name) or name in c._df.columns


#: Columns the selection groups by, each as the values its codes stand for (missing values get a code too).
_CODED = {
    "study_id": lambda c: c.plain("study_id"),
    "measure": lambda c: np.where(c.isna("measure"), "\x00none", c.obj("measure")).astype(object),
    "comparison": lambda c: np.where(c.isna("comparison"), "", c.obj("comparison")).astype(object),
}


def _codes(c: "_Cols", name: str) -> np.ndarray:
    """Integer codes of ``name`` (equal values, equal codes): the store's, else factorised here."""
    return c.raw(f"{name}_code") if c.has(f"{name}_code") else pd.factorize(_CODED[name](c))[0]
