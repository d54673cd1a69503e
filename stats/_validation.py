"""Input checks shared by the public functions.

Every check raises ``ValueError`` with a message that names the argument and
the offending positions (0-based, as numpy indexes them) or lists the valid
choices, so a caller can point a user at the exact row to fix.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

#: Estimators of the between-study variance, with metafor ``rma()`` names.
METHODS: tuple[str, ...] = ("FE", "DL", "REML", "PM", "ML", "HE", "SJ")

_MAX_LISTED = 10


def format_positions(positions: Iterable[int]) -> str:
    """Render positions as ``[0, 3, 7]``, shortened after ten entries."""
    pos = [int(p) for p in positions]
    shown = ", ".join(str(p) for p in pos[:_MAX_LISTED])
    more = f", ... ({len(pos)} in total)" if len(pos) > _MAX_LISTED else ""
    return f"[{shown}{more}]"


def check_method(method: object) -> str:
    """Return the canonical estimator name or raise listing the valid ones.

    Matching ignores case (``"reml"`` is ``"REML"``); anything else is an error.
    """
    if isinstance(method, str) and method.upper() in METHODS:
        return method.upper()
    raise ValueError(f"Invalid method {method!r}; must be one of {list(METHODS)}")


def check_flag(value: object, name: str) -> bool:
    """Accept only real booleans (``True``/``False``/numpy bools)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def check_level(level: object) -> float:
    """Confidence level as a proportion strictly between 0 and 1."""
    try:
        lev = float(level)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"level must be a number between 0 and 1 (e.g. 0.95), got {level!r}") from None
    if not (0.0 < lev < 1.0):
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return lev


def as_vector(values: object, name: str) -> np.ndarray:
    """Convert to a 1-D float array; scalars become length-1 arrays."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; could not convert {values!r} to numbers") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def check_same_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> int:
    """Raise unless all arrays share one length; return that length."""
    lengths = {name: len(arr) for name, arr in zip(names, arrays)}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n} has {m}" for n, m in lengths.items())
        raise ValueError(f"Arguments must have the same length: {listed}")
    return next(iter(lengths.values()))


def broadcast_vectors(values: Sequence[object], names: Sequence[str]) -> list[np.ndarray]:
    """Convert arguments to float vectors; length-1 inputs stretch to the common length."""
    arrays = [as_vector(v, n) for v, n in zip(values, names)]
    longest = max(len(a) for a in arrays)
    arrays = [np.repeat(a, longest) if len(a) == 1 and longest > 1 else a for a in arrays]
    check_same_length(arrays, names)
    return arrays


def check_effects(yi: object, vi: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate effect sizes and sampling variances for pooling.

    Raises
    ------
    ValueError
        If the inputs are empty, of different lengths, if any ``yi`` is not
        finite, or if any ``vi`` is not finite and strictly positive. The
        message names the offending positions.
    """
    y = as_vector(yi, "yi")
    v = as_vector(vi, "vi")
    check_same_length([y, v], ["yi", "vi"])
    if y.size == 0:
        raise ValueError("yi and vi are empty: at least one study is needed")
    bad_y = np.flatnonzero(~np.isfinite(y))
    if bad_y.size:
        raise ValueError(
            f"yi must be finite; missing or infinite values at positions {format_positions(bad_y)} "
            "(drop those studies first, e.g. with stats.drop_missing)"
        )
    bad_v = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad_v.size:
        raise ValueError(
            f"vi must be finite and positive; invalid values at positions {format_positions(bad_v)}"
        )
    return y, v


def check_nonnegative(arr: np.ndarray, name: str, *, strict: bool = False) -> None:
    """Raise if any non-missing entry is negative (or zero when ``strict``)."""
    with np.errstate(invalid="ignore"):
        bad = arr <= 0 if strict else arr < 0
    bad_pos = np.flatnonzero(bad & ~np.isnan(arr))
    if bad_pos.size:
        what = "positive" if strict else "non-negative"
        raise ValueError(f"{name} must be {what}; invalid values at positions {format_positions(bad_pos)}")
