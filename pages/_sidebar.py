"""The shared sidebar: every filter with the trials each choice would leave, the estimator and the
adjustment; rendered once per run from app.py, and the notices about what a link said that was ignored."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from evidence import FilterSpec
from evidence.analysis import METHODS
from evidence.core.filters import CATEGORICAL_FIELDS, review_name

from ._cache import choice_counts, choices, connection, dataset_version, labels, ranges, review_options
from ._owner import expire_old_uploads, own_datasets, own_folder
from ._render import md_escape
from ._state import (FIELD_LABELS, FOLLOWUP_LABELS, KEY_EXCLUDED, KEY_FOLLOWUP_MONTHS, KEY_HK, KEY_LINK_VERSION,
                     KEY_METHOD, KEY_NOTICES, KEY_VIEW, KEYS, SCALE_LABELS, METHOD_LABELS, View, _default_outcome,
                     _ensure_defaults, _spec_from_state, make_view,
                     _state_from_spec, read_url_once, write_url)

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
    expire_old_uploads()  # at the process's first run, then at most every EXPIRY_INTERVAL_SECONDS
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
        all_counts = choice_counts(current, str(own_folder()))
        out_counts = all_counts["outcome"]
        st.selectbox(FIELD_LABELS["outcome"], outcomes, key=KEYS["outcome"],
                     format_func=_fmt_choice("outcome", out_counts, labels("outcome")),
                     help="Effects are pooled for one outcome at a time. The number is how many trials "
                          "with usable numbers each choice would leave, given the other filters.")
        reviews = review_options()
        if ss.get(KEYS["review"]) not in reviews:
            ss[KEYS["review"]] = ""  # "" not None: a selectbox shows None as "Choose an option"
        st.selectbox(FIELD_LABELS["review"], ["", *reviews], key=KEYS["review"],
                     format_func=lambda r: reviews[r] if r else "All trials (no restriction)",
                     help="Keep only the trials a published review included (its list as we hold it), to see "
                          "how its result depends on the choices below. Lists may be incomplete; the Reviews "
                          "page says which trials of the list are missing and why.")
        if current.review is not None:
            st.caption(f"Analysing only the trials included in {md_escape(review_name(current.review))}.")
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
        rng = ranges()
        st.slider(FIELD_LABELS["timepoint_months"], min_value=float(rng["timepoint_months"][0]),
                  max_value=float(rng["timepoint_months"][1]), step=0.5, format="%.1f", key=KEYS["timepoint_months"],
                  help="Months from randomisation. With a narrower window, results without a follow-up "
                       "time are left out.")
        st.slider(FIELD_LABELS["year"], min_value=int(rng["year"][0]), max_value=int(rng["year"][1]),
                  step=1, key=KEYS["year"])
        datasets = ["shipped", "all", *own_datasets()]  # only this session's own imports and shares
        if ss.get(KEYS["dataset"]) not in datasets:
            ss[KEYS["dataset"]] = "shipped"
        st.selectbox(FIELD_LABELS["dataset"], datasets, key=KEYS["dataset"],
                     format_func=lambda d: {"shipped": "Shipped dataset",
                                            "all": "Shipped + your imported datasets"}.get(d, f"Imported: {d}"),
                     help="Datasets you import on the Data page are yours: other visitors never see them.")
        st.checkbox(FIELD_LABELS["include_flagged"], key=KEYS["include_flagged"],
                    help="Flagged trials have caveats (e.g. borderline peer support, inferred attribution); "
                         "derived numbers were back-calculated. Untick to leave them out.")
        st.radio(FIELD_LABELS["scale"], list(SCALE_LABELS), key=KEYS["scale"], format_func=SCALE_LABELS.get,
                 help="When an outcome has both continuous and binary results: SMD keeps both (binary results "
                      "converted from log odds ratios, Chinn 2000, and flagged), the ratio keeps binary results "
                      "only. Every trial left out for its scale is listed on Explore.")
        st.selectbox(FIELD_LABELS["followup"], list(FOLLOWUP_LABELS), key=KEYS["followup"],
                     format_func=FOLLOWUP_LABELS.get,
                     help="Which follow-up is used when a trial reports several. Follow-ups whose months are not "
                          "recorded come after those that are, ranked by the source's words (short/medium/long term).")
        if ss.get(KEYS["followup"]) == "nearest":
            st.number_input("Months from randomisation", min_value=0.0, max_value=120.0, step=1.0,
                            key=KEY_FOLLOWUP_MONTHS)
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
    view = make_view(_spec_from_state(), ss[KEY_METHOD], bool(ss[KEY_HK]))
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
