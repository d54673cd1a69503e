"""Subgroup analysis: one fit per group, each with its own tau^2, and the test for subgroup differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _distributions as dist
from .._results import result_dict
from .._validation import check_effects, format_positions
from ..pooling import PooledEstimate, check_options, estimate_from_batch, fit_batch
from ..tau2 import Batch

__all__ = ["SubgroupAnalysis", "subgroups"]


@dataclass(frozen=True)
class SubgroupAnalysis:
    """Separate meta-analyses per subgroup and the test for subgroup differences.

    Attributes
    ----------
    groups : tuple
        Group labels in order of first appearance in the input.
    estimates : tuple of PooledEstimate
        One fit per group, each with its own tau^2.
    positions : tuple of tuple of int
        Input positions of the studies in each group.
    q_between : float
        ``sum_g (mu_g - mu_bar)^2 / se_g^2`` with ``mu_bar`` the
        inverse-variance mean of the group estimates, ``1/se_g^2`` weights:
        the fixed-effect Q across subgroup estimates (Borenstein et al. 2009,
        ch. 19; as RevMan and the R package meta report it). Uses the groups'
        ``se`` as fitted (Hartung-Knapp ones if requested).
    df_between : int
        Number of groups minus 1.
    p_between : float
        ``P(chi-square(df_between) > q_between)``; NaN with a single group.
    method, hartung_knapp, level
        Settings shared by all group fits.
    k : int
        Total number of studies.
    """

    groups: tuple
    estimates: tuple[PooledEstimate, ...]
    positions: tuple[tuple[int, ...], ...]
    q_between: float
    df_between: int
    p_between: float
    method: str
    hartung_knapp: bool
    level: float
    k: int

    def to_dict(self) -> dict:
        return result_dict(self)


def _group_labels(groups, k: int) -> tuple[list, np.ndarray]:
    labels = list(groups) if not isinstance(groups, np.ndarray) else groups.tolist()
    if len(labels) != k:
        raise ValueError(f"Arguments must have the same length: yi has {k}, groups has {len(labels)}")
    missing = [i for i, g in enumerate(labels) if g is None or (isinstance(g, float) and np.isnan(g))]
    if missing:
        raise ValueError(f"groups has missing labels at positions {format_positions(missing)}")
    order: dict = {}
    codes = np.empty(k, dtype=int)
    for i, g in enumerate(labels):
        codes[i] = order.setdefault(g, len(order))
    return list(order), codes


def subgroups(yi, vi, groups, *, method: str = "REML", hartung_knapp: bool = False,
              level: float = 0.95) -> SubgroupAnalysis:
    """Pool each subgroup separately and test for subgroup differences.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    groups : sequence
        Group label per study (any hashable values, no missing ones).
    method, hartung_knapp, level
        As :func:`stats.pool`.

    Returns
    -------
    SubgroupAnalysis
        See its attributes for the formulas.

    Raises
    ------
    ValueError
        ``groups`` of the wrong length or with missing labels, or any input
        error of :func:`stats.pool`.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    labels, codes = _group_labels(groups, y.size)
    n_groups = len(labels)
    mask = (codes[None, :] == np.arange(n_groups)[:, None]).astype(float)
    fit = fit_batch(Batch(y, v, mask=mask), method=method, hartung_knapp=hartung_knapp, level=level)
    estimates = tuple(estimate_from_batch(fit, g, method=method, hartung_knapp=hartung_knapp, level=level)
                      for g in range(n_groups))
    est, se = fit["estimate"], fit["se"]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = 1.0 / se**2
        mu = np.sum(w * est) / np.sum(w)
        q_between = float(np.sum(w * (est - mu) ** 2))
    df = n_groups - 1
    p_between = float(dist.chi2_upper_p(q_between, df)) if df > 0 else float("nan")
    if df == 0:
        q_between = float("nan")
    positions = tuple(tuple(int(i) for i in np.flatnonzero(codes == g)) for g in range(n_groups))
    return SubgroupAnalysis(tuple(labels), estimates, positions, q_between, df, p_between,
                            method, hartung_knapp, level, int(y.size))
