"""The review level: the reviews we hold, their pooled results on one orientation, how much their trial
lists overlap (corrected covered area), and the reproduction of one published result from our trial data.

Orientation (stated to users by :data:`REVIEW_ORIENTATION_RULE`): a review result printed as peer support
minus control on the measure as scored (``ps_minus_ctl``) is turned so that positive values favour peer
support when the outcome's measures in our trial data are mostly scored lower-is-better; results printed
with a stated direction keep it (``positive_favours_ps``) or are reversed (``negative_favours_ps``). Ratios
stay peer support / control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evidence.analysis.analyse import Analysis, analyse
from evidence.analysis.selection import ROUNDING_TOLERANCE, effect_set
from evidence.core.errors import EvidenceError
from evidence.core.filters import FilterSpec, review_name
from evidence.core.measures import measure
from evidence.query import reviews as q

__all__ = ["corrected_covered_area", "Overlap", "overlap", "review_catalogue", "review_results_table",
           "review_forest_rows", "Reproduction", "reproduce", "TRIAL_GROUPS", "REVIEW_ORIENTATION_RULE",
           "published_measure", "CCA_BANDS"]

REVIEW_ORIENTATION_RULE = (
    "Review results are shown so that positive SMDs and mean differences favour peer support: a result "
    "printed as peer support minus control is reversed when the outcome's measures are mostly scored "
    "lower-is-better in our trial data; a stated direction is followed. Ratios are peer support / control.")
#: The three groups a review's trials fall into when its result is reproduced, in display order.
TRIAL_GROUPS = ("pooled here", "in our data, not poolable", "not in our data")
#: Pieper et al. 2014 (J Clin Epidemiol 67:368-375): how to read a corrected covered area (percent).
CCA_BANDS = ((5.0, "slight"), (10.0, "moderate"), (15.0, "high"), (float("inf"), "very high"))
#: Which of our analysis scales a published effect type is on (others, e.g. MD, have no counterpart).
_OUR_SCALE = {"SMD": "SMD", "g": "SMD", "d": "SMD", "RR": "logRR", "OR": "logOR"}


def published_measure(effect_type: object) -> str | None:
    """Our analysis scale for a published effect type (``SMD``/``g``/``d`` -> ``SMD``, ``RR`` -> ``logRR``,
    ``OR`` -> ``logOR``); None when we pool no such measure (a mean difference in the measure's units)."""
    return _OUR_SCALE.get(str(effect_type)) if isinstance(effect_type, str) else None


def _label(author, year, fallback) -> str:
    return f"{author} {int(year)}" if isinstance(author, str) and pd.notna(year) else review_name(str(fallback))


# ---------------------------------------------------------------------------------------------
# Overlap of trial lists

def corrected_covered_area(matrix) -> float:
    """Corrected covered area of a citation matrix (rows: trials, columns: reviews; true = included).

    CCA = (N − r) / (r·c − r), N the inclusions (ones in the matrix), r the trials, c the reviews
    (Pieper et al. 2014). Returns a proportion (0–1); NaN with fewer than two reviews or no trial.
    """
    m = np.asarray(matrix, dtype=bool)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] < 2:
        return float("nan")
    r, c = m.shape
    return float((m.sum() - r) / (r * c - r))


def cca_band(cca: float) -> str:
    """Pieper et al. 2014's reading of a CCA (a proportion): slight, moderate, high or very high overlap."""
    pct = 100.0 * cca
    return next(name for upper, name in CCA_BANDS if pct <= upper) if np.isfinite(pct) else "not defined"


@dataclass(frozen=True, eq=False)
class Overlap:
    """Reviews × trials: ``matrix`` (index trial ids, columns review ids, booleans), the CCA and its reading."""

    matrix: pd.DataFrame
    cca: float
    band: str
    n_inclusions: int

    @property
    def n_trials(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_reviews(self) -> int:
        return int(self.matrix.shape[1])


def overlap(review_ids=None, con=None) -> Overlap:
    """The overlap of the trial lists of ``review_ids`` (default: every review with a list)."""
    rows = q.review_trial_rows(None, con)
    if review_ids is not None:
        rows = rows[rows["review_id"].isin(list(review_ids))]
    if rows.empty:
        matrix = pd.DataFrame(dtype=bool)
    else:
        matrix = pd.crosstab(rows["trial_id"], rows["review_id"]).astype(bool)
        # trials shared by most reviews first, then by id: the overlap reads from the top
        order = sorted(matrix.index, key=lambda t: (-int(matrix.loc[t].sum()), t))
        matrix = matrix.loc[order]
    cca = corrected_covered_area(matrix.to_numpy())
    return Overlap(matrix, cca, cca_band(cca), int(matrix.to_numpy().sum()))


# ---------------------------------------------------------------------------------------------
# Catalogue and results

def review_catalogue(con=None) -> pd.DataFrame:
    """Every review: question (its title), population, search date, trials, AMSTAR 2, list and results held."""
    r = q.review_list(con)
    return pd.DataFrame({
        "Review": [_label(a, y, i) for a, y, i in zip(r["first_author"], r["year"], r["review_id"])],
        "Question (title)": r["title"].fillna("not recorded"),
        "Population": r["population"].fillna("not recorded"),
        # the review tables hold no search date yet: said, not filled
        "Search date": "not recorded",
        "Trials": pd.array(r["n_primary_studies"], dtype="Int64"),
        "AMSTAR 2": r["amstar2"].fillna("not rated"),
        "Pooled results held": r["n_results"].astype(int),
        "Trial list held": [f"{int(n)} ({int(d)} in our data)" if n else "no"
                            for n, d in zip(r["n_listed"], r["n_in_data"])],
        "review_id": r["review_id"],
    })


def _orientation(rows: pd.DataFrame, con) -> np.ndarray:
    """+1 / −1 to turn each SMD or MD result so that positive favours peer support; NaN where unknown;
    +1 for ratios (kept as peer support / control)."""
    share = q.outcome_directions(con)
    out = np.full(len(rows), np.nan)
    for i, (etype, sign, outcome) in enumerate(zip(rows["effect_type"], rows["reported_sign"], rows["outcome"])):
        if not isinstance(etype, str):
            continue
        if measure_is_ratio(etype):
            out[i] = 1.0
        elif sign == "positive_favours_ps":
            out[i] = 1.0
        elif sign == "negative_favours_ps":
            out[i] = -1.0
        elif sign == "ps_minus_ctl" and isinstance(outcome, str) and outcome in share:
            out[i] = 1.0 if share[outcome] >= 0.5 else -1.0
    return out


def measure_is_ratio(effect_type: str) -> bool:
    """True for ratio effect types (risk, odds, rate and hazard ratios)."""
    return effect_type in ("RR", "OR", "IRR", "HR")


#: How each review sign convention reads on screen (the one wording of ``review_results.reported_sign``).
SIGN_TEXT = {
    "ps_minus_ctl": "peer support minus control, on the measure as scored",
    "positive_favours_ps": "positive favours peer support",
    "negative_favours_ps": "negative favours peer support",
}


def review_results_table(outcome: str | None = None, con=None) -> pd.DataFrame:
    """Every pooled result (optionally one outcome), newest review first: review, AMSTAR 2, outcome as the
    review reported it, subgroup, comparator, k, N, measure, the effect and CI as printed, I², the sign
    convention in words (reviews differ: Lloyd-Evans 2014 prints negative SMDs for benefit, Bryan &
    Arkowitz 2015 positive ones) and the source. The Reviews page and Explore's expander both show it."""
    x = q.review_result_rows(outcome, con)
    return pd.DataFrame({
        "Review": [_label(a, y, i) for a, y, i in zip(x["first_author"], x["year"], x["review_id"])],
        "AMSTAR 2": x["amstar2"].fillna("not rated"),
        "Outcome": x["outcome_label"],
        "Subgroup": x["subgroup"].fillna(""),
        "Comparator": x["comparator"].fillna("not stated"),
        "k": pd.array(x["k_studies"], dtype="Int64"),
        "N": pd.array(x["n_participants"], dtype="Int64"),
        "Measure": x["effect_type"].fillna("not stated"),
        "Effect": x["estimate"],
        "CI low": x["ci_low"],
        "CI high": x["ci_high"],
        "I² (%)": x["i2"],
        "Sign as printed": x["reported_sign"].map(SIGN_TEXT).fillna("not stated by the review"),
        "Source": x["source_url"].fillna(""),
        "Where": x["source_location"].fillna(""),
        "result_id": x["result_id"],
        "review_id": x["review_id"],
        "outcome": x["outcome"],
    })


def review_forest_rows(outcome: str, con=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows for the forest plot of reviews' pooled results for one outcome, and the rows left out with why.

    Plotted: results with an estimate and both CI bounds whose orientation is known, turned by
    :data:`REVIEW_ORIENTATION_RULE` (ratios as printed); ``panel`` groups results on one measure.
    """
    x = q.review_result_rows(outcome, con)
    flip = _orientation(x, con)
    label = [_label(a, y, i) for a, y, i in zip(x["first_author"], x["year"], x["review_id"])]
    sub = x["subgroup"].fillna("")
    row = [f"{lab}: {o}" + (f" ({s})" if s and s not in str(o) else "")
           for lab, o, s in zip(label, x["outcome_label"], sub)]
    est, lo, hi = (x[c].astype(float).to_numpy() for c in ("estimate", "ci_low", "ci_high"))
    lo_o = np.where(flip < 0, -hi, lo)
    hi_o = np.where(flip < 0, -lo, hi)
    frame = pd.DataFrame({
        "row": row, "review": label, "amstar2": x["amstar2"].fillna("not rated"),
        "measure": x["effect_type"].fillna(""), "estimate": est * np.where(np.isnan(flip), 1.0, flip),
        "ci_low": lo_o, "ci_high": hi_o, "k": pd.array(x["k_studies"], dtype="Int64"),
        "n": pd.array(x["n_participants"], dtype="Int64"), "printed": [
            f"{e:g} [{a:g}, {b:g}]" if np.isfinite(e) and np.isfinite(a) and np.isfinite(b) else
            (f"{e:g} (no CI)" if np.isfinite(e) else "not reported") for e, a, b in zip(est, lo, hi)],
        "flipped": flip < 0, "result_id": x["result_id"],
    })
    missing = ~(np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi))
    unknown = np.isnan(flip) & ~missing
    why = np.where(missing, "no estimate with both CI bounds", np.where(unknown, "direction not known", ""))
    frame["panel"] = [("SMD" if m in ("SMD", "g", "d") else m) for m in frame["measure"]]
    left = frame.loc[why != "", ["row", "printed"]].assign(reason=why[why != ""])
    return frame.loc[why == ""].reset_index(drop=True), left.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Reproduction of one published result

@dataclass(frozen=True, eq=False)
class Reproduction:
    """A published result beside ours on the review's trials.

    Attributes
    ----------
    result : dict
        The published row (``review_results`` with the review's author, year, AMSTAR 2).
    spec : FilterSpec
        ``review=<id>`` and the result's outcome: the set Explore and Sensitivity analyse.
    analysis : Analysis or None
        Ours (None when no trial of the review could be pooled; ``problem`` says why).
    ours : (estimate, ci_low, ci_high) or None
        Ours on the published measure and sign (None when the measures differ or nothing is pooled).
    orientation : str
        How ours was put on the published sign.
    difference : str
        Ours minus published (SMD) or ours / published (ratios), with whether it is within rounding.
    trials : DataFrame
        The review's listed trials with ``group`` (:data:`TRIAL_GROUPS`), ``reason`` and our effect.
    problem : str
        Why ours is missing or not comparable ('' when it is).
    """

    result: dict
    spec: FilterSpec
    analysis: Analysis | None
    ours: tuple[float, float, float] | None
    orientation: str
    difference: str
    trials: pd.DataFrame
    problem: str = ""

    def group_counts(self) -> dict[str, int]:
        return {g: int((self.trials["group"] == g).sum()) for g in TRIAL_GROUPS}


def _ours_on_published_sign(a: Analysis, sign: str) -> tuple[tuple[float, float, float], str]:
    p = a.pooled
    m = measure(a.effect_measure)
    est, lo, hi = (float(m.to_display(v)) for v in (p.estimate, p.ci_low, p.ci_high))
    if m.is_ratio:
        want_right = {"positive_favours_ps": True, "negative_favours_ps": False}.get(sign)
        if want_right is not None and (a.favours.side == "right") != want_right:
            return (1 / est, 1 / hi, 1 / lo), "ratio inverted to the review's direction"
        return (est, lo, hi), "peer support / control, as the review"
    hib = a.effects["higher_is_better"].astype("boolean")
    higher = bool((hib.fillna(True)).mean() >= 0.5)
    flip = {"positive_favours_ps": False, "negative_favours_ps": True}.get(sign, not higher)
    if flip:
        return (-est, -hi, -lo), ("sign reversed: the review prints negative values as favouring peer support"
                                   if sign != "ps_minus_ctl" else
                                   "sign reversed to peer support minus control (lower scores are better)")
    return (est, lo, hi), ("positive favours peer support, as the review" if sign != "ps_minus_ctl" else
                           "peer support minus control (higher scores are better), as the review")


def _difference(ours, published, scale: str) -> str:
    est, pub = ours[0], published
    if measure(scale).is_ratio:
        ratio = est / pub
        ok = abs(ratio - 1.0) <= ROUNDING_TOLERANCE["ratio_relative"]
        return f"ours / published = {ratio:.3f}" + (" (agrees within rounding)" if ok else "")
    diff = est - pub
    ok = abs(diff) <= ROUNDING_TOLERANCE["SMD"]
    return f"ours − published = {diff:+.3f}" + (" (agrees within rounding)" if ok else "")


def _trial_groups(review_id: str, spec: FilterSpec, con, effects: pd.DataFrame | None,
                  excluded: pd.DataFrame | None) -> pd.DataFrame:
    members = q.review_trial_rows(review_id, con)
    pooled = {} if effects is None else dict(zip(effects["study_id"], effects["display_estimate"]))
    reasons: dict[str, list[str]] = {}
    if excluded is not None:
        for sid, reason in zip(excluded["study_id"], excluded["reason"]):
            reasons.setdefault(str(sid), [])
            if reason not in reasons[str(sid)]:
                reasons[str(sid)].append(reason)
    out = []
    for _, m in members.iterrows():
        sid = m["study_id"] if isinstance(m["study_id"], str) else None
        if sid is None:
            group, reason = TRIAL_GROUPS[2], "the trial is not in our data"
        elif sid in pooled:
            group, reason = TRIAL_GROUPS[0], ""
        else:
            group = TRIAL_GROUPS[1]
            reason = "; ".join(reasons.get(sid, [])) or f"no result for {spec.outcome} in our data"
        out.append({"group": group, "trial": m["trial_id"], "review's label": m["review_label"],
                    "our effect": pooled.get(sid), "reason": reason,
                    "analysis it entered (review)": m["analysis"] if isinstance(m["analysis"], str) else ""})
    frame = pd.DataFrame(out, columns=["group", "trial", "review's label", "our effect", "reason",
                                       "analysis it entered (review)"])
    order = {g: i for i, g in enumerate(TRIAL_GROUPS)}
    return frame.sort_values(["group", "trial"], key=lambda s: s.map(order) if s.name == "group" else s,
                             kind="stable").reset_index(drop=True)


def reproduce(result_id: str, method: str = "DL", hartung_knapp: bool = False, con=None,
              spec: FilterSpec | None = None) -> Reproduction:
    """The published result ``result_id`` beside ours on the review's listed trials.

    ``spec`` defaults to ``FilterSpec(outcome=<the result's outcome>, review=<its review>)`` on the review's
    measure (``scale="SMD"`` for an SMD, ``"ratio"`` for a risk or odds ratio); any other
    setting of it (follow-up window, risk of bias, exclusions, scale) applies as on every page. ``method``
    defaults to DerSimonian-Laird, the random-effects method of RevMan, which most reviews used.
    """
    rows = q.review_result(result_id, con)
    if rows.empty:
        raise EvidenceError(f"No review result {result_id!r}.")
    r = rows.iloc[0].to_dict()
    base = spec if spec is not None else FilterSpec()
    scale = published_measure(r["effect_type"])
    # ours on the review's measure: the scale choice follows it unless the caller chose one
    choice = base.scale if base.scale != "auto" or scale is None else ("SMD" if scale == "SMD" else "ratio")
    spec = FilterSpec(**{**{f: getattr(base, f) for f in base.__dataclass_fields__},
                         "outcome": r["outcome"], "review": r["review_id"], "scale": choice})
    es = None
    analysis = None
    problem = ""
    try:
        es = effect_set(spec, con)
        analysis = analyse(spec, method=method, hartung_knapp=hartung_knapp, con=con)
    except EvidenceError as exc:
        problem = str(exc)
    ours, orientation, difference = None, "", ""
    if analysis is not None:
        if scale is None:
            problem = (f"The review pooled {r['effect_type'] or 'an unstated measure'}; we pool "
                       f"{measure(analysis.effect_measure).label}: not the same measure, so no difference is given.")
        elif scale != analysis.effect_measure:
            problem = (f"The review pooled {r['effect_type']}; on its trials in our data the analysis is on "
                       f"{measure(analysis.effect_measure).label}.")
        elif pd.notna(r["estimate"]):
            ours, orientation = _ours_on_published_sign(analysis, str(r["reported_sign"] or "ps_minus_ctl"))
            difference = _difference(ours, float(r["estimate"]), scale)
    trials = _trial_groups(r["review_id"], spec, con, None if analysis is None else analysis.effects,
                           None if es is None else es.excluded)
    return Reproduction(r, spec, analysis, ours, orientation, difference, trials, problem)
