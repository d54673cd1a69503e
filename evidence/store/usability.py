"""The one rule of which effect rows can be pooled: how a row gives an effect (its route), or why it cannot.

Written once and used everywhere a row's usability matters: the build writes its answer for every row of
a store into the ``effect_usability`` table (which the sidebar counts, the coverage tables and
``study_contribution`` read in SQL), the selection applies it to the candidate rows it reads
(:mod:`evidence.analysis.selection.classify`), and ``scripts/curate_raw.py`` counts the shipped CSVs
with it. A row is usable when it has

* both arms' N, means and SDs with ``n_ps + n_ctl > 2`` (``arm_continuous``), or both arms' N and events
  (``arm_binary``), or a reported effect with its 95% CI and type: SMD/g/d, RR, OR, a mean difference
  with both arm Ns (``reported_md``, standardised through the SD its CI implies), a rate or hazard ratio;
* a known direction: ``higher_is_better`` recorded, unless the reported SMD/MD states which sign
  favours peer support;
* no ``not-poolable`` flag on the row or its study.

Arm data win over a reported effect in the same row. Which usable rows share a scale, and which row of
a trial is chosen, are decided per analysis (:mod:`evidence.analysis.selection`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

#: Reported effect types pooled as standardised mean differences.
SMD_TYPES = frozenset({"SMD", "g", "d"})
#: Routes that give a continuous effect (the rest are binary or ratio measures).
CONTINUOUS_ROUTES = ("arm_continuous", "reported_smd", "reported_md")
#: Why a row gives no effect at all, by reason code.
ROW_REASONS = {
    "not_poolable": "flagged not poolable (not a between-group effect size)",
    "no_direction": "direction of the measure (higher_is_better) not recorded",
    "md": "reported mean difference without per-arm N: cannot be standardised",
    "md_too_few": "reported mean difference with two or fewer participants in total: cannot be standardised",
    "no_type": "reported number is not a between-group effect size (no effect type)",
    "no_ci": "reported effect without a 95% CI",
    "mean_no_sd": "arm means without SDs",
    "no_n": "arm numbers without per-arm N",
    "too_few": "arm means and SDs with two or fewer participants in total",
    "no_numbers": "no outcome numbers",
}
#: The store's short words for what a usable row is computed from (``effect_usability.computable_from``).
COMPUTABLE_FROM = {"arm_continuous": "arm means and SDs", "arm_binary": "arm events"}
#: Columns the rule reads (study and row flags arrive as ``study_flags`` and ``effect_flags``).
RULE_COLUMNS = ("n_ps", "n_ctl", "mean_ps", "mean_ctl", "sd_ps", "sd_ctl", "events_ps", "events_ctl",
                "reported_effect", "reported_ci_low", "reported_ci_high", "reported_effect_type",
                "reported_sign", "higher_is_better", "study_flags", "effect_flags")


class Columns(Protocol):
    """What the rule reads rows through: missing-value masks, numbers and objects per column name."""

    n: int

    def isna(self, name: str) -> np.ndarray: ...
    def num(self, name: str) -> np.ndarray: ...
    def obj(self, name: str) -> np.ndarray: ...


class FrameColumns:
    """:class:`Columns` over a DataFrame (empty text counts as missing, as in the CSVs)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.replace("", None) if len(frame) else frame
        self.n = len(frame)

    def isna(self, name: str) -> np.ndarray:
        return self.frame[name].isna().to_numpy(dtype=bool)

    def num(self, name: str) -> np.ndarray:
        return pd.to_numeric(self.frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def obj(self, name: str) -> np.ndarray:
        col = self.frame[name]
        return col.astype(object).where(col.notna(), None).to_numpy(dtype=object)


def joined_flags(c: Columns) -> np.ndarray:
    """Study and row flags of each row, joined, deduplicated, in order (object array)."""
    if c.n == 0:
        return np.array([], dtype=object)
    a = np.where(c.isna("study_flags"), "", c.obj("study_flags"))
    b = np.where(c.isna("effect_flags"), "", c.obj("effect_flags"))
    codes, uniq = pd.factorize((a + ";" + b).astype(object))
    clean = np.array([";".join(dict.fromkeys(x for x in str(v).split(";") if x)) for v in uniq], dtype=object)
    return clean[codes]


def classify(c: Columns) -> dict[str, np.ndarray]:
    """``route``, ``kind`` (continuous/binary), ``reason_code`` and ``flags`` of each row, as arrays."""
    na = c.isna
    n_ps, n_ctl = c.num("n_ps"), c.num("n_ctl")
    arm_c = ~(na("n_ps") | na("n_ctl") | na("mean_ps") | na("mean_ctl") | na("sd_ps") | na("sd_ctl"))
    with np.errstate(invalid="ignore"):
        arm_c &= (n_ps + n_ctl) > 2
    arm_b = ~(na("n_ps") | na("n_ctl") | na("events_ps") | na("events_ctl"))
    rep = ~(na("reported_effect") | na("reported_ci_low") | na("reported_ci_high") | na("reported_effect_type"))
    rtype = np.where(na("reported_effect_type"), "", c.obj("reported_effect_type")).astype(object)
    sign = np.where(na("reported_sign"), "ps_minus_ctl", c.obj("reported_sign")).astype(object)
    flags = joined_flags(c)
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
    # a reported SMD or MD that says which sign favours peer support needs no higher_is_better
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


def usability_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The ``effect_usability`` table of a store: one row per effect row (``effect_id, study_id, outcome``
    and :data:`RULE_COLUMNS`) with its route, kind, what it is computed from, and why not when it is not."""
    got = classify(FrameColumns(rows))
    route = got["route"]
    computable = np.array([None if r is None else COMPUTABLE_FROM.get(r, "reported effect and CI") for r in route],
                          dtype=object)
    reason = np.array([ROW_REASONS.get(code) if code else None for code in got["reason_code"]], dtype=object)
    return pd.DataFrame({
        "effect_id": rows["effect_id"].astype("string").array,
        "study_id": rows["study_id"].astype("string").array,
        "outcome": rows["outcome"].astype("string").array,
        "route": pd.array(route, dtype="string"),
        "kind": pd.array(got["kind"], dtype="string"),
        "computable_from": pd.array(computable, dtype="string"),
        "reason_code": pd.array(got["reason_code"], dtype="string"),
        "unusable_reason": pd.array(reason, dtype="string"),
    })
