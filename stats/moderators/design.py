"""The mixed-effects model's weighted least squares and its tau^2 estimators, for one data set with moderators.

As :mod:`stats.tau2` (same definitions and the same root finders, metafor
``rma(yi, vi, mods = X)``) with the intercept-only ``P`` replaced by
``P = W - W X (X'WX)^-1 X' W``.
"""

from __future__ import annotations

import numpy as np

from ..tau2 import scalar_likelihood_root, scalar_solve


class _Design:
    """Weighted least-squares pieces of the model at one value of tau2."""

    def __init__(self, y, v, X, tau2):
        self.w = w = 1.0 / (v + tau2)
        xw = X * w[:, None]
        self.A = np.linalg.inv(X.T @ xw)
        self.beta = self.A @ (xw.T @ y)
        self.X = X
        self.resid = y - X @ self.beta
        self.py = w * self.resid  # P y

    def apply_p(self, a):
        """``P a`` with ``P = W - W X A X' W``."""
        wa = self.w * a
        return wa - self.w * (self.X @ (self.A @ (self.X.T @ wa)))

    def tr_p(self):
        b2 = (self.X * (self.w**2)[:, None]).T @ self.X
        return self.w.sum() - np.trace(self.A @ b2)

    def tr_pp(self):
        w = self.w
        b2 = (self.X * (w**2)[:, None]).T @ self.X
        b3 = (self.X * (w**3)[:, None]).T @ self.X
        ab2 = self.A @ b2
        return np.sum(w**2) - 2.0 * np.trace(self.A @ b3) + np.trace(ab2 @ ab2)


def _q_general(y, v, X, tau2):
    d = _Design(y, v, X, tau2)
    return float(d.resid @ d.py), d


def _tau2_moments(y, v, X, method):
    k, p = X.shape
    if method == "DL":
        d = _Design(y, v, X, 0.0)
        return max(0.0, (float(d.resid @ d.py) - (k - p)) / d.tr_p())
    if method in ("HE", "ML", "REML"):
        a = np.linalg.inv(X.T @ X)
        resid = y - X @ (a @ (X.T @ y))
        tr_pv = np.sum(v) - np.trace(a @ ((X * v[:, None]).T @ X))
        return max(0.0, (float(resid @ resid) - tr_pv) / (k - p))
    if method == "SJ":
        # metafor starts from the plain variance of y (divisor k), not the residuals.
        tau0 = float(np.mean((y - y.mean()) ** 2))
        q, _ = _q_general(y, v, X, tau0)
        return tau0 * q / (k - p)
    raise AssertionError(method)


def _solve_q_general(y, v, X, target, q0):
    def q_and_slope(t):
        q, d = _q_general(y, v, X, t)
        return q, float(d.py @ d.py)  # dQ/dtau2 = -y'PPy
    return scalar_solve(q_and_slope, target, q0)


def _score(y, v, X, t, reml):
    d = _Design(y, v, X, t)
    ypp = float(d.py @ d.py)
    yppp = float(d.py @ d.apply_p(d.py))
    if reml:
        score, fisher = ypp - d.tr_p(), d.tr_pp()
    else:
        score, fisher = ypp - d.w.sum(), float(np.sum(d.w**2))
    return score, fisher, fisher - 2.0 * yppp


def _tau2_likelihood(y, v, X, reml):
    """As :func:`stats.tau2.tau2_reml` / ``tau2_ml``, for one data set with moderators."""
    start = _tau2_moments(y, v, X, "REML")  # the Hedges estimate, metafor's start
    t = scalar_likelihood_root(lambda t: _score(y, v, X, t, reml), start)
    if t > 0 and _log_likelihood_general(y, v, X, 0.0, reml) - _log_likelihood_general(y, v, X, t, reml) > 1e-10:
        t = 0.0  # metafor's ll0check
    return t


def _log_likelihood_general(y, v, X, t, reml):
    d = _Design(y, v, X, t)
    ll = -0.5 * float(np.sum(np.log(v + t))) - 0.5 * float(d.resid @ d.py)
    if reml:
        ll -= 0.5 * float(np.linalg.slogdet(np.linalg.inv(d.A))[1])
    return ll


def _tau2_general(y, v, X, method):
    k, p = X.shape
    if method == "FE":
        return 0.0
    if method in ("DL", "HE", "SJ"):
        return _tau2_moments(y, v, X, method)
    if method == "PM":
        q0, _ = _q_general(y, v, X, 0.0)
        return _solve_q_general(y, v, X, float(k - p), q0)
    return _tau2_likelihood(y, v, X, reml=(method == "REML"))
