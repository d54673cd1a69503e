"""Cached results are shared by every session, not copied: no page may change one in place."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from evidence.analysis.selection import EffectSet
from pages import _cache
from tests.app.app_helpers import PAGES, run_app

#: The cached functions whose results pages receive as shared objects (every analysis result goes
#: through the one cache, ``_result`` for slow kinds and ``_quick_result`` for the others; recorded per kind).
SHARED = ("_result", "_quick_result", "_all_choice_counts", "_ranges", "store_metadata")


def assert_same(a, b, where: str = "result") -> None:
    """Deep equality of analysis results: frames, arrays, dataclasses, containers, NaN equal to NaN."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, EffectSet):  # lazily built frames: compare what a page can read
        assert type(b) is EffectSet, where
        for name in ("data", "effects", "excluded", "effect_measure", "favours", "scale_note", "notes",
                     "target_months", "n_candidates"):
            assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if callable(getattr(a, f.name)):  # a column reader (EffectData.columns), not a value
                continue
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict) or hasattr(a, "keys"):
        assert list(a.keys()) == list(b.keys()), where
        for k in a.keys():
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, where


@pytest.fixture()
def handed_out(monkeypatch):
    """(name, cached function, args, kwargs, object given to the page) for every call during the test."""
    _cache.forget_results()
    _cache.store_metadata.cache_clear()
    seen: list[tuple] = []
    for name in SHARED:
        original = getattr(_cache, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            result = _original(*args, **kwargs)
            label = f"_result:{args[0]}" if _name in ("_result", "_quick_result") else _name
            seen.append((label, _original, args, kwargs, result))
            return result

        monkeypatch.setattr(_cache, name, wrapper)
    return seen


def test_pages_leave_shared_results_as_they_were_computed(handed_out):
    runs = [
        ("Overview", {"population": "SMI/psychosis"}),
        ("Explore", {"outcome": "depression", "exclude_studies": "Dennis2009"}),
        ("Explore", {"outcome": "hospitalised"}),
        ("Sensitivity", {"outcome": "depression"}),
        ("Subgroups & moderators", {"outcome": "depression", "moderator": "ps_format"}),
        ("Small-study effects", {"outcome": "depression"}),
        ("Data", {}),
        ("About", {}),
        ("pages/present.py", {"outcome": "depression", "screen": "7"}),
        ("pages/present.py", {"outcome": "depression", "screen": "40"}),
    ]
    for page, params in runs:
        at = run_app(params, page=PAGES.get(page, page))
        assert not at.exception, (page, at.exception)
    given = list(handed_out)
    assert {name for name, *_ in given} >= {"_result:analysis", "_result:leave_one_out", "_result:exclusions",
                                            "_result:robustness", "_result:small_study", "_result:subgroups", "_result:summary",
                                            "_result:presentation", "_all_choice_counts"}
    checked = set()
    for name, original, args, kwargs, shared in given:
        key = (name, repr(args), repr(sorted(kwargs.items())))
        if key in checked:
            continue
        checked.add(key)
        getattr(original, "clear", None) and original.clear()
        getattr(original, "cache_clear", None) and original.cache_clear()
        fresh = original(*args, **kwargs)
        assert fresh is not shared
        assert_same(shared, fresh, name)
    assert len(checked) >= 10


def test_the_check_notices_a_change_in_place():
    a = pd.DataFrame({"x": [1.0, 2.0]})
    b = a.copy()
    b.loc[0, "x"] = 3.0
    with pytest.raises(AssertionError):
        assert_same({"t": (a,)}, {"t": (b,)})


def test_every_slow_result_is_a_result_kind():
    # a misspelt kind would silently lose its "Computing…" spinner
    assert _cache.SLOW_RESULTS <= set(_cache.RESULTS)
    assert "analysis" not in _cache.SLOW_RESULTS and "summary" in _cache.SLOW_RESULTS
