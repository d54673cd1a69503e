"""Streamlit glue shared by every page (not a page itself).

What lives here: the cached connection and cached analyses, the shared sidebar
built from :class:`evidence.FilterSpec`, URL <-> session-state sync, the one
renderer for domain errors, headline metrics, and download buttons. No SQL and
no formulas: numbers come from :mod:`evidence` and :mod:`stats`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit import dataframe_util

from evidence.analysis import METHODS
from evidence import FilterSpec, NoMatchingStudies, analyse
from evidence import query
from evidence.store import connection as store
from evidence import analysis as analysis_mod
from evidence.present import charts
from evidence.query import catalogue as coverage
from evidence.present import wording as words
from evidence.store.build import ensure_database
from evidence.core.errors import EvidenceError, TooFewStudies
from evidence.present.export import chart_png, chart_svg, table_csv
from evidence.core.filters import CATEGORICAL_FIELDS
from evidence.core.measures import measure

PERF_LOGGER = "peer_dashboard.perf"
log = logging.getLogger(PERF_LOGGER)

#: Sidebar labels, in display order, for every FilterSpec field the sidebar shows.
FIELD_LABELS: dict[str, str] = {
    "outcome": "Outcome",
    "population": "Population",
    "setting": "Setting",
    "ps_format": "Peer-support format",
    "ps_mode": "Mode of delivery",
    "ps_role": "Role (adjunct or substitute)",
    "peer_paid": "Paid or volunteer peers",
    "org_support": "Organisational support",
    "peer_deliverer": "Delivered by",
    "comparator": "Comparator",
    "risk_of_bias": "Risk of bias",
    "timepoint_months": "Follow-up window (months)",
    "year": "Publication year",
    "dataset": "Dataset",
    "include_flagged": "Include flagged trials and derived numbers",
    "exclude_studies": "Studies excluded by hand",
}
METHOD_LABELS = {
    "FE": "FE: fixed (common) effect",
    "DL": "DL: DerSimonian-Laird",
    "REML": "REML: restricted maximum likelihood",
    "PM": "PM: Paule-Mandel",
    "ML": "ML: maximum likelihood",
    "HE": "HE: Hedges",
    "SJ": "SJ: Sidik-Jonkman",
}
#: Session-state key of each sidebar widget (stable across reruns and pages).
KEYS = {name: f"flt_{name}" for name in FIELD_LABELS if name != "exclude_studies"}
KEY_METHOD = "opt_method"
KEY_HK = "opt_hk"
KEY_EXCLUDED = "exclude_studies"  # tuple of study ids, edited on the Explore page
KEY_NOTICES = "_url_notices"
KEY_URL_READ = "_url_read"
KEY_VIEW = "_view"
KEY_LINK_VERSION = "_link_version"
KEY_MODERATOR = "opt_moderator"

DEFAULT_OUTCOME = "depression"


@dataclass(frozen=True)
class View:
    """Everything the pages need from the sidebar: filter, estimator, adjustment, level."""

    spec: FilterSpec
    method: str = "REML"
    hartung_knapp: bool = False
    level: float = 0.95


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$])")
# Streamlit's GitHub-flavoured Markdown links bare "http://...", "www." and "a@b.org" after escapes are
# resolved, so backslashes cannot stop it; an invisible word joiner inside the pattern does.
_AUTOLINK_START = re.compile(r"(?i)(https?|ftp|www|mailto)(?=[:.])|(@)")
_WORD_JOINER = "\u2060"


def md_escape(text: object) -> str:
    """User text (study names, ids) made inert inside Markdown: no links, images, emphasis or math.

    Streamlit renders ``st.markdown``/``st.warning`` text as Markdown (never HTML here); a study
    label from an imported sheet must not become a link or an image.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text))
    return _AUTOLINK_START.sub(lambda m: m.group(0) + _WORD_JOINER, escaped)


# ---------------------------------------------------------------------------
# cached resources and data


@st.cache_resource(show_spinner="Building the evidence store…")
def connection():
    """The shipped store, built from data/*.csv when missing or stale, opened read-only once."""
    ensure_database()
    return store.shared_connection()


# Read many times a rerun and fixed for the process (the store is opened once, read-only): a plain
# memo, since a Streamlit cache lookup hashes its arguments and inspects the function every time.
@functools.lru_cache(maxsize=1)
def store_metadata() -> Mapping[str, str]:
    """The store's metadata, shared read-only."""
    return MappingProxyType(query.metadata(connection()))


#: A filter spec is a frozen dataclass of tuples and numbers: its repr names it exactly, and costs far
#: less than Streamlit's generic hashing of the object (which ran on every cache lookup).
SPEC_HASH = {FilterSpec: repr}


# Results below are cached as shared resources, not copied per call: a rerun reads the same analysis
# several times, and st.cache_data unpickled a fresh copy each time (a tenth of a cached rerun under
# load). Nothing may change them in place; pandas' copy-on-write keeps derived frames separate, and
# tests/app/test_cache_sharing.py checks that every page leaves them as analyse() made them.
@st.cache_resource(max_entries=64, show_spinner=False)
def _review_findings(outcome: str | None, key: str) -> pd.DataFrame:
    return coverage.review_findings(outcome, connection())


def review_findings(outcome: str | None) -> pd.DataFrame:
    """Pooled results published reviews report for an outcome (cached per store version)."""
    return _review_findings(outcome, _cache_key())


def dataset_version() -> str:
    meta = store_metadata()
    return meta.get("dataset_version") or meta.get("version") or "unknown"


def _cache_key() -> str:
    """Changes whenever the store or the set of imported datasets changes."""
    meta = store_metadata()
    return f"{meta.get('content_hash', '')}|{','.join(store.list_datasets())}"


@functools.lru_cache(maxsize=4)
def _vocab_lookup(key: str) -> dict[str, dict[str, str]]:
    """Per field: value -> label, in list order; shared read-only, asked for a few dozen times a rerun."""
    vt = query.vocab_frame(connection())
    out: dict[str, dict[str, str]] = {}
    for field, value, label in zip(vt["field"].astype(str), vt["value"].astype(str), vt["label"]):
        out.setdefault(field, {})[value] = str(label) if isinstance(label, str) and label.strip() else value
    return out


def choices(field: str) -> list[str]:
    return list(_vocab_lookup(_cache_key()).get(field, {}))


def labels(field: str) -> dict[str, str]:
    return dict(_vocab_lookup(_cache_key()).get(field, {}))


@st.cache_resource(max_entries=256, show_spinner=False, hash_funcs=SPEC_HASH)
def _all_choice_counts(spec: FilterSpec, key: str) -> dict[str, dict[str, int]]:
    """Trials each choice of every sidebar filter would leave (one query for all of them)."""
    return query.choice_counts_all(spec, ("outcome",) + CATEGORICAL_FIELDS, connection())


@st.cache_resource(max_entries=4, show_spinner=False)
def ranges(_key: str) -> dict[str, tuple[float, float]]:
    """Observed year and follow-up ranges of the shipped store (for the sliders)."""
    studies = query.table("studies", connection())
    eff = query.table("effects", connection())
    years = pd.to_numeric(studies["year"], errors="coerce").dropna()
    months = pd.to_numeric(eff["timepoint_months"], errors="coerce").dropna()
    return {
        "year": (int(years.min()), int(years.max())) if len(years) else (1990, 2030),
        "timepoint_months": (0.0, float(math.ceil(months.max()))) if len(months) else (0.0, 24.0),
    }


@st.cache_resource(max_entries=128, show_spinner="Pooling…", hash_funcs=SPEC_HASH)
def cached_analysis(spec: FilterSpec, method: str, hartung_knapp: bool, level: float, _key: str):
    """:func:`evidence.analyse`, cached by its (hashable) inputs and the store version."""
    connection()
    return analyse(spec, method=method, hartung_knapp=hartung_knapp, level=level)


#: Diagnostic tables computed from an analysis, by name (whitelist; see :func:`get_table`).
TABLES = ("leave_one_out", "influence", "cumulative", "small_study", "subgroups", "meta_regression")


@st.cache_resource(max_entries=128, show_spinner="Computing…", hash_funcs=SPEC_HASH)
def cached_table(kind: str, spec: FilterSpec, method: str, hartung_knapp: bool, level: float, _key: str,
                 arg: str | None = None):
    """One of the analysis' diagnostic tables, cached by the analysis inputs."""
    a = cached_analysis(spec, method, hartung_knapp, level, _key)
    if kind == "leave_one_out":
        return analysis_mod.leave_one_out_table(a)
    if kind == "influence":
        return analysis_mod.influence_table(a)
    if kind == "cumulative":
        return analysis_mod.cumulative_table(a, by=arg or "year")
    if kind == "small_study":
        return analysis_mod.small_study(a)
    if kind == "subgroups":
        return analysis_mod.subgroup_table(a, arg)
    if kind == "meta_regression":
        return analysis_mod.meta_regression_table(a, arg)
    raise ValueError(f"Unknown table {kind!r}; must be one of {list(TABLES)}")


def get_table(kind: str, view: View, arg: str | None = None):
    return cached_table(kind, view.spec, view.method, view.hartung_knapp, view.level, _cache_key(), arg)


@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=SPEC_HASH)
def cached_robustness(spec: FilterSpec, method: str, hartung_knapp: bool, level: float, _key: str):
    connection()
    return analysis_mod.robustness_grid(spec, base_method=method, base_hartung_knapp=hartung_knapp, level=level)


def get_robustness(view: View):
    return cached_robustness(view.spec, view.method, view.hartung_knapp, view.level, _cache_key())


@st.cache_resource(max_entries=32, show_spinner=False, hash_funcs=SPEC_HASH)
def cached_compare(spec_a: FilterSpec, spec_b: FilterSpec, method: str, hartung_knapp: bool, level: float,
                   _key: str):
    connection()
    return analysis_mod.compare_specs(spec_a, spec_b, method, hartung_knapp, level)


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=SPEC_HASH)
def _exclusion_table(spec: FilterSpec, method: str, hartung_knapp: bool, level: float,
                     _key: str) -> tuple[pd.DataFrame, list[str]]:
    current = cached_analysis(spec, method, hartung_knapp, level, _key)
    full = (current if not spec.exclude_studies
            else cached_analysis(replace(spec, exclude_studies=()), method, hartung_knapp, level, _key))
    # Plain column lists: this runs on every new view, and building frames of them cost more than the rest.
    rows = charts.study_columns(full.effects, None, effect_measure=full.effect_measure, level=full.level,
                                tooltips=False)
    cur = charts.study_columns(current.effects, current.pooled if current.k > 1 else None,
                               effect_measure=current.effect_measure, level=current.level, tooltips=False)
    weights = dict(zip(cur["study_id"], cur["weight_pct"]))
    excluded = set(spec.exclude_studies)
    eff = full.effects.reset_index(drop=True)
    table = pd.DataFrame({
        "Exclude": [sid in excluded for sid in eff["study_id"]],
        "Study": rows["row"],
        "Year": eff["year"],
        "Effect [95% CI]": rows["est_text"],
        "Weight (%)": [round(weights[s], 1) if s in weights else None for s in eff["study_id"]],
        "Risk of bias": rows["rob"],
        "N": eff["n_total"],
        "Follow-up (months)": eff["timepoint_months"].round(1),
        "Measure": eff["measure"],
    })
    return table, eff["study_id"].astype(str).tolist()


def exclusion_table(view: View) -> tuple[pd.DataFrame, list[str]]:
    """Every study the filter matches (also those excluded by hand) with its current weight, and their ids.

    Raises the domain errors of :func:`get_analysis` (e.g. when excluding by hand emptied the set).
    """
    return _exclusion_table(view.spec, view.method, view.hartung_knapp, view.level, _cache_key())


def get_compare(spec_a: FilterSpec, spec_b: FilterSpec, view: View):
    """Pinned filter sets A and B compared under the view's estimator and adjustment."""
    return cached_compare(spec_a, spec_b, view.method, view.hartung_knapp, view.level, _cache_key())


def forget_results() -> None:
    """Drop every cached result (an import changed a dataset). The store's connection is held by
    :mod:`evidence.store.connection`, so the connection resource, dropped too, comes back as the same one."""
    st.cache_data.clear()
    st.cache_resource.clear()
    _vocab_lookup.cache_clear()


def get_analysis(view: View):
    """The analysis for a view; raises the domain errors (pages render them)."""
    return cached_analysis(view.spec, view.method, view.hartung_knapp, view.level, _cache_key())


# ---------------------------------------------------------------------------
# URL <-> session state


def _spec_from_state() -> FilterSpec:
    ss = st.session_state
    kwargs: dict[str, Any] = {}
    outcome = ss.get(KEYS["outcome"])
    kwargs["outcome"] = outcome or None
    for name in CATEGORICAL_FIELDS:
        kwargs[name] = tuple(ss.get(KEYS[name]) or ())
    rng = ranges(_cache_key())
    for name in ("year", "timepoint_months"):
        value = ss.get(KEYS[name])
        full = rng[name]
        if value is not None and (float(value[0]) > float(full[0]) or float(value[1]) < float(full[1])):
            kwargs[name] = tuple(value)
    kwargs["dataset"] = ss.get(KEYS["dataset"]) or "shipped"
    kwargs["include_flagged"] = bool(ss.get(KEYS["include_flagged"], True))
    kwargs["exclude_studies"] = tuple(ss.get(KEY_EXCLUDED) or ())
    return FilterSpec(**kwargs)


def _state_from_spec(spec: FilterSpec, method: str | None = None, hk: bool | None = None) -> None:
    ss = st.session_state
    ss[KEYS["outcome"]] = spec.outcome or _default_outcome()
    for name in CATEGORICAL_FIELDS:
        ss[KEYS[name]] = list(getattr(spec, name))
    rng = ranges(_cache_key())
    for name, kind in (("year", int), ("timepoint_months", float)):
        value = getattr(spec, name)
        full = rng[name]
        if value is None:
            ss[KEYS[name]] = (kind(full[0]), kind(full[1]))
        else:
            lo = min(max(kind(value[0]), kind(full[0])), kind(full[1]))
            hi = max(min(kind(value[1]), kind(full[1])), lo)
            ss[KEYS[name]] = (lo, hi)
    ss[KEYS["dataset"]] = spec.dataset
    ss[KEYS["include_flagged"]] = spec.include_flagged
    ss[KEY_EXCLUDED] = tuple(spec.exclude_studies)
    if method is not None:
        ss[KEY_METHOD] = method
    if hk is not None:
        ss[KEY_HK] = hk


def _default_outcome() -> str:
    options = choices("outcome")
    if DEFAULT_OUTCOME in options:
        return DEFAULT_OUTCOME
    counts = _all_choice_counts(FilterSpec(), _cache_key())["outcome"]
    return max(counts, key=counts.get) if counts else (options[0] if options else "")


def read_url_once() -> None:
    """On a session's first run, restore the whole view from the URL; list what was ignored."""
    ss = st.session_state
    if ss.get(KEY_URL_READ):
        return
    ss[KEY_URL_READ] = True
    params = {k: st.query_params.get(k) for k in st.query_params.keys()}
    vocab = {f: choices(f) for f in ("outcome",) + CATEGORICAL_FIELDS}
    spec, notices = FilterSpec.from_query_params(params, vocab)
    notices = list(notices)
    method = "REML"
    raw_method = params.get("method")
    if raw_method:
        if raw_method.upper() in METHODS:
            method = raw_method.upper()
        else:
            notices.append(f"Ignored method {raw_method!r}: not one of {list(METHODS)}")
    hk = False
    raw_hk = params.get("hk")
    if raw_hk:
        if raw_hk.lower() in ("1", "true", "yes"):
            hk = True
        elif raw_hk.lower() not in ("0", "false", "no"):
            notices.append(f"Ignored hk {raw_hk!r}: must be 0 or 1")
    if spec.dataset not in ("shipped", "all") and spec.dataset not in store.list_datasets():
        notices.append(f"Ignored dataset {spec.dataset!r}: not one of {['shipped', 'all', *store.list_datasets()]}")
        spec = replace(spec, dataset="shipped")
    rng = ranges(_cache_key())
    for name in ("year", "timepoint_months"):
        value = getattr(spec, name)
        full = rng[name]
        if value is not None and (value[1] < full[0] or value[0] > full[1]):
            notices.append(f"Ignored {name} {value[0]:g}–{value[1]:g}: outside the data ({full[0]:g}–{full[1]:g})")
            spec = replace(spec, **{name: None})
    ss[KEY_LINK_VERSION] = params.get("version")
    moderator = params.get("moderator")
    if moderator:
        if moderator in analysis_mod.MODERATOR_COLUMNS:
            ss[KEY_MODERATOR] = moderator
        else:
            notices.append(f"Ignored moderator {moderator!r}: not one of {list(analysis_mod.MODERATOR_COLUMNS)}")
    ss[KEY_NOTICES] = notices
    _state_from_spec(spec, method, hk)


def _ensure_defaults() -> None:
    """Give every sidebar key a valid value (e.g. when state was preset without the URL)."""
    ss = st.session_state
    if not ss.get(KEYS["outcome"]):
        ss[KEYS["outcome"]] = _default_outcome()
    for name in CATEGORICAL_FIELDS:
        if not isinstance(ss.get(KEYS[name]), (list, tuple)):
            ss[KEYS[name]] = []
    rng = ranges(_cache_key())
    for name, kind in (("year", int), ("timepoint_months", float)):
        value = ss.get(KEYS[name])
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            ss[KEYS[name]] = (kind(rng[name][0]), kind(rng[name][1]))
    ss.setdefault(KEYS["dataset"], "shipped")
    ss.setdefault(KEYS["include_flagged"], True)
    ss.setdefault(KEY_EXCLUDED, ())
    ss.setdefault(KEY_METHOD, "REML")
    ss.setdefault(KEY_HK, False)


def write_url(view: View) -> None:
    """Mirror the view into the URL query parameters (only when they changed)."""
    wanted = dict(view.spec.to_query_params())
    if view.method != "REML":
        wanted["method"] = view.method
    if view.hartung_knapp:
        wanted["hk"] = "1"
    moderator = st.session_state.get(KEY_MODERATOR)
    if moderator and moderator != "ps_format":
        wanted["moderator"] = moderator
    wanted["version"] = dataset_version()
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if current != wanted:
        st.query_params.from_dict(wanted)


# ---------------------------------------------------------------------------
# the shared sidebar


def _fmt_choice(field: str, counts: dict[str, int], names: dict[str, str]) -> Callable[[str], str]:
    def fmt(value: str) -> str:
        n = counts.get(value, 0)
        return f"{names.get(value, value)} ({n} trial{'s' if n != 1 else ''})"
    return fmt


def _clear_exclusions() -> None:
    st.session_state[KEY_EXCLUDED] = ()


def _reset_all() -> None:
    _state_from_spec(FilterSpec(outcome=st.session_state.get(KEYS["outcome"])), "REML", False)


def render_sidebar() -> View:
    """Build every filter widget (stable keys), with trial counts per choice; return the view."""
    connection()
    key = _cache_key()
    read_url_once()
    _ensure_defaults()
    ss = st.session_state
    sb = st.sidebar
    with sb:
        st.header("Filters")
        outcomes = choices("outcome")
        if ss.get(KEYS["outcome"]) not in outcomes and outcomes:
            ss[KEYS["outcome"]] = _default_outcome()
        current = _spec_from_state()
        all_counts = _all_choice_counts(current, key)
        out_counts = all_counts["outcome"]
        st.selectbox(FIELD_LABELS["outcome"], outcomes, key=KEYS["outcome"],
                     format_func=_fmt_choice("outcome", out_counts, labels("outcome")),
                     help="Effects are pooled for one outcome at a time. The number is how many trials "
                          "with usable numbers each choice would leave, given the other filters.")
        for name in CATEGORICAL_FIELDS:
            counts = all_counts[name]
            opts = choices(name)
            ss[KEYS[name]] = [v for v in ss.get(KEYS[name], []) if v in opts]
            # wrap=False: chips stay on one row. Wrapping let a focused box grow a line, so the next click
            # on a chip's × further down (the blur shrinks the box first) landed beside it and did nothing.
            st.multiselect(FIELD_LABELS[name], opts, key=KEYS[name],
                           format_func=_fmt_choice(name, counts, labels(name)),
                           placeholder="All (no restriction)", wrap=False,
                           help="Leave empty for no restriction. A trial that does not report this "
                                "characteristic is kept only when the filter is empty.")
        rng = ranges(key)
        st.slider(FIELD_LABELS["timepoint_months"], min_value=float(rng["timepoint_months"][0]),
                  max_value=float(rng["timepoint_months"][1]), step=0.5, format="%.1f", key=KEYS["timepoint_months"],
                  help="Months from randomisation. With a narrower window, results without a follow-up "
                       "time are left out.")
        st.slider(FIELD_LABELS["year"], min_value=int(rng["year"][0]), max_value=int(rng["year"][1]),
                  step=1, key=KEYS["year"])
        datasets = ["shipped", "all", *store.list_datasets()]
        if ss.get(KEYS["dataset"]) not in datasets:
            ss[KEYS["dataset"]] = "shipped"
        st.selectbox(FIELD_LABELS["dataset"], datasets, key=KEYS["dataset"],
                     format_func=lambda d: {"shipped": "Shipped dataset", "all": "Shipped + all imported"}.get(
                         d, f"Imported: {d}"))
        st.checkbox(FIELD_LABELS["include_flagged"], key=KEYS["include_flagged"],
                    help="Flagged trials have caveats (e.g. borderline peer support, inferred attribution); "
                         "derived numbers were back-calculated. Untick to leave them out.")
        excluded = tuple(ss.get(KEY_EXCLUDED) or ())
        if excluded:
            st.caption(f"{len(excluded)} stud{'y' if len(excluded) == 1 else 'ies'} excluded by hand: "
                       + ", ".join(md_escape(e) for e in excluded))
            st.button("Include all studies again", key="btn_clear_excluded", on_click=_clear_exclusions)
        st.header("Method")
        if ss.get(KEY_METHOD) not in METHODS:
            ss[KEY_METHOD] = "REML"
        st.selectbox("Estimator of τ²", list(METHODS), key=KEY_METHOD,
                     format_func=lambda m: METHOD_LABELS.get(m, m),
                     help="FE pools as if all trials estimated one common effect; the others are random-effects "
                          "models that differ in how they estimate the between-trial variance τ².")
        ss.setdefault(KEY_HK, False)
        st.toggle("Hartung-Knapp adjustment", key=KEY_HK,
                  help="Wider, t-based confidence intervals that keep their coverage with few trials "
                       "(Hartung & Knapp 2001).")
        st.button("Reset filters", key="btn_reset", on_click=_reset_all)
    view = View(spec=_spec_from_state(), method=ss[KEY_METHOD], hartung_knapp=bool(ss[KEY_HK]))
    ss[KEY_VIEW] = view
    write_url(view)
    return view


def show_url_notices() -> None:
    """Tell the user which parts of a shared link were not understood (visible, never silent)."""
    notices = st.session_state.get(KEY_NOTICES) or []
    if notices:
        # The notices quote what the link said: escaped, so a crafted link cannot become markup.
        st.info("Some parts of the link were ignored:\n\n" + "\n".join(f"- {md_escape(n)}" for n in notices),
                icon=":material/info:")
    link_version = st.session_state.get(KEY_LINK_VERSION)
    if link_version and link_version != dataset_version():
        st.info(f"This link was made with dataset version {md_escape(link_version)}; you are seeing version "
                f"{dataset_version()}, so numbers may differ.", icon=":material/info:")


def app_pages() -> list:
    """The app's pages, registered explicitly (url paths = file names, so old-style links resolve too)."""
    return [
        st.Page("pages/explore.py", title="Explore", icon=":material/forest:", default=True),
        st.Page("pages/sensitivity.py", title="Sensitivity", icon=":material/tune:", url_path="sensitivity"),
        st.Page("pages/subgroups.py", title="Subgroups & moderators", icon=":material/category:",
                url_path="subgroups"),
        st.Page("pages/small_study.py", title="Small-study effects", icon=":material/filter_alt:",
                url_path="small_study"),
        st.Page("pages/data.py", title="Data", icon=":material/table_view:", url_path="data"),
        st.Page("pages/about.py", title="About", icon=":material/info:", url_path="about"),
    ]


KEY_VIA_ENTRY = "_via_entry"


def mark_entry() -> None:
    """Called by app.py on every run: the page that follows was chosen by our own navigation."""
    st.session_state[KEY_VIA_ENTRY] = True


def current_view() -> View:
    """The sidebar's view for this run.

    Streamlit runs a fresh server's first session in its legacy "pages/ folder" mode, which
    executes a page file directly, without app.py (no page config, no sidebar). Our
    ``st.navigation`` call switches the process to explicit navigation; then the run starts
    again through app.py, on the same page.
    """
    ss = st.session_state
    if not ss.get(KEY_VIA_ENTRY):
        st.navigation(app_pages(), position="hidden")
        st.rerun()
    ss[KEY_VIA_ENTRY] = False
    return ss[KEY_VIEW]


# ---------------------------------------------------------------------------
# states: errors, k = 0, k = 1


def _widen(culprit: str) -> None:
    ss = st.session_state
    if culprit == "exclude_studies":
        ss[KEY_EXCLUDED] = ()
    elif culprit in CATEGORICAL_FIELDS:
        ss[KEYS[culprit]] = []
    elif culprit in ("year", "timepoint_months"):
        full = ranges(_cache_key())[culprit]
        ss[KEYS[culprit]] = (int(full[0]), int(full[1])) if culprit == "year" else (float(full[0]),
                                                                                  float(full[1]))
    elif culprit == "include_flagged":
        ss[KEYS["include_flagged"]] = True
    elif culprit == "dataset":
        ss[KEYS["dataset"]] = "shipped"


WIDENABLE = set(CATEGORICAL_FIELDS) | {"exclude_studies", "year", "timepoint_months", "include_flagged"}


def render_error(exc: Exception) -> None:
    """The one place domain errors become messages."""
    if isinstance(exc, NoMatchingStudies):
        culprit = exc.culprit
        name = FIELD_LABELS.get(culprit or "", culprit or "")
        if culprit and culprit in WIDENABLE:
            st.warning(f"No studies left (k = 0). The **{name}** filter removed the last studies. "
                       "Widen it to see results.", icon=":material/warning:")
            st.button(f"Widen: clear the '{name}' filter", key=f"btn_widen_{culprit}", on_click=_widen,
                      args=(culprit,), type="primary")
        elif culprit == "usable numbers":
            st.warning(str(exc) + " Choose another outcome.", icon=":material/warning:")
        elif culprit == "outcome":
            st.warning("No studies report this outcome with usable numbers. Choose another outcome.", icon=":material/warning:")
        else:
            st.warning(str(exc), icon=":material/warning:")
        if exc.counts:
            st.caption("Trials left as each filter is applied: "
                       + " → ".join(f"{FIELD_LABELS.get(n, n)}: {c}" for n, c in exc.counts))
    elif isinstance(exc, TooFewStudies):
        st.info(str(exc) + " Widen the filters in the sidebar to include more studies.", icon=":material/info:")
    elif isinstance(exc, EvidenceError):
        st.error(str(exc), icon=":material/block:")
    else:
        raise exc


def analysis_or_stop(view: View, *, warn_catch_all: bool = True):
    """Analysis for the view, or render the error and stop the page.

    With ``warn_catch_all`` a catch-all outcome ("other") gets its caution at the top (pages other than
    Explore show no caution box, and every number on them mixes unrelated measures too).
    """
    try:
        analysis = get_analysis(view)  # cached_analysis shows "Pooling…" while it computes
    except EvidenceError as exc:
        render_error(exc)
        st.stop()
    if warn_catch_all and view.spec.outcome in analysis_mod.CATCH_ALL_OUTCOMES and analysis.warnings:
        st.warning(analysis.warnings[0], icon=":material/warning:")
    return analysis


# ---------------------------------------------------------------------------
# display helpers


def display(value: float, analysis) -> float:
    return measure(analysis.effect_measure).to_display(value)


def _num(v: Any, digits: int = 2) -> str:
    return words.format_number(v, digits) if v is not None else "not available"


def render_metrics(analysis) -> None:
    """The seven headline numbers as st.metric widgets with the contract's labels."""
    p = analysis.pooled
    scale = measure(analysis.effect_measure)
    conv = scale.to_display
    # Two rows of four: seven metrics side by side truncate the intervals on a laptop screen.
    row1, row2 = st.columns(4), st.columns(4)
    cols = [row1[0], row1[1], row1[2], row2[0], row2[1], row1[3], row2[2]]
    cols[0].metric("Pooled effect", _num(conv(p.estimate)), help=f"{scale.label}. {analysis.favours}. "
                                                                  f"Model: {p.describe()}.")
    cols[1].metric("95% CI" if abs(p.level - 0.95) < 1e-9 else f"{p.level:.0%} CI",
                   f"{_num(conv(p.ci_low))} to {_num(conv(p.ci_high))}",
                   help=f"Confidence interval of the average effect ({words.format_p(p.p_value)}).")
    pi = (f"{_num(conv(p.pi_low))} to {_num(conv(p.pi_high))}"
          if math.isfinite(p.pi_low) and math.isfinite(p.pi_high) else "needs k ≥ 3")
    cols[2].metric("Prediction interval", pi, help=words.PI_DEFINITION)
    cols[3].metric("I²", f"{p.i2:.0f}%" if math.isfinite(p.i2) else "not available", help=words.I2_DEFINITION)
    cols[4].metric("τ²", f"{p.tau2:.3f}" if math.isfinite(p.tau2) else "not available", help=words.TAU2_DEFINITION)
    cols[5].metric("Studies (k)", f"{analysis.k}")
    n = analysis.effects["n_total"]
    missing = int(n.isna().sum())
    cols[6].metric("Participants", ("≥ " if missing else "") + f"{analysis.participants:,}",
                   help=(f"{missing} stud{'y does' if missing == 1 else 'ies do'} not report N; not counted."
                         if missing else "Analysed participants in the pooled studies."))


def download_chart(chart, name: str, key: str) -> None:
    """PNG and SVG download buttons; the image is rendered only when clicked."""
    c1, c2, _ = st.columns([1, 1, 5], gap="small")
    c1.download_button("PNG", icon=":material/download:", data=lambda: chart_png(chart), file_name=f"{name}.png", mime="image/png",
                       key=f"dl_png_{key}", on_click="ignore")
    c2.download_button("SVG", icon=":material/download:", data=lambda: chart_svg(chart), file_name=f"{name}.svg", mime="image/svg+xml",
                       key=f"dl_svg_{key}", on_click="ignore")


def download_table(table: pd.DataFrame, name: str, key: str, label: str = "CSV") -> None:
    st.download_button(label, icon=":material/download:", data=lambda: table_csv(table), file_name=f"{name}.csv", mime="text/csv",
                       key=f"dl_csv_{key}", on_click="ignore")


@st.cache_resource(max_entries=256, show_spinner="Drawing…", hash_funcs=SPEC_HASH)
def _chart_specs(chart_id: str, inputs: tuple, _build: Callable[[], Any]) -> tuple[dict, dict]:
    """A chart's Vega-Lite dict (for exports) and the same with its data sets as Arrow bytes (for display).

    Built once per chart and inputs: ``_build`` returns an Altair chart, or the dict itself where a fast
    builder exists (the forest plot). Streamlit turns inline data sets into Arrow bytes on every call
    unless they already are; doing it here once took a tenth of the server's time off each rerun. A
    shared resource, never mutated (Streamlit copies the dict it is given), so no per-rerun copy either.
    """
    chart = _build()
    # Validated against the Vega-Lite schema in the chart tests; skipped here to keep reruns fast.
    spec = chart if isinstance(chart, dict) else chart.to_dict(validate=False)
    display = dict(spec)
    if "datasets" in spec:
        display["datasets"] = {name: records_to_arrow_bytes(values) for name, values in spec["datasets"].items()}
    return spec, display


def records_to_arrow_bytes(records: list[dict]) -> bytes:
    """A chart data set (list of row dicts) as the Arrow bytes Streamlit sends to the browser.

    Straight through pyarrow, which Streamlit accepts as it accepts a pandas frame; the detour through
    pandas that Streamlit takes for plain lists cost more than the rest of a cached rerun. Rows pyarrow
    cannot type (a column mixing text and numbers) take Streamlit's own route.
    """
    try:
        table = pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return dataframe_util.convert_anything_to_arrow_bytes(records)
    return dataframe_util.convert_arrow_table_to_arrow_bytes(table)


def view_inputs(view: View, *extra: Any) -> tuple:
    """Everything a page's chart depends on: the view, the store version, and chart-specific extras."""
    return (view.spec, view.method, view.hartung_knapp, view.level, _cache_key(), *extra)


def show_chart(build: Callable[[], Any], name: str, key: str, inputs: tuple) -> None:
    """Render a chart and its PNG/SVG downloads.

    ``build`` makes the Altair chart (or its Vega-Lite dict); ``inputs`` must identify everything the chart depends on
    (see :func:`view_inputs`), so a changed filter can never show a stale figure.
    """
    spec, display = _chart_specs(key, inputs, build)
    # width="content": the chart keeps the size it was designed at (fonts sized for slides);
    # stretching distorts band scales such as the robustness heatmap.
    st.vega_lite_chart(display, theme=None, key=f"chart_{key}", width="content")
    download_chart(spec, name, key)


def show_cautions(analysis, extra: list[str] | tuple[str, ...] = ()) -> None:
    """Every caution of the analysis in one box (one bullet each), so the plot stays near the top."""
    items = list(analysis.warnings) + [w for w in extra if w not in analysis.warnings]
    if not items:
        return
    st.warning("**Before you quote this result**\n\n" + "\n".join(f"- {w}" for w in items),
               icon=":material/warning:")


class PerfTimer:
    """Logs one line per rerun: page name and server time in ms (logger ``peer_dashboard.perf``)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        if not log.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False

    def done(self, page: str) -> float:
        ms = (time.perf_counter() - self.t0) * 1000.0
        log.info("page=%s server_ms=%.1f", page, ms)
        return ms


def try_table(kind: str, view: View, arg: str | None = None):
    """A diagnostic table, or ``None`` after rendering why it cannot be computed."""
    try:
        return get_table(kind, view, arg)  # cached_table shows "Computing…" while it computes
    except EvidenceError as exc:
        render_error(exc)
        return None


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy with floats rounded for display (downloads keep full precision)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
    return out
