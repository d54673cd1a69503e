"""The plain memo in front of the Streamlit result caches (pages._cache.Front)."""

from __future__ import annotations

import pytest

from pages import _cache


def test_a_repeat_is_answered_without_computing_again():
    front, calls = _cache.Front(4), []
    first = front.get(("analysis", "view"), lambda: calls.append(1) or object())
    assert front.get(("analysis", "view"), lambda: calls.append(1) or object()) is first
    assert calls == [1]


def test_the_oldest_entry_goes_first_when_full():
    front = _cache.Front(2)
    front.get("a", lambda: 1)
    front.get("b", lambda: 2)
    front.get("a", lambda: 99)  # a is now the most recent
    front.get("c", lambda: 3)  # evicts b
    assert front.get("a", lambda: 99) == 1
    assert front.get("b", lambda: 22) == 22


def test_errors_are_not_kept():
    front, calls = _cache.Front(4), []

    def fail():
        calls.append(1)
        raise ValueError("no studies")

    for _ in range(2):
        with pytest.raises(ValueError):
            front.get("k", fail)
    assert calls == [1, 1]


def test_a_key_that_cannot_be_hashed_goes_straight_to_the_cache():
    front, calls = _cache.Front(4), []
    for _ in range(2):
        front.get(("k", ["a list"]), lambda: calls.append(1) or 1)
    assert calls == [1, 1]


def test_forgetting_results_clears_every_memo():
    for front in _cache.FRONTS.values():
        front.get("k", lambda: 1)
    _cache.forget_results()
    for front in _cache.FRONTS.values():
        assert front.get("k", lambda: 2) == 2
