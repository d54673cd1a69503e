"""Quantiles and tail probabilities through scipy.special ufuncs.

``scipy.stats`` distribution objects cost tens of microseconds per call;
the ufuncs below cost about one, which matters when every click recomputes
hundreds of fits.
"""

from __future__ import annotations

import numpy as np
from scipy.special import chdtrc, chdtri, fdtrc, ndtr, ndtri, stdtr, stdtrit


def normal_quantile(p):
    """Standard normal quantile."""
    return ndtri(p)


def two_sided_normal_p(z):
    """``2 P(Z > |z|)``."""
    return 2.0 * ndtr(-np.abs(z))


def t_quantile(df, p):
    """Student t quantile with ``df`` degrees of freedom (NaN where df <= 0)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stdtrit(np.where(df > 0, df, 1.0), p), np.nan)


def two_sided_t_p(t, df):
    """``2 P(T_df > |t|)`` (NaN where df <= 0)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, 2.0 * stdtr(np.where(df > 0, df, 1.0), -np.abs(t)), np.nan)


def chi2_upper_p(x, df):
    """``P(X_df > x)`` for a chi-square variable."""
    return chdtrc(df, x)


def chi2_upper_quantile(df, p):
    """``x`` with ``P(X_df > x) = p``."""
    return chdtri(df, p)


def f_upper_p(x, df1, df2):
    """``P(F_{df1, df2} > x)``."""
    return fdtrc(df1, df2, x)
