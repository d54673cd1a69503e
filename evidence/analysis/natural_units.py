"""The mean difference in an outcome's own unit (e.g. HbA1c in %), beside its SMD.

An outcome qualifies when :data:`NATURAL_UNITS` names its unit and which trial measures can be put on it
(with the factor for a difference). Each pooled trial gives its raw difference peer minus control from arm
means and SDs (:func:`stats.mean_difference`) or from a reported MD and its 95% CI
(:func:`stats.from_confidence_interval`); trials on another measure are left out and counted. The pooled
difference uses the analysis' own estimator, adjustment and level. Mixing change and final values is
allowed for mean differences (Cochrane Handbook 10.5.2), not for SMDs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

import stats

from evidence.analysis.analyse import Analysis

__all__ = ["NaturalUnit", "NaturalDifference", "NATURAL_UNITS", "natural_difference"]


@dataclass(frozen=True)
class NaturalUnit:
    """One outcome's unit and the trial measures that convert to it (factor for a difference)."""

    unit: str
    short: str
    factors: tuple[tuple[str, float], ...]

    def factor(self, trial_measure: str) -> float | None:
        return dict(self.factors).get(str(trial_measure).strip())


#: HbA1c: IFCC mmol/mol to NGSP % by the master equation NGSP = 0.09148 × IFCC + 2.152 (Hoelzel et al.
#: 2004, Clin Chem 50:166-174), so a difference converts by the slope alone.
NATURAL_UNITS: dict[str, NaturalUnit] = {
    "glycaemic control (HbA1c)": NaturalUnit("HbA1c (%)", "percentage points",
                                             (("HbA1c (%)", 1.0), ("A1C (%)", 1.0), ("HbA1c (mmol/mol)", 0.09148))),
}


@dataclass(frozen=True)
class NaturalDifference:
    """A pooled mean difference (peer support minus control) in the outcome's own unit."""

    unit: str
    short: str
    estimate: float
    ci_low: float
    ci_high: float
    k: int
    k_total: int
    lower_is_better: bool
    level: float = 0.95

    @property
    def sentence(self) -> str:
        lower = self.estimate < 0
        better = lower == self.lower_is_better
        of = f"{self.k} of {self.k_total} trials" if self.k < self.k_total else f"{self.k} trials"
        return (f"Mean difference {self.estimate:+.2f} {self.short} of {self.unit} with peer support "
                f"({self.level:.0%} CI {self.ci_low:+.2f} to {self.ci_high:+.2f}; {of}; "
                f"{'lower' if lower else 'higher'} is {'better' if better else 'worse'} here).")


def _trial_difference(row, factor: float, level: float) -> tuple[float, float] | None:
    route = str(row.get("route") or "")
    if route == "arm_continuous":
        vals = [row.get(c) for c in ("mean_ps", "sd_ps", "n_ps", "mean_ctl", "sd_ctl", "n_ctl")]
        if any(v is None or pd.isna(v) for v in vals):
            return None
        es = stats.mean_difference(*[[float(v)] for v in vals])
    elif route == "reported_md" and row.get("reported_sign") == "ps_minus_ctl":
        vals = [row.get(c) for c in ("reported_effect", "reported_ci_low", "reported_ci_high")]
        if any(v is None or pd.isna(v) for v in vals):
            return None
        es = stats.from_confidence_interval(*[[float(v)] for v in vals], level=0.95)
    else:
        return None
    yi, vi = float(es[0][0]), float(es[1][0])
    if not (math.isfinite(yi) and math.isfinite(vi)):
        return None
    return yi * factor, vi * factor * factor


def natural_difference(a: Analysis, arms, *, lower_is_better: bool) -> NaturalDifference | None:
    """The pooled MD in the outcome's unit, or None (no unit for the outcome, not SMD, or fewer than one trial).

    ``arms``: the pooled trials' candidate columns (arm means/SDs/Ns and the reported effect; a frame or
    column -> array), row for row with ``a.data``.
    """
    unit = NATURAL_UNITS.get(a.spec.outcome or "")
    if unit is None or a.effect_measure != "SMD" or a.k == 0:
        return None
    cols = ["mean_ps", "sd_ps", "n_ps", "mean_ctl", "sd_ctl", "n_ctl", "reported_effect", "reported_ci_low",
            "reported_ci_high", "reported_sign"]
    columns = {c: list(arms[c]) for c in cols}
    columns["measure"] = a.data.column("measure").tolist()
    columns["route"] = a.data.column("route").tolist()
    records = [dict(zip(columns, values)) for values in zip(*columns.values())]
    y, v = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        for row in records:
            factor = unit.factor(row["measure"])
            got = _trial_difference(row, factor, a.level) if factor is not None else None
            if got is not None:
                y.append(got[0])
                v.append(got[1])
        if not y:
            return None
        p = stats.pool(np.asarray(y), np.asarray(v), method=a.method, hartung_knapp=a.hartung_knapp, level=a.level)
    return NaturalDifference(unit.unit, unit.short, float(p.estimate), float(p.ci_low), float(p.ci_high), len(y),
                             a.k, lower_is_better, a.level)
