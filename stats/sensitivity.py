"""Sensitivity analyses that refit with the settings of the original fit.

Leave-one-out (metafor ``leave1out``), influence diagnostics (metafor
``influence``) and cumulative meta-analysis (metafor ``cumul``). All refits
of one analysis run as a single vectorised batch (see
:func:`stats.pooling.fit_batch`), warm-started from the full-data fit, so
k = 1000 leave-one-out takes a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import _distributions as dist
from ._results import result_dict
from ._validation import check_effects, check_same_length, format_positions
from .pooling import PooledEstimate, check_options, estimate_from_batch, fit_batch
from .tau2 import Batch

__all__ = ["EstimateSeries", "Influence", "leave_one_out", "influence", "cumulative"]

#: Largest number of batch cells (refits x studies) processed at once; bounds
#: memory at about 16 MB per temporary array.
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class EstimateSeries:
    """A sequence of :class:`~stats.PooledEstimate` refits of one data set.

    Iterating, indexing and ``len()`` go through :attr:`estimates`.

    Attributes
    ----------
    kind : str
        ``"leave_one_out"`` or ``"cumulative"``.
    positions : tuple of int
        0-based input position of the study each refit concerns: the omitted
        study (leave-one-out) or the study added at that step (cumulative).
    estimates : tuple of PooledEstimate
        One refit per entry of :attr:`positions`.
    method, hartung_knapp, level
        Settings shared by all refits.
    k : int
        Number of studies in the full data set.
    """

    kind: str
    positions: tuple[int, ...]
    estimates: tuple[PooledEstimate, ...]
    method: str
    hartung_knapp: bool
    level: float
    k: int

    def __iter__(self):
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, i):
        return self.estimates[i]

    def column(self, name: str) -> np.ndarray:
        """One field of every refit as an array, e.g. ``series.column("estimate")``."""
        valid = [f.name for f in fields(PooledEstimate)]
        if name not in valid:
            raise ValueError(f"Invalid field {name!r}; must be one of {valid}")
        return np.array([getattr(e, name) for e in self.estimates])

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "positions": list(self.positions),
            "estimates": [e.to_dict() for e in self.estimates],
            "method": self.method,
            "hartung_knapp": self.hartung_knapp,
            "level": self.level,
            "k": self.k,
        }


def _run_chunked(y, v, *, mask=None, drop=None, method, hartung_knapp, level, full: PooledEstimate | None):
    """fit_batch over chunks of subsets, warm-started from the full fit when given."""
    m = mask.shape[0] if mask is not None else drop.size
    step = max(1, _CHUNK_CELLS // max(y.size, 1))
    center = Batch(y, v).center
    parts = []
    for start in range(0, m, step):
        sl = slice(start, min(m, start + step))
        rows = sl.stop - sl.start
        batch = Batch(y, v, mask=None if mask is None else mask[sl], drop=None if drop is None else drop[sl],
                      _center=center)
        init = ci_init = None
        if full is not None and np.isfinite(full.tau2):
            # Only roots that are unique may be warm-started: the (restricted)
            # likelihood can have several maxima, and refits must find the one
            # a fit of that subset from the usual start finds (as metafor).
            if method == "PM":
                init = np.full(rows, full.tau2)
            if np.all(np.isfinite(full.tau2_ci)):
                ci_init = (np.full(rows, full.tau2_ci[0]), np.full(rows, full.tau2_ci[1]))
        parts.append(fit_batch(batch, method=method, hartung_knapp=hartung_knapp,
                               level=level, tau2_init=init, tau2_ci_init=ci_init))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _leave_one_out_batch(y, v, *, method, hartung_knapp, level, full):
    return _run_chunked(y, v, drop=np.arange(y.size), method=method, hartung_knapp=hartung_knapp,
                        level=level, full=full)


def _full_fit(y, v, method, hartung_knapp, level) -> PooledEstimate:
    fit = fit_batch(Batch(y, v), method=method, hartung_knapp=hartung_knapp, level=level)
    return estimate_from_batch(fit, 0, method=method, hartung_knapp=hartung_knapp, level=level)


def leave_one_out(yi, vi, *, method: str = "REML", hartung_knapp: bool = False,
                  level: float = 0.95) -> EstimateSeries:
    """Refit the meta-analysis once without each study (metafor ``leave1out``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least two studies).
    method, hartung_knapp, level
        As :func:`stats.pool`; every refit uses the same settings.

    Returns
    -------
    EstimateSeries
        ``kind="leave_one_out"``; element ``i`` is the fit without study
        ``i`` (``positions == (0, ..., k-1)``). With k = 2 each refit has a
        single study (NaN heterogeneity, see :func:`stats.pool`).

    Raises
    ------
    ValueError
        Fewer than two studies, or any input error of :func:`stats.pool`.

    Notes
    -----
    All k refits run as one batch; Paule-Mandel and the Q-profile bounds,
    whose roots are unique, are warm-started at the full-data values.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    if y.size < 2:
        raise ValueError(f"leave_one_out needs at least two studies, got k = {y.size}")
    full = _full_fit(y, v, method, hartung_knapp, level)
    fit = _leave_one_out_batch(y, v, method=method, hartung_knapp=hartung_knapp, level=level, full=full)
    estimates = tuple(estimate_from_batch(fit, i, method=method, hartung_knapp=hartung_knapp, level=level)
                      for i in range(y.size))
    return EstimateSeries("leave_one_out", tuple(range(y.size)), estimates, method, hartung_knapp, level, y.size)


@dataclass(frozen=True)
class Influence:
    """Case-deletion diagnostics per study (metafor ``influence.rma.uni``).

    Every array has one entry per study, in input order. ``mu`` is the
    pooled estimate, ``mu_(-i)`` the estimate without study ``i``, ``w`` the
    full-fit weights ``1/(v + tau2)`` and ``s2_(-i)`` the Hartung-Knapp
    factor of the refit (1 without Hartung-Knapp).

    Attributes
    ----------
    rstudent : numpy.ndarray
        Externally studentised residual
        ``(y_i - mu_(-i)) / sqrt(s2_(-i) (v_i + tau2_(-i)) + var(mu_(-i)))``.
    dffits : numpy.ndarray
        ``(mu - mu_(-i)) / sqrt(s2_(-i) h_i (tau2_(-i) + v_i))``.
    cook_d : numpy.ndarray
        Cook's distance ``(mu - mu_(-i))^2 / var(mu)``.
    cov_r : numpy.ndarray
        Covariance ratio ``var(mu_(-i)) / var(mu)``.
    tau2_del : numpy.ndarray
        tau^2 of the refit without study ``i`` (NaN when that leaves one
        study; metafor reports 0 there).
    q_del : numpy.ndarray
        Cochran's Q without study ``i`` (NaN when that leaves one study).
    hat : numpy.ndarray
        Leverage ``h_i = w_i / sum(w)``.
    weight : numpy.ndarray
        Weight in percent, ``100 h_i``.
    dfbetas : numpy.ndarray
        ``(mu - mu_(-i)) / sqrt(s2_(-i) / sum_j 1/(v_j + tau2_(-i)))``.
    is_influential : numpy.ndarray of bool
        metafor's rule: ``|dffits| > 3 sqrt(1/(k-1))``, or
        ``P(chi2_1 <= cook_d) > 0.5``, or ``hat > 3/k``, or ``|dfbetas| > 1``.
    method, hartung_knapp, level, k
        Settings of the fit and number of studies.

    Notes
    -----
    Viechtbauer & Cheung (2010), Res. Synth. Methods 1:112-125.
    """

    rstudent: np.ndarray
    dffits: np.ndarray
    cook_d: np.ndarray
    cov_r: np.ndarray
    tau2_del: np.ndarray
    q_del: np.ndarray
    hat: np.ndarray
    weight: np.ndarray
    dfbetas: np.ndarray
    is_influential: np.ndarray
    method: str
    hartung_knapp: bool
    level: float
    k: int

    def to_dict(self) -> dict:
        return result_dict(self)


def influence(yi, vi, *, method: str = "REML", hartung_knapp: bool = False,
              level: float = 0.95) -> Influence:
    """Influence diagnostics for every study (metafor ``influence()``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least two studies).
    method, hartung_knapp, level
        As :func:`stats.pool`.

    Returns
    -------
    Influence
        See its attributes for each formula.

    Raises
    ------
    ValueError
        Fewer than two studies, or any input error of :func:`stats.pool`.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    k = y.size
    if k < 2:
        raise ValueError(f"influence needs at least two studies, got k = {k}")
    full = _full_fit(y, v, method, hartung_knapp, level)
    loo = _leave_one_out_batch(y, v, method=method, hartung_knapp=hartung_knapp, level=level, full=full)
    tau2_full = full.tau2
    # A refit of one study has tau2 = 0 in the weights (metafor fits k = 1 with tau2 = 0).
    tau2_del = loo["tau2"]
    tau2_used = np.where(np.isfinite(tau2_del), tau2_del, 0.0)
    w = 1.0 / (v + tau2_full)
    hat = w / w.sum()
    var_full = full.se**2
    mu_del = loo["estimate"]
    var_del = loo["se"] ** 2
    # s2 of each refit: its Hartung-Knapp factor, recovered from se^2 * sum(w_(-i)).
    sw_del = _loo_weight_sums(v, tau2_used)
    s2_del = var_del * sw_del if hartung_knapp else np.ones(k)
    diff = full.estimate - mu_del
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = y - mu_del
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        rstudent = resid / np.sqrt(v * s2_del + var_del + tau2_used * s2_del)
        dffits = diff / np.sqrt(s2_del * hat * (tau2_used + v))
        sw_all = _all_weight_sums(v, tau2_used)
        dfbetas = diff / np.sqrt(s2_del / sw_all)
        cook_d = diff**2 / var_full
        cov_r = var_del / var_full
        is_infl = (np.abs(dffits) > 3.0 * np.sqrt(1.0 / (k - 1.0))) \
            | (1.0 - dist.chi2_upper_p(cook_d, 1.0) > 0.5) \
            | (hat > 3.0 / k) | (np.abs(dfbetas) > 1.0)
    return Influence(rstudent=rstudent, dffits=dffits, cook_d=cook_d, cov_r=cov_r, tau2_del=tau2_del,
                     q_del=loo["q"], hat=hat, weight=100.0 * hat, dfbetas=dfbetas,
                     is_influential=np.asarray(is_infl, dtype=bool), method=method,
                     hartung_knapp=hartung_knapp, level=level, k=k)


def _all_weight_sums(v: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """``sum_j 1/(v_j + tau2_i)`` for each ``i``, in row chunks."""
    k = v.size
    out = np.empty(tau2.size)
    step = max(1, _CHUNK_CELLS // k)
    for start in range(0, tau2.size, step):
        t = tau2[start:start + step]
        out[start:start + step] = (1.0 / (v[None, :] + t[:, None])).sum(axis=1)
    return out


def _loo_weight_sums(v: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """``sum_{j != i} 1/(v_j + tau2_i)`` for each ``i``."""
    return _all_weight_sums(v, tau2) - 1.0 / (v + tau2)


def cumulative(yi, vi, order=None, *, method: str = "REML", hartung_knapp: bool = False,
               level: float = 0.95) -> EstimateSeries:
    """Cumulative meta-analysis: add studies one at a time (metafor ``cumul``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    order : array_like, optional
        Sort key per study (e.g. publication year); studies enter in
        increasing order of the key, ties in input order (a stable sort, as
        R's ``order()``). Default: input order.
    method, hartung_knapp, level
        As :func:`stats.pool`.

    Returns
    -------
    EstimateSeries
        ``kind="cumulative"``; element ``j`` pools the first ``j + 1``
        studies in the chosen order and ``positions[j]`` is the input
        position of the study added at step ``j``. The first element has
        k = 1 (NaN heterogeneity, see :func:`stats.pool`).

    Raises
    ------
    ValueError
        ``order`` of the wrong length or with missing values, or any input
        error of :func:`stats.pool`.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    k = y.size
    if order is None:
        perm = np.arange(k)
    else:
        key = np.asarray(order)
        if key.ndim != 1:
            raise ValueError(f"order must be one-dimensional, got shape {key.shape}")
        check_same_length([y, key], ["yi", "order"])
        if key.dtype.kind in "fc":
            bad = np.flatnonzero(np.isnan(key))
            if bad.size:
                raise ValueError(f"order has missing values at positions {format_positions(bad)}")
        perm = np.argsort(key, kind="stable")
    mask = np.tril(np.ones((k, k)))
    fit = _run_chunked(y[perm], v[perm], mask=mask, method=method, hartung_knapp=hartung_knapp, level=level,
                       full=None)
    estimates = tuple(estimate_from_batch(fit, j, method=method, hartung_knapp=hartung_knapp, level=level)
                      for j in range(k))
    return EstimateSeries("cumulative", tuple(int(p) for p in perm), estimates, method, hartung_knapp, level, k)
