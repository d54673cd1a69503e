"""How many page scripts one server process runs at once (admission control), and a way to step aside.

Streamlit runs every session's rerun in its own thread, and the threads share one interpreter lock. With
30 sessions rerunning together, each of the ~75 messages a rerun sends hands the lock to another thread,
so every rerun advances a little at a time and all of them finish late (processor sharing). Letting only
:data:`RUN_SLOTS` scripts run at once, the others waiting their turn in arrival order, finishes each run
sooner: measured with ``scripts/loadtest.py`` (30 sessions, one process, 2 cores), p95 from change to
updated metric fell from 1.5-1.7 s to about 0.8-1.0 s and the changes served rose by a quarter (README).

A computation that takes seconds (the robustness grid, a deck, a summary of every outcome) gives its slot
back while it runs (:func:`slot_released`), so quick reruns of other sessions are not held up behind it.
Set ``DASHBOARD_RUN_SLOTS`` (default 2) to change the number of slots; see docs/deployment.md.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator


def _slots_from_environment(default: int = 2) -> int:
    try:
        return max(1, int(os.environ.get("DASHBOARD_RUN_SLOTS", default)))
    except ValueError:
        return default


#: Page scripts that may run at once in this process; the rest wait for a slot.
RUN_SLOTS = _slots_from_environment()
_slots = threading.Semaphore(RUN_SLOTS)
_thread = threading.local()  # .holding: this thread holds a slot now


@contextmanager
def run_slot() -> Iterator[float]:
    """Hold a run slot for one script run (waiting for one first); yields the seconds spent waiting."""
    t0 = time.perf_counter()
    _slots.acquire()
    _thread.holding = True
    try:
        yield time.perf_counter() - t0
    finally:
        if getattr(_thread, "holding", False):
            _thread.holding = False
            _slots.release()


@contextmanager
def slot_released() -> Iterator[None]:
    """Give this thread's slot back for the duration of a long computation, then wait for one again.

    Outside a run slot, or nested inside another :func:`slot_released`, it does nothing.
    """
    if not getattr(_thread, "holding", False):
        yield
        return
    _thread.holding = False
    _slots.release()
    try:
        yield
    finally:
        _slots.acquire()
        _thread.holding = True
