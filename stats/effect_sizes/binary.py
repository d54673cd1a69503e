"""Effect sizes of binary outcomes from 2x2 tables: log risk ratio (RR) and log odds ratio (OR)."""

from __future__ import annotations

import numpy as np

from .._validation import broadcast_vectors, check_nonnegative, format_positions
from .results import REASON_ALL_EVENTS, REASON_NO_EVENTS, EffectSizes, _finish, _missing

__all__ = ["log_risk_ratio", "log_odds_ratio"]


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
