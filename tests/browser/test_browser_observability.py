"""Observability: every rerun of the real server logs one ``peer_dashboard.perf`` line with its time.

The load script (``scripts/loadtest.py --server-log``) reads these lines to report server time per
rerun and per replica, so the format it parses is pinned here against the running app.
"""

from __future__ import annotations

import time

from stbrowser import PERF_LINE

EXPLORE = "explore"  # the landing page is the Overview; these tests read Explore


def perf_lines(app, offset: int) -> list[tuple[str, float]]:
    text = app.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    return [(m.group("page"), float(m.group("ms"))) for m in map(PERF_LINE.search, text.splitlines()) if m]


def wait_for_lines(app, offset: int, n: int, timeout_s: float = 10) -> list[tuple[str, float]]:
    deadline = time.monotonic() + timeout_s
    lines = perf_lines(app, offset)
    while len(lines) < n and time.monotonic() < deadline:  # the log is written by another process
        time.sleep(0.1)
        lines = perf_lines(app, offset)
    return lines


def test_each_rerun_logs_its_page_and_server_time(app):
    offset = app.log_path.stat().st_size
    app.open(EXPLORE)
    first = wait_for_lines(app, offset, 1)
    assert first, f"no peer_dashboard.perf line after opening the app; log tail:\n{app.log_text()[-2000:]}"
    page, ms = first[-1]
    assert page == "Explore" and 0 < ms < 120_000, first

    offset = app.log_path.stat().st_size
    app.pick("Estimator of τ²", "DL")
    after = wait_for_lines(app, offset, 1)
    assert len(after) >= 1 and all(p == "Explore" and ms > 0 for p, ms in after), after

    offset = app.log_path.stat().st_size
    app.open(app.path_of("Sensitivity"))
    other = wait_for_lines(app, offset, 1)
    assert any(p == "Sensitivity" for p, _ in other), other
