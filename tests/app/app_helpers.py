"""Helpers for AppTest runs of the dashboard, always started from the entry script."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = {
    "Overview": "pages/overview.py",
    "Explore": "pages/explore.py",
    "Evidence map": "pages/evidence_map.py",
    "Sensitivity": "pages/sensitivity.py",
    "Subgroups & moderators": "pages/subgroups.py",
    "Small-study effects": "pages/small_study.py",
    "Reviews": "pages/reviews.py",
    "Data": "pages/data.py",
    "About": "pages/about.py",
}


def run_app(params: dict[str, str] | None = None, *, page: str | None = None,
            state: dict | None = None, timeout: float = 120) -> AppTest:
    """A fresh AppTest with URL parameters and/or session state preset, run once.

    Fresh runs, not ``set_value`` reruns: under ``st.navigation`` an AppTest rerun
    re-executes only the page script (see STYLE.md), so sidebar filters are set
    through the URL or session state before the first run.
    """
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    if page is not None:
        at.switch_page(page)
    at.run()
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0].value


def has_metric(at: AppTest, label: str) -> bool:
    return any(m.label == label for m in at.metric)


