"""Effect sizes derived from reported intervals, and conversions between scales.

From a reported estimate and its confidence interval (:func:`from_confidence_interval`), Hedges' g from a
mean difference and its interval (:func:`smd_from_mean_difference_ci`), and log odds ratios to SMDs
(:func:`log_odds_ratio_to_smd`, Chinn 2000).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri, stdtrit

from .._validation import broadcast_vectors, check_level, check_nonnegative, format_positions
from .continuous import _hedges_g, _pooled_df
from .results import EffectSizes, _finish, _missing

__all__ = ["from_confidence_interval", "smd_from_mean_difference_ci", "log_odds_ratio_to_smd"]


def from_confidence_interval(estimate, ci_low, ci_high, ratio: bool = False, level: float = 0.95) -> EffectSizes:
    """Effect size and variance from a reported estimate and its confidence interval.

    Parameters
    ----------
    estimate, ci_low, ci_high : array_like
        Reported effect and CI bounds. For ratios give the ratio itself
        (e.g. an odds ratio of 0.8), not its logarithm.
    ratio : bool, default False
        If True, work on the log scale: ``yi = log(estimate)`` and the bounds
        are logged before the standard error is derived.
    level : float, default 0.95
        Confidence level of the reported interval.

    Returns
    -------
    EffectSizes
        ``yi`` (log scale for ratios) and
        ``vi = ((ci_high - ci_low) / (2 z))**2`` with ``z`` the standard normal
        quantile at ``(1 + level) / 2``.

    Raises
    ------
    ValueError
        ``ci_low >= ci_high``, an estimate outside its interval, a non-positive
        ratio or bound when ``ratio=True``, or an invalid ``level``.

    Notes
    -----
    Cochrane Handbook for Systematic Reviews of Interventions v6.4, section
    6.3.1 (SE from a CI) and 6.3.2 (ratio measures on the log scale).
    """
    lev = check_level(level)
    if not isinstance(ratio, (bool, np.bool_)):
        raise ValueError(f"ratio must be True or False, got {ratio!r}")
    est, lo, hi = broadcast_vectors([estimate, ci_low, ci_high], ["estimate", "ci_low", "ci_high"])
    reasons = _missing(est, lo, hi)
    _check_interval(est, lo, hi, ratio)
    if ratio:
        est, lo, hi = np.log(est), np.log(lo), np.log(hi)
    z = float(ndtri(0.5 + lev / 2.0))
    yi = est.astype(float, copy=True)
    vi = ((hi - lo) / (2.0 * z)) ** 2
    return _finish(yi, vi, reasons, "from_confidence_interval")


def _check_interval(est: np.ndarray, lo: np.ndarray, hi: np.ndarray, ratio: bool = False) -> None:
    """Finite values, ``ci_low < ci_high`` and the estimate inside its interval (positive for ratios)."""
    for arr, name in ((est, "estimate"), (lo, "ci_low"), (hi, "ci_high")):
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise ValueError(f"{name} must be finite; infinite values at positions {format_positions(bad)}")
        if ratio:
            check_nonnegative(arr, name, strict=True)
    with np.errstate(invalid="ignore"):
        inverted = np.flatnonzero(lo >= hi)
        outside = np.flatnonzero((est < lo) | (est > hi))
    if inverted.size:
        raise ValueError(f"ci_low must be below ci_high; violated at positions {format_positions(inverted)}")
    if outside.size:
        raise ValueError(f"estimate lies outside [ci_low, ci_high] at positions {format_positions(outside)}")


def smd_from_mean_difference_ci(md, ci_low, ci_high, n1, n2, level: float = 0.95) -> EffectSizes:
    """Hedges' g from a reported mean difference, its confidence interval and the two group sizes.

    Parameters
    ----------
    md, ci_low, ci_high : array_like
        Mean difference (group 1 minus group 2, group 1 = peer support) and its CI bounds.
    n1, n2 : array_like
        Group sizes the difference was computed from.
    level : float, default 0.95
        Confidence level of the reported interval.

    Returns
    -------
    EffectSizes
        ``yi = J(m) md / s`` and ``vi = 1/n1 + 1/n2 + yi**2 / (2 (n1 + n2))`` as :func:`smd`, where
        ``s = se / sqrt(1/n1 + 1/n2)`` is the pooled SD implied by ``se = (ci_high - ci_low) /
        (2 t)``, with ``t`` the t quantile at ``(1 + level) / 2`` on ``m = n1 + n2 - 2`` degrees of
        freedom.

    Raises
    ------
    ValueError
        As :func:`from_confidence_interval` for the interval; non-positive group sizes or
        ``n1 + n2 <= 2``.

    Notes
    -----
    Cochrane Handbook v6.4, section 6.5.2.3 (SDs from the CI of a difference in means, with the t
    distribution on n1 + n2 - 2 degrees of freedom for small samples). It assumes the interval came
    from a pooled-variance t or z interval; for an adjusted difference (ANCOVA) the SD is that of the
    residuals, so g is on a slightly different scale. Arm data, when reported, are better.
    """
    lev = check_level(level)
    est, lo, hi, n1, n2 = broadcast_vectors([md, ci_low, ci_high, n1, n2], ["md", "ci_low", "ci_high", "n1", "n2"])
    reasons = _missing(est, lo, hi, n1, n2)
    _check_interval(est, lo, hi)
    check_nonnegative(n1, "n1", strict=True)
    check_nonnegative(n2, "n2", strict=True)
    df = _pooled_df(n1, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = _t_quantile(0.5 + lev / 2.0, df)
        sd = (hi - lo) / (2.0 * t) / np.sqrt(1.0 / n1 + 1.0 / n2)
        yi, vi = _hedges_g(est, sd, n1, n2, df)
    return _finish(yi, vi, reasons, "smd_from_mean_difference_ci")


def _t_quantile(p: float, df: np.ndarray) -> np.ndarray:
    return stdtrit(np.where(np.isnan(df), 1.0, df), p)


def log_odds_ratio_to_smd(yi, vi) -> EffectSizes:
    """Convert log odds ratios to standardised mean differences (Chinn 2000).

    Parameters
    ----------
    yi, vi : array_like
        Log odds ratios and their sampling variances.

    Returns
    -------
    EffectSizes
        ``yi * sqrt(3) / pi`` and ``vi * 3 / pi**2``.

    Notes
    -----
    Chinn S. (2000), Stat. Med. 19:3127-3131, which treats the logistic
    distribution's SD (pi / sqrt(3)) as the scale; Cochrane Handbook v6.4,
    section 10.6.
    """
    y, v = broadcast_vectors([yi, vi], ["yi", "vi"])
    check_nonnegative(v, "vi")
    reasons = _missing(y, v)
    factor = math.sqrt(3.0) / math.pi
    return _finish(y * factor, v * factor**2, reasons, "log_odds_ratio_to_smd")
