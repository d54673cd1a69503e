"""Effect sizes and their sampling variances, vectorised over studies.

Every function returns an :class:`EffectSizes` pair ``(yi, vi)`` of numpy
arrays (unpack it as ``yi, vi = stats.smd(...)``) following metafor's
``escalc()`` definitions. Group 1 is always the peer-support arm, so a
positive mean difference or SMD means a higher score under peer support.

A study whose inputs are missing, or whose 2x2 table has no events (or only
events) in both arms, gets ``NaN`` for ``yi`` and ``vi``; its position and the
reason are listed in :attr:`EffectSizes.excluded` and announced with a
:class:`StatsWarning`. Impossible inputs (negative counts, more events than
participants, a lower CI bound above the upper one, ...) raise ``ValueError``
naming the argument and positions.

Modules: :mod:`.results` (:class:`EffectSizes`, exclusions, :func:`drop_missing`),
:mod:`.continuous` (SMD, MD), :mod:`.binary` (RR, OR), :mod:`.conversions`
(from a confidence interval, SMD from a mean difference's interval, log OR to
SMD). This package is the entry point: import from ``stats.effect_sizes``.
"""

from __future__ import annotations

from .binary import log_odds_ratio, log_risk_ratio
from .continuous import hedges_correction, mean_difference, smd
from .conversions import from_confidence_interval, log_odds_ratio_to_smd, smd_from_mean_difference_ci
from .results import (REASON_ALL_EVENTS, REASON_MISSING, REASON_NO_EVENTS, EffectSizes, Exclusion, StatsWarning,
                      drop_missing)

__all__ = [
    "EffectSizes",
    "Exclusion",
    "StatsWarning",
    "smd",
    "mean_difference",
    "log_risk_ratio",
    "log_odds_ratio",
    "from_confidence_interval",
    "log_odds_ratio_to_smd",
    "hedges_correction",
    "drop_missing",
]
