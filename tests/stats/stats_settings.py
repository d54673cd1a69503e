"""Shared settings for the statistics tests: named tolerances and the metafor reference.

Tolerances live here, in one place (as metafor's tests/testthat/settings.r).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_JSON = REFERENCE_DIR / "metafor_reference.json"

#: Closed-form quantities (FE, DL, HE, SJ fits; Q; effect sizes): both sides
#: evaluate the same formula, so only floating-point noise separates them.
REL_CLOSED = 1e-6
#: Iterative quantities (REML, ML, PM fits; Q-profile bounds): metafor ran with
#: threshold = tol = 1e-12, we converge to ~1e-12 relative; 1e-5 is the issue's bound.
REL_ITER = 1e-5
#: REML pooled fits specifically: metafor's Fisher scoring at threshold 1e-12 and our
#: iteration agree to ~4e-11 relative on the whole grid; pin it well below the issue's 1e-5.
REL_REML_TIGHT = 1e-8
#: Absolute floor for values that are zero in exact arithmetic: metafor's
#: Fisher scoring approaches a tau2 = 0 boundary from above and stops ~1e-12
#: short of it, and estimates of exactly 0 carry no relative accuracy.
ABS_FLOOR = 1e-9
#: The same floor for I^2 (percent): with a small typical within-study variance s2,
#: tau2 = 1e-12 is already I^2 = 100 tau2 / (tau2 + s2) ~ 1e-6 percent.
ABS_FLOOR_I2 = 1e-6
#: Methods whose tau2 comes out of an iteration.
ITERATIVE_METHODS = ("REML", "ML", "PM")


def rel_for(method: str) -> float:
    """Relative tolerance for a fit by ``method`` (closed form or iterative)."""
    return REL_ITER if method in ITERATIVE_METHODS else REL_CLOSED


@lru_cache(maxsize=1)
def load_reference() -> dict:
    """The JSON written by reference/make_reference.R (R is never needed)."""
    with REFERENCE_JSON.open() as fh:
        return json.load(fh)


def as_float_array(values) -> np.ndarray:
    """JSON list (``null`` = R's NA) to a float array with NaN."""
    if not isinstance(values, list):
        values = [values]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def assert_close(actual, expected, *, rel: float, abs_: float = ABS_FLOOR, what: str = "") -> None:
    """Element-wise ``|a - e| <= abs_ + rel |e|``; R's NA must be NaN here and vice versa."""
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = as_float_array(expected) if not isinstance(expected, np.ndarray) else np.atleast_1d(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != reference {e.shape}"
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN pattern differs: ours {a}, metafor {e}"
    inf_e = np.isinf(e)
    assert np.array_equal(np.isinf(a), inf_e), f"{what}: infinities differ: ours {a}, metafor {e}"
    ok = ~(nan_e | inf_e)
    diff = np.abs(a[ok] - e[ok])
    bound = abs_ + rel * np.abs(e[ok])
    worst = int(np.argmax(diff - bound)) if diff.size else 0
    assert np.all(diff <= bound), (
        f"{what}: ours {a[ok][worst]!r} vs metafor {e[ok][worst]!r} "
        f"(|diff| {diff[worst]:.3g} > {bound[worst]:.3g})"
    )


def is_nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)
