"""Meta-analysis engine: effect sizes, pooling, heterogeneity and diagnostics.

Pure numpy/scipy; definitions follow R's metafor (Viechtbauer 2010) and are
checked against it in ``tests/stats``. Three verbs, as metafor has them:
compute effect sizes (:func:`smd`, :func:`log_risk_ratio`, ...), pool them
(:func:`pool`), then run diagnostics that refit with the same settings
(:func:`leave_one_out`, :func:`influence`, ...).
"""

from ._validation import METHODS
from .effect_sizes import (
    EffectSizes,
    Exclusion,
    StatsWarning,
    drop_missing,
    from_confidence_interval,
    hedges_correction,
    log_odds_ratio,
    log_odds_ratio_to_smd,
    log_risk_ratio,
    mean_difference,
    smd,
    smd_from_mean_difference_ci,
)
from .pooling import POOLED_FIELDS, PooledEstimate, pool
from .moderators import MetaRegression, SubgroupAnalysis, meta_regression, subgroups
from .sensitivity import EstimateSeries, Influence, cumulative, influence, leave_one_out
from .small_study import EggerTest, TrimAndFill, egger_test, trim_and_fill
from .tau2 import estimate_tau2
from .priors import HalfCauchy, HalfNormal, LogNormalTau2, LogTTau2, TauPrior, empirical_tau_prior
from .bayes import BayesEstimate, bayes_pool

__all__ = [
    "METHODS",
    "EffectSizes",
    "Exclusion",
    "StatsWarning",
    "smd",
    "mean_difference",
    "log_risk_ratio",
    "log_odds_ratio",
    "from_confidence_interval",
    "smd_from_mean_difference_ci",
    "log_odds_ratio_to_smd",
    "hedges_correction",
    "drop_missing",
    "PooledEstimate",
    "POOLED_FIELDS",
    "pool",
    "estimate_tau2",
    "EstimateSeries",
    "Influence",
    "leave_one_out",
    "influence",
    "cumulative",
    "SubgroupAnalysis",
    "MetaRegression",
    "subgroups",
    "meta_regression",
    "EggerTest",
    "TrimAndFill",
    "egger_test",
    "trim_and_fill",
    "TauPrior",
    "HalfNormal",
    "HalfCauchy",
    "LogNormalTau2",
    "LogTTau2",
    "empirical_tau_prior",
    "BayesEstimate",
    "bayes_pool",
]
