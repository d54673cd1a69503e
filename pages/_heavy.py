"""Diagnostics that refit the model once per study or more (leave-one-out, influence, cumulative, the
robustness grid; with them the small-study set of funnel, Egger and trim-and-fill), bounded on large k:
computed on every view up to ``HEAVY_DIAGNOSTICS_K`` studies, on request (a button) up to
``MAX_DIAGNOSTICS_K``, never above (the limits: :mod:`evidence.store.limits`).
A session asks for them once per view; the result is then cached like any other."""

from __future__ import annotations

import streamlit as st

from evidence.store import limits

from ._render import try_table
from ._state import View

KEY_ASKED = "_heavy_asked"


def heavy_table(kind: str, view: View, k: int, what: str, arg=None):
    """The result ``kind`` (see :data:`pages._cache.RESULTS`) or ``None`` after saying why it is not shown."""
    if k <= limits.HEAVY_DIAGNOSTICS_K:
        return try_table(kind, view, arg)
    if k > limits.MAX_DIAGNOSTICS_K:
        st.info(f"{what[0].upper()}{what[1:]}: not computed for {k:,} studies; the limit is "
                f"{limits.MAX_DIAGNOSTICS_K:,} studies (it refits the model for every study, so its time grows "
                "with the square of k). Narrow the filters in the sidebar to compute it.",
                icon=":material/timer_off:")
        return None
    token = (kind, repr(view), repr(arg))
    if token not in st.session_state.get(KEY_ASKED, ()):
        st.button(f"Compute {what} for {k:,} studies", key=f"btn_heavy_{kind}_{arg}", on_click=_ask, args=(token,))
        st.caption(f"Above {limits.HEAVY_DIAGNOSTICS_K:,} studies this is computed only when you ask: it refits "
                   "the model for every study and can take several seconds.")
        return None
    return try_table(kind, view, arg)


def _ask(token: tuple) -> None:
    st.session_state.setdefault(KEY_ASKED, set()).add(token)
