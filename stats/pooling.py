"""Inverse-variance pooling: fixed-effect and random-effects models.

:func:`pool` fits one meta-analysis; :func:`fit_batch` fits many
intercept-only meta-analyses at once (one per row of a masked ``(m, k)``
array), which is what leave-one-out, cumulative and subgroup analyses use.
Definitions follow metafor ``rma.uni()`` (Viechtbauer 2010, J. Stat. Softw.
36(3)) unless a field's documentation says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from . import _distributions as dist
from ._validation import check_effects, check_flag, check_level, check_method
from .tau2 import ESTIMATORS, Batch, _mean_and_q, solve_q

__all__ = ["PooledEstimate", "pool", "fit_batch"]


@dataclass(frozen=True)
class PooledEstimate:
    """Result of a (fixed- or random-effects) meta-analysis.

    Attributes
    ----------
    k : int
        Number of studies pooled.
    estimate : float
        Pooled effect ``mu = sum(w_i y_i) / sum(w_i)`` with
        ``w_i = 1 / (v_i + tau2)`` (``tau2 = 0`` under FE).
    se : float
        Standard error of ``estimate``: ``sqrt(1 / sum(w_i))``; with
        Hartung-Knapp ``sqrt(s2 / sum(w_i))``, where
        ``s2 = sum w_i (y_i - mu)^2 / (k - 1)`` (Hartung & Knapp 2001,
        Stat. Med. 20:3875-3889; metafor ``test="knha"``, no truncation of s2).
    ci_low, ci_high : float
        ``estimate -/+ c * se``; ``c`` is the standard normal quantile, or the
        t(k - 1) quantile with Hartung-Knapp, at ``(1 + level) / 2``.
    p_value : float
        Two-sided p-value of ``estimate / se`` against N(0, 1), or against
        t(k - 1) with Hartung-Knapp.
    tau2 : float
        Between-study variance by ``method``, floored at 0 (0 for FE);
        NaN when k = 1.
    tau2_ci : tuple of float
        Q-profile confidence interval ``(low, high)`` for tau2 (Viechtbauer
        2007, Stat. Med. 26:37-52; metafor ``confint()``): the values of tau2
        at which the generalised Q statistic equals the upper and lower
        ``(1 - level) / 2`` chi-square(k - 1) quantiles, each set to 0 when
        the equation has no non-negative root. Not limited above (metafor
        caps the search at ``max(100, 10 tau2)``). NaN for FE (no
        random-effects component) and when k = 1.
    i2 : float
        I^2 in percent. Random-effects methods: ``100 tau2 / (tau2 + s2)``
        with metafor's typical within-study variance
        ``s2 = (k - 1) / (sum w - sum w^2 / sum w)``, ``w = 1/v``
        (Higgins & Thompson 2002, Stat. Med. 21:1539-1558, eq. 9); under DL
        this equals ``(Q - df) / Q`` when positive. FE: ``100 max(0, (Q - df) / Q)``
        as metafor reports it (0 when Q = 0). NaN when k = 1.
    i2_ci : tuple of float
        ``tau2_ci`` mapped through the same formula,
        ``100 t / (t + s2)``. NaN for FE and when k = 1.
    h2 : float
        H^2: ``(tau2 + s2) / s2`` for random-effects methods, ``Q / df`` for FE.
        NaN when k = 1.
    q : float
        Cochran's Q with fixed-effect weights ``1/v``, whatever the method.
        NaN when k = 1.
    q_df : int
        Degrees of freedom of Q, ``k - 1``.
    q_p : float
        ``P(chi-square(q_df) > q)``. NaN when k = 1.
    pi_low, pi_high : float
        Prediction interval for the effect in a new study,
        ``estimate -/+ t(k-2) sqrt(tau2 + se^2)`` with the t(k - 2) quantile at
        ``(1 + level) / 2`` (Higgins, Thompson & Spiegelhalter 2009, J. R.
        Stat. Soc. A 172:137-159, eq. 12). ``se`` is the field above (the
        Hartung-Knapp one if requested); ``tau2`` is 0 under FE. NaN when
        k < 3. metafor ``predict()`` uses a normal quantile instead (t(k-1)
        with knha), so its interval is narrower.
    method : str
        The tau2 estimator, one of ``stats.METHODS``.
    hartung_knapp : bool
        Whether the Hartung-Knapp adjustment was applied.
    level : float
        Confidence level of all intervals (e.g. 0.95).
    """

    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    tau2: float
    tau2_ci: tuple[float, float]
    i2: float
    i2_ci: tuple[float, float]
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    method: str
    hartung_knapp: bool
    level: float

    def to_dict(self) -> dict:
        """Plain dict of every field (intervals as 2-element lists)."""
        out = asdict(self)
        out["tau2_ci"] = list(self.tau2_ci)
        out["i2_ci"] = list(self.i2_ci)
        return out

    def describe(self) -> str:
        """How the estimate was made, e.g. ``"REML, Hartung-Knapp, k = 12"``."""
        parts = [self.method]
        if self.hartung_knapp:
            parts.append("Hartung-Knapp")
        parts.append(f"k = {self.k}")
        return ", ".join(parts)


#: Names of every field of PooledEstimate, in order.
POOLED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PooledEstimate))


def fit_batch(batch: Batch, *, method: str, hartung_knapp: bool, level: float,
              tau2_init=None, tau2_ci_init=None) -> dict[str, np.ndarray]:
    """Fit one intercept-only model per subset of a :class:`~stats.tau2.Batch`.

    Parameters
    ----------
    batch : Batch
        The studies and the ``m`` subsets to fit.
    method, hartung_knapp, level
        As :func:`pool` (already validated).
    tau2_init : numpy.ndarray, shape (m,), optional
        Warm start for the iterative estimators.
    tau2_ci_init : tuple of two numpy.ndarray, optional
        Warm starts for the two Q-profile bounds.

    Returns
    -------
    dict of numpy.ndarray
        One array per :class:`PooledEstimate` field (``tau2_ci`` and
        ``i2_ci`` split into ``*_low``/``*_high``), each of length ``m``.
    """
    m = batch.m
    k = batch.k
    multi = k >= 2
    nan = np.full(m, np.nan)
    q_df = k - 1.0

    # Fixed-effect quantities: Q, its df and the typical within-study variance.
    s1, s2 = batch.power_sums(np.zeros(m), 2)
    _, q = _mean_and_q(s1)
    q = np.where(multi, q, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = q_df / (s1[:, 0] - s2[:, 0] / s1[:, 0])

    tau2 = np.zeros(m)
    rows = np.flatnonzero(multi)
    sub = batch if rows.size == m else (batch.subset(rows) if rows.size else None)
    if sub is not None:
        init = None if tau2_init is None else np.asarray(tau2_init, dtype=float)[rows]
        tau2[rows] = ESTIMATORS[method](sub, tau2_init=init)

    s1 = batch.power_sums(tau2, 1)[0]
    sw = s1[:, 0]
    mu, rss = _mean_and_q(s1)
    est = mu + batch.center
    se = np.sqrt(1.0 / sw)
    half = 0.5 + level / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if hartung_knapp:
            # metafor sets s2 to 0 when the weighted RSS is numerically zero.
            s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / q_df)
            se = np.where(multi, np.sqrt(s2w / sw), se)
            crit = np.where(multi, dist.t_quantile(q_df, half), dist.normal_quantile(half))
            stat = est / se
            p_value = np.where(multi, dist.two_sided_t_p(stat, q_df), dist.two_sided_normal_p(stat))
        else:
            crit = np.full(m, dist.normal_quantile(half))
            stat = est / se
            p_value = dist.two_sided_normal_p(stat)

        if method == "FE":
            i2 = np.where(q > 0, np.maximum(0.0, 100.0 * (q - q_df) / q), 0.0)
            h2 = q / q_df
        else:
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0

    tau2_low, tau2_high = nan.copy(), nan.copy()
    if method != "FE" and sub is not None:
        alpha = 1.0 - level
        # The estimate is usually between the bounds, a good start for both searches.
        lo_init = hi_init = tau2
        if tau2_ci_init is not None:
            lo_init = np.asarray(tau2_ci_init[0], dtype=float)[rows]
            hi_init = np.asarray(tau2_ci_init[1], dtype=float)[rows]
        dfr = q_df[rows]
        tau2_low[rows] = solve_q(sub, dist.chi2_upper_quantile(dfr, alpha / 2.0), q0=q[rows], tau2_init=lo_init)
        tau2_high[rows] = solve_q(sub, dist.chi2_upper_quantile(dfr, 1.0 - alpha / 2.0), q0=q[rows],
                                  tau2_init=hi_init)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2_low = 100.0 * tau2_low / (vt + tau2_low)
        i2_high = 100.0 * tau2_high / (vt + tau2_high)
        pi_half = dist.t_quantile(k - 2.0, half) * np.sqrt(tau2 + se**2)

    single = ~multi
    if single.any():
        tau2 = np.where(single, np.nan, tau2)
        i2 = np.where(single, np.nan, i2)
        h2 = np.where(single, np.nan, h2)
    q_p = np.where(multi, dist.chi2_upper_p(q, np.maximum(q_df, 1.0)), np.nan)
    return {
        "k": k.astype(int),
        "estimate": est,
        "se": se,
        "ci_low": est - crit * se,
        "ci_high": est + crit * se,
        "p_value": p_value,
        "tau2": tau2,
        "tau2_low": tau2_low,
        "tau2_high": tau2_high,
        "i2": i2,
        "i2_low": i2_low,
        "i2_high": i2_high,
        "h2": h2,
        "q": q,
        "q_df": q_df.astype(int),
        "q_p": q_p,
        "pi_low": est - pi_half,
        "pi_high": est + pi_half,
    }


def estimate_from_batch(fit: dict[str, np.ndarray], i: int, *, method: str,
                        hartung_knapp: bool, level: float) -> PooledEstimate:
    """Row ``i`` of a :func:`fit_batch` result as a :class:`PooledEstimate`."""
    return PooledEstimate(
        k=int(fit["k"][i]),
        estimate=float(fit["estimate"][i]),
        se=float(fit["se"][i]),
        ci_low=float(fit["ci_low"][i]),
        ci_high=float(fit["ci_high"][i]),
        p_value=float(fit["p_value"][i]),
        tau2=float(fit["tau2"][i]),
        tau2_ci=(float(fit["tau2_low"][i]), float(fit["tau2_high"][i])),
        i2=float(fit["i2"][i]),
        i2_ci=(float(fit["i2_low"][i]), float(fit["i2_high"][i])),
        h2=float(fit["h2"][i]),
        q=float(fit["q"][i]),
        q_df=int(fit["q_df"][i]),
        q_p=float(fit["q_p"][i]),
        pi_low=float(fit["pi_low"][i]),
        pi_high=float(fit["pi_high"][i]),
        method=method,
        hartung_knapp=hartung_knapp,
        level=level,
    )


def check_options(method: object, hartung_knapp: object, level: object) -> tuple[str, bool, float]:
    """Validate the three options every fitting function shares."""
    return check_method(method), check_flag(hartung_knapp, "hartung_knapp"), check_level(level)


def pool(yi, vi, *, method: str = "REML", hartung_knapp: bool = False, level: float = 0.95) -> PooledEstimate:
    """Pool effect sizes with a fixed- or random-effects model.

    Parameters
    ----------
    yi : array_like
        Effect sizes (e.g. from :func:`stats.smd`), one per study.
    vi : array_like
        Their sampling variances, finite and positive.
    method : {"FE", "DL", "REML", "PM", "ML", "HE", "SJ"}, default "REML"
        Estimator of tau2 (metafor ``rma(method=)``); ``"FE"`` is the
        fixed-effect (common-effect) model. Case-insensitive.
    hartung_knapp : bool, default False
        Use the Hartung-Knapp standard error and t(k - 1) intervals
        (metafor ``test="knha"``).
    level : float, default 0.95
        Confidence level for every interval.

    Returns
    -------
    PooledEstimate
        Frozen result; see its attributes for the exact definitions.

    Raises
    ------
    ValueError
        Empty input, lengths that differ, non-finite ``yi``, non-finite or
        non-positive ``vi`` (the message names the positions), an unknown
        method (the message lists the valid ones), a non-boolean
        ``hartung_knapp`` or a ``level`` outside (0, 1).

    Notes
    -----
    With k = 1 the result is that study with its own normal-theory CI
    (Hartung-Knapp is not applicable); tau2, I2, H2, Q and their intervals
    are NaN, as is the prediction interval (k < 3).

    Examples
    --------
    BCG vaccine trials (metafor ``dat.bcg``, log risk ratios):

    >>> import stats
    >>> yi, vi = stats.log_risk_ratio([4, 6, 3], [123, 306, 231], [11, 29, 11], [139, 303, 220])
    >>> res = stats.pool(yi, vi, method="REML")
    >>> res.describe()
    'REML, k = 3'
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    fit = fit_batch(Batch(y, v), method=method, hartung_knapp=hartung_knapp, level=level)
    return estimate_from_batch(fit, 0, method=method, hartung_knapp=hartung_knapp, level=level)
