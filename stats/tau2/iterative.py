"""The iterative tau^2 estimators (PM, ML, REML) and the root finders behind them.

``Q(tau2)`` is decreasing in ``tau2`` (``Q' = -y'PPy``), so ``Q(tau2) =
target`` has at most one root: :func:`solve_q` solves the Paule-Mandel and
Q-profile equations. ML and REML maximise the (restricted) likelihood by
Fisher scoring as metafor, finished by Newton steps (:func:`_likelihood_root`).
The ``scalar_*`` functions are the same iterations on one data set in plain
floats (also used by :mod:`stats.moderators`). Notation as :mod:`stats.tau2`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .batch import Batch, _mean_and_q, _moment, q_statistic
from .closed_form import tau2_he

__all__ = ["solve_q", "scalar_solve", "scalar_likelihood_root", "tau2_pm", "tau2_ml", "tau2_reml"]

#: Convergence of the iterative estimators: stop when a step changes tau^2 by
#: less than ``REL_TOL * tau2 + ABS_TOL`` (metafor's tests of agreement were
#: generated with threshold = tol = 1e-12).
REL_TOL = 1e-12
ABS_TOL = 1e-15
#: Iterates below this are set to 0: step halving towards a maximum on the
#: boundary would otherwise take ~40 more steps to get there.
BOUNDARY_SNAP = 1e-12
#: Newton steps replace Fisher steps once a Fisher step moves tau2 by less than this fraction.
POLISH = 0.05
#: A Newton step smaller than this (relative) leaves an error of its square:
#: quadratic convergence means the iteration can stop there.
NEWTON_STOP = 1e-7
MAX_NEWTON = 200
MAX_FISHER = 10000


def _converged(change: np.ndarray, tau2: np.ndarray, newton=False) -> np.ndarray:
    """Converged when a step is negligible (or, for Newton steps, when its square is)."""
    strict = np.abs(change) <= REL_TOL * np.abs(tau2) + ABS_TOL
    if newton is False:
        return strict
    return strict | (newton & (np.abs(change) <= NEWTON_STOP * np.abs(tau2)))


def solve_q(batch: Batch, target, q0=None, tau2_init=None) -> np.ndarray:
    """Smallest ``tau2 >= 0`` with ``Q(tau2) = target`` (0 when ``Q(0) <= target``).

    Parameters
    ----------
    batch : Batch
        The subsets.
    target : array_like, shape (m,)
        Right-hand side per subset.
    q0 : numpy.ndarray, optional
        ``Q(0)`` per subset, if already known.
    tau2_init : numpy.ndarray, optional
        Warm start; any non-negative value works.

    Notes
    -----
    ``Q`` is decreasing in tau2, so the root is unique. Newton's method is
    applied to ``1/Q(tau2) = 1/target``, which is close to linear in tau2
    (``Q ~ c / (v + tau2)``) and so converges in a few steps; the step is
    ``Q (Q - target) / (target y'PPy)`` since ``Q' = -y'PPy``. A bracket of
    points known to lie left and right of the root guards every step
    (bisection when a step leaves it). Used by Paule-Mandel and by the
    Q-profile confidence interval (Viechtbauer 2007, Stat. Med. 26:37-52).
    """
    m = batch.m
    target = np.broadcast_to(np.asarray(target, dtype=float), (m,))
    if q0 is None:
        q0 = q_statistic(batch, np.zeros(m))
    if m == 1:
        init = None if tau2_init is None else float(np.asarray(tau2_init, dtype=float).reshape(-1)[0])
        return np.array([scalar_solve(_single_q(batch), float(target[0]), float(np.asarray(q0).reshape(-1)[0]),
                                      init)])
    out = np.zeros(m)
    active = np.flatnonzero(q0 > target)
    if active.size == 0:
        return out
    t = np.zeros(active.size) if tau2_init is None else np.maximum(np.asarray(tau2_init, float)[active], 0.0)
    lo = np.zeros(active.size)          # Q(lo) > target
    hi = np.full(active.size, np.inf)   # Q(hi) < target
    sub = batch if active.size == m else batch.subset(active)
    goal = target[active]
    for _ in range(MAX_NEWTON):
        s1, s2 = sub.power_sums(t, 2)
        mu, q = _mean_and_q(s1)
        left = q > goal
        lo = np.where(left, np.maximum(lo, t), lo)
        hi = np.where(left, hi, np.minimum(hi, t))
        with np.errstate(divide="ignore", invalid="ignore"):
            new = t + q * (q - goal) / (goal * _moment(s2, mu, 2))
        exact = q == goal
        outside = ~exact & (~np.isfinite(new) | (new <= lo) | (new >= hi))
        if outside.any():
            bisect = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * lo + 1.0)
            new = np.where(outside, bisect, new)
        new = np.where(exact, t, new)
        done = _converged(new - t, new, newton=~outside) | exact
        t = new
        if done.all():
            break
        # Later iterations only for the unfinished subsets.
        if done.any():
            out[active[done]] = t[done]
            keep = ~done
            active, t, goal, lo, hi = active[keep], t[keep], goal[keep], lo[keep], hi[keep]
            sub = batch.subset(active)
    out[active] = t
    return out


def scalar_solve(q_and_slope: Callable[[float], tuple[float, float]], target: float, q0: float,
                 tau2_init: float | None = None) -> float:
    """One-data-set version of :func:`solve_q` in plain floats (same steps and safeguards).

    ``q_and_slope(t)`` returns ``(Q(t), y'P(t)P(t)y)``.
    """
    if not q0 > target:
        return 0.0
    t = 0.0 if tau2_init is None or not np.isfinite(tau2_init) else max(float(tau2_init), 0.0)
    lo, hi = 0.0, float("inf")
    for _ in range(MAX_NEWTON):
        q, ypp = q_and_slope(t)
        if q == target:
            return t
        if q > target:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        new = t + q * (q - target) / (target * ypp) if ypp > 0 else float("nan")
        newton = lo < new < hi
        if not newton:
            new = 0.5 * (lo + hi) if hi < float("inf") else 2.0 * lo + 1.0
        change = abs(new - t)
        t = new
        if change <= REL_TOL * t + ABS_TOL or (newton and change <= NEWTON_STOP * t):
            break
    return t


def scalar_likelihood_root(score: Callable[[float], tuple[float, float, float]], tau2_init: float) -> float:
    """One-data-set version of the iteration in :func:`_likelihood_root`, in plain floats.

    ``score(t)`` returns ``(score, information, derivative of the score)``.
    """
    t = max(float(tau2_init), 0.0)
    for _ in range(MAX_NEWTON + MAX_FISHER):
        sc, fisher, dscore = score(t)
        newton = t - sc / dscore if dscore < 0 else -1.0
        use_newton = dscore < 0 and bool(_near_root(t, sc / fisher, newton - t))
        new = newton if use_newton else t + sc / fisher
        if new < 0:
            step = sc / fisher
            while t > 0 and t + step < 0:
                step /= 2.0
            new = t + step if t > 0 else 0.0
        if new < BOUNDARY_SNAP:
            new = 0.0
            if t <= BOUNDARY_SNAP:
                return 0.0
        change = abs(new - t)
        t = new
        if change <= REL_TOL * t + ABS_TOL or (use_newton and change <= NEWTON_STOP * t):
            break
    return t


def _single_q(batch: Batch):
    def q_and_slope(t: float) -> tuple[float, float]:
        s1, s2 = batch.power_sums(np.array([t]), 2)
        (sw, swy, swy2), (sw2, sw2y, sw2y2) = s1[0].tolist(), s2[0].tolist()
        mu = swy / sw
        return max(swy2 - mu * swy, 0.0), sw2y2 - 2.0 * mu * sw2y + mu * mu * sw2
    return q_and_slope


def _single_score(batch: Batch, reml: bool):
    def score(t: float) -> tuple[float, float, float]:
        s1, s2, s3 = batch.power_sums(np.array([t]), 3)
        (sw, swy, _), (sw2, sw2y, sw2y2), (sw3, sw3y, sw3y2) = s1[0].tolist(), s2[0].tolist(), s3[0].tolist()
        mu = swy / sw
        ypp = sw2y2 - 2.0 * mu * sw2y + mu * mu * sw2
        w2r = sw2y - mu * sw2
        yppp = sw3y2 - 2.0 * mu * sw3y + mu * mu * sw3 - w2r * w2r / sw
        if reml:
            ratio = sw2 / sw
            sc, fisher = ypp - (sw - ratio), sw2 - 2.0 * sw3 / sw + ratio * ratio
        else:
            sc, fisher = ypp - sw, sw2
        return sc, fisher, fisher - 2.0 * yppp
    return score


def tau2_pm(batch: Batch, tau2_init=None) -> np.ndarray:
    """Paule-Mandel estimator: the root of ``Q(tau2) = k - 1``, or 0 if ``Q(0) < k - 1``.

    Paule & Mandel (1982), J. Res. Natl. Bur. Stand. 87:377-385; metafor
    ``method="PM"`` (which uses ``uniroot``; here Newton on the convex Q).
    """
    return solve_q(batch, batch.k - 1.0, tau2_init=tau2_init)


def _score_parts(batch: Batch, t: np.ndarray, reml: bool):
    """Score, Fisher information and derivative of the score at ``t`` (per subset).

    REML score ``y'PPy - tr(P)`` with information ``tr(PP)``; ML score
    ``y'PPy - sum w`` with information ``sum w^2``; the score's derivative is
    ``information - 2 y'PPPy``.
    """
    s1, s2, s3 = batch.power_sums(t, 3)
    sw, sw2, sw3 = s1[:, 0], s2[:, 0], s3[:, 0]
    mu = s1[:, 1] / sw
    ypp = _moment(s2, mu, 2)
    w2r = _moment(s2, mu, 1)
    yppp = _moment(s3, mu, 2) - w2r * w2r / sw
    if reml:
        ratio = sw2 / sw
        score, fisher = ypp - (sw - ratio), sw2 - 2.0 * sw3 / sw + ratio * ratio
    else:
        score, fisher = ypp - sw, sw2
    return score, fisher, fisher - 2.0 * yppp


def _log_likelihood(batch: Batch, t: np.ndarray, reml: bool) -> np.ndarray:
    """(Restricted) log-likelihood up to terms that do not depend on tau2."""
    s1 = batch.power_sums(t, 1)[0]
    _, q = _mean_and_q(s1)
    ll = -0.5 * batch.log_det_sum(t) - 0.5 * q
    if reml:
        ll -= 0.5 * np.log(s1[:, 0])
    return ll


def _near_root(t, fisher_step, newton_step):
    """Whether to take the Newton step (where the log-likelihood is concave).

    Newton when it is the shorter step (observed information above the
    expected one: there Fisher steps overshoot and can oscillate, which is
    when metafor's iteration fails to converge), or once Fisher scoring has
    nearly settled. A longer Newton step far from a root can jump past it
    into the basin of another maximum of a multimodal likelihood; the
    shorter Fisher step keeps to the basin metafor's iteration ends in.
    """
    near = (np.abs(fisher_step) <= POLISH * t) & (np.abs(newton_step) <= 0.5 * t)
    return near | (np.abs(newton_step) <= np.abs(fisher_step))


def _likelihood_root(batch: Batch, tau2_init, reml: bool) -> np.ndarray:
    """Maximise the (restricted) likelihood over ``tau2 >= 0``.

    Fisher scoring as metafor (step ``score / information``), replaced by a
    Newton step once close to a root where the log-likelihood is concave
    (see :func:`_near_root`): Newton converges quadratically there, while the
    Fisher steps keep to the basin metafor's iteration ends in when the
    likelihood has more than one maximum. A Fisher step that would cross 0
    is halved until it does not, exactly as metafor does.
    """
    t = np.maximum(np.asarray(tau2_init, dtype=float), 0.0).copy()
    if batch.m == 1:
        t = np.array([scalar_likelihood_root(_single_score(batch, reml), float(t[0]))])
        return _boundary_check(batch, t, reml)
    active = np.arange(batch.m)
    sub = batch
    for _ in range(MAX_NEWTON + MAX_FISHER):
        ta = t[active]
        score, fisher, dscore = _score_parts(sub, ta, reml)
        fisher_step = score / fisher
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = ta - score / dscore
        use_newton = (dscore < 0) & _near_root(ta, fisher_step, newton - ta)
        new = np.where(use_newton, newton, ta + fisher_step)
        crossing = np.flatnonzero(new < 0)
        if crossing.size:
            # A step that would cross 0 is halved until it does not, as metafor does
            # (from tau2 = 0 itself that leaves tau2 at 0).
            step = fisher_step[crossing]
            base = ta[crossing]
            while np.any((base + step < 0) & (base > 0)):
                step = np.where(base + step < 0, step / 2.0, step)
            new[crossing] = np.where(base > 0, base + step, 0.0)
        # Halving approaches a boundary maximum geometrically; finish it (metafor stops
        # once a step is below its threshold, a few 1e-12 above 0).
        new = np.where(new < BOUNDARY_SNAP, 0.0, new)
        new = np.where(np.isfinite(new), new, ta)
        done = _converged(new - ta, new, newton=use_newton & (new > 0)) | ((new == 0) & (ta <= BOUNDARY_SNAP))
        t[active] = new
        if done.all():
            break
        if done.any():
            active = active[~done]
            sub = batch.subset(active)
    return _boundary_check(batch, t, reml)


def _boundary_check(batch: Batch, t: np.ndarray, reml: bool) -> np.ndarray:
    """As metafor's ``ll0check``: replace a maximum lower than the likelihood at tau2 = 0 by 0."""
    positive = np.flatnonzero(t > 0)
    if positive.size:
        sub = batch if positive.size == batch.m else batch.subset(positive)
        tp = t[positive]
        worse = _log_likelihood(sub, np.zeros_like(tp), reml) - _log_likelihood(sub, tp, reml) > 1e-10
        t[positive[worse]] = 0.0
    return t


def tau2_ml(batch: Batch, tau2_init=None) -> np.ndarray:
    """Maximum-likelihood estimator.

    Root of the profile score ``sum w^2 (y - mu)^2 - sum w`` on ``tau2 >= 0``
    (Hardy & Thompson 1996, Stat. Med. 15:619-629; metafor ``method="ML"``,
    started like metafor from the Hedges estimate unless warm-started).
    """
    start = tau2_he(batch) if tau2_init is None else tau2_init
    return _likelihood_root(batch, start, reml=False)


def tau2_reml(batch: Batch, tau2_init=None) -> np.ndarray:
    """Restricted maximum-likelihood estimator.

    Root of the REML score ``y'PPy - tr(P)`` on ``tau2 >= 0`` (Viechtbauer
    2005; metafor ``method="REML"``, started from the Hedges estimate unless
    warm-started).
    """
    start = tau2_he(batch) if tau2_init is None else tau2_init
    return _likelihood_root(batch, start, reml=True)
