"""Effect sizes of continuous outcomes from arm data: Hedges' g (SMD) and the raw mean difference (MD)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .._validation import broadcast_vectors, check_nonnegative, format_positions
from .results import EffectSizes, _finish, _missing

__all__ = ["hedges_correction", "smd", "mean_difference"]


def hedges_correction(m: object) -> np.ndarray:
    """Exact small-sample correction factor of Hedges' g.

    Parameters
    ----------
    m : array_like
        Degrees of freedom, ``n1 + n2 - 2``.

    Returns
    -------
    numpy.ndarray
        ``J(m) = Gamma(m/2) / (sqrt(m/2) * Gamma((m-1)/2))``.

    Notes
    -----
    Hedges (1981), J. Educ. Stat. 6:107-128, eq. 6c; metafor ``.cmicalc``.
    Computed on the log scale with ``gammaln`` so large ``m`` does not overflow.
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(gammaln(m / 2.0) - 0.5 * np.log(m / 2.0) - gammaln((m - 1.0) / 2.0))


def _check_arms(m1, sd1, n1, m2, sd2, n2) -> list[np.ndarray]:
    arrays = broadcast_vectors([m1, sd1, n1, m2, sd2, n2], ["m1", "sd1", "n1", "m2", "sd2", "n2"])
    for arr, name in zip(arrays, ["m1", "sd1", "n1", "m2", "sd2", "n2"]):
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise ValueError(f"{name} must be finite; infinite values at positions {format_positions(bad)}")
    check_nonnegative(arrays[1], "sd1")
    check_nonnegative(arrays[4], "sd2")
    check_nonnegative(arrays[2], "n1", strict=True)
    check_nonnegative(arrays[5], "n2", strict=True)
    return arrays


def _pooled_df(n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Degrees of freedom of a pooled SD, ``n1 + n2 - 2``; refused where not positive."""
    df = n1 + n2 - 2.0
    with np.errstate(invalid="ignore"):
        bad_df = np.flatnonzero(df <= 0)
    if bad_df.size:
        raise ValueError(f"n1 + n2 must exceed 2 for a pooled SD; invalid at positions {format_positions(bad_df)}")
    return df


def _hedges_g(diff: np.ndarray, s: np.ndarray, n1: np.ndarray, n2: np.ndarray, df: np.ndarray):
    """g = J(df) diff / s and its large-sample variance (Hedges & Olkin 1985, eq. 5.15; metafor vtype "LS")."""
    yi = hedges_correction(df) * diff / s
    return yi, 1.0 / n1 + 1.0 / n2 + yi**2 / (2.0 * (n1 + n2))


def smd(m1, sd1, n1, m2, sd2, n2) -> EffectSizes:
    """Standardised mean difference, Hedges' g (metafor ``escalc(measure="SMD")``).

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, standard deviation and size of group 1 (peer support).
    m2, sd2, n2 : array_like
        The same for group 2 (control).

    Returns
    -------
    EffectSizes
        ``yi = J(m) (m1 - m2) / s_pooled`` and
        ``vi = 1/n1 + 1/n2 + yi**2 / (2 (n1 + n2))``.

    Raises
    ------
    ValueError
        Lengths differ; negative SDs; non-positive group sizes; ``n1 + n2 <= 2``;
        or a pooled SD of zero. The message names the positions.

    Notes
    -----
    ``s_pooled = sqrt(((n1-1) sd1**2 + (n2-1) sd2**2) / (n1+n2-2))`` and
    ``J(m)`` is the exact correction of :func:`hedges_correction` with
    ``m = n1 + n2 - 2`` (Hedges 1981). The variance is the large-sample
    approximation metafor uses by default (``vtype="LS"``; Hedges & Olkin 1985,
    eq. 5.15, with g in place of d).

    Examples
    --------
    >>> yi, vi = smd(10.0, 2.0, 20, 12.0, 2.0, 20)
    >>> round(float(yi[0]), 4), round(float(vi[0]), 4)
    (-0.9799, 0.112)
    """
    m1, sd1, n1, m2, sd2, n2 = _check_arms(m1, sd1, n1, m2, sd2, n2)
    reasons = _missing(m1, sd1, n1, m2, sd2, n2)
    df = _pooled_df(n1, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_pooled = np.sqrt(((n1 - 1.0) * sd1**2 + (n2 - 1.0) * sd2**2) / df)
        bad_sd = np.flatnonzero(s_pooled == 0)
        if bad_sd.size:
            raise ValueError(f"pooled SD is zero (sd1 and sd2 both 0) at positions {format_positions(bad_sd)}")
        yi, vi = _hedges_g(m1 - m2, s_pooled, n1, n2, df)
    return _finish(yi, vi, reasons, "smd")


def mean_difference(m1, sd1, n1, m2, sd2, n2) -> EffectSizes:
    """Raw mean difference (metafor ``escalc(measure="MD")``).

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, standard deviation and size of group 1 (peer support).
    m2, sd2, n2 : array_like
        The same for group 2 (control).

    Returns
    -------
    EffectSizes
        ``yi = m1 - m2`` and ``vi = sd1**2/n1 + sd2**2/n2`` (no assumption of
        equal variances; metafor's default ``vtype="LS"``).

    Raises
    ------
    ValueError
        Lengths differ, negative SDs or non-positive group sizes.

    Notes
    -----
    Borenstein et al. (2009), Introduction to Meta-Analysis, eq. 4.5.
    """
    m1, sd1, n1, m2, sd2, n2 = _check_arms(m1, sd1, n1, m2, sd2, n2)
    reasons = _missing(m1, sd1, n1, m2, sd2, n2)
    yi = m1 - m2
    vi = sd1**2 / n1 + sd2**2 / n2
    return _finish(yi, vi, reasons, "mean_difference")
