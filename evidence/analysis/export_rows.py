"""The effect rows of an :class:`Analysis` as a table to take away: one row per pooled study with its
``yi``/``vi``, the raw inputs they came from, the orientation applied, and where the numbers were found.

The table is what the exported scripts (:mod:`evidence.present.code_export`) read: ``analysis.R``
recomputes each ``yi``/``vi`` with metafor's ``escalc`` from the raw inputs and checks them. So that it
can, each row says how its effect was computed (``route``) and the sign applied to the unoriented effect
(``orientation``: ``yi = orientation × effect of peer support vs control as computed from the inputs``).
The orientation is not restated here: the selection's own computation
(:func:`evidence.analysis.selection.compute._compute`) is run once more with the orientation switched off, and
the sign is read off the two results (which must agree in size, or the export refuses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence import query
from evidence.analysis.analyse import Analysis
from evidence.analysis.moderators import MODERATOR_COLUMNS
from evidence.analysis.selection.classify import classify_rows
from evidence.analysis.selection.compute import _compute

__all__ = ["EXPORT_COLUMNS", "export_rows", "RAW_INPUT_COLUMNS"]

#: The raw inputs of a row, as stored (Ns and events are those used, after any shared-arm split).
RAW_INPUT_COLUMNS: tuple[str, ...] = (
    "mean_ps", "sd_ps", "n_ps", "mean_ctl", "sd_ctl", "n_ctl", "events_ps", "events_ctl",
    "reported_effect", "reported_effect_type", "reported_ci_low", "reported_ci_high", "reported_sign",
)

#: Columns of :func:`export_rows`, in order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "study_id", "label", "year", "effect_id", "dataset", "outcome", "measure", "effect_measure",
    "yi", "vi", "route", "orientation", "higher_is_better", *RAW_INPUT_COLUMNS,
    "computed_from", "conversion", "timepoint_months", "comparison", "risk_of_bias", "verification",
    *(c for c in MODERATOR_COLUMNS if c not in ("risk_of_bias", "measure", "dataset", "computed_from")),
    "n_total", "source_review", "source_url", "source_location", "source_quote", "derived", "derivation", "flags",
)

#: Agreement required between the selection's effect and the one recomputed without orientation.
_SAME = 1e-12


def _raw_rows(a: Analysis, con, uploads_dir) -> pd.DataFrame:
    """The stored rows behind the pooled effects, in the analysis' order, with their route."""
    rows = classify_rows(query.candidate_rows(a.spec, con, uploads_dir=uploads_dir))
    key = rows["dataset"].astype(str) + "\x00" + rows["effect_id"].astype(str)
    rows = rows.set_axis(key.to_numpy()).loc[lambda d: ~d.index.duplicated()]
    wanted = (a.effects["dataset"].astype(str) + "\x00" + a.effects["effect_id"].astype(str)).to_numpy()
    missing = [w.replace("\x00", "/") for w in wanted if w not in rows.index]
    if missing:
        raise LookupError(f"effect rows not found in the store: {', '.join(missing)}")
    return rows.loc[wanted].reset_index(drop=True)


def _used_arms(a: Analysis, raw: pd.DataFrame) -> dict[str, np.ndarray]:
    """Ns as pooled (after any shared-arm split) and events divided in the same proportion."""
    out = {}
    for side in ("ps", "ctl"):
        n_used = a.effects[f"n_{side}"].to_numpy(float)
        n_raw = pd.to_numeric(raw[f"n_{side}"], errors="coerce").to_numpy(float)
        events = pd.to_numeric(raw[f"events_{side}"], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(np.isnan(n_raw) | np.isnan(n_used), 1.0, n_used / n_raw)
        out[f"n_{side}"] = np.where(np.isnan(n_used), n_raw, n_used)
        out[f"events_{side}"] = events * share
    return out


def _orientation(a: Analysis, raw: pd.DataFrame, used: dict[str, np.ndarray]) -> np.ndarray:
    """+1 or −1 per row: the sign taking the unoriented effect (peer vs control as computed) to ``yi``."""
    neutral = raw.assign(
        higher_is_better=pd.array([True] * len(raw), dtype="boolean"),
        reported_sign=pd.array([None] * len(raw), dtype="string"),
        **{f"{k}_used": v for k, v in used.items()},
    )
    y0, v0, _, _ = _compute(neutral, a.effect_measure)
    yi, vi = a.effects["yi"].to_numpy(float), a.effects["vi"].to_numpy(float)
    sign = np.where(np.sign(yi) * np.sign(y0) < 0, -1, 1)
    scale = np.maximum(1.0, np.abs(yi))
    bad = np.flatnonzero(~((np.abs(sign * y0 - yi) <= _SAME * scale) & (np.abs(v0 - vi) <= _SAME * np.maximum(1.0, vi))))
    if bad.size:
        ids = ", ".join(a.effects["study_id"].astype(str).iloc[bad])
        raise ValueError(f"effects of {ids} could not be recomputed from their stored inputs")
    return sign.astype(int)


def export_rows(a: Analysis, con=None, *, uploads_dir=None) -> pd.DataFrame:
    """The pooled studies of ``a`` with yi, vi, raw inputs, route, orientation and provenance.

    Returns
    -------
    DataFrame
        Columns :data:`EXPORT_COLUMNS`, one row per pooled study in the analysis' order (with the study
        characteristics the Subgroups page can group by, :data:`MODERATOR_COLUMNS`). ``route`` is
        ``arm_continuous`` (Hedges' g from means/SDs), ``arm_binary`` (log OR/RR from events, converted
        to an SMD with Chinn's factor on an SMD analysis), ``reported_smd``, ``reported_md``,
        ``reported_or`` or ``reported_rr`` (from the reported effect and its 95% CI). ``derived`` says
        whether a number was derived by the extractor (then ``derivation`` says how) rather than quoted.
    """
    raw = _raw_rows(a, con, uploads_dir)
    used = _used_arms(a, raw)
    orientation = _orientation(a, raw, used)
    e = a.effects.reset_index(drop=True)
    out = {
        "study_id": e["study_id"], "label": e["label"], "year": e["year"], "effect_id": e["effect_id"],
        "dataset": e["dataset"], "outcome": e["outcome"], "measure": e["measure"],
        "effect_measure": e["effect_measure"], "yi": e["yi"], "vi": e["vi"],
        "route": raw["route"].astype("string"), "orientation": orientation,
        "higher_is_better": e["higher_is_better"],
    }
    for col in RAW_INPUT_COLUMNS:
        out[col] = used[col] if col in used else raw[col]
    for col in EXPORT_COLUMNS:
        if col not in out and col in e:
            out[col] = e[col]
    out["derived"] = raw["derived"].astype("boolean")
    out["derivation"] = raw["derivation"]
    return pd.DataFrame(out, columns=list(EXPORT_COLUMNS))
