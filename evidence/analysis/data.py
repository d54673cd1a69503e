"""The one typed container between the selected effect rows and :mod:`stats` (as PyMARE's ``Dataset``).

The selection (:mod:`evidence.analysis.selection`) fills it; the pooled analysis and every refit
(sensitivity, moderators, small-study checks) read ``yi`` and ``vi`` from it rather than from a frame,
so an analysis that is only pooled never builds the wide per-study table. ``as_frame()`` on the
:class:`~evidence.analysis.selection.EffectSet` or :class:`~evidence.analysis.Analysis` gives that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["EffectData"]


def _read_only(a, dtype=float) -> np.ndarray:
    a = np.array(a, dtype=dtype)  # own copy: the caller's array stays writable
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class EffectData:
    """Effect sizes ``yi`` with sampling variances ``vi`` of ``k`` studies on one measure.

    Attributes
    ----------
    yi, vi : ndarray (read-only)
        Effect sizes (log scale for ratios, oriented as the selection states) and their variances.
    study_id : ndarray of str objects (read-only)
        One per row, in the same order.
    n_total : ndarray (read-only)
        Participants per row (after any shared-arm split).
    effect_measure : str
        ``"SMD"``, ``"logRR"`` or ``"logOR"``.
    """

    yi: np.ndarray
    vi: np.ndarray
    study_id: np.ndarray
    n_total: np.ndarray
    effect_measure: str
    columns: Callable[[str], np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("yi", "vi", "n_total"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))
        object.__setattr__(self, "study_id", _read_only(self.study_id, object))
        if not (len(self.yi) == len(self.vi) == len(self.study_id) == len(self.n_total)):
            raise ValueError("yi, vi, study_id and n_total must have one value per study")

    @property
    def k(self) -> int:
        """Number of rows (studies, or comparisons when multi-arm trials are split)."""
        return len(self.yi)

    def column(self, name: str) -> np.ndarray:
        """A stored column of the selected rows as an object array (None where missing), same order."""
        if self.columns is None:
            raise KeyError(name)
        return self.columns(name)
