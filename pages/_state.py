"""URL and session state: the frozen :class:`View` the sidebar produces, the widget keys, the URL codec
of the whole view, and the app's navigation. A restored link and a changed widget meet here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from evidence import FilterSpec
from evidence import analysis as analysis_mod
from evidence.analysis import METHODS
from evidence.core.filters import CATEGORICAL_FIELDS
from evidence.store import connection as store

from ._cache import choice_counts, choices, dataset_version, ranges, review_options

#: Sidebar labels, in display order, for every FilterSpec field the sidebar shows.
FIELD_LABELS: dict[str, str] = {
    "outcome": "Outcome",
    "review": "Only the trials a review included",
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
    "scale": "Scale when results mix continuous and binary",
    "followup": "Follow-up of a trial with several",
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

KEY_FOLLOWUP_MONTHS = "flt_followup_months"

#: The scale choices and the follow-up rules in words (values of FilterSpec.scale / the rule widget).
SCALE_LABELS = {"auto": "Automatic: the scale that keeps the most trials",
                "SMD": "SMD (binary results converted, Chinn 2000)", "ratio": "Ratio (binary results only)"}
FOLLOWUP_LABELS = {"longest": "The longest", "shortest": "The shortest", "nearest": "The one nearest a chosen time"}

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


def _spec_from_state() -> FilterSpec:
    ss = st.session_state
    kwargs: dict[str, Any] = {}
    outcome = ss.get(KEYS["outcome"])
    kwargs["outcome"] = outcome or None
    for name in CATEGORICAL_FIELDS:
        kwargs[name] = tuple(ss.get(KEYS[name]) or ())
    rng = ranges()
    for name in ("year", "timepoint_months"):
        value = ss.get(KEYS[name])
        full = rng[name]
        if value is not None and (float(value[0]) > float(full[0]) or float(value[1]) < float(full[1])):
            kwargs[name] = tuple(value)
    kwargs["dataset"] = ss.get(KEYS["dataset"]) or "shipped"
    kwargs["include_flagged"] = bool(ss.get(KEYS["include_flagged"], True))
    kwargs["exclude_studies"] = tuple(ss.get(KEY_EXCLUDED) or ())
    kwargs["review"] = ss.get(KEYS["review"]) or None
    kwargs["scale"] = ss.get(KEYS["scale"]) or "auto"
    rule = ss.get(KEYS["followup"]) or "longest"
    kwargs["followup"] = ss.get(KEY_FOLLOWUP_MONTHS, 6.0) if rule == "nearest" else rule
    return FilterSpec(**kwargs)

def _state_from_spec(spec: FilterSpec, method: str | None = None, hk: bool | None = None) -> None:
    ss = st.session_state
    ss[KEYS["outcome"]] = spec.outcome or _default_outcome()
    for name in CATEGORICAL_FIELDS:
        ss[KEYS[name]] = list(getattr(spec, name))
    rng = ranges()
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
    ss[KEYS["review"]] = spec.review or ""
    ss[KEYS["scale"]] = spec.scale
    if spec.followup in FOLLOWUP_LABELS:
        ss[KEYS["followup"]] = spec.followup
    else:
        ss[KEYS["followup"]], ss[KEY_FOLLOWUP_MONTHS] = "nearest", float(spec.followup)
    if method is not None:
        ss[KEY_METHOD] = method
    if hk is not None:
        ss[KEY_HK] = hk

def _default_outcome() -> str:
    options = choices("outcome")
    if DEFAULT_OUTCOME in options:
        return DEFAULT_OUTCOME
    counts = choice_counts(FilterSpec())["outcome"]
    return max(counts, key=counts.get) if counts else (options[0] if options else "")

def read_url_once() -> None:
    """On a session's first run, restore the whole view from the URL; list what was ignored."""
    ss = st.session_state
    if ss.get(KEY_URL_READ):
        return
    ss[KEY_URL_READ] = True
    params = {k: st.query_params.get(k) for k in st.query_params.keys()}
    vocab = {f: choices(f) for f in ("outcome",) + CATEGORICAL_FIELDS}
    vocab["review"] = list(review_options())
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
    rng = ranges()
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
    rng = ranges()
    for name, kind in (("year", int), ("timepoint_months", float)):
        value = ss.get(KEYS[name])
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            ss[KEYS[name]] = (kind(rng[name][0]), kind(rng[name][1]))
    ss.setdefault(KEYS["dataset"], "shipped")
    ss.setdefault(KEYS["include_flagged"], True)
    ss.setdefault(KEY_EXCLUDED, ())
    if ss.get(KEYS["review"]) not in review_options():
        ss[KEYS["review"]] = ""
    if ss.get(KEYS["scale"]) not in SCALE_LABELS:
        ss[KEYS["scale"]] = "auto"
    if ss.get(KEYS["followup"]) not in FOLLOWUP_LABELS:
        ss[KEYS["followup"]] = "longest"
    ss.setdefault(KEY_FOLLOWUP_MONTHS, 6.0)
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

def app_pages() -> list:
    """The app's pages, registered explicitly (url paths = file names, so old-style links resolve too)."""
    return [
        st.Page("pages/explore.py", title="Explore", icon=":material/forest:", default=True),
        st.Page("pages/sensitivity.py", title="Sensitivity", icon=":material/tune:", url_path="sensitivity"),
        st.Page("pages/subgroups.py", title="Subgroups & moderators", icon=":material/category:",
                url_path="subgroups"),
        st.Page("pages/small_study.py", title="Small-study effects", icon=":material/filter_alt:",
                url_path="small_study"),
        st.Page("pages/reviews.py", title="Reviews", icon=":material/library_books:", url_path="reviews"),
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
