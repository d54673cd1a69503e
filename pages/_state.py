"""URL and session state: the frozen :class:`View` the sidebar produces, the widget keys, the URL codec
of the whole view, and the app's navigation. A restored link and a changed widget meet here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from evidence import FilterSpec
from evidence import analysis as analysis_mod
from evidence.analysis import METHODS
from evidence.core.filters import CATEGORICAL_FIELDS, collapse_query_params
from evidence.core.params import short
from evidence.present import wording as words
from evidence.store import connection as store

from ._cache import choice_counts, choices, dataset_version, ranges, review_options, study_ids
from ._owner import open_share_link, own_datasets, own_folder

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

METHOD_LABELS = {m: f"{m}: {name}" for m, name in words.METHOD_NAMES.items()}

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
_VERSION = re.compile(r"^\d{1,4}\.\d{1,4}\.\d{1,4}$")

KEY_MODERATOR = "opt_moderator"

#: The Bayesian panel's choices (plain session keys, not widget keys, so they survive page changes):
#: the prior, the own half-normal scale, and the minimally important difference (None: the measure's default).
KEY_PRIOR = "bayes_prior"

KEY_PRIOR_SCALE = "bayes_prior_scale"

KEY_MID = "bayes_mid"

KEY_SCREEN = "present_screen"  # index of the Present page's screen; in the URL as `screen` there

KEY_TARGET_PAGE = "_target_page"  # the page a link's `page=` asked for, followed once

KEY_PAGE = "_page"  # url path of the page this run shows ("" for the default page)

#: Pages a link may name with `page=` (url path -> script), besides their own address.
LINK_PAGES = {"present": "pages/present.py", "overview": "pages/overview.py", "explore": "pages/explore.py",
              "evidence_map": "pages/evidence_map.py", "reviews": "pages/reviews.py", "sensitivity": "pages/sensitivity.py",
              "subgroups": "pages/subgroups.py", "small_study": "pages/small_study.py", "data": "pages/data.py",
              "about": "pages/about.py"}

DEFAULT_OUTCOME = "depression"

@dataclass(frozen=True)
class View:
    """Everything the pages need from the sidebar: filter, estimator, adjustment, level, and the folder of
    the session's own datasets when the filter reads them (``None`` for the shipped data, so views of the
    shipped data share one cache entry across sessions; never written to the URL)."""

    spec: FilterSpec
    method: str = "REML"
    hartung_knapp: bool = False
    level: float = 0.95
    uploads: str | None = None


def make_view(spec: FilterSpec, method: str = "REML", hartung_knapp: bool = False) -> View:
    """The view of a spec in this session: its own datasets' folder when the spec reads imported data."""
    return View(spec=spec, method=method, hartung_knapp=hartung_knapp,
                uploads=None if spec.dataset == "shipped" else str(own_folder()))


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
    # get_all: a repeated key is seen as such (get() keeps its last value silently); the codec combines a
    # repeated list key and keeps the first value of any other, with a notice.
    params_all = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    share_values = params_all.pop("share", None)  # a share link's token: never part of the view, never written back
    share = share_values[0] if share_values else None
    vocab = {f: choices(f) for f in ("outcome",) + CATEGORICAL_FIELDS}
    vocab["review"] = list(review_options())
    spec, notices = FilterSpec.from_query_params(params_all, vocab)
    params, _ = collapse_query_params(params_all)  # its notices are already in ``notices``
    notices = list(notices)
    method = "REML"
    raw_method = params.get("method")
    if raw_method:
        if raw_method.upper() in METHODS:
            method = raw_method.upper()
        else:
            notices.append(f"Ignored method {short(raw_method)}: not one of {list(METHODS)}")
    hk = False
    raw_hk = params.get("hk")
    if raw_hk:
        if raw_hk.lower() in ("1", "true", "yes"):
            hk = True
        elif raw_hk.lower() not in ("0", "false", "no"):
            notices.append(f"Ignored hk {short(raw_hk)}: must be 0 or 1")
    if share:
        name, problem = open_share_link(share)
        if name:
            spec = replace(spec, dataset=name)
        else:
            notices.append(problem)
    if spec.dataset not in ("shipped", "all") and spec.dataset not in own_datasets():
        # Neutral: says nothing about other sessions' datasets, lists only what this session may open.
        notices.append(f"Ignored dataset {short(spec.dataset)}: no such dataset. Datasets you can open: "
                       f"{', '.join(['shipped', 'all', *own_datasets()])}")
        spec = replace(spec, dataset="shipped")
    if spec.exclude_studies:
        known = study_ids(spec.dataset, own_folder())
        unknown = [s for s in spec.exclude_studies if s not in known]
        if unknown:
            notices.append(_unknown_ids_notice(unknown, spec.dataset))
            spec = replace(spec, exclude_studies=tuple(s for s in spec.exclude_studies if s in known))
    rng = ranges()
    for name in ("year", "timepoint_months"):
        value = getattr(spec, name)
        full = rng[name]
        if value is not None and (value[1] < full[0] or value[0] > full[1]):
            notices.append(f"Ignored {name} {value[0]:g}–{value[1]:g}: outside the data ({full[0]:g}–{full[1]:g})")
            spec = replace(spec, **{name: None})
    version = params.get("version")
    if version and not _VERSION.match(version):
        notices.append(f"Ignored version {short(version)}: not a dataset version such as 1.2.0")
        version = None
    ss[KEY_LINK_VERSION] = version
    _read_choice(params, "moderator", analysis_mod.MODERATOR_COLUMNS, KEY_MODERATOR, notices)
    _read_bayes_params(params, notices)
    _read_choice(params, "page", LINK_PAGES, KEY_TARGET_PAGE, notices, normalise=str.lower)
    raw_screen = params.get("screen")
    if raw_screen:
        if raw_screen.isdigit() and int(raw_screen) >= 1:
            ss[KEY_SCREEN] = int(raw_screen) - 1  # links count screens from 1, as the page shows them
        else:
            notices.append(f"Ignored screen {short(raw_screen)}: must be a screen number (1, 2, …)")
    ss[KEY_NOTICES] = notices
    _state_from_spec(spec, method, hk)


def _read_choice(params: dict, name: str, choices, key: str, notices: list[str], normalise=None) -> None:
    """URL parameter ``name`` into session key ``key`` when it is one of ``choices``, else a notice."""
    raw = params.get(name)
    if not raw:
        return
    value = normalise(raw) if normalise else raw
    if value in choices:
        st.session_state[key] = value
    else:
        notices.append(f"Ignored {name} {short(raw)}: not one of {list(choices)}")


#: URL parameter -> (session key, lowest allowed, highest allowed, lower bound strict)
_BAYES_NUMBERS = {"prior_scale": (KEY_PRIOR_SCALE, 0.0, 10.0, True), "mid": (KEY_MID, 0.0, 5.0, False)}


def _read_bayes_params(params: dict, notices: list[str]) -> None:
    """The prior, its scale and the MID from the URL; anything invalid is ignored with a notice."""
    ss = st.session_state
    _read_choice(params, "prior", analysis_mod.PRIOR_CHOICES, KEY_PRIOR, notices)
    for name, (key, low, high, strict) in _BAYES_NUMBERS.items():
        raw = params.get(name)
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and (value > low if strict else value >= low) and value <= high:
            ss[key] = value
        else:
            bounds = f"above {low:g} and at most {high:g}" if strict else f"from {low:g} to {high:g}"
            notices.append(f"Ignored {name} {short(raw)}: must be a number {bounds}")


def bayes_params() -> dict[str, str]:
    """The Bayesian choices that differ from the defaults, as URL parameters."""
    ss = st.session_state
    out: dict[str, str] = {}
    prior = ss.get(KEY_PRIOR)
    if prior and prior != analysis_mod.DEFAULT_PRIOR:
        out["prior"] = prior
    scale = ss.get(KEY_PRIOR_SCALE)
    if scale is not None and scale != analysis_mod.DEFAULT_OWN_SCALE:
        out["prior_scale"] = f"{scale:g}"
    mid = ss.get(KEY_MID)
    if mid is not None:
        out["mid"] = f"{mid:g}"
    return out


def _unknown_ids_notice(unknown: list[str], dataset: str) -> str:
    examples = ", ".join(short(s) for s in unknown[:3])
    where = "the shipped data" if dataset == "shipped" else f"dataset {dataset!r}"
    if len(unknown) == 1:
        return f"Ignored study id {examples} in exclude_studies: no such study in {where}"
    return f"Ignored {len(unknown):,} study ids in exclude_studies, e.g. {examples}: no such studies in {where}"


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

def view_params(view: View, *, screen: int | None = None) -> dict[str, str]:
    """The URL query parameters that restore ``view`` (the page's moderator, the Bayesian choices, and the
    Present page's ``screen``, counted from 0)."""
    wanted = dict(view.spec.to_query_params())
    if view.method != "REML":
        wanted["method"] = view.method
    if view.hartung_knapp:
        wanted["hk"] = "1"
    moderator = st.session_state.get(KEY_MODERATOR)
    if moderator and moderator != "ps_format":
        wanted["moderator"] = moderator
    wanted.update(bayes_params())
    wanted["version"] = dataset_version()
    if screen is not None:
        wanted["screen"] = str(int(screen) + 1)  # counted from 1 in links, as on the page
    return wanted


def view_link(view: View) -> str:
    """The link that restores ``view``, as the query string to append to the dashboard's address."""
    return "?" + urlencode(view_params(view))


def write_url(view: View) -> None:
    """Mirror the view into the URL query parameters (only when they changed)."""
    present = st.session_state.get(KEY_PAGE) == "present"
    wanted = view_params(view, screen=int(st.session_state.get(KEY_SCREEN) or 0) if present else None)
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if current != wanted:
        st.query_params.from_dict(wanted)


def app_pages() -> list:
    """The app's pages, registered explicitly (url paths = file names, so old-style links resolve too); made
    anew each run (a page list kept in the session could carry a first run's navigation into the next)."""
    return [
        st.Page("pages/overview.py", title="Overview", icon=":material/summarize:", default=True),
        st.Page("pages/explore.py", title="Explore", icon=":material/forest:", url_path="explore"),
        st.Page("pages/evidence_map.py", title="Evidence map", icon=":material/grid_on:", url_path="evidence_map"),
        st.Page("pages/sensitivity.py", title="Sensitivity", icon=":material/tune:", url_path="sensitivity"),
        st.Page("pages/subgroups.py", title="Subgroups & moderators", icon=":material/category:",
                url_path="subgroups"),
        st.Page("pages/small_study.py", title="Small-study effects", icon=":material/filter_alt:",
                url_path="small_study"),
        st.Page("pages/present.py", title="Present", icon=":material/co_present:", url_path="present"),
        st.Page("pages/reviews.py", title="Reviews", icon=":material/library_books:", url_path="reviews"),
        st.Page("pages/data.py", title="Data", icon=":material/table_view:", url_path="data"),
        st.Page("pages/about.py", title="About", icon=":material/info:", url_path="about"),
    ]

KEY_VIA_ENTRY = "_via_entry"

KEY_GOTO = "_goto_page"


def open_outcome(outcome: str, page: str = "pages/explore.py") -> None:
    """A callback (widgets may change state only before they are drawn): choose ``outcome`` in the sidebar and
    open ``page`` on this run (see :func:`follow_goto`); the other filters stay as they are."""
    st.session_state[KEYS["outcome"]] = outcome
    st.session_state[KEY_GOTO] = page


def apply_filters(values: dict[str, Any]) -> None:
    """A callback: set sidebar filters (``outcome`` to one value, categorical fields to one-value lists)."""
    for name, value in values.items():
        st.session_state[KEYS[name]] = value if name == "outcome" else [value]


def follow_goto() -> None:
    """Open the page a callback asked for (st.switch_page cannot run inside a callback)."""
    page = st.session_state.pop(KEY_GOTO, None)
    if page:
        st.switch_page(page)

def mark_entry(page=None) -> None:
    """Called by app.py on every run: the page that follows was chosen by our own navigation."""
    st.session_state[KEY_VIA_ENTRY] = True
    if page is not None:
        st.session_state[KEY_PAGE] = page.url_path


def follow_page_link(page) -> None:
    """Open the page a link named with ``page=`` (once, on the session's first run), keeping the view."""
    target = st.session_state.pop(KEY_TARGET_PAGE, None)
    if target and page.url_path != ("" if target == "overview" else target):  # the default page's path is ""
        st.session_state[KEY_PAGE] = target
        st.switch_page(LINK_PAGES[target])

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
