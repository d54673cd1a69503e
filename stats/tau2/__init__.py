"""Estimators of the between-study variance tau^2 (random-effects model).

Each estimator is one small function with metafor ``rma()`` definitions
(Viechtbauer 2005, J. Educ. Behav. Stat. 30:261-293; Veroniki et al. 2016,
Res. Synth. Methods 7:55-79). They work on a :class:`Batch`: the same ``k``
studies and ``m`` subsets of them (all studies, each leave-one-out subset,
each cumulative prefix, each subgroup), so that sensitivity analyses are
vectorised. Every estimator returns an array of ``m`` estimates, floored at 0,
and assumes each subset has at least two studies.

Notation: ``w_i = 1 / (v_i + tau2)``, ``mu = sum(w y) / sum(w)``, residuals
``r_i = y_i - mu`` and the generalised Q statistic
``Q(tau2) = sum w_i r_i^2 = y'P y`` with ``P = W - W 1 1' W / sum(w)``.
``Q`` is decreasing in ``tau2`` (``Q' = -y'PPy``), so ``Q(tau2) = target``
has at most one root; that solves the Paule-Mandel and Q-profile equations.

Implementation note: all weighted sums a fit needs are power sums
``sum_i w_i^p y_i^q`` (p = 1..3, q = 0..2), obtained with one matrix product
per power ``p``; effects are centred first so that the expansions of ``Q`` and
the score lose no accuracy.

Modules: :mod:`.batch` (the subsets and their power sums), :mod:`.closed_form`
(FE, DL, HE, SJ), :mod:`.iterative` (PM, ML, REML and their root finders).
This package is the entry point: import from ``stats.tau2``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validation import check_effects, check_method
from .batch import Batch, _mean_and_q, q_statistic  # _mean_and_q: used by stats.pooling
from .closed_form import tau2_dl, tau2_fe, tau2_he, tau2_sj
from .iterative import (ABS_TOL, BOUNDARY_SNAP, MAX_FISHER, MAX_NEWTON, NEWTON_STOP, POLISH, REL_TOL,
                        scalar_likelihood_root, scalar_solve, solve_q, tau2_ml, tau2_pm, tau2_reml)

__all__ = [
    "Batch",
    "tau2_fe",
    "tau2_dl",
    "tau2_he",
    "tau2_sj",
    "tau2_pm",
    "tau2_ml",
    "tau2_reml",
    "solve_q",
    "estimate_tau2",
    "ESTIMATORS",
]

#: Estimator function per method name; look-ups go through check_method first.
ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "FE": tau2_fe,
    "DL": tau2_dl,
    "REML": tau2_reml,
    "PM": tau2_pm,
    "ML": tau2_ml,
    "HE": tau2_he,
    "SJ": tau2_sj,
}


def estimate_tau2(yi, vi, method: str = "REML") -> float:
    """tau^2 of one data set by the named estimator.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least two studies).
    method : str
        One of ``stats.METHODS``.

    Returns
    -------
    float
        The estimate, floored at 0 (always 0 for ``"FE"``).

    Raises
    ------
    ValueError
        Invalid method (the message lists the valid ones), fewer than two
        studies, or invalid ``yi``/``vi`` (the message names positions).
    """
    name = check_method(method)
    y, v = check_effects(yi, vi)
    if y.size < 2:
        raise ValueError(f"tau^2 needs at least two studies, got k = {y.size}")
    return float(ESTIMATORS[name](Batch(y, v))[0])
