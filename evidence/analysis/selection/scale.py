"""The scale of an analysis, chosen from a summary of the classified rows.

* The scale (``FilterSpec.scale``, :func:`_choose_scale`): ``"auto"`` takes the
  one that keeps the most trials, ``"SMD"`` keeps continuous and binary rows
  (binary rows become log odds ratios converted with Chinn's factor, √3/π;
  Chinn 2000; Cochrane Handbook 10.6; reported risk ratios cannot be converted
  and are left out with a reason), ``"ratio"`` keeps binary rows only. The
  choice and every trial left out for its scale are stated, never silent.
  Rate ratios and hazard ratios are their own scales, never pooled as risk ratios.
* On a ratio scale, the direction most rows give the event (:func:`_majority`) is the one the
  analysis keeps: odds ratios of the minority are inverted, risk ratios of it left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.analysis.selection.columns import _Cols, _codes, _isin
from evidence.analysis.selection.rules import OWN_RATIO_SCALES, SCALE_ROUTES


_SCALE_WORDS = {"SMD": "the SMD scale", "logRR": "the risk-ratio scale", "logOR": "the odds-ratio scale",
                "logIRR": "the rate-ratio scale", "logHR": "the hazard-ratio scale"}


def _choose_scale(c: "_Cols", s: dict, choice: str) -> tuple[str, str, list[str]]:
    """The analysis scale for a choice (``auto``, ``SMD``, ``ratio``), the sentence that states it, and the
    trials with usable numbers only on the other scale (left out for their scale).

    ``auto`` takes the scale that keeps the most trials; on a tie, the one needing no conversion (the ratio
    when every usable row is binary, else SMD). The choice is always said, never made silently.
    """
    ratio = _scale_from_summary({**s, "n_continuous": 0}) if s["n_usable"] else "logRR"
    route, sid = c.obj("route"), c.obj("study_id")
    has = ~pd.isna(route)
    on_ratio = has & _isin(route, SCALE_ROUTES[ratio])
    keep = _majority(s, ratio) if ratio == "logRR" else None
    if keep is not None:  # risk ratios of an event pointing the other way are left out (see effect_set)
        on_ratio &= (c.boolean("higher_is_better") == keep).fillna(False).to_numpy(dtype=bool)
    smd = {x for x in sid[has & _isin(route, SCALE_ROUTES["SMD"])] if x is not None}
    rat = {x for x in sid[on_ratio] if x is not None}
    for own, own_route in OWN_RATIO_SCALES.items():  # a set of rate (hazard) ratios only: their own scale
        trials = {x for x in sid[has & (route == own_route)] if x is not None}
        if len(trials) > len(rat):
            ratio, rat = own, trials
    if choice == "SMD":
        scale = "SMD"
    elif choice == "ratio":
        scale = ratio
    elif not s["n_usable"] or not rat:
        scale = "SMD"
    elif len(rat) != len(smd):
        scale = ratio if len(rat) > len(smd) else "SMD"
    else:
        scale = ratio if not s["n_continuous"] else "SMD"
    here, other = (smd, rat) if scale == "SMD" else (rat, smd)
    other_name = _SCALE_WORDS[ratio if scale == "SMD" else "SMD"]
    sentence = ""
    if s["n_usable"] and (choice != "auto" or (smd and rat and here != other)):
        how = "chosen" if choice != "auto" else "chosen automatically: it keeps the most trials"
        sentence = (f"Scale: {_SCALE_WORDS[scale]} ({how}): {len(here)} trial(s); {other_name} would keep "
                    f"{len(other)}.")
    return scale, sentence, sorted(str(x) for x in (smd | rat) - here)


def _scale_from_summary(s: dict) -> str:
    if s["n_continuous"] or not s["n_usable"]:
        return "SMD"
    if s["rr_studies"] == s["studies"]:
        return "logRR"
    if s["or_studies"] == s["studies"]:
        return "logOR"
    return "logRR" if s["rr_studies"] >= s["or_studies"] else "logOR"


def _summary_from_cols(c: _Cols) -> dict:
    route = c.obj("route")
    has = ~pd.isna(route)
    hv = c.boolean("higher_is_better").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(hv)
    sid = _codes(c, "study_id")  # -1 where the id is missing (not counted)
    rr = has & _isin(route, ("arm_binary", "reported_rr"))
    orr = has & _isin(route, ("arm_binary", "reported_or"))
    nunique = lambda m: len(np.unique(sid[m & (sid >= 0)]))  # noqa: E731
    mean = lambda m: float(hv[m].mean()) if m.any() else None  # noqa: E731
    return {"n_usable": int(has.sum()), "n_continuous": int((has & (c.obj("kind") == "continuous")).sum()),
            "studies": nunique(has), "rr_studies": nunique(rr), "or_studies": nunique(orr),
            "hib_rr": mean(rr & known), "hib_or": mean(orr & known), "n_rows": c.n}


def _summary_from_frame(df: pd.DataFrame) -> dict:
    return _summary_from_cols(_Cols(df))


def _majority(summary: dict, scale: str) -> bool | None:
    share = summary["hib_rr"] if scale == "logRR" else summary["hib_or"] if scale == "logOR" else None
    return None if share is None else bool(share >= 0.5)
