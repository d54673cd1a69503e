"""Analysis-ready effects: one row per study for one outcome, oriented, on one scale.

From the filtered effect rows (:func:`evidence.query.candidate_rows`) this module

1. classifies each row by what it can give: arm means/SDs, arm events, a
   reported effect with its 95% CI (SMD/g/d, RR or OR), or a reported mean
   difference with its 95% CI and both arm Ns;
2. chooses the scale of the analysis (:func:`_choose_scale`);
3. picks one row per study by the stated rule (:data:`SELECTION_RULE`) and
   records why (``selection_reason``);
4. computes ``yi``/``vi`` with :mod:`stats` (never with formulas of its own);
5. orients the rows so that all point the same way and says which side favours
   peer support.

Rules (also shown to users, see :data:`ORIENTATION_RULE` and :data:`SELECTION_RULE`)
-----------------------------------------------------------------------------------
* SMD rows: positive values favour peer support. Arm data give Hedges' g of
  peer minus control on the measure as scored; the sign is reversed when lower
  scores are better. Reported SMD/g/d follow ``reported_sign``: ``ps_minus_ctl``
  is treated like arm data, ``positive_favours_ps`` is kept, and
  ``negative_favours_ps`` is reversed.
* Reported mean differences (MD) with their 95% CI and both arm Ns are
  standardised (SMD scale only): the pooled SD is implied by the CI of the
  difference with the t distribution on n1 + n2 - 2 df, then Hedges' g
  (Cochrane Handbook 6.5.2.3; :func:`stats.smd_from_mean_difference_ci`). They
  are oriented like a reported SMD. An MD without both Ns cannot be
  standardised and is left out with a reason; a row that has the arms' means and
  SDs is used through its arm data.
* Ratio rows (only binary results in the outcome) keep the natural ratio peer /
  control on the log scale; the analysis says whether ratios below or above 1
  favour peer support. If the rows disagree on whether the event is good or bad,
  odds ratios of the minority are inverted (odds of not having the event); risk
  ratios cannot be inverted that way, so such rows are left out with a reason.
* The scale (``FilterSpec.scale``, :func:`_choose_scale`): ``"auto"`` takes the
  one that keeps the most trials, ``"SMD"`` keeps continuous and binary rows
  (binary rows become log odds ratios converted with Chinn's factor, √3/π;
  Chinn 2000; Cochrane Handbook 10.6; reported risk ratios cannot be converted
  and are left out with a reason), ``"ratio"`` keeps binary rows only. The
  choice and every trial left out for its scale are stated, never silent.
  Rate ratios and hazard ratios are their own scales, never pooled as risk ratios.
* Multi-arm trials: by default one comparison per trial is used (the first by
  :data:`COMPARATOR_PREFERENCE`). With ``multi_arm="split"`` every comparison is
  kept and the shared arm's N (and events) is divided equally between the
  comparisons that share it (Cochrane Handbook 23.3.4).
"""

from __future__ import annotations

import heapq
import threading
import warnings
import weakref

import numpy as np
import pandas as pd
from scipy.special import ndtri

import stats

from evidence import query
from evidence.store import connection
from evidence.core.errors import InvalidChoice, OutcomeRequired
from evidence.core.measures import Favours
from evidence.core.filters import FilterSpec, followup_target, vocabulary
from evidence.analysis.data import EffectData

__all__ = [
    "effects", "effect_set", "effect_set_from_frame", "EffectSet", "EffectData", "classify_rows",
    "computed_vs_reported", "DEFAULT_TARGET_MONTHS", "COMPARATOR_PREFERENCE",
    "SELECTION_RULE", "ORIENTATION_RULE", "followup_rule_words", "ROUNDING_TOLERANCE", "EFFECT_COLUMNS",
]

#: Follow-up targeted when no window is chosen (months from randomisation); a stated default.
DEFAULT_TARGET_MONTHS = 6.0
#: Which comparison of a multi-arm trial is used by default: the least active control first.
COMPARATOR_PREFERENCE: tuple[str, ...] = ("usual care", "waitlist", "attention control", "other",
                                          "active", "group CBT")
SMD_TYPES = frozenset({"SMD", "g", "d"})
RATIO_TYPES = frozenset({"RR", "OR"})
MULTI_ARM_CHOICES = ("one", "split")
#: Notes name trials one by one up to this many; beyond, one summary note.
MAX_LISTED_NOTES = 5
#: Stores with at least this many effect rows are classified and selected inside DuckDB.
ENGINES = ("auto", "fresh")

SELECTION_RULE = (
    "One row per trial: (1) the comparison against the least active control "
    "(usual care, waitlist, attention control, other, active, group CBT); (2) a result on the "
    "analysis scale before one converted from a binary result; (3) the follow-up the chosen rule "
    "names: the longest (default), the shortest, or the one nearest a chosen number of months (the "
    "longer on a tie); a follow-up whose months are not recorded comes after those that are, ranked "
    "by the source's own words (short, medium, long term); (4) the measure used by most trials for "
    "this outcome; (5) arm-level data before a reported effect; (6) the primary paper before a review "
    "or database; (7) the shipped dataset before an imported one; (8) a verified row before an "
    "unverified one; (9) the row listed first in its source (the lowest effect id: source file, then row)."
)
ORIENTATION_RULE = (
    "SMDs are oriented so that positive values favour peer support (signs reversed for "
    "measures where lower is better). Ratios are peer support / control."
)

#: Agreement allowed between an effect computed from arm data and the one the source printed:
#: half a unit in the last printed decimal of each bound, widened to 0.01 for SMDs printed to two
#: decimals (the usual precision) and to 2% of a ratio.
ROUNDING_TOLERANCE = {"SMD": 0.01, "ratio_relative": 0.02}

#: Columns of the frame returned by :func:`effects`, in order.
EFFECT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "effect_id", "dataset", "outcome", "measure", "effect_measure",
    "yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
    "n_ps", "n_ctl", "n_total", "timepoint_months", "risk_of_bias", "population", "setting",
    "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support", "peer_deliverer", "comparator",
    "comparison", "country", "design", "higher_is_better", "source_review", "source_url",
    "source_location", "source_quote", "verification", "computed_from", "conversion",
    "selection_reason", "n_candidates", "flags",
)

_ROUTE_TEXT = {
    "arm_continuous": "arm means and SDs (Hedges' g)",
    "arm_binary": "arm event counts",
    "reported_rr": "reported RR and 95% CI",
    "reported_or": "reported OR and 95% CI",
    "reported_md": "reported MD, 95% CI and arm Ns",
    "reported_irr": "reported rate ratio and 95% CI",
    "reported_hr": "reported hazard ratio and 95% CI",
}
#: Routes from a reported effect (arm data are preferred over them: step 5 of the selection rule).
REPORTED_ROUTES = ("reported_smd", "reported_md", "reported_rr", "reported_or", "reported_irr", "reported_hr")
#: Ratio routes that are their own measures (pooled only on their own scale, never as risk ratios).
OWN_RATIO_SCALES = {"logIRR": "reported_irr", "logHR": "reported_hr"}
#: Routes on the SMD scale whose numbers are continuous (the others there are binary).
CONTINUOUS_ROUTES = ("arm_continuous", "reported_smd", "reported_md")
#: Conversion note of a row standardised from its reported mean difference.
MD_CONVERSION = ("SMD from the reported mean difference and its 95% CI (SD implied by the CI; "
                 "Cochrane Handbook 6.5.2.3)")
#: Plain-language reason for each code of a row that cannot give an effect (SQL and pandas agree).
REASONS = {
    "not_poolable": "flagged not poolable (not a between-group effect size)",
    "no_direction": "direction of the measure (higher_is_better) not recorded",
    "md": "reported mean difference without per-arm N: cannot be standardised",
    "md_too_few": "reported mean difference with two or fewer participants in total: cannot be standardised",
    "md_on_ratio": "reported mean difference cannot be pooled on a ratio scale",
    "no_type": "reported number is not a between-group effect size (no effect type)",
    "no_ci": "reported effect without a 95% CI",
    "mean_no_sd": "arm means without SDs",
    "no_n": "arm numbers without per-arm N",
    "too_few": "arm means and SDs with two or fewer participants in total",
    "no_numbers": "no outcome numbers",
    "rr_on_smd": "reported risk ratio cannot be converted to an SMD (needs an odds ratio or event counts)",
    "or_on_rr": "reported odds ratio cannot be pooled with risk ratios",
    "rr_on_or": "reported risk ratio cannot be pooled with odds ratios",
    "direction_minority": "the event points the other way from the other rows and a risk ratio cannot be inverted",
    "not_selected": "not selected: another row of this trial was used (see its selection reason)",
    "continuous_on_ratio": "continuous result cannot be pooled on a ratio scale (choose the SMD scale to keep it)",
    "rate_ratio": "rate ratio: its own measure, pooled only with other rate ratios (never as a risk ratio or SMD)",
    "hazard_ratio": "hazard ratio: its own measure, pooled only with other hazard ratios (never as a risk ratio or SMD)",
    "not_rate_ratio": "not a rate ratio: the analysis is on the rate-ratio scale",
    "not_hazard_ratio": "not a hazard ratio: the analysis is on the hazard-ratio scale",
}
#: Routes usable on each scale.
SCALE_ROUTES = {
    "SMD": ("arm_continuous", "reported_smd", "reported_md", "arm_binary", "reported_or"),
    "logRR": ("arm_binary", "reported_rr"),
    "logOR": ("arm_binary", "reported_or"),
    "logIRR": ("reported_irr",),
    "logHR": ("reported_hr",),
}
_OFF_SCALE = {("SMD", "reported_rr"): "rr_on_smd", ("logRR", "reported_or"): "or_on_rr",
              ("logRR", "arm_continuous"): "continuous_on_ratio", ("logRR", "reported_smd"): "continuous_on_ratio",
              ("logOR", "arm_continuous"): "continuous_on_ratio", ("logOR", "reported_smd"): "continuous_on_ratio",
              ("logOR", "reported_rr"): "rr_on_or", ("logRR", "reported_md"): "md_on_ratio",
              ("logOR", "reported_md"): "md_on_ratio",
              **{(s, "reported_irr"): "rate_ratio" for s in ("SMD", "logRR", "logOR", "logHR")},
              **{(s, "reported_hr"): "hazard_ratio" for s in ("SMD", "logRR", "logOR", "logIRR")},
              **{("logIRR", r): "not_rate_ratio" for r in ("arm_continuous", "arm_binary", "reported_smd",
                                                         "reported_md", "reported_rr", "reported_or")},
              **{("logHR", r): "not_hazard_ratio" for r in ("arm_continuous", "arm_binary", "reported_smd",
                                                          "reported_md", "reported_rr", "reported_or")}}
_EXCLUDED_COLUMNS = ["study_id", "effect_id", "reason", "kind"]
_FLOAT_COLUMNS = ("yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
                  "n_ps", "n_ctl", "n_total", "timepoint_months")


class EffectSet:
    """Analysis-ready effects with everything needed to explain them (immutable).

    Attributes
    ----------
    data : EffectData
        The typed container handed to :mod:`stats`: ``yi``, ``vi``, study ids and sizes, in the
        frame's row order (built first; most analyses need nothing else).
    effects : DataFrame
        One row per study (per comparison with ``multi_arm="split"``); columns :data:`EFFECT_COLUMNS`.
        Built on first access, from the same rows as ``data``.
    excluded : DataFrame
        ``study_id, effect_id, reason, kind`` for every matching row not used; ``kind`` is
        ``"unusable"`` (no poolable numbers on this scale) or ``"not selected"`` (another row of
        the same trial was used). Computed on first access.
    effect_measure : str
        ``"SMD"``, ``"logRR"``, ``"logOR"``, ``"logIRR"`` or ``"logHR"``.
    favours : evidence.core.measures.Favours
        Which side favours peer support (``.side``; ``str()`` gives the sentence).
    scale_note : str
        How results were put on one scale ('' when nothing was converted).
    notes : tuple of str
        Other facts a reader needs (multi-arm choices, shared-arm splits, inverted odds ratios).
    target_months : float
        The follow-up the selection aimed at.
    n_candidates : int
        Number of matching effect rows before selection.
    """

    __slots__ = ("data", "effect_measure", "favours", "scale_note", "notes", "target_months",
                 "n_candidates", "_effects_fn", "_effects", "_excluded_fn", "_excluded")

    def __init__(self, data, effects_fn, excluded_fn, effect_measure, favours, scale_note, notes=(),
                 target_months=DEFAULT_TARGET_MONTHS, n_candidates=0):
        for name, value in (("data", data), ("effect_measure", effect_measure), ("favours", favours),
                            ("scale_note", scale_note), ("notes", tuple(notes)),
                            ("target_months", float(target_months)), ("n_candidates", int(n_candidates)),
                            ("_effects_fn", effects_fn), ("_effects", None),
                            ("_excluded_fn", excluded_fn), ("_excluded", None)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("EffectSet is immutable")

    @property
    def effects(self) -> pd.DataFrame:
        if self._effects is None:  # a race builds the same frame twice; either copy is kept whole
            object.__setattr__(self, "_effects", self._effects_fn())
        return self._effects

    @property
    def excluded(self) -> pd.DataFrame:
        if self._excluded is None:
            object.__setattr__(self, "_excluded", self._excluded_fn().reset_index(drop=True))
        return self._excluded


# ---------------------------------------------------------------------------------------------
# Columns as arrays (every stage below reads its columns through one of these)

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


_prepared: "weakref.WeakKeyDictionary[object, _PreparedStore]" = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()


def _prepared_store(con) -> _PreparedStore:
    with _prepared_lock:
        hit = _prepared.get(con)
    if hit is None:
        hit = _PreparedStore(query.all_candidate_rows(con))
        with _prepared_lock:
            hit = _prepared.setdefault(con, hit)
    return hit


def _isin(values: np.ndarray, choices) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    for c in choices:
        out |= values == c
    return out


# ---------------------------------------------------------------------------------------------
# Classification (pandas twin of the SQL in evidence.query, used when datasets are merged)

def _flag_array(c: _Cols) -> np.ndarray:
    """Study and row flags of each row, joined, deduplicated, in order (object array)."""
    if c.n == 0:
        return np.array([], dtype=object)
    a = np.where(c.isna("study_flags"), "", c.obj("study_flags"))
    b = np.where(c.isna("effect_flags"), "", c.obj("effect_flags"))
    codes, uniq = pd.factorize((a + ";" + b).astype(object))
    clean = np.array([";".join(dict.fromkeys(x for x in str(v).split(";") if x)) for v in uniq], dtype=object)
    return clean[codes]


def _classify_arrays(df) -> dict[str, np.ndarray]:
    """route, kind, reason_code and flags as arrays, without copying the (wide) frame."""
    c = _Cols.wrap(df)
    na = c.isna
    n_ps, n_ctl = c.num("n_ps"), c.num("n_ctl")
    arm_c = ~(na("n_ps") | na("n_ctl") | na("mean_ps") | na("mean_ctl") | na("sd_ps") | na("sd_ctl"))
    with np.errstate(invalid="ignore"):
        arm_c &= (n_ps + n_ctl) > 2
    arm_b = ~(na("n_ps") | na("n_ctl") | na("events_ps") | na("events_ctl"))
    rep = ~(na("reported_effect") | na("reported_ci_low") | na("reported_ci_high") | na("reported_effect_type"))
    rtype = np.where(na("reported_effect_type"), "", c.obj("reported_effect_type")).astype(object)
    sign = np.where(na("reported_sign"), "ps_minus_ctl", c.obj("reported_sign")).astype(object)
    flags = _flag_array(c)
    not_poolable = np.array(["not-poolable" in f for f in flags], dtype=bool)
    md = rep & (rtype == "MD")
    md_n = md & ~(na("n_ps") | na("n_ctl"))
    with np.errstate(invalid="ignore"):
        md_ok = md_n & ((n_ps + n_ctl) > 2)
    raw = np.select([arm_c, arm_b, rep & np.isin(rtype, list(SMD_TYPES)), rep & (rtype == "RR"),
                     rep & (rtype == "OR"), md_ok, rep & (rtype == "IRR"), rep & (rtype == "HR")],
                    ["arm_continuous", "arm_binary", "reported_smd", "reported_rr", "reported_or", "reported_md",
                     "reported_irr", "reported_hr"],
                    default="")
    has = raw != ""
    oriented = np.isin(raw, ["reported_smd", "reported_md"]) & np.isin(sign, ["positive_favours_ps",
                                                                              "negative_favours_ps"])
    no_dir = has & na("higher_is_better") & ~oriented
    mean_any = ~na("mean_ps") | ~na("mean_ctl")
    rep_any = ~na("reported_effect")
    code = np.select(
        [not_poolable, no_dir, has, md_n, md, rep_any & (rtype == ""), rep_any,
         mean_any & (na("sd_ps") | na("sd_ctl")), (mean_any | ~na("events_ps")) & (na("n_ps") | na("n_ctl")),
         ~na("mean_ps")],
        ["not_poolable", "no_direction", "", "md_too_few", "md", "no_type", "no_ci", "mean_no_sd", "no_n",
         "too_few"],
        default="no_numbers")
    usable = has & ~not_poolable & ~no_dir
    kind = np.where(~usable, None, np.where(np.isin(raw, list(CONTINUOUS_ROUTES)), "continuous", "binary"))
    return {"route": np.where(usable, raw, None).astype(object), "kind": kind.astype(object),
            "reason_code": np.where(code == "", None, code).astype(object), "flags": flags}


def classify_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``route``, ``kind``, ``reason_code``, ``unusable_reason`` and ``flags`` to candidate rows.

    ``route`` is how a row can give an effect (``arm_continuous``, ``arm_binary``,
    ``reported_smd``, ``reported_md``, ``reported_rr``, ``reported_or``) or None; ``kind`` is
    ``continuous``/``binary``. ``reported_md`` is a reported mean difference with its 95% CI and
    both arm Ns (``n_ps + n_ctl > 2``), usable on the SMD scale only. Arm data win over a reported
    effect in the same row. Same rules as the SQL in :func:`evidence.query.selected_rows`.
    """
    arrays = _classify_arrays(rows)
    out = rows.assign(**arrays)
    out["unusable_reason"] = [REASONS.get(c) if c else None for c in arrays["reason_code"]]
    return out


_SCALE_WORDS = {"SMD": "the SMD scale", "logRR": "the risk-ratio scale", "logOR": "the odds-ratio scale",
                "logIRR": "the rate-ratio scale", "logHR": "the hazard-ratio scale"}


def _choose_scale(c: "_Cols", s: dict, choice: str) -> tuple[str, str, list[str]]:
    """The analysis scale for a choice (``auto``, ``SMD``, ``ratio``), the sentence that states it, and the
    trials with usable numbers only on the other scale (left out for their scale).

    ``auto`` takes the scale that keeps the most trials; on a tie, the one needing no conversion (the ratio
    when every usable row is binary, else SMD). The choice is always said, never made silently.
    """
    ratio = _scale_from_summary({**s, "n_continuous": 0}) if s["n_usable"] else "logRR"
    route, sid = c.obj("route"), c.obj("study_id")
    has = ~pd.isna(route)
    on_ratio = has & _isin(route, SCALE_ROUTES[ratio])
    keep = _majority(s, ratio) if ratio == "logRR" else None
    if keep is not None:  # risk ratios of an event pointing the other way are left out (see effect_set)
        on_ratio &= (c.boolean("higher_is_better") == keep).fillna(False).to_numpy(dtype=bool)
    smd = {x for x in sid[has & _isin(route, SCALE_ROUTES["SMD"])] if x is not None}
    rat = {x for x in sid[on_ratio] if x is not None}
    for own, own_route in OWN_RATIO_SCALES.items():  # a set of rate (hazard) ratios only: their own scale
        trials = {x for x in sid[has & (route == own_route)] if x is not None}
        if len(trials) > len(rat):
            ratio, rat = own, trials
    if choice == "SMD":
        scale = "SMD"
    elif choice == "ratio":
        scale = ratio
    elif not s["n_usable"] or not rat:
        scale = "SMD"
    elif len(rat) != len(smd):
        scale = ratio if len(rat) > len(smd) else "SMD"
    else:
        scale = ratio if not s["n_continuous"] else "SMD"
    here, other = (smd, rat) if scale == "SMD" else (rat, smd)
    other_name = _SCALE_WORDS[ratio if scale == "SMD" else "SMD"]
    sentence = ""
    if s["n_usable"] and (choice != "auto" or (smd and rat and here != other)):
        how = "chosen" if choice != "auto" else "chosen automatically: it keeps the most trials"
        sentence = (f"Scale: {_SCALE_WORDS[scale]} ({how}): {len(here)} trial(s); {other_name} would keep "
                    f"{len(other)}.")
    return scale, sentence, sorted(str(x) for x in (smd | rat) - here)


def _scale_from_summary(s: dict) -> str:
    if s["n_continuous"] or not s["n_usable"]:
        return "SMD"
    if s["rr_studies"] == s["studies"]:
        return "logRR"
    if s["or_studies"] == s["studies"]:
        return "logOR"
    return "logRR" if s["rr_studies"] >= s["or_studies"] else "logOR"


def _summary_from_cols(c: _Cols) -> dict:
    route = c.obj("route")
    has = ~pd.isna(route)
    hv = c.boolean("higher_is_better").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(hv)
    sid = _codes(c, "study_id")  # -1 where the id is missing (not counted)
    rr = has & _isin(route, ("arm_binary", "reported_rr"))
    orr = has & _isin(route, ("arm_binary", "reported_or"))
    nunique = lambda m: len(np.unique(sid[m & (sid >= 0)]))  # noqa: E731
    mean = lambda m: float(hv[m].mean()) if m.any() else None  # noqa: E731
    return {"n_usable": int(has.sum()), "n_continuous": int((has & (c.obj("kind") == "continuous")).sum()),
            "studies": nunique(has), "rr_studies": nunique(rr), "or_studies": nunique(orr),
            "hib_rr": mean(rr & known), "hib_or": mean(orr & known), "n_rows": c.n}


def _summary_from_frame(df: pd.DataFrame) -> dict:
    return _summary_from_cols(_Cols(df))


# ---------------------------------------------------------------------------------------------
# Selection (pandas twin of the SQL window in evidence.query)

_KEY_ORDER = ("k_comparator", "k_native", "k_time", "k_time_long", "k_measure", "k_arm",
              "k_primary", "k_dataset", "k_verified")
_NARROW = ("dataset", "study_id", "effect_id", "comparison", "comparator", "measure", "timepoint_months",
           "source_review", "verification", "route", "kind")
_COMP_RANK = {c: float(i) for i, c in enumerate(COMPARATOR_PREFERENCE)}


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct (a, b) rows of two non-negative code arrays, as ``np.unique(..., axis=0)`` gives them
    (one integer sort instead of a sort of row views, which is slow on tens of thousands of rows)."""
    if not len(a):
        return np.empty((0, 2), dtype=np.int64)
    width = np.int64(b.max()) + 1
    combined = np.unique(a.astype(np.int64) * width + b.astype(np.int64))
    return np.stack([combined // width, combined % width], axis=1)


def _row_keys(c: "_Cols") -> tuple[np.ndarray, np.ndarray]:
    """The steps of the rule that depend on the row alone: comparator rank, primary source first."""
    other = float(len(_COMP_RANK))
    k_comp = np.array([_COMP_RANK.get(x, other) if isinstance(x, str) else other for x in c.obj("comparator")],
                      dtype=float)
    k_primary = np.array([0.0 if isinstance(x, str) and "primary" in x.lower() else 1.0
                          for x in c.obj("source_review")], dtype=float)
    return k_comp, k_primary


#: Columns the selection groups by, each as the values its codes stand for (missing values get a code too).
_CODED = {
    "study_id": lambda c: c.plain("study_id"),
    "measure": lambda c: np.where(c.isna("measure"), "\x00none", c.obj("measure")).astype(object),
    "comparison": lambda c: np.where(c.isna("comparison"), "", c.obj("comparison")).astype(object),
}


def _codes(c: "_Cols", name: str) -> np.ndarray:
    """Integer codes of ``name`` (equal values, equal codes): the store's, else factorised here."""
    return c.raw(f"{name}_code") if c.has(f"{name}_code") else pd.factorize(_CODED[name](c))[0]


def _selection_keys(df, scale: str, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys (one column per step of the rule, smaller first) and each row's measure use."""
    c = _Cols.wrap(df)
    n = c.n
    t = c.num("timepoint_months")
    known = ~np.isnan(t)
    term = np.nan_to_num(c.num("timepoint_term")) if _has_column(c, "timepoint_term") else np.zeros(n)
    k_comp, k_primary = (c.num("k_comparator"), c.num("k_primary")) if c.has("k_primary") else _row_keys(c)
    k_native = ((scale == "SMD") & (c.obj("kind") == "binary")).astype(float)
    # target: +inf = the longest follow-up, -inf = the shortest, else the months to aim at (longer on a tie);
    # rows without months come last, ranked by the source's words (term 1-3; 0 = none, ranked last)
    if target == np.inf:
        k_time, k_long = np.where(known, -t, np.inf), np.where(known, 0.0, -term)
    elif target == -np.inf:
        k_time, k_long = np.where(known, t, np.inf), np.where(known, 0.0, np.where(term > 0, term, np.inf))
    else:
        k_time, k_long = np.where(known, np.abs(t - target), np.inf), np.where(known, -t, -term)
    m_codes, s_codes = _codes(c, "measure"), _codes(c, "study_id")
    pairs = _unique_pairs(m_codes, s_codes)
    use = np.bincount(pairs[:, 0], minlength=m_codes.max() + 1 if n else 0).astype(float)
    measure_use = use[m_codes] if n else np.empty(0)
    k_arm = _isin(c.obj("route"), REPORTED_ROUTES).astype(float)
    k_dataset = (c.plain("dataset") != "shipped").astype(float)
    k_verified = (c.plain("verification") != "verified").astype(float)
    keys = np.stack([k_comp, k_native, k_time, k_long, -measure_use, k_arm, k_primary, k_dataset, k_verified],
                    axis=1) if n else np.empty((0, len(_KEY_ORDER)))
    return keys, measure_use


def _select_positions(c: _Cols, scale: str, target: float, multi_arm: str
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Positions of the chosen rows, their extra columns, and positions of the others."""
    n = c.n
    keys, measure_use = _selection_keys(c, scale, target)
    s_codes, c_codes = _codes(c, "study_id"), _codes(c, "comparison")
    if multi_arm == "one" or not n:
        g_codes = s_codes
    else:  # one group per (study, comparison)
        g_codes = np.unique(s_codes.astype(np.int64) * (np.int64(c_codes.max()) + 1) + c_codes,
                            return_inverse=True)[1].ravel()
    if c.has("effect_rank"):  # ranked once for the whole store (same order within any subset)
        eff_order = c.num("effect_rank")
    else:
        ids = c.text("effect_id")
        eff_order = np.argsort(np.argsort(ids, kind="stable"), kind="stable") if n else np.empty(0, dtype=int)
    order = np.lexsort((eff_order,) + tuple(keys[:, j] for j in range(keys.shape[1] - 1, -1, -1)) + (g_codes,)) \
        if n else np.empty(0, dtype=int)
    g_sorted = g_codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    chosen_pos = order[first]
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = g_sorted[1:] == g_sorted[:-1]
    runner_pos = np.where(has_next, np.roll(order, -1), -1)[first]
    decisive = np.full(len(chosen_pos), None, dtype=object)
    names = np.array(list(_KEY_ORDER) + ["effect_id"], dtype=object)
    if len(chosen_pos):
        a = keys[chosen_pos]
        b = keys[np.where(runner_pos >= 0, runner_pos, chosen_pos)]
        differs = a != b
        step = np.where(differs.any(axis=1), differs.argmax(axis=1), len(_KEY_ORDER))
        decisive = np.where(runner_pos >= 0, names[step], None).astype(object)
    counts = np.bincount(g_codes, minlength=g_codes.max() + 1 if n else 0)
    sc = _unique_pairs(s_codes, c_codes)
    n_comp = np.bincount(sc[:, 0], minlength=s_codes.max() + 1 if n else 0)
    extra = {"n_candidates": counts[g_codes[chosen_pos]] if n else np.empty(0, dtype=int),
             "n_comparisons": n_comp[s_codes[chosen_pos]] if n else np.empty(0, dtype=int),
             "measure_use": measure_use[chosen_pos] if n else np.empty(0),
             "decisive": decisive}
    rest_mask = np.ones(n, dtype=bool)
    rest_mask[chosen_pos] = False
    return chosen_pos, extra, np.flatnonzero(rest_mask)


def _select(df: pd.DataFrame, scale: str, target: float, multi_arm: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick one row per study (per comparison with ``"split"``); returns (chosen, the others).

    The chosen rows carry ``n_candidates``, ``n_comparisons``, ``measure_use`` and ``decisive`` (the
    step of :data:`SELECTION_RULE` that separated the winner from the runner-up, None when alone).
    """
    chosen_pos, extra, rest = _select_positions(_Cols(df), scale, target, multi_arm)
    chosen = df.iloc[chosen_pos].assign(**{k: v if len(v) or k == "decisive" else [] for k, v in extra.items()})
    return chosen, df[["study_id", "effect_id"]].iloc[rest]


_TERM_WORDS = {1: "short term", 2: "medium term", 3: "long term"}


def followup_rule_words(rule: str) -> str:
    """The follow-up rule of a :class:`FilterSpec` (``spec.followup``) as a sentence for pages and exports."""
    lead = {"longest": "each trial's longest follow-up", "shortest": "each trial's shortest follow-up"}.get(
        rule, f"the follow-up nearest {rule} months (the longer on a tie)")
    return (f"When a trial reports several follow-ups, {lead} is used; follow-ups without months come after "
            "those with, ranked by the source's words (short, medium, long term).")


def _has_column(c: "_Cols", name: str) -> bool:
    """A computed column or one of the frame's own (older stores' rows may lack e.g. ``timepoint_term``)."""
    return c.has(name) or name in c._df.columns


def _followup_words(months: float, term: float, target: float, extra: str) -> str:
    """Why a follow-up was chosen, in the words of the rule (``target``: see :func:`_selection_keys`)."""
    if np.isnan(months):
        rule = "longest" if target == np.inf else "shortest" if target == -np.inf else "longer"
        return (f"follow-up '{_TERM_WORDS.get(int(term), 'unknown')}' as the source words it (months not recorded), "
                f"the {rule} of the rows without months")
    if target == np.inf:
        return f"the longest follow-up ({months:g} months)"
    if target == -np.inf:
        return f"the shortest follow-up ({months:g} months)"
    return f"follow-up {months:g} months nearest the {target:g}-month target{extra}"


def _reasons(chosen, target: float) -> np.ndarray:
    """``selection_reason`` for every chosen row, from the deciding step of the rule."""
    c = _Cols.wrap(chosen)
    n = c.n
    out = np.full(n, "only usable row for this trial", dtype=object)
    if n == 0:
        return out
    decisive = c.obj("decisive")
    idx = np.flatnonzero(~pd.isna(decisive))
    if not len(idx):
        return out
    d = decisive[idx]
    # texts are built once per distinct value, then spread (most rows share a few values)
    k = c.num("n_candidates")[idx].astype(int)
    if len(k) and 0 <= k.min() and k.max() < 4 * len(k) + 64:  # small counts: a lookup table, no sort
        prefix = np.array([f"chosen from {i} rows: " for i in range(k.max() + 1)], dtype=object)[k]
    else:
        counts, inv = np.unique(k, return_inverse=True)
        prefix = np.array([f"chosen from {i} rows: " for i in counts], dtype=object)[inv.ravel()]
    text = np.full(len(idx), None, dtype=object)
    fixed = {
        "k_native": "a continuous result preferred over a converted binary one",
        "k_arm": "arm-level data preferred over a reported effect",
        "k_primary": "primary paper preferred over a review or database",
        "k_dataset": "shipped data preferred over an imported dataset",
        "k_verified": "verified row preferred over an unverified one",
        "effect_id": "rows otherwise equal; the row listed first in its source (lowest effect id)",
    }
    codes, steps = pd.factorize(d)
    mask = {step: codes == i for i, step in enumerate(steps)}
    none = np.zeros(len(idx), dtype=bool)
    for key, words in fixed.items():
        text[mask.get(key, none)] = words
    m = mask.get("k_comparator", none)
    if m.any():
        comparator = c.obj("comparator")[idx][m]
        words = {x: f"comparison against {x if x is not None else 'an unstated control'} preferred "
                    "(least active control first)" for x in set(comparator)}
        text[m] = [words[x] for x in comparator]
    terms = c.num("timepoint_term")[idx] if _has_column(c, "timepoint_term") else np.zeros(len(idx))
    for key, extra in (("k_time", ""), ("k_time_long", " (the longer of two equally near)")):
        m = mask.get(key, none)
        if m.any():
            pairs = list(zip(c.num("timepoint_months")[idx][m].tolist(), np.nan_to_num(terms[m]).tolist()))
            text[m] = [_followup_words(v, term, target, extra) for v, term in pairs]
    m = mask.get("k_measure", none)
    if m.any():
        pairs = list(zip(c.obj("measure")[idx][m], c.num("measure_use")[idx][m].astype(int).tolist()))
        words = {(x, u): np.nan if x is None else f"{x} is the measure most used for this outcome ({u} trials)"
                 for x, u in set(pairs)}
        text[m] = [words[p] for p in pairs]
    done = ~np.equal(text, None)
    out[idx[done]] = prefix[done] + text[done]
    return out


# ---------------------------------------------------------------------------------------------
# Computation

def _quiet(func, *args, **kwargs):
    # stats warns when it sets a row to NaN; the reason is recorded from `.excluded` instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        return func(*args, **kwargs)


def _arr(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").astype(float).to_numpy()


def _join_notes(*parts: np.ndarray) -> np.ndarray:
    out = np.full(len(parts[0]), "", dtype=object)
    for p in parts:
        has = p != ""
        if not has.any():
            continue
        both = has & (out != "")
        only = has & ~both
        out[only] = p[only]
        if both.any():
            out[both] = out[both] + "; " + p[both]
    return out


def _compute(sel, scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """yi, vi (natural log ratio for ratios, favour-positive for SMD), conversion notes, NaN reasons.

    ``sel`` carries the arm numbers actually used (``n_ps_used``, ...; see :func:`_split_arrays`).
    """
    c = _Cols.wrap(sel)
    n = c.n
    yi = np.full(n, np.nan)
    vi = np.full(n, np.nan)
    why: list[str | None] = [None] * n
    hv = c.boolean("higher_is_better").to_numpy(dtype=float, na_value=np.nan)
    direction = np.where(np.isnan(hv), np.nan, np.where(hv == 1.0, 1.0, -1.0))
    n_ps, n_ctl = c.num("n_ps_used"), c.num("n_ctl_used")

    def put(mask, es):
        idx = np.flatnonzero(mask)
        yi[idx], vi[idx] = es.yi, es.vi
        for e in es.excluded:
            why[idx[e.position]] = e.reason

    m = c.is_in("route", ("arm_continuous",))
    if m.any():
        put(m, _quiet(stats.smd, c.num("mean_ps")[m], c.num("sd_ps")[m], n_ps[m],
                      c.num("mean_ctl")[m], c.num("sd_ctl")[m], n_ctl[m]))
    m = c.is_in("route", ("reported_smd",))
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, c.num("reported_effect")[m],
                      c.num("reported_ci_low")[m], c.num("reported_ci_high")[m]))
    md = c.is_in("route", ("reported_md",))
    if md.any():
        est, lo, hi = c.num("reported_effect"), c.num("reported_ci_low"), c.num("reported_ci_high")
        with np.errstate(invalid="ignore"):
            # what stats would refuse for the whole call is refused here row by row, with a reason
            too_few = md & ~((n_ps > 0) & (n_ctl > 0) & (n_ps + n_ctl > 2))
            bad_ci = md & ~too_few & ~((lo < hi) & (lo <= est) & (est <= hi) & np.isfinite(est + lo + hi))
        for i in np.flatnonzero(too_few):
            why[i] = REASONS["md_too_few"]
        for i in np.flatnonzero(bad_ci):
            why[i] = "reported 95% CI is empty or does not contain the estimate"
        m = md & ~too_few & ~bad_ci
        if m.any():
            put(m, _quiet(stats.smd_from_mean_difference_ci, est[m], lo[m], hi[m], n_ps[m], n_ctl[m]))
    m = c.is_in("route", ("arm_binary",))
    if m.any():
        func = stats.log_risk_ratio if scale == "logRR" else stats.log_odds_ratio
        put(m, _quiet(func, c.num("events_ps_used")[m], n_ps[m], c.num("events_ctl_used")[m], n_ctl[m]))
    m = c.is_in("route", ("reported_rr", "reported_or", "reported_irr", "reported_hr"))
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, c.num("reported_effect")[m],
                      c.num("reported_ci_low")[m], c.num("reported_ci_high")[m], ratio=True))

    reported = c.is_in("route", REPORTED_ROUTES)
    binary = c.is_in("route", ("arm_binary", "reported_rr", "reported_or", "reported_irr", "reported_hr"))
    if reported.any():
        sign = np.where(c.isna("reported_sign"), "ps_minus_ctl", c.obj("reported_sign")).astype(object)
        pos = reported & (sign == "positive_favours_ps")
        neg = reported & (sign == "negative_favours_ps")
    else:  # the sign of a reported effect is all that is read of it
        pos = neg = np.zeros(n, dtype=bool)
    blank = np.full(n, "", dtype=object)
    if scale == "SMD":
        flip = np.where(pos, 1.0, np.where(neg, -1.0, direction))
        chinn = blank.copy()
        if binary.any():
            idx = np.flatnonzero(binary)
            es = _quiet(stats.log_odds_ratio_to_smd, yi[idx], vi[idx])
            yi[idx], vi[idx] = es.yi, es.vi
            chinn[idx] = "log odds ratio converted to SMD (Chinn 2000, ×√3/π; Cochrane Handbook 10.6)"
        yi = yi * flip
        own = ~pos & ~neg & (direction < 0)
        rev = np.full(n, "", dtype=object)
        rev[own & binary] = "sign reversed (events are undesirable)"
        lower = own & ~binary
        if lower.any():
            measure = c.obj("measure")[lower]
            words = {x: f"sign reversed (lower {'score' if x is None else x} is better)" for x in set(measure)}
            rev[lower] = [words[x] for x in measure]
        rev[neg] = "sign reversed (the source reports negative values as favouring peer support)"
        md_note = np.where(md, MD_CONVERSION, "").astype(object) if md.any() else blank
        conv = _join_notes(chinn, md_note, rev)
    else:
        back = (pos & (direction < 0)) | (neg & (direction > 0))
        yi = np.where(back, -yi, yi)
        conv = np.where(back, "ratio re-expressed as peer / control (the source oriented it)", "").astype(object)
    return yi, vi, conv, why


def _split_arrays(c: _Cols, split: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    """Arm numbers used (``n_ps_used``, ...) and ``split_note`` for each row, and the notes."""
    used = {f"{col}_used": c.num(col).copy() for col in ("n_ps", "n_ctl", "events_ps", "events_ctl")}
    used["split_note"] = np.full(c.n, "", dtype=object)
    if not split or c.n == 0:
        return used, []
    key = c.obj("shared_control")
    shared = np.flatnonzero(~pd.isna(key) & (key != ""))
    if not len(shared):
        return used, []
    sid = c.plain("study_id")[shared]
    codes, _ = pd.factorize(np.array([f"{s}\x00{k}" for s, k in zip(sid, key[shared])], dtype=object))
    size = np.bincount(codes)[codes]
    many = size > 1
    if not many.any():
        return used, []
    idx, m = shared[many], size[many].astype(float)
    arm = c.obj("shared_arm")[idx]
    peer = np.array([("control" if a is None else a).startswith("peer") for a in arm], dtype=bool)
    for side, mask in (("ps", peer), ("ctl", ~peer)):
        for col in (f"n_{side}_used", f"events_{side}_used"):
            used[col][idx[mask]] = used[col][idx[mask]] / m[mask]
    who = np.where(peer, "peer-support", "control")
    used["split_note"][idx] = [f"shared {w} arm's N split between {int(k)} comparisons (Cochrane Handbook 23.3.4)"
                               for w, k in zip(who, m)]
    ids = sorted(set(c.text("study_id")[idx]))
    if len(ids) > MAX_LISTED_NOTES:
        notes = [f"{len(ids)} trials have a shared arm whose N is split between their comparisons (Cochrane "
                 f"Handbook 23.3.4), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}."]
    else:
        notes = [f"{sid}: a shared arm's N is split between its comparisons (Cochrane Handbook 23.3.4)."
                 for sid in ids]
    return used, notes


# ---------------------------------------------------------------------------------------------
# Public API

def _majority(summary: dict, scale: str) -> bool | None:
    share = summary["hib_rr"] if scale == "logRR" else summary["hib_or"] if scale == "logOR" else None
    return None if share is None else bool(share >= 0.5)


def _excluded_frame(classified: pd.DataFrame, in_analysis: np.ndarray, scale: str, keep: bool | None
                    ) -> pd.DataFrame:
    """Reasons for every matching row that is not in the analysis (``in_analysis``: a mask of the rows)."""
    df = classified[~np.asarray(in_analysis, dtype=bool)]
    route = df["route"].astype(object).where(df["route"].notna(), None).to_numpy(dtype=object).copy()
    code = df["reason_code"].astype(object).where(df["reason_code"].notna(), "no_numbers").to_numpy(dtype=object).copy()
    allowed = set(SCALE_ROUTES[scale])
    usable = np.array([r is not None and r in allowed for r in route], dtype=bool)
    off = np.array([r is not None and r not in allowed for r in route], dtype=bool)
    code[off] = [_OFF_SCALE.get((scale, r), "no_numbers") for r in route[off]]
    if keep is not None and scale == "logRR":
        hib = df["higher_is_better"].astype("boolean")
        minority = usable & (df["kind"] == "binary").to_numpy() & (hib != keep).fillna(False).to_numpy()
        code[minority] = "direction_minority"
        usable &= ~minority
    code[usable] = "not_selected"
    return pd.DataFrame({"study_id": df["study_id"].to_numpy(), "effect_id": df["effect_id"].to_numpy(),
                         "reason": [REASONS[c] for c in code],
                         "kind": np.where(code == "not_selected", "not selected", "unusable")})


def effect_set(spec: FilterSpec, con=None, *, target_months: float | None = None,
               multi_arm: str = "one", uploads_dir=None, level: float = 0.95,
               engine: str = "auto", effect_ids: np.ndarray | None = None) -> EffectSet:
    """Analysis-ready effects for ``spec.outcome`` with exclusions and notes.

    Parameters
    ----------
    spec : FilterSpec
        Must name an outcome.
    con : duckdb connection, optional
        The shipped store; defaults to the shared read-only connection.
    target_months : float, optional
        Follow-up to aim at; defaults to the centre of ``spec.timepoint_months``, else
        :data:`DEFAULT_TARGET_MONTHS`.
    multi_arm : {"one", "split"}
        One comparison per trial (default), or every comparison with shared arms split.
    uploads_dir : path, optional
        Folder of imported datasets (default ``data/uploads``).
    level : float
        Level of the per-study confidence intervals.
    engine : {"auto", "fresh"}
        Where the candidate rows come from; the selection is the same code either way. ``"auto"``: for
        one dataset, the store's rows converted and classified once per connection (stores are
        read-only), of which the filter keeps the ids one short query returns; for merged datasets,
        the matching rows read now. ``"fresh"`` always reads the matching rows now (tests compare the two).
    effect_ids : array of str, optional
        The ids of the rows that pass ``spec`` when the caller already has them (one query for every
        outcome: :func:`evidence.query.matching_effect_ids_by_outcome`); used by the ``"auto"`` engine for
        one dataset only, ignored otherwise.

    Returns
    -------
    EffectSet

    Raises
    ------
    OutcomeRequired
        When ``spec.outcome`` is None.
    InvalidChoice
        For an unknown ``multi_arm`` or ``engine``.
    """
    if spec.outcome is None:
        raise OutcomeRequired(vocabulary().get("outcome", ()))
    if multi_arm not in MULTI_ARM_CHOICES:
        raise InvalidChoice("multi_arm", multi_arm, MULTI_ARM_CHOICES)
    if engine not in ENGINES:
        raise InvalidChoice("engine", engine, ENGINES)
    target = float(target_months) if target_months is not None else followup_target(spec.followup)
    conns = connection.dataset_connections(spec.dataset, con, uploads_dir)
    if len(conns) == 1 and engine != "fresh":
        name, c = conns[0]
        store = _prepared_store(c)
        if effect_ids is not None:  # the caller has the ids already (one query for every outcome)
            cand = store.cols.take(store.positions(np.asarray(effect_ids, dtype=str)), copy=True)
        else:
            cand = store.cols.take(store.positions_of_rowids(query.matching_effect_rowids(spec, c)), copy=True)
        cand.add(dataset=np.full(cand.n, name, dtype=object))
    else:  # merged datasets (or asked for): read the matching rows now and classify them
        cand = _Cols(query.candidate_rows(spec, con, uploads_dir=uploads_dir))
        cand.add(**_classify_arrays(cand))
    route, kind = cand.obj("route"), cand.obj("kind")
    summary = _summary_from_cols(cand)
    scale, scale_choice, left_for_scale = _choose_scale(cand, summary, spec.scale)
    keep = _majority(summary, scale)
    usable = _isin(route, SCALE_ROUTES[scale])
    if keep is not None and scale == "logRR":
        same = (cand.boolean("higher_is_better") == keep).fillna(False).to_numpy(dtype=bool)
        usable &= (kind != "binary") | same
    narrow_pos = np.flatnonzero(usable)
    narrow = cand.take(narrow_pos)
    picked, extra, _ = _select_positions(narrow, scale, target, multi_arm)
    chosen = narrow.take(picked, copy=True).add(**extra)
    in_analysis = np.zeros(cand.n, dtype=bool)
    in_analysis[narrow_pos[picked]] = True

    def classified_fn() -> pd.DataFrame:
        return pd.DataFrame({"study_id": cand.obj("study_id"), "effect_id": cand.obj("effect_id"),
                             "route": route, "kind": kind, "reason_code": cand.obj("reason_code"),
                             "higher_is_better": cand.boolean("higher_is_better")})
    notes: list[str] = []
    if multi_arm == "one" and chosen.n:
        multi = chosen.num("n_comparisons") > 1
        if multi.sum() > MAX_LISTED_NOTES:
            # the first few ids in sorted order (as np.sort of Series.to_numpy(dtype=str) lists them)
            sids = chosen.text("study_id") if chosen.isna("study_id").any() else chosen.plain("study_id")
            ids = heapq.nsmallest(MAX_LISTED_NOTES, [str(x) for x in sids[multi]])
            notes.append(f"{int(multi.sum())} trials have several comparisons; one per trial is used (least active "
                         f"control first), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}.")
        elif multi.any():
            idx = np.flatnonzero(multi)
            idx = idx[np.argsort(chosen.text("study_id")[idx], kind="stable")]
            notes += [f"{s} has {int(k)} comparisons; one is used ({c})."
                      for s, k, c in zip(chosen.plain("study_id")[idx], chosen.num("n_comparisons")[idx],
                                         chosen.plain("comparison")[idx])]
    chosen.add(selection_reason=_reasons(chosen, target))
    used, split_notes = _split_arrays(chosen, multi_arm == "split")
    chosen.add(**used)
    notes += split_notes
    yi, vi, conv, why = _compute(chosen, scale)
    ratio_direction = None if keep is None else (1.0 if keep else -1.0)
    if scale == "logOR" and keep is not None:
        hib = chosen.boolean("higher_is_better")
        inv = ((hib != keep) & (chosen.obj("kind") == "binary")).fillna(False).to_numpy(dtype=bool)
        yi = np.where(inv, -yi, yi)
        conv = _join_notes(conv, np.where(inv, "odds ratio inverted (odds of not having the event)", "").astype(object))
        if inv.any():
            notes.append(f"{int(inv.sum())} odds ratio(s) inverted so that every row counts the same kind of event.")
    conv = _join_notes(conv, used["split_note"])
    chosen.add(yi=yi, vi=vi, conversion=conv)
    failed = np.isnan(yi) | np.isnan(vi)
    sid_all = chosen.raw("study_id")
    eid_all = chosen.raw("effect_id")
    sid_all = sid_all if isinstance(sid_all, np.ndarray) else sid_all.to_numpy()
    eid_all = eid_all if isinstance(eid_all, np.ndarray) else eid_all.to_numpy()
    failed_frame = pd.DataFrame({
        "study_id": sid_all[failed], "effect_id": eid_all[failed],
        "reason": [why[i] or "effect could not be computed" for i in np.flatnonzero(failed)], "kind": "unusable"})
    final = chosen.take(np.flatnonzero(~failed))
    final = final.take(_frame_order(final, multi_arm))
    data = _effect_data(final, scale)

    def excluded() -> pd.DataFrame:
        parts = [_excluded_frame(classified_fn(), in_analysis, scale, keep), failed_frame]
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EXCLUDED_COLUMNS)

    kept = conv[~failed]
    n_chinn = sum(1 for x in kept[kept != ""] if "Chinn" in x)
    scale_note = ""
    if n_chinn:
        lead = "This outcome mixes continuous and binary results: " if summary["n_continuous"] else "On the SMD scale, "
        scale_note = (f"{lead}{n_chinn} binary result(s) were converted from log odds ratios to SMDs by Chinn's "
                      "method (×√3/π; Cochrane Handbook 10.6).")
    elif scale != "SMD":
        kind = {"logRR": "Binary results pooled as risk", "logOR": "Binary results pooled as odds",
                "logIRR": "Rate ratios (events per person-time) pooled as rate",
                "logHR": "Hazard ratios pooled as hazard"}[scale]
        scale_note = f"{kind} ratios on the log scale."
    if left_for_scale:
        scale_choice += (f" {len(left_for_scale)} trial(s) left out for their scale (no result on "
                         f"{_SCALE_WORDS[scale]}): {', '.join(left_for_scale)}; the reasons are in the not-pooled list.")
    scale_note = " ".join(x for x in (scale_note, scale_choice.strip()) if x)
    return EffectSet(data, lambda: _build_frame(final, scale, level, multi_arm), excluded, scale,
                     Favours.for_scale(scale, ratio_direction), scale_note, notes, target, summary["n_rows"])


class _FrameColumns:
    """A frame's columns as object arrays (None where missing): the column reader of an EffectData made
    from a frame."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __call__(self, name: str) -> np.ndarray:
        return self.frame[name].astype(object).where(self.frame[name].notna(), None).to_numpy(dtype=object)


def effect_set_from_frame(effects: pd.DataFrame, excluded: pd.DataFrame | None = None, *, effect_measure: str,
                          favours: Favours, scale_note: str = "", notes=()) -> EffectSet:
    """An EffectSet over a frame with at least ``study_id, yi, vi`` (``n_total`` if known): for analyses
    assembled by hand (tests, imported results), read the same way as a selection's."""
    n_total = (effects["n_total"].to_numpy(dtype=float, na_value=np.nan) if "n_total" in effects
               else np.full(len(effects), np.nan))
    data = EffectData(yi=effects["yi"].to_numpy(dtype=float), vi=effects["vi"].to_numpy(dtype=float),
                      study_id=effects["study_id"].astype(str).to_numpy(dtype=object), n_total=n_total,
                      effect_measure=effect_measure, columns=_FrameColumns(effects))
    excluded = excluded if excluded is not None else pd.DataFrame(columns=_EXCLUDED_COLUMNS)
    return EffectSet(data, lambda: effects, lambda: excluded, effect_measure, favours, scale_note, notes)


def _effect_data(c: _Cols, scale: str) -> EffectData:
    """The typed container of the selected rows (in frame order)."""
    n_total = c.num("n_ps_used") + c.num("n_ctl_used")
    return EffectData(yi=np.asarray(c.num("yi"), dtype=float), vi=np.asarray(c.num("vi"), dtype=float),
                      study_id=c.obj("study_id"), n_total=n_total, effect_measure=scale,
                      columns=c.obj)


def _frame_order(chosen, multi_arm: str) -> np.ndarray:
    """Row order of the output: year, then study id (then comparison when trials have several rows)."""
    c0 = _Cols.wrap(chosen)
    year_key = c0.num("year")
    year_key = np.where(np.isnan(year_key), np.inf, year_key)
    sid_raw = c0.raw("study_id")
    if multi_arm == "one" and isinstance(sid_raw, pd.arrays.ArrowStringArray) and not c0.isna("study_id").any():
        # one row per trial, so the comparison never breaks a tie; Arrow sorts its own text without
        # turning it into numpy strings first (same order: UTF-8 bytes follow code points; stable)
        import pyarrow as pa
        import pyarrow.compute as pc
        order = pc.sort_indices(pa.table({"y": year_key, "s": pa.array(sid_raw)}),
                                sort_keys=[("y", "ascending"), ("s", "ascending")]).to_numpy()
    else:
        keys = (c0.text("study_id"), year_key)
        if multi_arm != "one":  # one row per trial otherwise: the comparison never breaks a tie
            if c0.isna("comparison").any():
                keys = (np.array(["nan" if x is None else x for x in c0.obj("comparison")],
                                 dtype=object).astype(str),) + keys
            else:
                keys = (c0.text("comparison"),) + keys
        order = np.lexsort(keys)
    return order


def _build_frame(c: _Cols, scale: str, level: float, multi_arm: str) -> pd.DataFrame:
    """Build the output frame once, column by column from arrays (cheaper than editing a wide frame)."""
    z = float(ndtri(0.5 + level / 2.0))
    yi = np.asarray(c.num("yi"), dtype=float)
    vi = np.asarray(c.num("vi"), dtype=float)
    sei = np.sqrt(vi)
    lo, hi = yi - z * sei, yi + z * sei
    ratio = scale != "SMD"
    n_ps = c.num("n_ps_used")
    n_ctl = c.num("n_ctl_used")
    year = c.num("year")
    sid = c.plain("study_id")
    if c.isna("study_id").any():  # as Series.to_numpy(dtype=str) writes a missing id
        sid = c.text("study_id").astype(object)
    author = c.obj("first_author")
    if isinstance(c.raw("first_author").dtype, pd.StringDtype):  # text or missing, nothing else
        named = ~c.isna("first_author")
    else:
        named = np.fromiter((isinstance(a, str) for a in author), dtype=bool, count=c.n)
    label = np.where(named, author, sid)  # "<author> <year>", the author alone, else the study id
    dated = named & ~np.isnan(year)
    if dated.any():
        years, inv = np.unique(year[dated], return_inverse=True)
        label[dated] = author[dated] + np.array([f" {int(y)}" for y in years], dtype=object)[inv.ravel()]
    if multi_arm == "split" and c.n:
        codes, _ = pd.factorize(sid)
        several = np.bincount(codes)[codes] > 1
        if several.any():
            label = np.where(several, label + " (" + c.plain("comparison") + ")", label)
    dataset = c.plain("dataset")
    if c.isna("dataset").any():
        dataset = dataset.astype(str).astype(object)
    foreign = dataset != "shipped"
    if foreign.any():
        label = np.where(foreign, label + " [" + dataset + "]", label)
    computed = np.full(c.n, "", dtype=object)
    for r, words in _ROUTE_TEXT.items():
        computed[c.is_in("route", (r,))] = words
    smd = c.is_in("route", ("reported_smd",))
    if smd.any():
        computed[smd] = [f"reported {t} and 95% CI" for t in c.plain("reported_effect_type")[smd]]
    data = {
        "study_id": sid, "label": label, "year": pd.array(year, dtype="Float64").astype("Int64"),
        "dataset": dataset,
        "effect_measure": pd.array([scale], dtype="str").take(np.zeros(c.n, dtype=np.intp)),
        "yi": yi, "vi": vi, "sei": sei, "ci_low": lo, "ci_high": hi,
        "display_estimate": np.exp(yi) if ratio else yi, "display_ci_low": np.exp(lo) if ratio else lo,
        "display_ci_high": np.exp(hi) if ratio else hi, "n_ps": n_ps, "n_ctl": n_ctl, "n_total": n_ps + n_ctl,
        "timepoint_months": c.num("timepoint_months"),
        "higher_is_better": c.boolean("higher_is_better"),
        "computed_from": computed, "conversion": c.plain("conversion"),
        "selection_reason": c.plain("selection_reason"),
        "n_candidates": np.asarray(c.raw("n_candidates")).astype(int), "flags": c.plain("flags"),
    }
    out = {}
    for name in EFFECT_COLUMNS:
        if name not in data or (name == "study_id" and sid is c.plain("study_id")):
            # passed through (study ids too when none is missing): the column's own text array, no round trip
            # (a text array already is what astype("str") would return: the same object, without the Series)
            raw = c.raw(name)
            out[name] = (raw if isinstance(raw, pd.api.extensions.ExtensionArray) and raw.dtype == "str"
                         else pd.Series(raw, copy=False).astype("str").array)
        elif name in _FLOAT_COLUMNS or name in ("year", "higher_is_better", "n_candidates", "effect_measure"):
            out[name] = data[name]
        else:
            out[name] = _text_array(np.asarray(data[name], dtype=object))
    return pd.DataFrame(out)


def _text_array(values: np.ndarray):
    """``pd.array(values, dtype="str")`` (missing values stay missing); through Arrow when it is there."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pandas' own text arrays then
        return pd.array(values, dtype="str")
    if len(values) > 1 and (values == values[0]).all():  # one value (a dataset's name): spread it
        return pd.array(values[:1], dtype="str").take(np.zeros(len(values), dtype=np.intp))
    return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype="str")


def effects(spec: FilterSpec, con=None, **kwargs) -> pd.DataFrame:
    """One row per study for ``spec.outcome``, oriented and on one scale (see :func:`effect_set`).

    Returns
    -------
    DataFrame
        Columns :data:`EFFECT_COLUMNS`. SMD rows: positive favours peer support. Ratio rows: ``yi``
        is the log of peer / control; ``display_*`` columns hold the ratio itself.
    """
    return effect_set(spec, con, **kwargs).effects


def computed_vs_reported(spec: FilterSpec | None = None, con=None, *, uploads_dir=None,
                         smd_tolerance: float = ROUNDING_TOLERANCE["SMD"],
                         ratio_tolerance: float = ROUNDING_TOLERANCE["ratio_relative"]) -> pd.DataFrame:
    """Rows with both arm data and a reported effect: the two side by side, and whether they agree.

    Arm data give Hedges' g (for SMD/g/d), or the RR/OR from event counts; the reported value is
    compared on the same footing (both as peer minus control on the measure as scored, after
    undoing the source's orientation). A difference beyond rounding is listed as a disagreement.

    Parameters
    ----------
    spec : FilterSpec, optional
        Restricts the rows (default: every row of the shipped dataset).
    smd_tolerance : float
        Largest absolute difference treated as rounding for SMDs (Hedges' g vs Cohen's d differ by
        the small-sample factor, so d rows use the uncorrected d for comparison).
    ratio_tolerance : float
        Largest relative difference treated as rounding for ratios.

    Returns
    -------
    DataFrame
        ``study_id, effect_id, outcome, measure, reported_effect_type, score_type, reported,
        computed, difference, agrees`` (one row per comparable effect row; ``difference`` is
        reported − computed for SMDs and reported / computed − 1 for ratios). A model-adjusted
        reported effect (``score_type = adjusted``) may differ from arm data for that reason.
    """
    spec = spec or FilterSpec()
    df = classify_rows(query.candidate_rows(spec, con, uploads_dir=uploads_dir))
    rtype = df["reported_effect_type"].astype("string")
    cont = (df["route"] == "arm_continuous") & rtype.isin(list(SMD_TYPES)) & df["reported_effect"].notna()
    binr = (df["route"] == "arm_binary") & rtype.isin(list(RATIO_TYPES)) & df["reported_effect"].notna()
    out = []
    if cont.any():
        d = df[cont]
        es = _quiet(stats.smd, _arr(d, "mean_ps"), _arr(d, "sd_ps"), _arr(d, "n_ps"),
                    _arr(d, "mean_ctl"), _arr(d, "sd_ctl"), _arr(d, "n_ctl"))
        g = np.asarray(es.yi, dtype=float)
        # Cohen's d is g without the small-sample correction J (Hedges 1981).
        j = np.asarray(stats.hedges_correction(_arr(d, "n_ps") + _arr(d, "n_ctl") - 2), dtype=float)
        comp = np.where(d["reported_effect_type"].astype("string") == "d", g / j, g)
        rep = _arr(d, "reported_effect")
        sign = d["reported_sign"].astype("string").fillna("ps_minus_ctl").to_numpy(dtype=object)
        hib = d["higher_is_better"].astype("boolean").to_numpy(dtype=object)
        # Put the reported value on the computed footing: peer minus control as scored.
        adj = np.array([r if s == "ps_minus_ctl" else (r if h is True else -r) if s == "positive_favours_ps"
                        else (-r if h is True else r) for r, s, h in zip(rep, sign, hib)])
        diff = adj - comp
        out.append(pd.DataFrame({"study_id": d["study_id"], "effect_id": d["effect_id"],
                                 "outcome": d["outcome"], "measure": d["measure"],
                                 "reported_effect_type": d["reported_effect_type"],
                                 "score_type": d["score_type"],
                                 "reported": adj, "computed": comp, "difference": diff,
                                 "agrees": np.abs(diff) <= smd_tolerance}))
    if binr.any():
        d = df[binr]
        out_r = []
        for kind, func in (("RR", stats.log_risk_ratio), ("OR", stats.log_odds_ratio)):
            dd = d[d["reported_effect_type"] == kind]
            if dd.empty:
                continue
            es = _quiet(func, _arr(dd, "events_ps"), _arr(dd, "n_ps"), _arr(dd, "events_ctl"), _arr(dd, "n_ctl"))
            comp = np.exp(np.asarray(es.yi, dtype=float))
            rep = _arr(dd, "reported_effect")
            diff = rep / comp - 1.0
            out_r.append(pd.DataFrame({"study_id": dd["study_id"], "effect_id": dd["effect_id"],
                                       "outcome": dd["outcome"], "measure": dd["measure"],
                                       "reported_effect_type": dd["reported_effect_type"],
                                       "score_type": dd["score_type"],
                                       "reported": rep, "computed": comp, "difference": diff,
                                       "agrees": np.abs(diff) <= ratio_tolerance}))
        out.extend(out_r)
    cols = ["study_id", "effect_id", "outcome", "measure", "reported_effect_type", "score_type", "reported",
            "computed", "difference", "agrees"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]
