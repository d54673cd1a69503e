"""Small-study effects: Egger's regression test and trim-and-fill."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import _distributions as dist
from ._results import result_dict
from ._validation import check_effects, check_level
from .pooling import PooledEstimate, check_options, pool

__all__ = ["EggerTest", "TrimAndFill", "egger_test", "trim_and_fill"]

#: Valid values of ``trim_and_fill(side=...)``.
SIDES = ("auto", "left", "right")




@dataclass(frozen=True)
class EggerTest:
    """Egger's regression test for funnel-plot asymmetry.

    Weighted least squares of ``y_i`` on ``sqrt(v_i)`` with weights
    ``1/v_i`` (metafor ``regtest(model="lm", predictor="sei")``), which is
    Egger's regression of ``y_i/se_i`` on ``1/se_i`` with the roles of slope
    and intercept swapped.

    Attributes
    ----------
    intercept : float
        Egger's bias coefficient: the coefficient of ``se_i`` (the intercept
        of the classical standardised regression, Egger et al. 1997, BMJ
        315:629-634).
    se : float
        Its standard error (residual variance estimated, as ``lm``).
    t : float
        ``intercept / se``.
    df : int
        ``k - 2``.
    p_value : float
        Two-sided p-value from t(k - 2).
    limit_estimate : float
        Estimated effect as ``se -> 0`` (the regression intercept; the
        "limit estimate", Rücker et al. 2011, Biostatistics 12:122-142).
    limit_ci_low, limit_ci_high : float
        Its confidence interval with the t(k - 2) quantile at ``(1 + level) / 2``.
    k : int
        Number of studies.
    level : float
        Confidence level of the limit-estimate interval.
    """

    intercept: float
    se: float
    t: float
    df: int
    p_value: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    k: int
    level: float

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def egger_test(yi, vi, *, level: float = 0.95) -> EggerTest:
    """Egger's test for small-study effects (metafor ``regtest(model="lm")``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least three studies).
    level : float, default 0.95
        Confidence level of the limit-estimate interval.

    Returns
    -------
    EggerTest
        See its attributes.

    Raises
    ------
    ValueError
        Fewer than three studies, all effects or all standard errors equal
        (the regression is not identified), or any input error of
        :func:`stats.pool`.
    """
    lev = check_level(level)
    y, v = check_effects(yi, vi)
    k = y.size
    if k < 3:
        raise ValueError(f"egger_test needs at least three studies, got k = {k}")
    if np.ptp(y) == 0:
        raise ValueError("egger_test needs effects that are not all equal (no asymmetry can be measured)")
    sei = np.sqrt(v)
    if np.ptp(sei) == 0:
        raise ValueError("egger_test needs studies with different standard errors; all vi are equal")
    X = np.column_stack([np.ones(k), sei])
    w = 1.0 / v
    xw = X * w[:, None]
    a = np.linalg.inv(X.T @ xw)
    beta = a @ (xw.T @ y)
    resid = y - X @ beta
    df = k - 2
    sigma2 = float(np.sum(w * resid**2)) / df
    cov = a * sigma2
    se = np.sqrt(np.diag(cov))
    t = beta / se
    crit = float(dist.t_quantile(df, 0.5 + lev / 2.0))
    return EggerTest(
        intercept=float(beta[1]), se=float(se[1]), t=float(t[1]), df=df,
        p_value=float(dist.two_sided_t_p(t[1], df)), limit_estimate=float(beta[0]),
        limit_ci_low=float(beta[0] - crit * se[0]), limit_ci_high=float(beta[0] + crit * se[0]),
        k=k, level=lev)


@dataclass(frozen=True)
class TrimAndFill:
    """Duval & Tweedie trim-and-fill (metafor ``trimfill``, estimator L0).

    Attributes
    ----------
    k0 : int
        Estimated number of missing studies, ``max(0, round(L0))`` with
        ``L0 = (4 S_r - k (k + 1)) / (2 k - 1)``, ``S_r`` the sum of the
        positive signed ranks of ``|y_i - mu_trimmed|``.
    se_k0 : float
        Standard error of L0 (Duval & Tweedie 2000, Biometrics 56:455-463).
    side : str
        ``"left"`` or ``"right"``: the side of the funnel where studies are
        imputed. Chosen automatically (``side="auto"``) as metafor does:
        ``"right"`` if the slope of ``sqrt(v)`` in a meta-regression of ``y``
        by the same method is negative, otherwise ``"left"``.
    filled_yi, filled_vi : numpy.ndarray
        The ``k0`` imputed studies: mirror images ``2 mu_trimmed - y_i`` of the
        ``k0`` most extreme studies on the other side, with their variances.
    yi, vi : numpy.ndarray
        Observed studies followed by the imputed ones.
    is_filled : numpy.ndarray of bool
        True for the imputed entries of :attr:`yi`.
    adjusted : PooledEstimate
        The meta-analysis of :attr:`yi`/:attr:`vi` with the original settings.
    original : PooledEstimate
        The meta-analysis of the observed studies alone.
    method, hartung_knapp, level
        Settings used for every fit.
    """

    k0: int
    se_k0: float
    side: str
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    yi: np.ndarray
    vi: np.ndarray
    is_filled: np.ndarray
    adjusted: PooledEstimate
    original: PooledEstimate
    method: str
    hartung_knapp: bool
    level: float

    def to_dict(self) -> dict:
        return result_dict(self)


def _auto_side(y, v, method) -> str:
    from .moderators import meta_regression  # local import: moderators imports pooling too

    slope = meta_regression(y, v, np.sqrt(v), method=method).coefficients[1]
    return "right" if slope < 0 else "left"


def trim_and_fill(yi, vi, *, method: str = "REML", hartung_knapp: bool = False, level: float = 0.95,
                  side: str = "auto", max_iter: int = 100) -> TrimAndFill:
    """Trim-and-fill adjustment for funnel-plot asymmetry (metafor ``trimfill``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least three studies).
    method, hartung_knapp, level
        As :func:`stats.pool`; used for the trimmed fits and the final fit.
    side : {"auto", "left", "right"}, default "auto"
        Side on which to impute studies; ``"auto"`` decides as metafor.
    max_iter : int, default 100
        Iteration limit of the trim step.

    Returns
    -------
    TrimAndFill
        See its attributes.

    Raises
    ------
    ValueError
        Fewer than three studies, an invalid ``side`` (the message lists the
        valid ones), no convergence, or any input error of :func:`stats.pool`.

    Notes
    -----
    Duval & Tweedie (2000), Biometrics 56:455-463 and JASA 95:89-98. Ties in
    the ranks are broken by order of the sorted effects (R ``ties.method =
    "first"``), as metafor.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    k = y.size
    if k < 3:
        raise ValueError(f"trim_and_fill needs at least three studies, got k = {k}")
    if side not in SIDES:
        raise ValueError(f"Invalid side {side!r}; must be one of {list(SIDES)}")
    if side == "auto":
        side = _auto_side(y, v, method)
    original = pool(y, v, method=method, hartung_knapp=hartung_knapp, level=level)
    if np.ptp(y) == 0:
        # All effects equal: a symmetric funnel by construction (the ranks below would be rounding noise).
        empty = np.empty(0)
        return TrimAndFill(k0=0, se_k0=float("nan"), side=side, filled_yi=empty, filled_vi=empty, yi=y, vi=v,
                           is_filled=np.zeros(k, bool), adjusted=original, original=original, method=method,
                           hartung_knapp=hartung_knapp, level=level)
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y, kind="stable")
    ys, vs = sign * y[order], v[order]
    k0, k0_prev, iters = 0, -1, 0
    beta = 0.0
    se_k0 = float("nan")
    while k0 != k0_prev:
        k0_prev = k0
        iters += 1
        if iters > max_iter:
            raise ValueError(f"trim_and_fill did not converge within max_iter = {max_iter} iterations")
        beta = pool(ys[: k - k0], vs[: k - k0], method=method).estimate
        centred = ys - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        s_r = float(np.sum(ranks[centred > 0]))
        l0 = (4.0 * s_r - k * (k + 1)) / (2.0 * k - 1.0)
        var_sr = (k * (k + 1) * (2 * k + 1) + 10 * l0**3 + 27 * l0**2 + 17 * l0
                  - 18 * k * l0**2 - 18 * k * l0 + 6 * k**2 * l0) / 24.0
        se_k0 = max(0.0, 4.0 * np.sqrt(var_sr) / (2.0 * k - 1.0)) if var_sr >= 0 else float("nan")
        k0 = max(0, int(np.round(l0)))
    # Mirror the k0 most extreme studies about the trimmed estimate, back on the original scale.
    filled_yi = sign * (2.0 * beta - ys[k - k0:]) if k0 else np.empty(0)
    filled_vi = vs[k - k0:].copy() if k0 else np.empty(0)
    all_yi = np.concatenate([y, filled_yi])
    all_vi = np.concatenate([v, filled_vi])
    adjusted = pool(all_yi, all_vi, method=method, hartung_knapp=hartung_knapp, level=level) if k0 else original
    return TrimAndFill(k0=k0, se_k0=se_k0, side=side, filled_yi=filled_yi, filled_vi=filled_vi,
                       yi=all_yi, vi=all_vi, is_filled=np.r_[np.zeros(k, bool), np.ones(k0, bool)],
                       adjusted=adjusted, original=original, method=method,
                       hartung_knapp=hartung_knapp, level=level)
