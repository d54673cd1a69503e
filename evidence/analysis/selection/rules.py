"""The selection's stated rules and the names every stage of it shares.

:data:`SELECTION_RULE` and :data:`ORIENTATION_RULE` are shown to users. The routes (how a row gives an
effect), the scales each route is usable on, the reason for each row left out and the columns of the
output frame are written here once, and read by the other modules of :mod:`evidence.analysis.selection`.
"""

from __future__ import annotations

# Which rows can give an effect at all is the store's rule; the selection shares its names.
from evidence.store.usability import CONTINUOUS_ROUTES, ROW_REASONS, SMD_TYPES  # noqa: F401

#: Follow-up targeted when no window is chosen (months from randomisation); a stated default.
DEFAULT_TARGET_MONTHS = 6.0
#: Which comparison of a multi-arm trial is used by default: the least active control first.
COMPARATOR_PREFERENCE: tuple[str, ...] = ("usual care", "waitlist", "attention control", "other",
                                          "active", "group CBT")
RATIO_TYPES = frozenset({"RR", "OR"})
MULTI_ARM_CHOICES = ("one", "split")
#: Notes name trials one by one up to this many; beyond, one summary note.
MAX_LISTED_NOTES = 5
#: "auto": one store's rows are read once per store version and kept as arrays (the prepared store);
#: "fresh": read the matching rows anew (also what merged datasets always do).
ENGINES = ("auto", "fresh")

SELECTION_RULE = (
    "One row per trial: (1) the comparison against the least active control "
    "(usual care, waitlist, attention control, other, active, group CBT); (2) a result on the "
    "analysis scale before one converted from a binary result; (3) the follow-up the chosen rule "
    "names: the longest (default), the shortest, or the one nearest a chosen number of months (the "
    "longer on a tie); a follow-up whose months are not recorded comes after those that are, ranked "
    "by the source's own words (short, medium, long term); (4) the measure used by most trials for "
    "this outcome; (5) arm-level data before a reported effect; (6) the primary paper before a review "
    "or database; (7) the shipped dataset before an imported one; (8) a verified row before an "
    "unverified one; (9) the row listed first in its source (the lowest effect id: source file, then row)."
)
ORIENTATION_RULE = (
    "SMDs are oriented so that positive values favour peer support (signs reversed for "
    "measures where lower is better). Ratios are peer support / control."
)

#: Agreement allowed between an effect computed from arm data and the one the source printed:
#: half a unit in the last printed decimal of each bound, widened to 0.01 for SMDs printed to two
#: decimals (the usual precision) and to 2% of a ratio.
ROUNDING_TOLERANCE = {"SMD": 0.01, "ratio_relative": 0.02}

#: Columns of the frame returned by :func:`~evidence.analysis.selection.effects`, in order.
EFFECT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "effect_id", "dataset", "outcome", "measure", "effect_measure",
    "yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
    "n_ps", "n_ctl", "n_total", "timepoint_months", "risk_of_bias", "rob_status", "rob_worst_domain",
    "rob_assessed_by", "rob_domains", "population", "setting",
    "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support", "peer_deliverer", "comparator",
    "comparison", "country", "design", "higher_is_better", "source_review", "source_url",
    "source_location", "source_quote", "verification", "computed_from", "conversion",
    "selection_reason", "n_candidates", "flags",
)

_ROUTE_TEXT = {
    "arm_continuous": "arm means and SDs (Hedges' g)",
    "arm_binary": "arm event counts",
    "reported_rr": "reported RR and 95% CI",
    "reported_or": "reported OR and 95% CI",
    "reported_md": "reported MD, 95% CI and arm Ns",
    "reported_irr": "reported rate ratio and 95% CI",
    "reported_hr": "reported hazard ratio and 95% CI",
}
#: Routes from a reported effect (arm data are preferred over them: step 5 of the selection rule).
REPORTED_ROUTES = ("reported_smd", "reported_md", "reported_rr", "reported_or", "reported_irr", "reported_hr")
#: Ratio routes that are their own measures (pooled only on their own scale, never as risk ratios).
OWN_RATIO_SCALES = {"logIRR": "reported_irr", "logHR": "reported_hr"}
#: Conversion note of a row standardised from its reported mean difference.
MD_CONVERSION = ("SMD from the reported mean difference and its 95% CI (SD implied by the CI; "
                 "Cochrane Handbook 6.5.2.3)")
#: Plain-language reason for each code of a row left out: the row-level ones, then those of an analysis.
REASONS = {
    **ROW_REASONS,  # why a row gives no effect at all: the store's one rule (evidence.store.usability)
    "md_on_ratio": "reported mean difference cannot be pooled on a ratio scale",
    "rr_on_smd": "reported risk ratio cannot be converted to an SMD (needs an odds ratio or event counts)",
    "or_on_rr": "reported odds ratio cannot be pooled with risk ratios",
    "rr_on_or": "reported risk ratio cannot be pooled with odds ratios",
    "direction_minority": "the event points the other way from the other rows and a risk ratio cannot be inverted",
    "not_selected": "not selected: another row of this trial was used (see its selection reason)",
    "continuous_on_ratio": "continuous result cannot be pooled on a ratio scale (choose the SMD scale to keep it)",
    "rate_ratio": "rate ratio: its own measure, pooled only with other rate ratios (never as a risk ratio or SMD)",
    "hazard_ratio": "hazard ratio: its own measure, pooled only with other hazard ratios (never as a risk ratio or SMD)",
    "not_rate_ratio": "not a rate ratio: the analysis is on the rate-ratio scale",
    "not_hazard_ratio": "not a hazard ratio: the analysis is on the hazard-ratio scale",
}
#: Routes usable on each scale.
SCALE_ROUTES = {
    "SMD": ("arm_continuous", "reported_smd", "reported_md", "arm_binary", "reported_or"),
    "logRR": ("arm_binary", "reported_rr"),
    "logOR": ("arm_binary", "reported_or"),
    "logIRR": ("reported_irr",),
    "logHR": ("reported_hr",),
}
_OFF_SCALE = {("SMD", "reported_rr"): "rr_on_smd", ("logRR", "reported_or"): "or_on_rr",
              ("logRR", "arm_continuous"): "continuous_on_ratio", ("logRR", "reported_smd"): "continuous_on_ratio",
              ("logOR", "arm_continuous"): "continuous_on_ratio", ("logOR", "reported_smd"): "continuous_on_ratio",
              ("logOR", "reported_rr"): "rr_on_or", ("logRR", "reported_md"): "md_on_ratio",
              ("logOR", "reported_md"): "md_on_ratio",
              **{(s, "reported_irr"): "rate_ratio" for s in ("SMD", "logRR", "logOR", "logHR")},
              **{(s, "reported_hr"): "hazard_ratio" for s in ("SMD", "logRR", "logOR", "logIRR")},
              **{("logIRR", r): "not_rate_ratio" for r in ("arm_continuous", "arm_binary", "reported_smd",
                                                         "reported_md", "reported_rr", "reported_or")},
              **{("logHR", r): "not_hazard_ratio" for r in ("arm_continuous", "arm_binary", "reported_smd",
                                                          "reported_md", "reported_rr", "reported_or")}}
_EXCLUDED_COLUMNS = ["study_id", "effect_id", "reason", "kind"]
_FLOAT_COLUMNS = ("yi", "vi", "sei", "ci_low", "ci_high", "display_estimate", "display_ci_low", "display_ci_high",
                  "n_ps", "n_ctl", "n_total", "timepoint_months")
