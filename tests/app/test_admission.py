"""Run slots (pages/_admission.py): at most N scripts at once, first come first served, a slot given back
during long work and on every exit."""

from __future__ import annotations

import threading
import time

import pytest

from pages import _admission


@pytest.fixture()
def one_slot(monkeypatch):
    monkeypatch.setattr(_admission, "_slots", threading.Semaphore(1))


@pytest.fixture()
def two_slots(monkeypatch):
    monkeypatch.setattr(_admission, "_slots", threading.Semaphore(2))


def _run_threads(target, n: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
        assert not t.is_alive(), "a thread never got a slot"


def test_no_more_scripts_run_at_once_than_there_are_slots(two_slots):
    inside, peak, lock = 0, 0, threading.Lock()

    def script():
        nonlocal inside, peak
        with _admission.run_slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    _run_threads(script, 8)
    assert peak == 2


def test_a_slot_is_given_back_when_the_script_fails(one_slot):
    with pytest.raises(RuntimeError):
        with _admission.run_slot():
            raise RuntimeError("the page failed")
    got = _admission._slots.acquire(timeout=1)  # free again
    assert got
    _admission._slots.release()


def test_long_work_gives_the_slot_to_a_waiting_script(one_slot):
    events: list[str] = []
    working = threading.Event()
    finish = threading.Event()

    def slow_script():
        with _admission.run_slot():
            with _admission.slot_released():
                working.set()
                assert finish.wait(timeout=10)
                events.append("slow work done")
            events.append("slow script ends")

    def quick_script():
        with _admission.run_slot():
            events.append("quick script ran")

    slow = threading.Thread(target=slow_script)
    slow.start()
    assert working.wait(timeout=10)
    quick = threading.Thread(target=quick_script)
    quick.start()
    quick.join(timeout=10)
    assert events == ["quick script ran"]  # it ran while the slow one computed, with the only slot
    finish.set()
    slow.join(timeout=10)
    assert events == ["quick script ran", "slow work done", "slow script ends"]


def test_the_slot_is_taken_again_after_long_work(one_slot):
    with _admission.run_slot():
        with _admission.slot_released():
            assert _admission._slots.acquire(timeout=1)  # the slot is free during the work
            _admission._slots.release()
        assert not _admission._slots.acquire(timeout=0.05)  # and held again after it
    assert _admission._slots.acquire(timeout=1)
    _admission._slots.release()


def test_nested_or_outside_release_does_nothing(one_slot):
    with _admission.slot_released():  # not inside a run slot: nothing to give back
        pass
    with _admission.run_slot():
        with _admission.slot_released():
            with _admission.slot_released():  # nested: the outer one already gave it back
                assert _admission._slots.acquire(timeout=1)
                _admission._slots.release()
        assert not _admission._slots.acquire(timeout=0.05)
    assert _admission._slots.acquire(timeout=1)
    _admission._slots.release()


def test_a_waiting_script_reports_how_long_it_waited(one_slot):
    waited: list[float] = []
    release = threading.Event()

    def holder():
        with _admission.run_slot():
            release.wait(timeout=10)

    h = threading.Thread(target=holder)
    h.start()
    time.sleep(0.05)

    def waiter():
        with _admission.run_slot() as queued_s:
            waited.append(queued_s)

    w = threading.Thread(target=waiter)
    w.start()
    time.sleep(0.1)
    release.set()
    h.join(timeout=10)
    w.join(timeout=10)
    assert waited and waited[0] >= 0.09


@pytest.mark.parametrize("value, expected", [(None, 2), ("3", 3), ("1", 1), ("0", 1), ("-4", 1), ("many", 2)])
def test_slot_count_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DASHBOARD_RUN_SLOTS", raising=False)
    else:
        monkeypatch.setenv("DASHBOARD_RUN_SLOTS", value)
    assert _admission._slots_from_environment() == expected


@pytest.mark.parametrize("kind, frees_slot", [("robustness", True), ("analysis", False)])
def test_slow_results_compute_without_holding_a_slot(one_slot, monkeypatch, kind, frees_slot):
    from pages import _cache

    seen: list[bool] = []

    def compute(view, arg):
        free = _admission._slots.acquire(timeout=0.05)
        if free:
            _admission._slots.release()
        seen.append(free)
        return "computed"

    monkeypatch.setitem(_cache.RESULTS, kind, compute)
    assert (kind in _cache.SLOW_RESULTS) is frees_slot
    with _admission.run_slot():
        assert _cache._compute(kind, None, None) == "computed"
    assert seen == [frees_slot]
