"""The chosen rows as the typed container handed to :mod:`stats` (:class:`EffectData`), in the output's
row order, and as the wide per-study frame (columns
:data:`~evidence.analysis.selection.rules.EFFECT_COLUMNS`), built only when a page asks for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from evidence.analysis.data import EffectData
from evidence.analysis.selection.columns import _Cols
from evidence.analysis.selection.rules import _FLOAT_COLUMNS, _ROUTE_TEXT, EFFECT_COLUMNS


def _effect_data(c: _Cols, scale: str) -> EffectData:
    """The typed container of the selected rows (in frame order)."""
    n_total = c.num("n_ps_used") + c.num("n_ctl_used")
    return EffectData(yi=np.asarray(c.num("yi"), dtype=float), vi=np.asarray(c.num("vi"), dtype=float),
                      study_id=c.obj("study_id"), n_total=n_total, effect_measure=scale,
                      columns=c.obj)


def _frame_order(chosen, multi_arm: str) -> np.ndarray:
    """Row order of the output: year, then study id (then comparison when trials have several rows)."""
    c0 = _Cols.wrap(chosen)
    year_key = c0.num("year")
    year_key = np.where(np.isnan(year_key), np.inf, year_key)
    sid_raw = c0.raw("study_id")
    if multi_arm == "one" and isinstance(sid_raw, pd.arrays.ArrowStringArray) and not c0.isna("study_id").any():
        # one row per trial, so the comparison never breaks a tie; Arrow sorts its own text without
        # turning it into numpy strings first (same order: UTF-8 bytes follow code points; stable)
        import pyarrow as pa
        import pyarrow.compute as pc
        order = pc.sort_indices(pa.table({"y": year_key, "s": pa.array(sid_raw)}),
                                sort_keys=[("y", "ascending"), ("s", "ascending")]).to_numpy()
    else:
        keys = (c0.text("study_id"), year_key)
        if multi_arm != "one":  # one row per trial otherwise: the comparison never breaks a tie
            if c0.isna("comparison").any():
                keys = (np.array(["nan" if x is None else x for x in c0.obj("comparison")],
                                 dtype=object).astype(str),) + keys
            else:
                keys = (c0.text("comparison"),) + keys
        order = np.lexsort(keys)
    return order


def _build_frame(c: _Cols, scale: str, level: float, multi_arm: str) -> pd.DataFrame:
    """Build the output frame once, column by column from arrays (cheaper than editing a wide frame)."""
    z = float(ndtri(0.5 + level / 2.0))
    yi = np.asarray(c.num("yi"), dtype=float)
    vi = np.asarray(c.num("vi"), dtype=float)
    sei = np.sqrt(vi)
    lo, hi = yi - z * sei, yi + z * sei
    ratio = scale != "SMD"
    n_ps = c.num("n_ps_used")
    n_ctl = c.num("n_ctl_used")
    year = c.num("year")
    sid = c.plain("study_id")
    if c.isna("study_id").any():  # as Series.to_numpy(dtype=str) writes a missing id
        sid = c.text("study_id").astype(object)
    author = c.obj("first_author")
    if isinstance(c.raw("first_author").dtype, pd.StringDtype):  # text or missing, nothing else
        named = ~c.isna("first_author")
    else:
        named = np.fromiter((isinstance(a, str) for a in author), dtype=bool, count=c.n)
    label = np.where(named, author, sid)  # "<author> <year>", the author alone, else the study id
    dated = named & ~np.isnan(year)
    if dated.any():
        years, inv = np.unique(year[dated], return_inverse=True)
        label[dated] = author[dated] + np.array([f" {int(y)}" for y in years], dtype=object)[inv.ravel()]
    if multi_arm == "split" and c.n:
        codes, _ = pd.factorize(sid)
        several = np.bincount(codes)[codes] > 1
        if several.any():
            label = np.where(several, label + " (" + c.plain("comparison") + ")", label)
    dataset = c.plain("dataset")
    if c.isna("dataset").any():
        dataset = dataset.astype(str).astype(object)
    foreign = dataset != "shipped"
    if foreign.any():
        label = np.where(foreign, label + " [" + dataset + "]", label)
    computed = np.full(c.n, "", dtype=object)
    for r, words in _ROUTE_TEXT.items():
        computed[c.is_in("route", (r,))] = words
    smd = c.is_in("route", ("reported_smd",))
    if smd.any():
        computed[smd] = [f"reported {t} and 95% CI" for t in c.plain("reported_effect_type")[smd]]
    data = {
        "study_id": sid, "label": label, "year": pd.array(year, dtype="Float64").astype("Int64"),
        "dataset": dataset,
        "effect_measure": pd.array([scale], dtype="str").take(np.zeros(c.n, dtype=np.intp)),
        "yi": yi, "vi": vi, "sei": sei, "ci_low": lo, "ci_high": hi,
        "display_estimate": np.exp(yi) if ratio else yi, "display_ci_low": np.exp(lo) if ratio else lo,
        "display_ci_high": np.exp(hi) if ratio else hi, "n_ps": n_ps, "n_ctl": n_ctl, "n_total": n_ps + n_ctl,
        "timepoint_months": c.num("timepoint_months"),
        "higher_is_better": c.boolean("higher_is_better"),
        "computed_from": computed, "conversion": c.plain("conversion"),
        "selection_reason": c.plain("selection_reason"),
        "n_candidates": np.asarray(c.raw("n_candidates")).astype(int), "flags": c.plain("flags"),
    }
    out = {}
    for name in EFFECT_COLUMNS:
        if name not in data or (name == "study_id" and sid is c.plain("study_id")):
            # passed through (study ids too when none is missing) as an object column, None where missing:
            # the prepared store holds its text so, and a text dtype would be inferred and converted on
            # every analysis
            out[name] = pd.Series(c.obj(name), dtype=object, copy=False)
        elif name in _FLOAT_COLUMNS or name in ("year", "higher_is_better", "n_candidates", "effect_measure"):
            out[name] = data[name]
        else:
            out[name] = _text_array(np.asarray(data[name], dtype=object))
    return pd.DataFrame(out)


def _text_array(values: np.ndarray):
    """``pd.array(values, dtype="str")`` (missing values stay missing); through Arrow when it is there."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pandas' own text arrays then
        return pd.array(values, dtype="str")
    if len(values) > 1 and (values == values[0]).all():  # one value (a dataset's name): spread it
        return pd.array(values[:1], dtype="str").take(np.zeros(len(values), dtype=np.intp))
    return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype="str")
