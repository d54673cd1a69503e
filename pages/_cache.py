"""The caches of the pages: the store's connection, its lists, and one cache for every result a page shows.

Every analysis result is computed by one entry of :data:`RESULTS` and cached by :func:`result` on the
frozen :class:`pages._state.View` (filter, estimator, adjustment, level), the entry's argument and the
store's version, so a new result is one entry here, not another cached-function pair. Results are cached
as shared resources, not copied per call: a rerun reads the same analysis several times, and
st.cache_data unpickled a fresh copy each time (a tenth of a cached rerun under load). Nothing may change
them in place; tests/app/test_cache_sharing.py checks that every page leaves them as computed.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import pandas as pd
import streamlit as st

from evidence import FilterSpec, analyse
from evidence import analysis as analysis_mod
from evidence import query
from evidence.core.errors import EvidenceError
from evidence.core.filters import CATEGORICAL_FIELDS
from evidence.present import charts, code_export, contents
from evidence.analysis.evidence_map import evidence_map
from evidence.analysis.export_rows import export_rows
from evidence.analysis.summary import summary_of_findings
from evidence.query import reviews as query_reviews
from evidence.analysis import reviews as review_analysis
from evidence.core.filters import review_name
from evidence.store import connection as store
from evidence.store import namespaces
from evidence.store.build import ensure_database

from ._admission import slot_released


@st.cache_resource(show_spinner="Building the evidence store…")
def _connection():
    ensure_database()
    return store.shared_connection()


_checked: set[str] = set()  # store paths built and opened through the cached resource above


def connection():
    """The shipped store, built from data/*.csv when missing or stale, opened read-only once.

    Called a few times a rerun: after the first call for a store path (which builds it, with a spinner)
    the process's shared connection is returned without a Streamlit cache lookup."""
    path = str(store.DB_PATH)
    if path not in _checked:
        con = _connection()
        _checked.add(path)
        return con
    return store.shared_connection()


# Read many times a rerun and fixed for the process (the store is opened once, read-only): a plain
# memo, since a Streamlit cache lookup hashes its arguments and inspects the function every time.
@functools.lru_cache(maxsize=1)
def store_metadata() -> Mapping[str, str]:
    """The store's metadata, shared read-only."""
    return MappingProxyType(query.metadata(connection()))


def dataset_version() -> str:
    meta = store_metadata()
    return meta.get("dataset_version") or meta.get("version") or "unknown"


def cache_key() -> str:
    """Changes whenever the shipped store changes (a session's own datasets key their results themselves:
    :func:`evidence.store.namespaces.namespace_key` of the view's folder)."""
    return store_metadata().get("content_hash", "")


#: A filter spec (and the view holding one) is a frozen dataclass of tuples and numbers: its repr names
#: it exactly, and costs far less than Streamlit's generic hashing of the object on every lookup.
SPEC_HASH = {FilterSpec: repr}


class Front:
    """A plain, thread-safe LRU memo in front of a Streamlit cache (shared by every session of the process).

    A Streamlit cache lookup that hits still costs ~0.2 ms (it inspects the function's signature and hashes
    its arguments every time), and an Explore rerun makes some fifteen of them. The memo answers a repeat
    in microseconds and asks the Streamlit cache (its spinner, its one computation per key) only on a miss.
    Errors are not kept, as Streamlit keeps none. Cleared with every result (:func:`forget_results`).
    """

    def __init__(self, size: int) -> None:
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        try:
            hash(key)
        except TypeError:  # an argument that cannot key a dict: the Streamlit cache alone
            return compute()
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


#: The memos in front of the result caches (results, sidebar counts, chart specs); no larger than the
#: Streamlit caches behind them, so they keep no more results alive than those do (plus their own recent ones).
#: "tables": shared frames as the Arrow tables Streamlit sends (pages._render.show_table).
FRONTS: dict[str, Front] = {"results": Front(256), "counts": Front(256), "charts": Front(256),
                            "tables": Front(256)}


@functools.lru_cache(maxsize=4)
def _vocab_lookup(key: str) -> dict[str, dict[str, str]]:
    """Per field: value -> label, in list order; shared read-only, asked for a few dozen times a rerun."""
    vt = query.vocab_frame(connection())
    out: dict[str, dict[str, str]] = {}
    for field, value, label in zip(vt["field"].astype(str), vt["value"].astype(str), vt["label"]):
        out.setdefault(field, {})[value] = str(label) if isinstance(label, str) and label.strip() else value
    return out


def choices(field: str) -> list[str]:
    return list(_vocab_lookup(cache_key()).get(field, {}))


def labels(field: str) -> dict[str, str]:
    return dict(_vocab_lookup(cache_key()).get(field, {}))


@st.cache_resource(max_entries=256, show_spinner=False, hash_funcs=SPEC_HASH)
def _all_choice_counts(spec: FilterSpec, key: str, uploads: str | None) -> dict[str, dict[str, int]]:
    """Trials each choice of every sidebar filter would leave (one query for all of them)."""
    return query.choice_counts_all(spec, ("outcome",) + CATEGORICAL_FIELDS, connection(), uploads_dir=uploads)


def choice_counts(spec: FilterSpec, uploads: str | None = None) -> dict[str, dict[str, int]]:
    """Per filter and choice, the trials it would leave; ``uploads``: the session's folder when the spec
    reads imported datasets (see :class:`pages._state.View`)."""
    if spec.dataset == "shipped":
        uploads = None
    key = cache_key() + namespaces.namespace_key(uploads)
    return FRONTS["counts"].get((repr(spec), key, uploads), lambda: _all_choice_counts(spec, key, uploads))


@functools.lru_cache(maxsize=4)
def _ranges(_key: str) -> dict[str, tuple[float, float]]:
    studies = query.table("studies", connection())
    eff = query.table("effects", connection())
    years = pd.to_numeric(studies["year"], errors="coerce").dropna()
    months = pd.to_numeric(eff["timepoint_months"], errors="coerce").dropna()
    return {
        "year": (int(years.min()), int(years.max())) if len(years) else (1990, 2030),
        "timepoint_months": (0.0, float(math.ceil(months.max()))) if len(months) else (0.0, 24.0),
    }


def ranges() -> dict[str, tuple[float, float]]:
    """Observed year and follow-up ranges of the shipped store (for the sliders)."""
    return _ranges(cache_key())


@functools.lru_cache(maxsize=4)
def _review_options(key: str) -> Mapping[str, str]:
    frame = query_reviews.review_list(connection())
    frame = frame[frame["n_listed"] > 0]
    return MappingProxyType({rid: f"{review_name(rid)} ({int(n)} trials listed, {int(d)} in our data)"
                             for rid, n, d in zip(frame["review_id"], frame["n_listed"], frame["n_in_data"])})


def review_options() -> Mapping[str, str]:
    """Reviews whose trial lists we hold: id -> label with the list's length (for the review filter)."""
    return _review_options(cache_key())


# ---------------------------------------------------------------------------
# one cache for every result: kind -> how to compute it from the view (and an argument)

class Exclusions(NamedTuple):
    """Explore's two study tables of one view, built once with the view's analysis (shared, never changed)."""

    editor: pd.DataFrame    # Exclude (tick box) and Study: the include/exclude panel
    studies: pd.DataFrame   # every matching study with its effect, weight and characteristics, and Excluded
    ids: list[str]          # the study id of each row of both


def _exclusions(view, arg) -> Exclusions:
    """Every study the filter matches (also those excluded by hand) with its current weight, and their ids."""
    spec = view.spec
    current = result("analysis", view)
    full = current if not spec.exclude_studies else result("analysis", replace(view, spec=replace(
        spec, exclude_studies=())))
    # Plain column lists: this runs on every new view, and building frames of them cost more than the rest.
    cur = charts.study_columns(current.effects, current.pooled if current.k > 1 else None,
                               effect_measure=current.effect_measure, level=current.level, tooltips=False)
    # the study rows of the current analysis are those of the full one when nobody is excluded by hand
    rows = cur if full is current else charts.study_columns(full.effects, None, effect_measure=full.effect_measure,
                                                            level=full.level, tooltips=False)
    weights = dict(zip(cur["study_id"], cur["weight_pct"]))
    excluded = set(spec.exclude_studies)
    eff = full.effects.reset_index(drop=True)
    n = len(eff)  # study rows first; a pooled row, if any, comes last
    ids = eff["study_id"].astype(str).tolist()
    ticked = [sid in excluded for sid in eff["study_id"]]
    # Both frames built directly (no drop/assign of a wider one: with text column labels those index
    # operations cost more than building the frame, on every new view).
    editor = pd.DataFrame({"Exclude": ticked, "Study": rows["row"][:n]})
    studies = pd.DataFrame({
        "Study": rows["row"][:n],
        "Year": eff["year"],
        "Effect [95% CI]": rows["est_text"][:n],
        "Weight (%)": [round(weights[s], 1) if s in weights else None for s in eff["study_id"]],
        "Risk of bias": rows["rob"][:n],
        "N": eff["n_total"],
        "Follow-up (months)": eff["timepoint_months"].round(1),
        "Measure": eff["measure"],
        "Excluded": ticked,
    })
    return Exclusions(editor, studies, ids)


def _rows_of_outcome(table: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """An outcome's review results as Explore shows them (without the ids and the outcome it is cut on)."""
    shown = [c for c in table.columns if c not in ("result_id", "review_id", "outcome")]
    return table.loc[table["outcome"] == outcome, shown].reset_index(drop=True)


def _presentation(view):
    """What Present, the deck and the report show, built on this view's cached Overview, robustness and map."""
    def shared(kind: str, arg: Any = None):
        try:
            return result(kind, view, arg)
        except EvidenceError:  # gather says why in words
            return None
    return contents.gather(view.spec, connection(), method=view.method, hartung_knapp=view.hartung_knapp,
                           level=view.level, summary=result("summary", view), robustness=shared("robustness"),
                           evidence_map=shared("evidence_map", contents.MAP_AXES))


#: How each result is computed from a view and an optional argument (whitelist of kinds).
RESULTS: dict[str, Callable[[Any, Any], Any]] = {
    "analysis": lambda v, arg: analyse(v.spec, method=v.method, hartung_knapp=v.hartung_knapp, level=v.level,
                                       uploads_dir=v.uploads),
    "leave_one_out": lambda v, arg: analysis_mod.leave_one_out_table(result("analysis", v)),
    "influence": lambda v, arg: analysis_mod.influence_table(result("analysis", v)),
    "cumulative": lambda v, arg: analysis_mod.cumulative_table(result("analysis", v), by=arg or "year"),
    "small_study": lambda v, arg: analysis_mod.small_study(result("analysis", v)),
    "subgroups": lambda v, arg: analysis_mod.subgroup_table(result("analysis", v), arg),
    "meta_regression": lambda v, arg: analysis_mod.meta_regression_table(result("analysis", v), arg),
    "robustness": lambda v, arg: analysis_mod.robustness_grid(v.spec, base_method=v.method,
                                                              base_hartung_knapp=v.hartung_knapp, level=v.level,
                                                              uploads_dir=v.uploads),
    "compare": lambda v, arg: analysis_mod.compare_specs(arg[0], arg[1], v.method, v.hartung_knapp, v.level,
                                                         uploads_dir=v.uploads),
    "exclusions": _exclusions,
    # arg: (the link that restores the view, written into the scripts' headers; the moderator or None)
    "code_zip": lambda v, arg: code_export.analysis_zip(
        result("analysis", v), export_rows(result("analysis", v), connection(), uploads_dir=v.uploads),
        dataset_version=dataset_version(), link=arg[0], moderator=arg[1]),
    "bayes": lambda v, arg: analysis_mod.bayes_analysis(result("analysis", v), prior=arg[0], own_scale=arg[1]),
    "bayes_priors": lambda v, arg: analysis_mod.prior_sensitivity_table(result("analysis", v), own_scale=arg[0],
                                                                        mid=arg[1]),
    "presentation": lambda v, arg: _presentation(v),
    "summary": lambda v, arg: summary_of_findings(v.spec, connection(), method=v.method,
                                                  hartung_knapp=v.hartung_knapp, level=v.level,
                                                  uploads_dir=v.uploads),
    "evidence_map": lambda v, arg: evidence_map(v.spec, arg[0], arg[1], connection(), method=v.method,
                                                hartung_knapp=v.hartung_knapp, level=v.level,
                                                uploads_dir=v.uploads),
    "review_catalogue": lambda v, arg: review_analysis.review_catalogue(connection()),
    # every outcome's rows read once; an outcome's rows (Explore's expander) cut from them once
    "review_results": lambda v, arg: (review_analysis.review_results_table(None, connection()) if arg is None else
                                      _rows_of_outcome(result("review_results", None, None), arg)),
    "review_forest": lambda v, arg: review_analysis.review_forest_rows(arg, connection()),
    "review_overlap": lambda v, arg: review_analysis.overlap(arg, connection()),
    # arg = (result_id, method): the published result beside ours on the review's listed trials
    "reproduce": lambda v, arg: review_analysis.reproduce(arg[0], method=arg[1], con=connection()),
}


#: Results that can take a second or more (every outcome, exports, refits per trial): a miss shows
#: "Computing…". The others take milliseconds, and a spinner's element and timer thread cost a rerun
#: more than they do (7% of a rerun under 30 concurrent sessions).
SLOW_RESULTS = frozenset({"leave_one_out", "influence", "cumulative", "robustness", "code_zip", "bayes_priors",
                          "presentation", "summary", "evidence_map", "reproduce", "meta_regression"})


def _compute(kind: str, view, arg):
    connection()
    if kind in SLOW_RESULTS:  # seconds of work: other sessions' quick reruns go on meanwhile
        with slot_released():
            return RESULTS[kind](view, arg)
    return RESULTS[kind](view, arg)


# Keyed on the view's repr (a frozen dataclass of a FilterSpec and plain values names itself exactly);
# the view object itself is not hashed again (leading underscore). One cache, two doors: with and
# without the spinner.
@st.cache_resource(max_entries=512, show_spinner="Computing…", hash_funcs=SPEC_HASH)
def _result(kind: str, view_key: str, _view, arg, store_key: str):
    return _compute(kind, _view, arg)


@st.cache_resource(max_entries=512, show_spinner=False, hash_funcs=SPEC_HASH)
def _quick_result(kind: str, view_key: str, _view, arg, store_key: str):
    return _compute(kind, _view, arg)


def result(kind: str, view, arg: Any = None):
    """The result ``kind`` for ``view`` (and ``arg``), computed once per store version; raises the domain
    errors of the computation (pages render them)."""
    if kind not in RESULTS:
        raise ValueError(f"Unknown result {kind!r}; must be one of {list(RESULTS)}")
    # A view of imported data is keyed on its folder's contents too: a replaced dataset is a new result.
    cached = _result if kind in SLOW_RESULTS else _quick_result
    view_key, store_key = repr(view), cache_key() + namespaces.namespace_key(getattr(view, "uploads", None))
    return FRONTS["results"].get((kind, view_key, arg, store_key),
                                 lambda: cached(kind, view_key, view, arg, store_key))


def summary(view):
    """The summary of findings of the view's filter; keyed without the outcome (it covers every outcome)."""
    return result("summary", replace(view, spec=replace(view.spec, outcome=None)))


def review_findings(outcome: str | None):
    """Pooled results published reviews report for an outcome: the Reviews page's table of that outcome,
    without its id columns (cached per outcome and store version)."""
    return result("review_results", None, outcome)


def forget_results() -> None:
    """Drop every cached result (an import changed a dataset). The store's connection is held by
    :mod:`evidence.store.connection`, so the connection resource, dropped too, comes back as the same one."""
    st.cache_data.clear()
    st.cache_resource.clear()
    for front in FRONTS.values():
        front.clear()
    _checked.clear()
    _vocab_lookup.cache_clear()
    _review_options.cache_clear()
    _ranges.cache_clear()


@st.cache_data(max_entries=16, show_spinner=False)
def _study_ids(store_key: str, dataset: str, uploads: str | None) -> frozenset[str]:
    rows = query.candidate_rows(FilterSpec(dataset=dataset), connection(), uploads_dir=uploads)
    return frozenset(rows["study_id"].dropna())


def study_ids(dataset: str, uploads: str | None = None) -> frozenset[str]:
    """The study ids of a dataset (to tell a link's unknown ids from known ones); ``uploads``: the session's
    own folder, where its imported datasets are."""
    if dataset == "shipped":
        uploads = None
    return _study_ids(cache_key() + namespaces.namespace_key(uploads), dataset, uploads)
