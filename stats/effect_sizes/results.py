"""The result type of every effect-size function, its exclusions, and the handling of missing rows.

A study whose inputs are missing, or whose 2x2 table has no events (or only
events) in both arms, gets ``NaN`` for ``yi`` and ``vi``; its position and the
reason are listed in :attr:`EffectSizes.excluded` and announced with a
:class:`StatsWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import broadcast_vectors, format_positions

__all__ = ["EffectSizes", "Exclusion", "StatsWarning", "drop_missing",
           "REASON_MISSING", "REASON_NO_EVENTS", "REASON_ALL_EVENTS"]

#: Reason recorded for a study with a missing (NaN) input value.
REASON_MISSING = "missing input value"
#: Reason recorded for a 2x2 table with no events in either arm (metafor ``drop00``).
REASON_NO_EVENTS = "no events in either arm (double-zero study carries no information on a ratio)"
#: Reason recorded for a 2x2 table where everyone had the event in both arms (metafor ``drop00``).
REASON_ALL_EVENTS = "all participants had the event in both arms (no information on a ratio)"


class StatsWarning(UserWarning):
    """Warning raised when studies are set to NaN or dropped, saying how many and why."""


@dataclass(frozen=True)
class Exclusion:
    """A study that got no effect size.

    Attributes
    ----------
    position : int
        0-based position of the study in the input arrays.
    reason : str
        Plain-language reason (one of the ``REASON_*`` constants).
    """

    position: int
    reason: str

    def to_dict(self) -> dict:
        return {"position": self.position, "reason": self.reason}


class EffectSizes(tuple):
    """``(yi, vi)`` pair of float arrays, plus the studies that were excluded.

    Behaves as a 2-tuple so ``yi, vi = stats.smd(...)`` works; the attributes
    :attr:`yi`, :attr:`vi` and :attr:`excluded` give named access.
    """

    excluded: tuple[Exclusion, ...]

    def __new__(cls, yi: np.ndarray, vi: np.ndarray, excluded: tuple[Exclusion, ...] = ()):
        obj = super().__new__(cls, (yi, vi))
        obj.excluded = tuple(excluded)
        return obj

    @property
    def yi(self) -> np.ndarray:
        """Effect sizes (NaN for excluded studies)."""
        return self[0]

    @property
    def vi(self) -> np.ndarray:
        """Sampling variances (NaN for excluded studies)."""
        return self[1]

    def to_dict(self) -> dict:
        return {
            "yi": self.yi.tolist(),
            "vi": self.vi.tolist(),
            "excluded": [e.to_dict() for e in self.excluded],
        }


def _finish(yi: np.ndarray, vi: np.ndarray, reasons: dict[int, str], what: str) -> EffectSizes:
    """Blank out excluded studies, warn once, and wrap the result."""
    excluded = tuple(Exclusion(pos, reasons[pos]) for pos in sorted(reasons))
    if excluded:
        idx = np.array(sorted(reasons), dtype=int)
        yi[idx] = np.nan
        vi[idx] = np.nan
        by_reason: dict[str, list[int]] = {}
        for e in excluded:
            by_reason.setdefault(e.reason, []).append(e.position)
        detail = "; ".join(f"{r} at positions {format_positions(p)}" for r, p in by_reason.items())
        warnings.warn(
            f"{what}: {len(excluded)} of {len(yi)} studies set to NaN ({detail})",
            StatsWarning,
            stacklevel=3,
        )
    return EffectSizes(yi, vi, excluded)


def _missing(*arrays: np.ndarray) -> dict[int, str]:
    mask = np.zeros(len(arrays[0]), dtype=bool)
    for a in arrays:
        mask |= np.isnan(a)
    return {int(i): REASON_MISSING for i in np.flatnonzero(mask)}


def drop_missing(yi, vi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep only studies with a finite effect and a finite positive variance.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances, possibly with NaN rows.

    Returns
    -------
    yi, vi, kept : numpy.ndarray
        The complete rows and their 0-based positions in the input. A
        :class:`StatsWarning` says how many rows were dropped and where.
    """
    y, v = broadcast_vectors([yi, vi], ["yi", "vi"])
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
    kept = np.flatnonzero(ok)
    if kept.size < y.size:
        dropped = np.flatnonzero(~ok)
        warnings.warn(
            f"drop_missing: {dropped.size} of {y.size} studies dropped for a missing or invalid yi/vi "
            f"at positions {format_positions(dropped)}",
            StatsWarning,
            stacklevel=2,
        )
    return y[kept], v[kept], kept
