"""Moderators of a pooled result: subgroups, meta-regression, and two filter sets compared."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import stats

from evidence.analysis.analyse import (Analysis, _display, _pooled_row, _quiet_stats, _require,
                                      _same_settings, analyse)
from evidence.core.errors import InvalidChoice
from evidence.core.filters import FilterSpec

__all__ = ["MODERATOR_COLUMNS", "NUMERIC_MODERATORS", "SubgroupResult", "subgroup_table", "RegressionResult",
           "meta_regression_table", "Comparison", "compare_specs"]

#: Columns of the effects frame that may serve as a categorical moderator (whitelist).
MODERATOR_COLUMNS: tuple[str, ...] = (
    "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support",
    "peer_deliverer", "comparator", "risk_of_bias", "country", "design", "measure", "dataset",
    "computed_from",
)
#: Numeric columns usable in a meta-regression.
NUMERIC_MODERATORS: tuple[str, ...] = ("year", "timepoint_months", "n_total")


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Subgroups by one moderator: a table per group and the test for subgroup differences."""

    moderator: str
    table: pd.DataFrame
    q_between: float
    df_between: int
    p_between: float
    result: object  # stats.SubgroupAnalysis

    def to_dict(self) -> dict:
        return {"moderator": self.moderator, "q_between": self.q_between, "df_between": self.df_between,
                "p_between": self.p_between, "table": self.table.to_dict(orient="records")}


NOT_REPORTED = "not reported"


def subgroup_table(a: Analysis, moderator: str) -> SubgroupResult:
    """Pool each value of a categorical moderator separately (``stats.subgroups``).

    Studies without a value form the group ``"not reported"``.
    """
    if moderator not in MODERATOR_COLUMNS:
        raise InvalidChoice("moderator", moderator, MODERATOR_COLUMNS)
    _require(a, "Subgroup analysis", 2)
    groups = a.effects[moderator].astype("string").fillna(NOT_REPORTED).tolist()
    res = _quiet_stats(stats.subgroups, a.data.yi, a.data.vi,
                       groups, **_same_settings(a))
    rows = []
    for g, p, pos in zip(res.groups, res.estimates, res.positions):
        rows.append({"group": g, **_pooled_row(p),
                     "participants": float(a.effects["n_total"].iloc[list(pos)].sum()),
                     "studies": ", ".join(a.effects["study_id"].iloc[list(pos)])})
    table = _display(a, pd.DataFrame(rows), ("estimate", "ci_low", "ci_high"))
    return SubgroupResult(moderator, table, float(res.q_between), int(res.df_between),
                          float(res.p_between), res)


@dataclass(frozen=True, eq=False)
class RegressionResult:
    """Meta-regression on one numeric moderator."""

    moderator: str
    table: pd.DataFrame
    k: int
    dropped: tuple[str, ...]
    result: object  # stats.MetaRegression

    def to_dict(self) -> dict:
        r = self.result
        return {"moderator": self.moderator, "k": self.k, "dropped": list(self.dropped),
                "qm": float(r.qm), "qm_p": float(r.qm_p), "tau2": float(r.tau2), "r2": float(r.r2),
                "table": self.table.to_dict(orient="records")}


def meta_regression_table(a: Analysis, moderator: str) -> RegressionResult:
    """Meta-regression of the effect on a numeric moderator (``stats.meta_regression``).

    Studies without a value are left out and listed in ``dropped``.
    """
    if moderator not in NUMERIC_MODERATORS:
        raise InvalidChoice("moderator", moderator, NUMERIC_MODERATORS)
    x = pd.to_numeric(a.effects[moderator], errors="coerce").astype(float)
    ok = x.notna().to_numpy()
    dropped = tuple(a.effects.loc[~ok, "study_id"])
    from evidence.core.errors import TooFewStudies

    if ok.sum() < 3:
        raise TooFewStudies(f"Meta-regression on {moderator}", int(ok.sum()), 3)
    res = _quiet_stats(stats.meta_regression, a.data.yi[ok],
                       a.data.vi[ok], x.to_numpy()[ok], names=[moderator],
                       **_same_settings(a))
    table = pd.DataFrame({"term": list(res.names), "coefficient": res.coefficients, "se": res.se,
                          "ci_low": res.ci_low, "ci_high": res.ci_high, "statistic": res.statistic,
                          "p_value": res.p_values})
    return RegressionResult(moderator, table, int(ok.sum()), dropped, res)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Filter A against filter B: both analyses and the test of their difference.

    ``difference = A − B`` on the analysis scale; ``p_value`` is the test for subgroup
    differences between the two sets (``stats.subgroups``: for two independent estimates this is
    the z-test, Q = z²). ``shared_studies`` lists trials in both sets, which breaks independence.
    """

    a: Analysis
    b: Analysis
    difference: float
    se: float
    ci_low: float
    ci_high: float
    q: float
    p_value: float
    shared_studies: tuple[str, ...]
    note: str

    def to_dict(self) -> dict:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "difference": self.difference,
                "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "q": self.q,
                "p_value": self.p_value, "shared_studies": list(self.shared_studies), "note": self.note}


def compare_specs(spec_a: FilterSpec, spec_b: FilterSpec, method: str = "REML",
                  hartung_knapp: bool = False, level: float = 0.95, con=None, *, uploads_dir=None
                  ) -> Comparison:
    """Analyse two filters and test whether their pooled estimates differ.

    Raises
    ------
    NoMatchingStudies
        When either filter leaves no study (the message says which via ``culprit``).
    IncomparableAnalyses
        When the two analyses use different effect measures.
    """
    from evidence.core.errors import IncomparableAnalyses

    a = analyse(spec_a, method, hartung_knapp, level, con, uploads_dir=uploads_dir)
    b = analyse(spec_b, method, hartung_knapp, level, con, uploads_dir=uploads_dir)
    if a.effect_measure != b.effect_measure:
        raise IncomparableAnalyses(a.effect_measure, b.effect_measure)
    y = np.concatenate([a.data.yi, b.data.yi])
    v = np.concatenate([a.data.vi, b.data.vi])
    groups = ["A"] * a.k + ["B"] * b.k
    res = _quiet_stats(stats.subgroups, y, v, groups, method=method, hartung_knapp=hartung_knapp, level=level)
    pa, pb = res.estimates
    diff = pa.estimate - pb.estimate
    # SE of a difference of two independent estimates (Borenstein et al. 2009, eq. 19.4);
    # the test itself comes from stats.subgroups.
    se = float(np.hypot(pa.se, pb.se))
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2.0))
    shared = tuple(sorted(set(a.effects["study_id"]) & set(b.effects["study_id"])))
    note = ("" if not shared else
            f"{len(shared)} trial(s) are in both sets, so the two estimates are not independent "
            "and the test is only approximate.")
    return Comparison(a, b, float(diff), se, float(diff - z * se), float(diff + z * se),
                      float(res.q_between), float(res.p_between), shared, note)
