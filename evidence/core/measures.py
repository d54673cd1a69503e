"""Effect measures and the side that favours peer support, as typed values (never sentences to parse).

Every room reads the display rule from here: ratios are pooled on the log scale and shown exponentiated
(no effect = 1), SMDs are shown as pooled (no effect = 0). Which side of the null line favours peer
support is a :class:`Favours` value made by the selection (:mod:`evidence.analysis.selection`), carried by
the analysis and read by charts and wording through ``.side``; its sentence is for people only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidChoice

__all__ = ["Measure", "MEASURES", "RATIO_MEASURES", "measure", "Favours", "SIDES"]


@dataclass(frozen=True)
class Measure:
    """How one analysis scale is named and shown.

    Attributes
    ----------
    name : str
        The analysis scale: ``"SMD"``, ``"logRR"``, ``"logOR"``, ``"logIRR"`` (rate ratio) or ``"logHR"``.
    label : str
        Short name for headline metrics, e.g. ``"Risk ratio"``.
    axis_title : str
        The x-axis title of charts.
    ratio_name : str or None
        ``"risk ratio"`` / ``"odds ratio"`` / ``"rate ratio"`` / ``"hazard ratio"`` in running text; None for SMD.
    """

    name: str
    label: str
    axis_title: str
    ratio_name: str | None = None

    @property
    def is_ratio(self) -> bool:
        return self.ratio_name is not None

    @property
    def null(self) -> float:
        """No effect on the display scale (1 for ratios, 0 for differences)."""
        return 1.0 if self.is_ratio else 0.0

    def to_display(self, value: Any) -> Any:
        """Analysis scale -> display scale: exp() for ratios. Scalars stay scalars, arrays stay arrays."""
        if not self.is_ratio:
            return value if np.ndim(value) == 0 else np.asarray(value, dtype=float)
        if np.ndim(value) == 0:
            return math.exp(float(value))
        return np.exp(np.asarray(value, dtype=float))


MEASURES: dict[str, Measure] = {
    "SMD": Measure("SMD", "SMD (Hedges' g)", "Standardised mean difference (g)"),
    "logRR": Measure("logRR", "Risk ratio", "Risk ratio (peer support / control)", "risk ratio"),
    "logOR": Measure("logOR", "Odds ratio", "Odds ratio (peer support / control)", "odds ratio"),
    # rate and hazard ratios are their own measures: pooled only with their own kind, never as risk ratios
    "logIRR": Measure("logIRR", "Rate ratio", "Rate ratio (peer support / control)", "rate ratio"),
    "logHR": Measure("logHR", "Hazard ratio", "Hazard ratio (peer support / control)", "hazard ratio"),
}
RATIO_MEASURES = frozenset(name for name, m in MEASURES.items() if m.is_ratio)
SIDES = ("right", "left")


def measure(name: str) -> Measure:
    """The :class:`Measure` called ``name`` (raises :class:`InvalidChoice` listing the valid names)."""
    try:
        return MEASURES[name]
    except KeyError:
        raise InvalidChoice("effect measure", name, tuple(MEASURES)) from None


@dataclass(frozen=True)
class Favours:
    """Which side of the null line favours peer support for one analysis.

    Attributes
    ----------
    measure : str
        The analysis scale (a key of :data:`MEASURES`).
    side : {"right", "left"}
        ``"right"``: larger values favour peer support (SMDs, which are oriented so; ratios of a desirable
        event); ``"left"``: smaller values do (ratios of an undesirable event such as readmission).
    event_known : bool
        For ratios, False when the trials do not say whether the event is desirable (side then defaults
        to ``"right"`` and the sentence says only how the ratio is formed).
    """

    measure: str
    side: str = "right"
    event_known: bool = True

    def __post_init__(self) -> None:
        measure(self.measure)
        if self.side not in SIDES:
            raise InvalidChoice("side", self.side, SIDES)

    @classmethod
    def for_scale(cls, scale: str, direction: float | None = None) -> "Favours":
        """SMD: always right. Ratios: right when the event is desirable (``direction > 0``), left when
        it is undesirable, right with ``event_known=False`` when no trial says."""
        if not measure(scale).is_ratio:
            return cls(scale)
        if direction is None:
            return cls(scale, "right", event_known=False)
        return cls(scale, "right" if direction > 0 else "left")

    @property
    def benefit_sign(self) -> float:
        """+1 when larger values on the analysis scale favour peer support, else -1."""
        return 1.0 if self.side == "right" else -1.0

    @property
    def sentence(self) -> str:
        if not measure(self.measure).is_ratio:
            return "Positive values favour peer support"
        if not self.event_known:
            return "Ratios are peer support / control"
        return ("Ratios above 1 favour peer support (the event is desirable)" if self.side == "right"
                else "Ratios below 1 favour peer support (the event is undesirable)")

    def __str__(self) -> str:
        return self.sentence
