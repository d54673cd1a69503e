"""``yi``/``vi`` of the chosen rows, computed with :mod:`stats` (never with formulas of its own) and
oriented, and the arm numbers used when a shared arm is split.

Rules (the short form shown to users is :data:`~evidence.analysis.selection.rules.ORIENTATION_RULE`)
-----------------------------------------------------------------------------------------------------
* SMD rows: positive values favour peer support. Arm data give Hedges' g of
  peer minus control on the measure as scored; the sign is reversed when lower
  scores are better. Reported SMD/g/d follow ``reported_sign``: ``ps_minus_ctl``
  is treated like arm data, ``positive_favours_ps`` is kept, and
  ``negative_favours_ps`` is reversed.
* Reported mean differences (MD) with their 95% CI and both arm Ns are
  standardised (SMD scale only): the pooled SD is implied by the CI of the
  difference with the t distribution on n1 + n2 - 2 df, then Hedges' g
  (Cochrane Handbook 6.5.2.3; :func:`stats.smd_from_mean_difference_ci`). They
  are oriented like a reported SMD. An MD without both Ns cannot be
  standardised and is left out with a reason; a row that has the arms' means and
  SDs is used through its arm data.
* Ratio rows (only binary results in the outcome) keep the natural ratio peer /
  control on the log scale; the analysis says whether ratios below or above 1
  favour peer support. If the rows disagree on whether the event is good or bad,
  odds ratios of the minority are inverted (odds of not having the event); risk
  ratios cannot be inverted that way, so such rows are left out with a reason
  (both in :func:`~evidence.analysis.selection.engine.effect_set`).
* Multi-arm trials with ``multi_arm="split"``: every comparison is kept and the
  shared arm's N (and events) is divided equally between the comparisons that
  share it (Cochrane Handbook 23.3.4; :func:`_split_arrays`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import stats

from evidence.analysis.selection.columns import _Cols
from evidence.analysis.selection.rules import MAX_LISTED_NOTES, MD_CONVERSION, REASONS, REPORTED_ROUTES


def _quiet(func, *args, **kwargs):
    # stats warns when it sets a row to NaN; the reason is recorded from `.excluded` instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.StatsWarning)
        return func(*args, **kwargs)


def _join_notes(*parts: np.ndarray) -> np.ndarray:
    out = np.full(len(parts[0]), "", dtype=object)
    for p in parts:
        has = p != ""
        if not has.any():
            continue
        both = has & (out != "")
        only = has & ~both
        out[only] = p[only]
        if both.any():
            out[both] = out[both] + "; " + p[both]
    return out


def _compute(sel, scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """yi, vi (natural log ratio for ratios, favour-positive for SMD), conversion notes, NaN reasons.

    ``sel`` carries the arm numbers actually used (``n_ps_used``, ...; see :func:`_split_arrays`).
    """
    c = _Cols.wrap(sel)
    n = c.n
    yi = np.full(n, np.nan)
    vi = np.full(n, np.nan)
    why: list[str | None] = [None] * n
    hv = c.boolean("higher_is_better").to_numpy(dtype=float, na_value=np.nan)
    direction = np.where(np.isnan(hv), np.nan, np.where(hv == 1.0, 1.0, -1.0))
    n_ps, n_ctl = c.num("n_ps_used"), c.num("n_ctl_used")

    def put(mask, es):
        idx = np.flatnonzero(mask)
        yi[idx], vi[idx] = es.yi, es.vi
        for e in es.excluded:
            why[idx[e.position]] = e.reason

    m = c.is_in("route", ("arm_continuous",))
    if m.any():
        put(m, _quiet(stats.smd, c.num("mean_ps")[m], c.num("sd_ps")[m], n_ps[m],
                      c.num("mean_ctl")[m], c.num("sd_ctl")[m], n_ctl[m]))
    m = c.is_in("route", ("reported_smd",))
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, c.num("reported_effect")[m],
                      c.num("reported_ci_low")[m], c.num("reported_ci_high")[m]))
    md = c.is_in("route", ("reported_md",))
    if md.any():
        est, lo, hi = c.num("reported_effect"), c.num("reported_ci_low"), c.num("reported_ci_high")
        with np.errstate(invalid="ignore"):
            # what stats would refuse for the whole call is refused here row by row, with a reason
            too_few = md & ~((n_ps > 0) & (n_ctl > 0) & (n_ps + n_ctl > 2))
            bad_ci = md & ~too_few & ~((lo < hi) & (lo <= est) & (est <= hi) & np.isfinite(est + lo + hi))
        for i in np.flatnonzero(too_few):
            why[i] = REASONS["md_too_few"]
        for i in np.flatnonzero(bad_ci):
            why[i] = "reported 95% CI is empty or does not contain the estimate"
        m = md & ~too_few & ~bad_ci
        if m.any():
            put(m, _quiet(stats.smd_from_mean_difference_ci, est[m], lo[m], hi[m], n_ps[m], n_ctl[m]))
    m = c.is_in("route", ("arm_binary",))
    if m.any():
        func = stats.log_risk_ratio if scale == "logRR" else stats.log_odds_ratio
        put(m, _quiet(func, c.num("events_ps_used")[m], n_ps[m], c.num("events_ctl_used")[m], n_ctl[m]))
    m = c.is_in("route", ("reported_rr", "reported_or", "reported_irr", "reported_hr"))
    if m.any():
        put(m, _quiet(stats.from_confidence_interval, c.num("reported_effect")[m],
                      c.num("reported_ci_low")[m], c.num("reported_ci_high")[m], ratio=True))

    reported = c.is_in("route", REPORTED_ROUTES)
    binary = c.is_in("route", ("arm_binary", "reported_rr", "reported_or", "reported_irr", "reported_hr"))
    if reported.any():
        sign = np.where(c.isna("reported_sign"), "ps_minus_ctl", c.obj("reported_sign")).astype(object)
        pos = reported & (sign == "positive_favours_ps")
        neg = reported & (sign == "negative_favours_ps")
    else:  # the sign of a reported effect is all that is read of it
        pos = neg = np.zeros(n, dtype=bool)
    blank = np.full(n, "", dtype=object)
    if scale == "SMD":
        flip = np.where(pos, 1.0, np.where(neg, -1.0, direction))
        chinn = blank.copy()
        if binary.any():
            idx = np.flatnonzero(binary)
            es = _quiet(stats.log_odds_ratio_to_smd, yi[idx], vi[idx])
            yi[idx], vi[idx] = es.yi, es.vi
            chinn[idx] = "log odds ratio converted to SMD (Chinn 2000, ×√3/π; Cochrane Handbook 10.6)"
        yi = yi * flip
        own = ~pos & ~neg & (direction < 0)
        rev = np.full(n, "", dtype=object)
        rev[own & binary] = "sign reversed (events are undesirable)"
        lower = own & ~binary
        if lower.any():
            measure = c.obj("measure")[lower]
            words = {x: f"sign reversed (lower {'score' if x is None else x} is better)" for x in set(measure)}
            rev[lower] = [words[x] for x in measure]
        rev[neg] = "sign reversed (the source reports negative values as favouring peer support)"
        md_note = np.where(md, MD_CONVERSION, "").astype(object) if md.any() else blank
        conv = _join_notes(chinn, md_note, rev)
    else:
        back = (pos & (direction < 0)) | (neg & (direction > 0))
        yi = np.where(back, -yi, yi)
        conv = np.where(back, "ratio re-expressed as peer / control (the source oriented it)", "").astype(object)
    return yi, vi, conv, why


def _split_arrays(c: _Cols, split: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    """Arm numbers used (``n_ps_used``, ...) and ``split_note`` for each row, and the notes."""
    used = {f"{col}_used": c.num(col).copy() for col in ("n_ps", "n_ctl", "events_ps", "events_ctl")}
    used["split_note"] = np.full(c.n, "", dtype=object)
    if not split or c.n == 0:
        return used, []
    key = c.obj("shared_control")
    shared = np.flatnonzero(~pd.isna(key) & (key != ""))
    if not len(shared):
        return used, []
    sid = c.plain("study_id")[shared]
    codes, _ = pd.factorize(np.array([f"{s}\x00{k}" for s, k in zip(sid, key[shared])], dtype=object))
    size = np.bincount(codes)[codes]
    many = size > 1
    if not many.any():
        return used, []
    idx, m = shared[many], size[many].astype(float)
    arm = c.obj("shared_arm")[idx]
    peer = np.array([("control" if a is None else a).startswith("peer") for a in arm], dtype=bool)
    for side, mask in (("ps", peer), ("ctl", ~peer)):
        for col in (f"n_{side}_used", f"events_{side}_used"):
            used[col][idx[mask]] = used[col][idx[mask]] / m[mask]
    who = np.where(peer, "peer-support", "control")
    used["split_note"][idx] = [f"shared {w} arm's N split between {int(k)} comparisons (Cochrane Handbook 23.3.4)"
                               for w, k in zip(who, m)]
    ids = sorted(set(c.text("study_id")[idx]))
    if len(ids) > MAX_LISTED_NOTES:
        notes = [f"{len(ids)} trials have a shared arm whose N is split between their comparisons (Cochrane "
                 f"Handbook 23.3.4), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}."]
    else:
        notes = [f"{sid}: a shared arm's N is split between its comparisons (Cochrane Handbook 23.3.4)."
                 for sid in ids]
    return used, notes
