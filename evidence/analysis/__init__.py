"""Analyses of a filtered effect set, each calling :mod:`stats`: one-row-per-study selection
(:mod:`.effects`), the pooled analysis and its sensitivity, moderator and small-study tables (:mod:`.analyse`)."""

import stats

from .analyse import *  # noqa: F401,F403  (the public names are listed in analyse.__all__)
from .analyse import CATCH_ALL_OUTCOMES, __all__ as _analyse_all
from .effects import computed_vs_reported, effect_set, effects

#: The τ² estimators the analyses offer (the pages list them without importing :mod:`stats`).
METHODS = stats.METHODS

__all__ = list(_analyse_all) + ["CATCH_ALL_OUTCOMES", "METHODS", "effects", "effect_set", "computed_vs_reported"]
