"""Entry point of the peer-support evidence dashboard (``streamlit run app.py``).

Sets the page up, builds the shared sidebar (filters, estimator, Hartung-Knapp)
from :class:`evidence.FilterSpec`, keeps the URL in step with it, runs the
chosen page in one of the process's run slots (``pages/_admission.py``) and logs one line per rerun
with the page, the server time and the part of it spent waiting for a slot (logger ``peer_dashboard.perf``).
"""

import streamlit as st

from pages import _shared

timer = _shared.PerfTimer()
st.set_page_config(page_title="Peer-support evidence", page_icon="🤝", layout="wide")

# At most a few scripts run at once in this process; the others wait their turn (pages/_admission.py).
with _shared.run_slot() as queued_s:
    page = st.navigation(_shared.app_pages(), position="top")
    _shared.mark_entry(page)
    _shared.render_sidebar()
    _shared.follow_page_link(page)  # a link's `page=` (e.g. page=present) opens that page on the same view
    try:
        page.run()
    finally:  # also when a page stops early (st.stop) or fails: every rerun logs one line
        timer.done(page.title, queued_s)
