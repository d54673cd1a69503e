"""The subsets a tau^2 estimator works on, and the weighted sums every fit needs.

A :class:`Batch` holds ``k`` studies and ``m`` subsets of them (all studies,
each leave-one-out subset, each cumulative prefix, each subgroup). All
weighted sums are power sums ``sum_i w_i^p y_i^q`` (p = 1..3, q = 0..2) with
``w_i = 1 / (v_i + tau2)``, obtained with one matrix product per power ``p``;
effects are centred first so that the expansions of ``Q`` and the score lose
no accuracy. Notation as :mod:`stats.tau2`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Batch", "q_statistic"]


class Batch:
    """``m`` subsets of one set of ``k`` studies.

    Parameters
    ----------
    yi, vi : numpy.ndarray, shape (k,)
        Effects and positive sampling variances.
    mask : numpy.ndarray, shape (m, k), optional
        1.0 where a study belongs to a subset, else 0.0. ``None`` (with
        ``drop=None``) means one subset holding every study.
    drop : numpy.ndarray of int, shape (m,), optional
        Leave-one-out subsets: row ``r`` holds every study except
        ``drop[r]``. Cheaper than the equivalent mask.
    """

    def __init__(self, yi: np.ndarray, vi: np.ndarray, mask: np.ndarray | None = None,
                 drop: np.ndarray | None = None, _center: float | None = None):
        self.yi, self.vi, self.mask, self.drop = yi, vi, mask, drop
        if _center is None:
            w = 1.0 / vi
            # Centring at the common-effect mean keeps the power-sum expansions accurate.
            _center = float(yi[0]) if np.ptp(yi) == 0 else float(w @ yi / w.sum())
        self.center = _center
        yc = yi - _center
        self.y3 = np.column_stack([np.ones_like(yc), yc, yc * yc])
        if mask is not None:
            self.m = mask.shape[0]
            self.k = mask.sum(axis=1)
        elif drop is not None:
            self.m = drop.size
            self.k = np.full(self.m, yi.size - 1.0)
        else:
            self.m = 1
            self.k = np.array([float(yi.size)])

    def subset(self, rows: np.ndarray) -> "Batch":
        """The batch restricted to some of its subsets."""
        mask = None if self.mask is None else self.mask[rows]
        drop = None if self.drop is None else self.drop[rows]
        if mask is None and drop is None and rows.size != 1:
            raise ValueError("a single-subset batch has only row 0")
        return Batch(self.yi, self.vi, mask, drop, _center=self.center)

    def weights(self, tau2: np.ndarray) -> np.ndarray:
        """``w`` of shape (m, k), 0 for studies outside a subset."""
        w = self.vi[None, :] + tau2[:, None]
        np.reciprocal(w, out=w)
        if self.mask is not None:
            w *= self.mask
        return w

    def power_sums(self, tau2: np.ndarray, order: int) -> list[np.ndarray]:
        """``[S_1, ..., S_order]``; ``S_p[:, q] = sum_i w_i^p y_i^q`` (y centred)."""
        if self.m > 1 and np.all(tau2 == tau2[0]):
            return self._power_sums_common(float(tau2[0]), order)
        w = self.weights(tau2)
        out = [w @ self.y3]
        wp = w
        for _ in range(order - 1):
            wp = wp * w
            out.append(wp @ self.y3)
        if self.drop is not None:
            # Leave-one-out: remove each row's own study from the full sums.
            own = 1.0 / (self.vi[self.drop] + tau2)
            own_y3 = self.y3[self.drop]
            for p, s in enumerate(out, start=1):
                s -= (own**p)[:, None] * own_y3
        return out

    def _power_sums_common(self, tau2: float, order: int) -> list[np.ndarray]:
        """power_sums when every subset has the same tau2: O(k) weights instead of O(m k)."""
        w = 1.0 / (self.vi + tau2)
        out = []
        wp = np.ones_like(w)
        for _ in range(order):
            wp = wp * w
            wy3 = wp[:, None] * self.y3
            if self.mask is not None:
                out.append(self.mask @ wy3)
            elif self.drop is not None:
                out.append(wy3.sum(axis=0)[None, :] - wy3[self.drop])
            else:
                out.append(wy3.sum(axis=0)[None, :])
        return out

    def unweighted_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sum y^q for q = 0..2, sum v)`` per subset, ignoring weights."""
        if self.mask is not None:
            return self.mask @ self.y3, self.mask @ self.vi
        s, sv = self.y3.sum(axis=0), self.vi.sum()
        if self.drop is not None:
            return s[None, :] - self.y3[self.drop], sv - self.vi[self.drop]
        return s[None, :], np.array([sv])

    def log_det_sum(self, tau2: np.ndarray) -> np.ndarray:
        """``sum_i log(v_i + tau2)`` over each subset."""
        logs = np.log(self.vi[None, :] + tau2[:, None])
        if self.mask is not None:
            return (logs * self.mask).sum(axis=1)
        total = logs.sum(axis=1)
        if self.drop is not None:
            total -= np.log(self.vi[self.drop] + tau2)
        return total


def _mean_and_q(s1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (centred scale) and ``Q = sum w (y - mu)^2`` from ``S_1``."""
    mu = s1[:, 1] / s1[:, 0]
    return mu, np.maximum(s1[:, 2] - mu * s1[:, 1], 0.0)


def _moment(s: np.ndarray, mu: np.ndarray, q: int) -> np.ndarray:
    """``sum w^p (y - mu)^q`` for q in {1, 2} from the power sums ``S_p``."""
    if q == 1:
        return s[:, 1] - mu * s[:, 0]
    return s[:, 2] - 2.0 * mu * s[:, 1] + mu * mu * s[:, 0]


def q_statistic(batch: Batch, tau2: np.ndarray) -> np.ndarray:
    """Generalised Q at ``tau2`` for every subset."""
    return _mean_and_q(batch.power_sums(tau2, 1)[0])[1]
