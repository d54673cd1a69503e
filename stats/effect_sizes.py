"""Effect sizes and their sampling variances, vectorised over studies.

Every function returns an :class:`EffectSizes` pair ``(yi, vi)`` of numpy
arrays (unpack it as ``yi, vi = stats.smd(...)``) following metafor's
``escalc()`` definitions. Group 1 is always the peer-support arm, so a
positive mean difference or SMD means a higher score under peer support.

A study whose inputs are missing, or whose 2x2 table has no events (or only
events) in both arms, gets ``NaN`` for ``yi`` and ``vi``; its position and the
reason are listed in :attr:`EffectSizes.excluded` and announced with a
:class:`StatsWarning`. Impossible inputs (negative counts, more events than
participants, a lower CI bound above the upper one, ...) raise ``ValueError``
naming the argument and positions.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, ndtri, stdtrit

from ._validation import broadcast_vectors, check_level, check_nonnegative, format_positions

__all__ = [
    "EffectSizes",
    "Exclusion",
    "StatsWarning",
    "smd",
    "mean_difference",
    "log_risk_ratio",
    "log_odds_ratio",
    "from_confidence_interval",
    "log_odds_ratio_to_smd",
    "hedges_correction",
    "drop_missing",
]

#: Reason recorded for a study with a missing (NaN) input value.
REASON_MISSING = "missing input value"
#: Reason recorded for a 2x2 table with no events in either arm (metafor ``drop00``).
REASON_NO_EVENTS = "no events in either arm (double-zero study carries no information on a ratio)"
#: Reason recorded for a 2x2 table where everyone had the event in both arms (metafor ``drop00``).
REASON_ALL_EVENTS = "all participants had the event in both arms (no information on a ratio)"


class StatsWarning(UserWarning):
    """Warning raised when studies are set to NaN or dropped, saying how many and why."""


@dataclass(frozen=True)
class Exclusion:
    """A study that got no effect size.

    Attributes
    ----------
    position : int
        0-based position of the study in the input arrays.
    reason : str
        Plain-language reason (one of the ``REASON_*`` constants).
    """

    position: int
    reason: str

    def to_dict(self) -> dict:
        return {"position": self.position, "reason": self.reason}


class EffectSizes(tuple):
    """``(yi, vi)`` pair of float arrays, plus the studies that were excluded.

    Behaves as a 2-tuple so ``yi, vi = stats.smd(...)`` works; the attributes
    :attr:`yi`, :attr:`vi` and :attr:`excluded` give named access.
    """

    excluded: tuple[Exclusion, ...]

    def __new__(cls, yi: np.ndarray, vi: np.ndarray, excluded: tuple[Exclusion, ...] = ()):
        obj = super().__new__(cls, (yi, vi))
        obj.excluded = tuple(excluded)
        return obj

    @property
    def yi(self) -> np.ndarray:
        """Effect sizes (NaN for excluded studies)."""
        return self[0]

    @property
    def vi(self) -> np.ndarray:
        """Sampling variances (NaN for excluded studies)."""
        return self[1]

    def to_dict(self) -> dict:
        return {
            "yi": self.yi.tolist(),
            "vi": self.vi.tolist(),
            "excluded": [e.to_dict() for e in self.excluded],
        }


def _finish(yi: np.ndarray, vi: np.ndarray, reasons: dict[int, str], what: str) -> EffectSizes:
    """Blank out excluded studies, warn once, and wrap the result."""
    excluded = tuple(Exclusion(pos, reasons[pos]) for pos in sorted(reasons))
    if excluded:
        idx = np.array(sorted(reasons), dtype=int)
        yi[idx] = np.nan
        vi[idx] = np.nan
        by_reason: dict[str, list[int]] = {}
        for e in excluded:
            by_reason.setdefault(e.reason, []).append(e.position)
        detail = "; ".join(f"{r} at positions {format_positions(p)}" for r, p in by_reason.items())
        warnings.warn(
            f"{what}: {len(excluded)} of {len(yi)} studies set to NaN ({detail})",
            StatsWarning,
            stacklevel=3,
        )
    return EffectSizes(yi, vi, excluded)


def _missing(*arrays: np.ndarray) -> dict[int, str]:
    mask = np.zeros(len(arrays[0]), dtype=bool)
    for a in arrays:
        mask |= np.isnan(a)
    return {int(i): REASON_MISSING for i in np.flatnonzero(mask)}


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


def _two_by_two(e1, n1, e2, n2) -> tuple[np.ndarray, ...]:
    """Validated cells ``a, b, c, d`` with 1/2 added to tables that have a zero cell."""
    e1, n1, e2, n2 = broadcast_vectors([e1, n1, e2, n2], ["e1", "n1", "e2", "n2"])
    for arr, name in ((e1, "e1"), (n1, "n1"), (e2, "e2"), (n2, "n2")):
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise ValueError(f"{name} must be finite; infinite values at positions {format_positions(bad)}")
    check_nonnegative(e1, "e1")
    check_nonnegative(e2, "e2")
    check_nonnegative(n1, "n1", strict=True)
    check_nonnegative(n2, "n2", strict=True)
    for e, n, label in ((e1, n1, "e1 > n1"), (e2, n2, "e2 > n2")):
        with np.errstate(invalid="ignore"):
            over = np.flatnonzero(e > n)
        if over.size:
            raise ValueError(f"more events than participants ({label}) at positions {format_positions(over)}")
    reasons = _missing(e1, n1, e2, n2)
    a, b, c, d = e1.copy(), n1 - e1, e2.copy(), n2 - e2
    with np.errstate(invalid="ignore"):
        for pos in np.flatnonzero((a == 0) & (c == 0)):
            reasons.setdefault(int(pos), REASON_NO_EVENTS)
        for pos in np.flatnonzero((b == 0) & (d == 0)):
            reasons.setdefault(int(pos), REASON_ALL_EVENTS)
        # metafor escalc(add=1/2, to="only0"): the correction goes to every
        # cell of a table that has at least one zero cell, and only those.
        zero_cell = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(zero_cell, 0.5, 0.0)
    return a + add, b + add, c + add, d + add, reasons


def log_risk_ratio(e1, n1, e2, n2) -> EffectSizes:
    """Log risk ratio, peer support over control (metafor ``escalc(measure="RR")``).

    Parameters
    ----------
    e1, n1 : array_like
        Events and participants in group 1 (peer support).
    e2, n2 : array_like
        Events and participants in group 2 (control).

    Returns
    -------
    EffectSizes
        ``yi = log((a/n1) / (c/n2))`` and ``vi = 1/a - 1/n1 + 1/c - 1/n2``
        with ``a = e1``, ``c = e2`` after any continuity correction.

    Raises
    ------
    ValueError
        Negative counts, non-positive group sizes, more events than
        participants, or lengths that differ.

    Notes
    -----
    Continuity correction as metafor ``escalc(add=1/2, to="only0")``: a study
    with a zero cell gets 0.5 added to all four cells (so each arm grows by 1).
    Studies with no events in both arms, or events for everyone in both arms,
    carry no information on the ratio and get NaN (metafor ``drop00=TRUE``);
    they are listed in ``excluded``. Variance: Greenland & Robins (1985).
    """
    a, b, c, d, reasons = _two_by_two(e1, n1, e2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a / (a + b)) - np.log(c / (c + d))
        vi = 1.0 / a - 1.0 / (a + b) + 1.0 / c - 1.0 / (c + d)
    return _finish(yi, vi, reasons, "log_risk_ratio")


def log_odds_ratio(e1, n1, e2, n2) -> EffectSizes:
    """Log odds ratio, peer support over control (metafor ``escalc(measure="OR")``).

    Parameters
    ----------
    e1, n1 : array_like
        Events and participants in group 1 (peer support).
    e2, n2 : array_like
        Events and participants in group 2 (control).

    Returns
    -------
    EffectSizes
        ``yi = log(a d / (b c))`` and ``vi = 1/a + 1/b + 1/c + 1/d`` with
        ``a, b = e1, n1 - e1`` and ``c, d = e2, n2 - e2`` after any
        continuity correction.

    Raises
    ------
    ValueError
        Negative counts, non-positive group sizes, more events than
        participants, or lengths that differ.

    Notes
    -----
    Woolf (1955) variance. Continuity correction and exclusion of
    double-zero studies exactly as :func:`log_risk_ratio`.
    """
    a, b, c, d, reasons = _two_by_two(e1, n1, e2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a) + np.log(d) - np.log(b) - np.log(c)
        vi = 1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d
    return _finish(yi, vi, reasons, "log_odds_ratio")


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


def drop_missing(yi, vi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep only studies with a finite effect and a finite positive variance.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances, possibly with NaN rows.

    Returns
    -------
    yi, vi, kept : numpy.ndarray
        The complete rows and their 0-based positions in the input. A
        :class:`StatsWarning` says how many rows were dropped and where.
    """
    y, v = broadcast_vectors([yi, vi], ["yi", "vi"])
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
    kept = np.flatnonzero(ok)
    if kept.size < y.size:
        dropped = np.flatnonzero(~ok)
        warnings.warn(
            f"drop_missing: {dropped.size} of {y.size} studies dropped for a missing or invalid yi/vi "
            f"at positions {format_positions(dropped)}",
            StatsWarning,
            stacklevel=2,
        )
    return y[kept], v[kept], kept
