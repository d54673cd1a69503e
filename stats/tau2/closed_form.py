"""The closed-form (non-iterative) tau^2 estimators: FE, DL, HE and SJ.

Each takes a :class:`~stats.tau2.batch.Batch` and returns ``m`` estimates
floored at 0, with metafor ``rma()`` definitions (sources on each function).
"""

from __future__ import annotations

import numpy as np

from .batch import Batch, _mean_and_q, q_statistic

__all__ = ["tau2_fe", "tau2_dl", "tau2_he", "tau2_sj"]


def tau2_fe(batch: Batch, tau2_init=None) -> np.ndarray:
    """Fixed-effect (common-effect) model: tau^2 is 0 by assumption."""
    return np.zeros(batch.m)


def tau2_dl(batch: Batch, tau2_init=None) -> np.ndarray:
    """DerSimonian-Laird moment estimator.

    ``tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))`` with
    ``w = 1/v`` and ``Q`` the fixed-effect heterogeneity statistic
    (DerSimonian & Laird 1986, Control. Clin. Trials 7:177-188).
    """
    s1, s2 = batch.power_sums(np.zeros(batch.m), 2)
    _, q = _mean_and_q(s1)
    c = s1[:, 0] - s2[:, 0] / s1[:, 0]
    return np.maximum(0.0, (q - (batch.k - 1.0)) / c)


def _plain_variance_parts(batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Number of studies, unweighted sum of squares about the plain mean, sum of v."""
    s, sv = batch.unweighted_sums()
    n = s[:, 0]
    rss = np.maximum(s[:, 2] - s[:, 1] ** 2 / n, 0.0)
    return n, rss, sv


def tau2_he(batch: Batch, tau2_init=None) -> np.ndarray:
    """Hedges (Hedges-Olkin) unweighted moment estimator.

    ``tau2 = max(0, (RSS - (sum v - sum v / k)) / (k - 1))`` where ``RSS`` is
    the unweighted sum of squares about the plain mean (Hedges & Olkin 1985;
    metafor ``method="HE"``).
    """
    n, rss, sv = _plain_variance_parts(batch)
    return np.maximum(0.0, (rss - (sv - sv / n)) / (n - 1.0))


def tau2_sj(batch: Batch, tau2_init=None) -> np.ndarray:
    """Sidik-Jonkman two-step estimator.

    Start from ``tau0 = sum (y - ybar)^2 / k`` (the plain variance with
    divisor k), then ``tau2 = tau0 * Q(tau0) / (k - 1)`` (Sidik & Jonkman
    2005, J. Biopharm. Stat. 15:823-838; metafor ``method="SJ"``). Zero only
    when all effects are equal.
    """
    n, rss, _ = _plain_variance_parts(batch)
    tau0 = rss / n
    return tau0 * q_statistic(batch, tau0) / (n - 1.0)
