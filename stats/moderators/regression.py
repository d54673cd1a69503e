"""Mixed-effects meta-regression ``y_i = x_i' beta + u_i + e_i`` (metafor ``rma(yi, vi, mods = X)``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _distributions as dist
from .._results import result_dict
from .._validation import check_effects
from ..pooling import check_options
from .design import _Design, _tau2_general

__all__ = ["MetaRegression", "meta_regression"]


@dataclass(frozen=True)
class MetaRegression:
    """Mixed-effects meta-regression (metafor ``rma(yi, vi, mods = X)``).

    Attributes
    ----------
    names : tuple of str
        Coefficient names: ``"intercept"`` then the moderator names.
    coefficients : numpy.ndarray
        ``beta = (X'WX)^-1 X'W y`` with ``W = diag(1/(v + tau2))``.
    se : numpy.ndarray
        ``sqrt(diag((X'WX)^-1))``, times ``sqrt(s2)`` with Hartung-Knapp,
        ``s2 = sum w (y - X beta)^2 / (k - p)``.
    ci_low, ci_high : numpy.ndarray
        ``beta -/+ c se`` with the normal (or, with Hartung-Knapp, t(k - p))
        quantile at ``(1 + level) / 2``.
    statistic : numpy.ndarray
        ``beta / se`` (z, or t with Hartung-Knapp).
    p_values : numpy.ndarray
        Two-sided p-values of ``statistic``.
    qm : float
        Omnibus test of the moderators (all coefficients but the intercept):
        Wald chi-square ``b' V^-1 b``; with Hartung-Knapp that divided by the
        number of tested coefficients, an F statistic.
    qm_df : tuple of int
        ``(m,)`` for the chi-square test, ``(m, k - p)`` for the F test.
    qm_p : float
        p-value of ``qm``.
    tau2 : float
        Residual between-study variance (floored at 0; 0 for FE).
    i2 : float
        Residual I^2 in percent, ``100 tau2 / (tau2 + s2)`` with
        ``s2 = (k - p) / tr(P)``, ``P`` the fixed-effect residual-maker
        (FE: ``100 max(0, (QE - (k - p)) / QE)``).
    h2 : float
        Residual H^2, ``(tau2 + s2) / s2`` (FE: ``QE / (k - p)``).
    qe, qe_df, qe_p : float, int, float
        Test for residual heterogeneity: ``y'P y`` with fixed-effect weights,
        ``k - p`` degrees of freedom.
    r2 : float
        Pseudo-R^2 in percent, ``100 max(0, (tau2_0 - tau2) / tau2_0)`` with
        ``tau2_0`` from the intercept-only model by the same method
        (Raudenbush 2009; metafor default); 0 when ``tau2_0 = 0``. For FE the
        adjusted R^2 of the weighted least-squares fit, as metafor. NaN when
        there is no intercept.
    k, p : int
        Studies and coefficients.
    method, hartung_knapp, level
        Settings of the fit.

    Notes
    -----
    Viechtbauer (2010), J. Stat. Softw. 36(3), section 3; Knapp & Hartung
    (2003), Stat. Med. 22:2693-2710.
    """

    names: tuple[str, ...]
    coefficients: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    statistic: np.ndarray
    p_values: np.ndarray
    qm: float
    qm_df: tuple[int, ...]
    qm_p: float
    tau2: float
    i2: float
    h2: float
    qe: float
    qe_df: int
    qe_p: float
    r2: float
    k: int
    p: int
    method: str
    hartung_knapp: bool
    level: float

    def to_dict(self) -> dict:
        return result_dict(self)


def _moderator_matrix(X, k: int, names) -> tuple[np.ndarray, tuple[str, ...]]:
    try:
        mods = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("X must be numeric (one row per study, one column per moderator)") from None
    if mods.ndim == 1:
        mods = mods[:, None]
    if mods.ndim != 2:
        raise ValueError(f"X must be one- or two-dimensional, got shape {mods.shape}")
    if mods.shape[0] != k:
        raise ValueError(f"Arguments must have the same length: yi has {k}, X has {mods.shape[0]} rows")
    bad = np.argwhere(~np.isfinite(mods))
    if bad.size:
        cells = ", ".join(f"(row {r}, column {c})" for r, c in bad[:10])
        raise ValueError(f"X must be finite; missing or infinite values at {cells}")
    if names is None:
        names = tuple(f"x{j + 1}" for j in range(mods.shape[1]))
    else:
        names = tuple(str(n) for n in names)
        if len(names) != mods.shape[1]:
            raise ValueError(f"names has {len(names)} entries but X has {mods.shape[1]} columns")
    return mods, names


def meta_regression(yi, vi, X, *, method: str = "REML", hartung_knapp: bool = False,
                    level: float = 0.95, names=None, intercept: bool = True) -> MetaRegression:
    """Meta-regression on study-level moderators (metafor ``rma(mods = X)``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    X : array_like, shape (k,) or (k, q)
        Moderators, one row per study (an intercept is added unless
        ``intercept=False``). Code categorical moderators as 0/1 columns.
    method, hartung_knapp, level
        As :func:`stats.pool`; ``hartung_knapp=True`` gives t and F tests
        (metafor ``test="knha"``).
    names : sequence of str, optional
        Moderator names (default ``x1, x2, ...``).
    intercept : bool, default True
        Add an intercept column.

    Returns
    -------
    MetaRegression
        See its attributes for the formulas.

    Raises
    ------
    ValueError
        Non-finite moderators (naming row and column), a design that is not
        of full rank, too few studies (k must exceed the number of
        coefficients, or equal it under FE), or any input error of
        :func:`stats.pool`.
    """
    method, hartung_knapp, level = check_options(method, hartung_knapp, level)
    y, v = check_effects(yi, vi)
    k = y.size
    mods, mod_names = _moderator_matrix(X, k, names)
    if intercept:
        design = np.column_stack([np.ones(k), mods])
        all_names = ("intercept",) + mod_names
    else:
        design, all_names = mods, mod_names
    p = design.shape[1]
    if np.linalg.matrix_rank(design) < p:
        raise ValueError("X is not of full rank: some moderators are constant or collinear "
                         "(with each other or with the intercept)")
    needed = p if method == "FE" else p + 1
    if k < needed:
        raise ValueError(f"meta_regression with {p} coefficients and method {method!r} needs at least "
                         f"{needed} studies, got k = {k}")

    tau2 = _tau2_general(y, v, design, method)
    fit = _Design(y, v, design, tau2)
    vb = fit.A.copy()
    df_resid = k - p
    half = 0.5 + level / 2.0
    if hartung_knapp:
        rss = float(fit.resid @ fit.py)
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / df_resid
        vb = vb * s2w
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = fit.beta / se
    tested = np.arange(1, p) if intercept and p > 1 else np.arange(p)
    if tested.size:
        b = fit.beta[tested]
        try:
            qm = float(b @ np.linalg.solve(vb[np.ix_(tested, tested)], b))
        except np.linalg.LinAlgError:
            qm = float("nan")
    else:
        qm = float("nan")
    if hartung_knapp:
        crit = dist.t_quantile(df_resid, half)
        p_values = dist.two_sided_t_p(stat, df_resid)
        qm = qm / tested.size if tested.size else qm
        qm_df: tuple[int, ...] = (int(tested.size), int(df_resid))
        qm_p = float(dist.f_upper_p(qm, tested.size, df_resid)) if df_resid > 0 else float("nan")
    else:
        crit = dist.normal_quantile(half)
        p_values = dist.two_sided_normal_p(stat)
        qm_df = (int(tested.size),)
        qm_p = float(dist.chi2_upper_p(qm, tested.size))

    fe = _Design(y, v, design, 0.0)
    if df_resid > 0:
        qe = max(0.0, float(fe.resid @ fe.py))
        qe_p = float(dist.chi2_upper_p(qe, df_resid))
        vt = df_resid / fe.tr_p()
        if method == "FE":
            i2 = max(0.0, 100.0 * (qe - df_resid) / qe) if qe > 0 else 0.0
            h2 = qe / df_resid
        else:
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        qe, qe_p, i2, h2 = 0.0, 1.0, 0.0, 1.0

    r2 = _pseudo_r2(y, v, design, tau2, method) if intercept and p > 1 else float("nan")
    return MetaRegression(
        names=all_names, coefficients=fit.beta, se=se, ci_low=fit.beta - crit * se,
        ci_high=fit.beta + crit * se, statistic=stat, p_values=np.asarray(p_values, dtype=float),
        qm=qm, qm_df=qm_df, qm_p=qm_p, tau2=float(tau2), i2=float(i2), h2=float(h2), qe=float(qe),
        qe_df=int(df_resid), qe_p=qe_p, r2=float(r2), k=int(k), p=int(p), method=method,
        hartung_knapp=hartung_knapp, level=level)


def _pseudo_r2(y, v, design, tau2, method) -> float:
    """Proportional reduction in tau^2 relative to the intercept-only model (metafor r2def "1")."""
    k, p = design.shape
    if method == "FE":
        if np.all(y == y[0]):
            return 0.0
        w = 1.0 / v
        fit = _Design(y, v, design, 0.0)
        rss = float(np.sum(w * fit.resid**2))
        ybar = np.sum(w * y) / np.sum(w)
        tss = float(np.sum(w * (y - ybar) ** 2))
        adj = 1.0 - (rss / tss) * (k - 1) / (k - p)
        return max(0.0, 100.0 * adj)
    tau2_0 = _tau2_general(y, v, np.ones((k, 1)), method)
    if tau2_0 == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_0 - tau2) / tau2_0)
