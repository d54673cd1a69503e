"""What each effect row can give: its route, its kind, and the reason when it gives nothing.

The pandas twin of the SQL in :mod:`evidence.query`: run once on a store's rows (:mod:`.prepared`) and on
the rows of merged datasets as they are read (:func:`~evidence.analysis.selection.engine.effect_set`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.analysis.selection.columns import _Cols
from evidence.analysis.selection.rules import CONTINUOUS_ROUTES, REASONS, SMD_TYPES


def _flag_array(c: _Cols) -> np.ndarray:
    """Study and row flags of each row, joined, deduplicated, in order (object array)."""
    if c.n == 0:
        return np.array([], dtype=object)
    a = np.where(c.isna("study_flags"), "", c.obj("study_flags"))
    b = np.where(c.isna("effect_flags"), "", c.obj("effect_flags"))
    codes, uniq = pd.factorize((a + ";" + b).astype(object))
    clean = np.array([";".join(dict.fromkeys(x for x in str(v).split(";") if x)) for v in uniq], dtype=object)
    return clean[codes]


def _classify_arrays(df) -> dict[str, np.ndarray]:
    """route, kind, reason_code and flags as arrays, without copying the (wide) frame."""
    c = _Cols.wrap(df)
    na = c.isna
    n_ps, n_ctl = c.num("n_ps"), c.num("n_ctl")
    arm_c = ~(na("n_ps") | na("n_ctl") | na("mean_ps") | na("mean_ctl") | na("sd_ps") | na("sd_ctl"))
    with np.errstate(invalid="ignore"):
        arm_c &= (n_ps + n_ctl) > 2
    arm_b = ~(na("n_ps") | na("n_ctl") | na("events_ps") | na("events_ctl"))
    rep = ~(na("reported_effect") | na("reported_ci_low") | na("reported_ci_high") | na("reported_effect_type"))
    rtype = np.where(na("reported_effect_type"), "", c.obj("reported_effect_type")).astype(object)
    sign = np.where(na("reported_sign"), "ps_minus_ctl", c.obj("reported_sign")).astype(object)
    flags = _flag_array(c)
    not_poolable = np.array(["not-poolable" in f for f in flags], dtype=bool)
    md = rep & (rtype == "MD")
    md_n = md & ~(na("n_ps") | na("n_ctl"))
    with np.errstate(invalid="ignore"):
        md_ok = md_n & ((n_ps + n_ctl) > 2)
    raw = np.select([arm_c, arm_b, rep & np.isin(rtype, list(SMD_TYPES)), rep & (rtype == "RR"),
                     rep & (rtype == "OR"), md_ok, rep & (rtype == "IRR"), rep & (rtype == "HR")],
                    ["arm_continuous", "arm_binary", "reported_smd", "reported_rr", "reported_or", "reported_md",
                     "reported_irr", "reported_hr"],
                    default="")
    has = raw != ""
    oriented = np.isin(raw, ["reported_smd", "reported_md"]) & np.isin(sign, ["positive_favours_ps",
                                                                              "negative_favours_ps"])
    no_dir = has & na("higher_is_better") & ~oriented
    mean_any = ~na("mean_ps") | ~na("mean_ctl")
    rep_any = ~na("reported_effect")
    code = np.select(
        [not_poolable, no_dir, has, md_n, md, rep_any & (rtype == ""), rep_any,
         mean_any & (na("sd_ps") | na("sd_ctl")), (mean_any | ~na("events_ps")) & (na("n_ps") | na("n_ctl")),
         ~na("mean_ps")],
        ["not_poolable", "no_direction", "", "md_too_few", "md", "no_type", "no_ci", "mean_no_sd", "no_n",
         "too_few"],
        default="no_numbers")
    usable = has & ~not_poolable & ~no_dir
    kind = np.where(~usable, None, np.where(np.isin(raw, list(CONTINUOUS_ROUTES)), "continuous", "binary"))
    return {"route": np.where(usable, raw, None).astype(object), "kind": kind.astype(object),
            "reason_code": np.where(code == "", None, code).astype(object), "flags": flags}


def classify_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``route``, ``kind``, ``reason_code``, ``unusable_reason`` and ``flags`` to candidate rows.

    ``route`` is how a row can give an effect (``arm_continuous``, ``arm_binary``,
    ``reported_smd``, ``reported_md``, ``reported_rr``, ``reported_or``) or None; ``kind`` is
    ``continuous``/``binary``. ``reported_md`` is a reported mean difference with its 95% CI and
    both arm Ns (``n_ps + n_ctl > 2``), usable on the SMD scale only. Arm data win over a reported
    effect in the same row. Same rules as the SQL in :func:`evidence.query.selected_rows`.
    """
    arrays = _classify_arrays(rows)
    out = rows.assign(**arrays)
    out["unusable_reason"] = [REASONS.get(c) if c else None for c in arrays["reason_code"]]
    return out
