"""Analyses of a filtered effect set, each calling :mod:`stats`: one-row-per-study selection
(:mod:`.selection`), the pooled analysis (:mod:`.analyse`), its sensitivity (:mod:`.sensitivity`),
moderator (:mod:`.moderators`) and small-study (:mod:`.small_study`) tables, and the Bayesian
fit with its prior-sensitivity table and benefit probabilities (:mod:`.bayes`)."""

import stats

from .analyse import CATCH_ALL_OUTCOMES, UNRELIABLE_HETEROGENEITY_K, Analysis, analyse, conclusion
from .selection import computed_vs_reported, effect_set, effects
from .moderators import (MODERATOR_COLUMNS, NUMERIC_MODERATORS, Comparison, RegressionResult, SubgroupResult,
                         compare_specs, meta_regression_table, subgroup_table)
from .sensitivity import cumulative_table, influence_table, leave_one_out_table, robustness_grid
from .bayes import (DEFAULT_MID, DEFAULT_OWN_SCALE, DEFAULT_PRIOR, PRIOR_CHOICES, PRIOR_LABELS, BayesResult,
                    BenefitProbability, bayes_analysis, benefit_probability, prior_sensitivity_table, tau_prior, mid_text, event_kind)
from .small_study import SMALL_STUDY_MIN_K, SmallStudy, small_study

#: The τ² estimators the analyses offer (the pages list them without importing :mod:`stats`).
METHODS = stats.METHODS

__all__ = [
    "Analysis", "analyse", "conclusion", "UNRELIABLE_HETEROGENEITY_K", "CATCH_ALL_OUTCOMES", "METHODS",
    "effects", "effect_set", "computed_vs_reported",
    "leave_one_out_table", "influence_table", "cumulative_table", "robustness_grid",
    "MODERATOR_COLUMNS", "NUMERIC_MODERATORS", "SubgroupResult", "subgroup_table", "RegressionResult",
    "meta_regression_table", "Comparison", "compare_specs", "SMALL_STUDY_MIN_K", "SmallStudy", "small_study",
    "PRIOR_CHOICES", "PRIOR_LABELS", "DEFAULT_PRIOR", "DEFAULT_OWN_SCALE", "DEFAULT_MID", "BayesResult",
    "BenefitProbability", "bayes_analysis", "benefit_probability", "prior_sensitivity_table", "tau_prior", "mid_text", "event_kind",
]
