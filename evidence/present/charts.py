"""Altair chart builders for the dashboard: pure functions from tables to charts.

Every builder takes plain data (a ``pandas.DataFrame`` with the columns of
:func:`evidence.effects` or of one of the diagnostic tables, plus a
``stats.PooledEstimate``-like object) and returns an Altair chart. Nothing here
touches Streamlit, the database or the network, so the charts can be tested
through ``chart.to_dict()`` and exported with :mod:`evidence.present.export`.

Conventions
-----------
* Effects arrive on the analysis scale (``yi``: SMD, log risk ratio or log odds
  ratio). Ratio measures are drawn on their natural scale (``exp``) on a log
  axis, so 1 is "no difference"; SMDs are drawn as they are around 0.
* Which side favours peer support is an argument (``ps_side``): SMD rows are
  oriented so positive favours peer support; for ratios it depends on whether
  the event is good or bad, which the analysis states in words
  (see :class:`evidence.core.measures.Favours`, whose ``side`` the pages pass on).
* User text (study labels, quotes, URLs) only ever travels as Vega data
  values, never as HTML or markup.
* Colours come from the Okabe-Ito palette, which stays distinguishable under
  the common colour-vision deficiencies (Okabe & Ito 2008,
  https://jfly.uni-koeln.de/color/).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, NamedTuple, Sequence

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats as _sps

from evidence.core.measures import RATIO_MEASURES, measure

__all__ = [
    "OKABE_ITO",
    "ROB_COLOURS",
    "RATIO_MEASURES",
    "axis_title",
    "study_rows",
    "forest",
    "forest_plot",
    "forest_plot_spec",
    "forest_spec",
    "interval_plot",
    "leave_one_out_plot",
    "cumulative_plot",
    "influence_plot",
    "subgroup_forest",
    "bubble_plot",
    "funnel_plot",
    "robustness_heatmap",
    "compare_plot",
]

#: Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

#: Risk-of-bias judgement -> colour. Order is the legend order.
ROB_COLOURS = {
    "low": OKABE_ITO["blue"],
    "some concerns": OKABE_ITO["orange"],
    "high": OKABE_ITO["vermillion"],
    "unclear": OKABE_ITO["grey"],
    "not reported": "#C8C8C8",
}


#: Font sizes chosen so a chart projected on a wall stays legible.
FONT = {"label": 14, "title": 15, "heading": 18, "text": 13}
ROW_HEIGHT = 26
PLOT_WIDTH = 380

_POOLED_KEY = "\u25c6 Pooled"  # internal row key; the displayed label is built per chart


# ---------------------------------------------------------------------------
# small helpers


def axis_title(effect_measure: str) -> str:
    """Human name of the effect measure as drawn on the x axis."""
    return measure(effect_measure).axis_title


def _is_ratio(effect_measure: str) -> bool:
    return measure(effect_measure).is_ratio


def _null_value(effect_measure: str) -> float:
    return measure(effect_measure).null


def _to_display(values: Any, effect_measure: str) -> np.ndarray:
    """Analysis scale -> display scale (the one rule in :class:`evidence.core.measures.Measure`)."""
    return np.asarray(measure(effect_measure).to_display(np.asarray(values, dtype=float)), dtype=float)


def _x_scale(effect_measure: str, domain: Sequence[float] | None = None) -> alt.Scale:
    kwargs: dict[str, Any] = {"zero": False, "nice": False}
    if domain is not None:
        kwargs["domain"] = [float(domain[0]), float(domain[1])]
    if _is_ratio(effect_measure):
        kwargs["type"] = "log"
    return alt.Scale(**kwargs)


#: Tick values offered on ratio (log) axes; only those inside the domain are used.
_RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def _x_axis(effect_measure: str, domain: Sequence[float] | None) -> Any:
    """Readable ticks on ratio axes (always including 1, the null); default ticks otherwise.

    Returns ``alt.Undefined`` (not ``None``, which would hide the axis) when the default suits.
    """
    if not _is_ratio(effect_measure) or domain is None:
        return alt.Undefined
    lo, hi = float(domain[0]), float(domain[1])
    values = [v for v in _RATIO_TICKS if lo <= v <= hi]
    return alt.Axis(values=values, format="~g", labelOverlap=False) if len(values) >= 2 else alt.Undefined


def _fmt(value: Any, digits: int = 2) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(v):
        return ""
    return f"{v:.{digits}f}"


def _interval_text(est: float, lo: float, hi: float) -> str:
    if not math.isfinite(est):
        return ""
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{est:.2f} [{lo:.2f}, {hi:.2f}]"
    return f"{est:.2f}"


def _z(level: float) -> float:
    return float(_sps.norm.ppf(0.5 + level / 2.0))


def _domain(lo: np.ndarray, hi: np.ndarray, effect_measure: str, extra: Sequence[float] = ()) -> tuple[float, float]:
    """A padded x-domain covering every interval and the null line."""
    values = np.concatenate([np.asarray(lo, float), np.asarray(hi, float), np.asarray(extra, float),
                             [_null_value(effect_measure)]])
    values = values[np.isfinite(values)]
    if _is_ratio(effect_measure):
        values = values[values > 0]
        low, high = np.log(values.min()), np.log(values.max())
        pad = 0.06 * max(high - low, 0.2)
        return float(np.exp(low - pad)), float(np.exp(high + pad))
    low, high = float(values.min()), float(values.max())
    pad = 0.06 * max(high - low, 0.2)
    return low - pad, high + pad


def _unique_labels(labels: Sequence[Any]) -> list[str]:
    """Make row labels unique (two comparisons of one trial share a label)."""
    seen: dict[str, int] = {}
    out = []
    for raw in labels:
        label = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw)
        label = label or "(unnamed)"
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label} ({n + 1})")
    return out


def _favours_layer(effect_measure: str, ps_side: str) -> alt.Chart:
    """Two captions above the plot, one at each edge: which side of the null line favours whom.

    They sit at the plot's edges rather than at the null line so they are never clipped when the
    null line is close to an edge (e.g. a risk ratio axis ending just above 1).
    """
    right_text = "Favours peer support \u2192" if ps_side == "right" else "Favours control \u2192"
    left_text = "\u2190 Favours control" if ps_side == "right" else "\u2190 Favours peer support"
    common = dict(baseline="bottom", dy=-4, fontSize=FONT["text"], fontWeight="bold", color="#444444")
    data = pd.DataFrame({"text": [left_text]})
    left = alt.Chart(data).mark_text(align="left", **common).encode(
        x=alt.value(0), y=alt.value(0), text="text:N", tooltip=alt.value(None))
    right = alt.Chart(pd.DataFrame({"text": [right_text]})).mark_text(align="right", **common).encode(
        x=alt.value("width"), y=alt.value(0), text="text:N", tooltip=alt.value(None))
    return alt.layer(left, right)


def _null_rule(effect_measure: str) -> alt.Chart:
    return alt.Chart(pd.DataFrame({"x": [_null_value(effect_measure)]})).mark_rule(
        color="#555555", strokeWidth=1.2).encode(x="x:Q", tooltip=alt.value(None))  # decoration: no tooltip


def _configure(chart: alt.TopLevelMixin, title: str | None = None, legend: str = "bottom") -> alt.TopLevelMixin:
    """Large fonts for presenting; applied once, on the finished chart (one copy of the spec)."""
    if title:
        chart = chart.properties(title=alt.TitleParams(title, fontSize=FONT["heading"], anchor="start"))
    return chart.configure(
        axis=alt.AxisConfig(labelFontSize=FONT["label"], titleFontSize=FONT["title"], labelColor="#222222",
                            titleColor="#222222", gridColor="#E6E6E6"),
        legend=alt.LegendConfig(labelFontSize=FONT["text"], titleFontSize=FONT["text"], orient=legend,
                                direction="horizontal" if legend == "bottom" else "vertical", titleLimit=500,
                                labelLimit=300),
        # Log axes crowd their tick labels: drop those closer than 6 px.
        axisQuantitative=alt.AxisConfig(labelOverlap="greedy", labelSeparation=6),
        view=alt.ViewConfig(strokeWidth=0),
        text=alt.MarkConfig(fontSize=FONT["text"]),
    )


# ---------------------------------------------------------------------------
# the forest plot


_TOOLTIP_FIELDS = [
    # (column in effects, title)
    ("year", "Year"),
    ("population", "Population"),
    ("setting", "Setting"),
    ("ps_format", "Format"),
    ("ps_mode", "Mode"),
    ("ps_role", "Role"),
    ("peer_paid", "Paid / volunteer"),
    ("org_support", "Organisational support"),
    ("peer_deliverer", "Delivered by"),
    ("comparator", "Comparator"),
    ("outcome", "Outcome"),
    ("measure", "Measure"),
    ("timepoint_months", "Follow-up (months)"),
    ("n_ps", "N peer support"),
    ("n_ctl", "N control"),
    ("risk_of_bias", "Risk of bias"),
    ("computed_from", "Computed from"),
    ("flags", "Flags"),
    ("source_url", "Source"),
    ("source_location", "Where in the source"),
    ("source_quote", "Quote"),
]

_QUOTE_LIMIT = 400


def _as_text(value: Any) -> str:
    if value is None:
        return "not reported"
    if isinstance(value, float):
        if math.isnan(value):
            return "not reported"
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value) or "none"
    try:
        if pd.isna(value):
            return "not reported"
    except (TypeError, ValueError):
        pass
    text = str(value)
    return text if text.strip() else "not reported"


def _pooled_label(pooled: Any) -> str:
    method = getattr(pooled, "method", "")
    hk = ", Hartung-Knapp" if getattr(pooled, "hartung_knapp", False) else ""
    return f"Pooled ({method}{hk}, k = {getattr(pooled, 'k', '?')})"


def study_rows(effects: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
               level: float = 0.95) -> pd.DataFrame:
    """The forest plot's data: one row per study, plus one pooled row when ``pooled`` is given.

    Intervals are ``yi +/- z * sei`` (Wald, at ``level``), the same intervals the
    pooled model treats each study as having. Weights are the inverse-variance
    weights of the fitted model, ``1 / (vi + tau2)`` with ``tau2 = 0`` for the
    fixed-effect model (Borenstein et al. 2009, ch. 12), in percent of their sum.

    Returns
    -------
    pandas.DataFrame
        Columns ``row, row_type, order, est, lo, hi, weight_pct, rob, est_text,
        weight_text, pi_lo, pi_hi`` plus the tooltip columns as text.
    """
    return pd.DataFrame(study_columns(effects, pooled, effect_measure=effect_measure, level=level))


def study_columns(effects: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                  level: float = 0.95, tooltips: bool = True) -> dict[str, list]:
    """:func:`study_rows` as plain column lists (cheaper than a frame when only the values are needed).

    ``tooltips=False`` leaves out the ``tt_*`` text columns (tables beside the plot do not show them).
    """
    df = effects.reset_index(drop=True)
    yi = df["yi"].to_numpy(dtype=float)
    if "sei" in df.columns:
        sei = df["sei"].to_numpy(dtype=float)
    else:
        sei = np.sqrt(df["vi"].to_numpy(dtype=float))
    vi = sei ** 2
    z = _z(level)
    tau2 = 0.0
    if pooled is not None and getattr(pooled, "method", "") != "FE":
        tau2 = float(getattr(pooled, "tau2", 0.0) or 0.0)
    w = 1.0 / (vi + tau2)
    weight_pct = 100.0 * w / np.nansum(w) if len(w) else w

    est = _to_display(yi, effect_measure)
    lo = _to_display(yi - z * sei, effect_measure)
    hi = _to_display(yi + z * sei, effect_measure)
    labels = _unique_labels(df["label"].tolist() if "label" in df.columns else df["study_id"].tolist())
    rob = [_as_text(v).lower() for v in
           (df["risk_of_bias"].tolist() if "risk_of_bias" in df.columns else [None] * len(df))]
    n = len(df)
    cols: dict[str, list] = {
        "row": labels,
        "row_type": ["study"] * n,
        "order": list(range(n)),
        "study_id": [str(v) for v in df["study_id"].tolist()] if "study_id" in df.columns else list(labels),
        "est": est.tolist(),
        "lo": lo.tolist(),
        "hi": hi.tolist(),
        "weight_pct": np.asarray(weight_pct, dtype=float).tolist(),
        "rob": rob,
        "est_text": [_interval_text(a, b, c) for a, b, c in zip(est, lo, hi)],
        "weight_text": [f"{v:.1f}%" if math.isfinite(v) else "" for v in np.asarray(weight_pct, dtype=float)],
        "pi_lo": [math.nan] * n,
        "pi_hi": [math.nan] * n,
    }
    for col, _title in (_TOOLTIP_FIELDS if tooltips else ()):
        values = df[col].tolist() if col in df.columns else [None] * n
        texts = [_as_text(v) for v in values]
        if col == "flags":  # an empty flag list means "no flags", not a missing value
            texts = ["none" if t == "not reported" else t for t in texts]
        if col == "source_quote":
            texts = [t if len(t) <= _QUOTE_LIMIT else t[: _QUOTE_LIMIT - 1] + "\u2026" for t in texts]
        cols[f"tt_{col}"] = texts

    if pooled is not None:
        p_est = float(_to_display(pooled.estimate, effect_measure))
        p_lo = float(_to_display(pooled.ci_low, effect_measure))
        p_hi = float(_to_display(pooled.ci_high, effect_measure))
        pi_lo = float(_to_display(getattr(pooled, "pi_low", np.nan), effect_measure))
        pi_hi = float(_to_display(getattr(pooled, "pi_high", np.nan), effect_measure))
        pooled_row = {c: "" for c in cols if c.startswith("tt_")}
        pooled_row.update({
            "row": _pooled_label(pooled), "row_type": "pooled", "order": n, "study_id": "",
            "est": p_est, "lo": p_lo, "hi": p_hi, "weight_pct": 100.0 if n else math.nan,
            "rob": "", "est_text": _interval_text(p_est, p_lo, p_hi), "weight_text": "100%",
            "pi_lo": pi_lo, "pi_hi": pi_hi,
        })
        for c in cols:
            cols[c].append(pooled_row[c])
    return cols


def _records(cols: dict[str, list]) -> list[dict]:
    """Rows for an inline Vega-Lite data set, as Altair writes a frame of these columns (NaN as null)."""
    names = list(cols)
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in zip(names, row)}
            for row in zip(*cols.values())]


def forest_plot(effects: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                ps_side: str = "right", level: float = 0.95, title: str | None = None) -> alt.HConcatChart:
    """Forest plot: one row per study and a pooled diamond with its prediction interval.

    Parameters
    ----------
    effects : pandas.DataFrame
        Rows of :func:`evidence.effects` (``label, yi, vi`` or ``sei`` at least);
        the row order is kept, top to bottom.
    pooled : stats.PooledEstimate or None
        The fit to draw as a diamond (CI) with a dashed bar (prediction interval).
        ``None`` draws the studies only (k = 1, or nothing to pool).
    effect_measure : {"SMD", "logRR", "logOR"}
    ps_side : {"right", "left"}
        Side of the null line that favours peer support.
    level : float
        Confidence level of the study intervals.
    title : str, optional

    Returns
    -------
    altair.HConcatChart
        The plot and a text column with ``estimate [CI]`` and weight per row.
        Square area is proportional to the study's weight; colour is its risk
        of bias.
    """
    data = study_rows(effects, pooled, effect_measure=effect_measure, level=level)
    return _forest_chart(data, _forest_layout(data, pooled is not None, effect_measure), effect_measure=effect_measure,
                         ps_side=ps_side, level=level, title=title)


class _ForestLayout(NamedTuple):
    """The literal values a forest plot's spec takes from its data (all else depends on settings only)."""

    order: list
    x_domain: tuple
    axis_values: list | None
    max_weight: float
    pooled_label: str | None


def _forest_layout(data, has_pooled: bool, effect_measure: str) -> _ForestLayout:
    """From the forest's rows (a frame, or :func:`study_columns`' lists)."""
    order = list(data["row"])
    pi = np.asarray(list(data["pi_lo"]) + list(data["pi_hi"]), float) if has_pooled else np.empty(0)
    extra = [pi[np.isfinite(pi)].min(), pi[np.isfinite(pi)].max()] if np.isfinite(pi).any() else []
    x_domain = _domain(np.asarray(data["lo"], float), np.asarray(data["hi"], float), effect_measure, extra)
    axis = _x_axis(effect_measure, x_domain)
    weights = np.asarray(data["weight_pct"], float)
    study_weights = weights[np.asarray(data["row_type"], dtype=object) == "study"]
    max_weight = float(np.nanmax(study_weights)) if np.isfinite(study_weights).any() else 100.0
    return _ForestLayout(order, x_domain, None if axis is alt.Undefined else list(axis.values), max_weight,
                         order[-1] if has_pooled else None)


def _forest_chart(data: pd.DataFrame, layout: _ForestLayout, *, effect_measure: str, ps_side: str, level: float,
                  title: str | None) -> alt.HConcatChart:
    order, x_domain, pooled_label, max_weight = layout.order, layout.x_domain, layout.pooled_label, layout.max_weight
    has_pooled = pooled_label is not None
    x = alt.X("est:Q", title=axis_title(effect_measure), scale=_x_scale(effect_measure, x_domain))
    label_weight = (alt.expr(f"datum.value == {json.dumps(pooled_label)} ? 'bold' : 'normal'")
                    if pooled_label else "normal")
    y = alt.Y("row:N", sort=order, title=None,
              axis=alt.Axis(labelLimit=190, labelFontWeight=label_weight, ticks=False, domain=False, grid=False))

    # The data sit once on the top-level chart and every layer inherits them: Altair serialises a
    # data frame again for each chart that carries it.
    base = alt.Chart()
    studies = base.transform_filter(alt.datum.row_type == "study")
    tooltip = [alt.Tooltip("row:N", title="Study"), alt.Tooltip("est_text:N", title="Effect [CI]"),
               alt.Tooltip("weight_text:N", title="Weight")]
    tooltip += [alt.Tooltip(f"tt_{c}:N", title=t) for c, t in _TOOLTIP_FIELDS]
    short_tooltip = tooltip[:3]  # the full characteristics sit on the square; bars carry the numbers
    ci = studies.mark_rule(strokeWidth=2, color="#333333").encode(
        x=alt.X("lo:Q", title=axis_title(effect_measure), scale=_x_scale(effect_measure, x_domain),
                axis=(alt.Axis(values=layout.axis_values, format="~g", labelOverlap=False)
                      if layout.axis_values is not None else alt.Undefined)),
        x2=alt.X2("hi:Q"), y=y, tooltip=short_tooltip)
    rob_domain = list(ROB_COLOURS)
    squares = studies.mark_square(filled=True, opacity=1, stroke="#222222", strokeWidth=0.6).encode(
        x=x, y=y,
        # Area proportional to weight, the heaviest study drawn about 23 px wide.
        size=alt.Size("weight_pct:Q", scale=alt.Scale(domain=[0, max_weight], range=[0, 520], zero=True),
                      legend=None),
        color=alt.Color("rob:N", title="Risk of bias",
                        scale=alt.Scale(domain=rob_domain, range=[ROB_COLOURS[k] for k in rob_domain])),
        tooltip=tooltip,
    )
    layers: list[alt.Chart] = [_null_rule(effect_measure), ci, squares]
    if has_pooled:
        pooled_rows = base.transform_filter(alt.datum.row_type == "pooled")
        pooled_tt = [alt.Tooltip("row:N", title="Pooled"), alt.Tooltip("est_text:N", title="Estimate [CI]"),
                     alt.Tooltip("pi_lo:Q", title="Prediction interval from", format=".2f"),
                     alt.Tooltip("pi_hi:Q", title="Prediction interval to", format=".2f")]
        pi = pooled_rows.transform_filter("isFinite(datum.pi_lo) && isFinite(datum.pi_hi)").mark_rule(
            strokeWidth=3, strokeDash=[5, 3], color=OKABE_ITO["vermillion"]).encode(
            x=alt.X("pi_lo:Q", scale=_x_scale(effect_measure, x_domain), title=axis_title(effect_measure)),
            x2="pi_hi:Q", y=y, tooltip=pooled_tt)
        # The diamond is a trail through (lo, 0) -> (est, full) -> (hi, 0): its
        # width at the estimate is the row height, tapering to the CI ends.
        diamond = pooled_rows.transform_fold(["lo", "est", "hi"], as_=["vertex", "xv"]).transform_calculate(
            thick="datum.vertex == 'est' ? 1 : 0",
            vorder="datum.vertex == 'lo' ? 0 : (datum.vertex == 'est' ? 1 : 2)",
        ).mark_trail(color="#111111").encode(
            x=alt.X("xv:Q", scale=_x_scale(effect_measure, x_domain), title=axis_title(effect_measure)),
            y=y, order="vorder:Q",
            size=alt.Size("thick:Q", scale=alt.Scale(domain=[0, 1], range=[0, ROW_HEIGHT * 0.75]), legend=None),
            tooltip=pooled_tt)
        layers += [pi, diamond]
    layers.append(_favours_layer(effect_measure, ps_side))
    # Settings go into the constructors: every Altair method call copies the whole spec.
    plot = alt.layer(*layers, resolve=alt.Resolve(scale=alt.ScaleResolveMap(size="independent")),
                     width=PLOT_WIDTH, height=alt.Step(ROW_HEIGHT))

    text_y = alt.Y("row:N", sort=order, axis=None)
    est_col = alt.layer(
        base.transform_filter(alt.datum.row_type == "study").mark_text(align="left", fontSize=FONT["text"]).encode(
            y=text_y, text="est_text:N", x=alt.value(0)),
        base.transform_filter(alt.datum.row_type == "pooled").mark_text(
            align="left", fontSize=FONT["text"], fontWeight="bold").encode(y=text_y, text="est_text:N",
                                                                           x=alt.value(0)),
    ).properties(width=150, height=alt.Step(ROW_HEIGHT), title=alt.TitleParams("Estimate [95% CI]" if level == 0.95 else
                                                                 f"Estimate [{level:.0%} CI]",
                                                                 fontSize=FONT["text"], anchor="start"))
    weight_col = base.mark_text(align="right", fontSize=FONT["text"]).encode(
        y=text_y, text="weight_text:N", x=alt.value(50)).properties(
        width=55, height=alt.Step(ROW_HEIGHT), title=alt.TitleParams("Weight", fontSize=FONT["text"], anchor="end"))
    chart = alt.hconcat(plot, est_col, weight_col, spacing=8, data=data,
                        resolve=alt.Resolve(scale=alt.ScaleResolveMap(y="shared")))
    return _configure(chart, title)




# A forest plot's spec depends on its data only through the data set and the few literals of
# _ForestLayout. Building it through Altair costs ~0.2 s, most of a filter change; so the spec is built
# once per setting with sentinels in those places, and each view swaps in its own values (~2 ms).
_SENTINEL_LO, _SENTINEL_HI, _SENTINEL_WEIGHT = -1.2345678912345e+99, 9.8765432198765e+98, 7.6543219876543e+97


@functools.lru_cache(maxsize=64)
def _forest_template(effect_measure: str, ps_side: str, level: float, has_pooled: bool, has_title: bool,
                     has_axis_values: bool, columns: tuple[str, ...]) -> str:
    """The spec as JSON with sentinels in place of the layout values and the data set."""
    data = pd.DataFrame(columns=list(columns))
    layout = _ForestLayout(["__ORDER__"], (_SENTINEL_LO, _SENTINEL_HI), ["__AXIS__"] if has_axis_values else None,
                           _SENTINEL_WEIGHT, "__PLABEL__" if has_pooled else None)
    spec = _forest_chart(data, layout, effect_measure=effect_measure, ps_side=ps_side, level=level,
                         title="__TITLE__" if has_title else None).to_dict(validate=False)
    spec["datasets"][spec["data"]["name"]] = "__DATA__"
    return json.dumps(spec)


def forest_plot_spec(effects: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                     ps_side: str = "right", level: float = 0.95, title: str | None = None) -> dict:
    """The Vega-Lite dict of :func:`forest_plot` with the same arguments, built from a cached template.

    Equal to ``forest_plot(...).to_dict(validate=False)`` up to the name of the inline data set (a
    test checks it on every shape of forest plot).
    """
    cols = study_columns(effects, pooled, effect_measure=effect_measure, level=level)
    layout = _forest_layout(cols, pooled is not None, effect_measure)
    settings = (effect_measure, ps_side, float(level), pooled is not None, bool(title), layout.axis_values is not None)
    template = _forest_template(*settings, tuple(cols))
    values = _records(cols)
    swaps = {
        '["__ORDER__"]': json.dumps(layout.order),
        '["__AXIS__"]': json.dumps(layout.axis_values),
        json.dumps(_SENTINEL_LO): json.dumps(float(layout.x_domain[0])),
        json.dumps(_SENTINEL_HI): json.dumps(float(layout.x_domain[1])),
        json.dumps(_SENTINEL_WEIGHT): json.dumps(float(layout.max_weight)),
        # Inside an expression string: a JavaScript string literal, itself inside a JSON string.
        "__PLABEL__": json.dumps(json.dumps(layout.pooled_label or "")[1:-1])[1:-1],
        '"__TITLE__"': json.dumps(title),
        '"__DATA__"': json.dumps(values),
    }
    pattern = re.compile("|".join(re.escape(k) for k in swaps))
    return json.loads(pattern.sub(lambda m: swaps[m.group(0)], template))


def _forest_arguments(analysis: Any) -> tuple[tuple, dict]:
    pooled = getattr(analysis, "pooled", None)
    return (analysis.effects, pooled), dict(
        effect_measure=analysis.effect_measure,
        ps_side=analysis.favours.side,
        level=getattr(pooled, "level", 0.95) if pooled is not None else 0.95)


def forest(analysis: Any, *, title: str | None = None) -> alt.HConcatChart:
    """Forest plot of an :class:`evidence.Analysis` (its effects, pooled fit and orientation)."""
    args, kwargs = _forest_arguments(analysis)
    return forest_plot(*args, **kwargs, title=title)


def forest_spec(analysis: Any, *, title: str | None = None) -> dict:
    """:func:`forest` as a Vega-Lite dict, fast (see :func:`forest_plot_spec`)."""
    args, kwargs = _forest_arguments(analysis)
    return forest_plot_spec(*args, **kwargs, title=title)


# ---------------------------------------------------------------------------
# generic "estimate with interval per row" plots (leave-one-out, cumulative, subgroups)


def interval_plot(table: pd.DataFrame, *, label: str, estimate: str, ci_low: str, ci_high: str,
                  effect_measure: str = "SMD", ps_side: str = "right", reference: float | None = None,
                  reference_label: str = "All studies", highlight: str | None = None,
                  highlight_title: str = "", mark: str = "point", extra_tooltip: Sequence[tuple[str, str]] = (),
                  title: str | None = None, already_display_scale: bool = False) -> alt.LayerChart:
    """One row per table row: a point (or diamond) at the estimate and a bar for its interval.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per line of the plot, top to bottom.
    label, estimate, ci_low, ci_high : str
        Column names. Estimates are on the analysis scale unless
        ``already_display_scale``.
    reference : float, optional
        A vertical dashed line (e.g. the all-studies pooled estimate), analysis scale.
    highlight : str, optional
        Name of a boolean column; ``True`` rows are drawn in vermillion.
    mark : {"point", "diamond"}
    """
    df = table.reset_index(drop=True)
    conv = (lambda v: np.asarray(v, float)) if already_display_scale else (lambda v: _to_display(v, effect_measure))
    est = conv(df[estimate])
    lo = conv(df[ci_low])
    hi = conv(df[ci_high])
    rows = pd.DataFrame({
        "row": _unique_labels(df[label]),
        "est": est, "lo": lo, "hi": hi,
        "est_text": [_interval_text(a, b, c) for a, b, c in zip(est, lo, hi)],
        "flag": (np.where(df[highlight].fillna(False).astype(bool).to_numpy(), "yes", "no")
                 if highlight else "no"),
    })
    for col, _t in extra_tooltip:
        rows[f"tt_{col}"] = [_as_text(v) for v in df[col]] if col in df.columns else ""
    order = list(rows["row"])
    ref_display = None if reference is None else float(conv([reference])[0])
    x_domain = _domain(lo, hi, effect_measure, [] if ref_display is None else [ref_display])
    xs = _x_scale(effect_measure, x_domain)
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=300, ticks=False, domain=False))
    tooltip = [alt.Tooltip("row:N", title="Row"), alt.Tooltip("est_text:N", title="Estimate [CI]")]
    tooltip += [alt.Tooltip(f"tt_{c}:N", title=t) for c, t in extra_tooltip]
    colour = (alt.Color("flag:N", title=highlight_title or "Flagged",
                        scale=alt.Scale(domain=["no", "yes"], range=["#222222", OKABE_ITO["vermillion"]]))
              if highlight else alt.value("#222222"))
    base = alt.Chart(rows)
    bars = base.mark_rule(strokeWidth=2.5).encode(
        x=alt.X("lo:Q", scale=xs, title=axis_title(effect_measure), axis=_x_axis(effect_measure, x_domain)),
        x2="hi:Q", y=y, color=colour, tooltip=tooltip)
    shape = "diamond" if mark == "diamond" else "circle"
    points = base.mark_point(filled=True, size=140 if mark == "diamond" else 90, shape=shape, opacity=1).encode(
        x=alt.X("est:Q", scale=xs), y=y, color=colour, tooltip=tooltip)
    layers: list[Any] = [_null_rule(effect_measure)]
    if ref_display is not None and math.isfinite(ref_display):
        ref = alt.Chart(pd.DataFrame({"x": [ref_display], "what": [reference_label]})).mark_rule(
            color=OKABE_ITO["blue"], strokeDash=[6, 4], strokeWidth=2).encode(
            x=alt.X("x:Q", scale=xs), tooltip=[alt.Tooltip("what:N", title="Line"),
                                               alt.Tooltip("x:Q", title="Estimate", format=".2f")])
        layers.append(ref)
    layers += [bars, points, _favours_layer(effect_measure, ps_side)]
    # Step sizing (pixels per row) rather than a total height: hosts that "fit" a chart to its
    # container cannot squash the rows of a discrete axis then.
    chart = alt.layer(*layers).properties(width=PLOT_WIDTH + 220, height=alt.Step(ROW_HEIGHT))
    return _configure(chart, title)


def leave_one_out_plot(table: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                       ps_side: str = "right", title: str | None = "Leave one out") -> alt.LayerChart:
    """Pooled estimate with each study left out in turn.

    ``table`` has one row per omitted study with columns ``label`` (the
    omitted study), ``estimate``, ``ci_low``, ``ci_high`` and optionally a
    boolean ``verdict_changes`` (as :func:`evidence.analysis.leave_one_out_table`
    gives it); the dashed line is the all-studies estimate.
    """
    df = table.copy()
    df["_label"] = ["Without " + str(v) for v in df["label"]]
    highlight = "verdict_changes" if "verdict_changes" in df.columns else None
    return interval_plot(df, label="_label", estimate="estimate", ci_low="ci_low", ci_high="ci_high",
                         effect_measure=effect_measure, ps_side=ps_side,
                         reference=None if pooled is None else pooled.estimate, reference_label="All studies",
                         highlight=highlight, highlight_title="Changes the conclusion", title=title)


def cumulative_plot(table: pd.DataFrame, *, effect_measure: str = "SMD", ps_side: str = "right",
                    title: str | None = "Cumulative meta-analysis by year") -> alt.LayerChart:
    """Pooled estimate as studies are added in publication order.

    ``table`` has one row per step with ``label`` (the study added), ``year``,
    ``estimate``, ``ci_low``, ``ci_high``, in the order they were added.
    """
    df = table.copy()
    years = df["year"] if "year" in df.columns else [""] * len(df)
    df["_label"] = [f"+ {lab} ({_as_text(yr)})" for lab, yr in zip(df["label"], years)]
    return interval_plot(df, label="_label", estimate="estimate", ci_low="ci_low", ci_high="ci_high",
                         effect_measure=effect_measure, ps_side=ps_side, mark="diamond", title=title)


def influence_plot(table: pd.DataFrame, *, title: str | None = "Influence diagnostics") -> alt.HConcatChart:
    """Studentised residuals and Cook's distances per study, flagged studies in vermillion.

    ``table`` has one row per study with ``label``, ``rstudent``,
    ``cook_d``, ``hat`` and boolean ``flagged`` (metafor's
    ``influence.rma.uni`` flags, Viechtbauer & Cheung 2010).
    """
    df = table.reset_index(drop=True).copy()
    df["row"] = _unique_labels(df["label"])
    flagged = df["flagged"].fillna(False).astype(bool) if "flagged" in df.columns else pd.Series(False, df.index)
    df["status"] = np.where(flagged, "Influential", "Not flagged")
    order = list(df["row"])
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, ticks=False))
    colour = alt.Color("status:N", title="Influence",
                       scale=alt.Scale(domain=["Not flagged", "Influential"],
                                       range=["#444444", OKABE_ITO["vermillion"]]))
    tooltip = [alt.Tooltip("row:N", title="Study")] + [
        alt.Tooltip(f"{c}:Q", title=t, format=".3f")
        for c, t in (("rstudent", "Studentised residual"), ("cook_d", "Cook's distance"),
                     ("hat", "Hat value")) if c in df.columns] + [alt.Tooltip("status:N", title="Influence")]
    panels = []
    for col, name, guides in (("rstudent", "Studentised residual", [-1.96, 1.96]),
                              ("cook_d", "Cook's distance", [])):
        if col not in df.columns:
            continue
        base = alt.Chart(df)
        base = base.transform_calculate(zero="0")
        stems = base.mark_rule(strokeWidth=2).encode(x=alt.X(f"{col}:Q", title=name, axis=alt.Axis(tickCount=5)), x2="zero:Q", y=y,
                                                     color=colour, tooltip=tooltip)
        dots = base.mark_point(filled=True, size=90, opacity=1).encode(x=f"{col}:Q", y=y, color=colour,
                                                                        tooltip=tooltip)
        layers: list[Any] = []
        for g in guides:
            layers.append(base.mark_rule(strokeDash=[4, 4], color=OKABE_ITO["grey"]).encode(x=alt.datum(g)))
        layers += [stems, dots]
        panel = alt.layer(*layers).properties(width=300, height=alt.Step(ROW_HEIGHT))
        if panels:
            panel = panel.encode(y=alt.Y("row:N", sort=order, axis=None))
        panels.append(panel)
    chart = alt.hconcat(*panels, spacing=16)
    return _configure(chart, title)


def subgroup_forest(table: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                    ps_side: str = "right", title: str | None = None) -> alt.LayerChart:
    """One diamond per subgroup with its CI; the dashed line is the overall estimate.

    ``table`` has one row per subgroup with ``group``, ``k``, ``estimate``,
    ``ci_low``, ``ci_high`` (and optionally ``i2``, ``tau2``), as
    :func:`evidence.analysis.subgroup_table` gives it.
    """
    df = table.copy()
    df["_label"] = [f"{_as_text(g)} (k = {_as_text(k)})" for g, k in zip(df["group"], df["k"])]
    extra = [(c, t) for c, t in (("i2", "I² (%)"), ("tau2", "τ²")) if c in df.columns]
    return interval_plot(df, label="_label", estimate="estimate", ci_low="ci_low", ci_high="ci_high",
                         effect_measure=effect_measure, ps_side=ps_side,
                         reference=None if pooled is None else pooled.estimate, reference_label="All studies",
                         mark="diamond", extra_tooltip=extra, title=title)


def compare_plot(table: pd.DataFrame, *, effect_measure: str = "SMD", ps_side: str = "right",
                 title: str | None = None) -> alt.LayerChart:
    """Two (or more) pinned filter sets side by side: ``label, k, estimate, ci_low, ci_high``."""
    df = table.copy()
    df["group"] = df["label"]
    return subgroup_forest(df, None, effect_measure=effect_measure, ps_side=ps_side, title=title)


def robustness_heatmap(table: pd.DataFrame, *, effect_measure: str = "SMD",
                       title: str | None = None) -> alt.LayerChart:
    """One-glance robustness panel: estimator (rows) x scenario (columns), coloured by whether the conclusion survives.

    ``table`` is :func:`evidence.analysis.robustness_grid`: ``method, hartung_knapp, trials,
    outliers, k, estimate, ci_low, ci_high, survives, verdict, removed``. Each cell shows the
    pooled estimate (display scale) and k; blue = same conclusion as the main analysis,
    vermillion = the conclusion changes, grey = nothing to fit.
    """
    df = table.reset_index(drop=True).copy()
    df["column"] = [f"{'Hartung-Knapp' if hk else 'Standard CI'} | {tr} | outliers {ol}"
                    for hk, tr, ol in zip(df["hartung_knapp"], df["trials"], df["outliers"])]
    k = pd.to_numeric(df["k"], errors="coerce").fillna(0).astype(int)
    est = _to_display(pd.to_numeric(df["estimate"], errors="coerce"), effect_measure)
    lo = _to_display(pd.to_numeric(df["ci_low"], errors="coerce"), effect_measure)
    hi = _to_display(pd.to_numeric(df["ci_high"], errors="coerce"), effect_measure)
    df["cell"] = [f"{e:.2f}" if k_ > 0 and math.isfinite(e) else "n/a" for e, k_ in zip(est, k)]
    df["detail"] = [_interval_text(e, a, b) if k_ > 0 else "" for e, a, b, k_ in zip(est, lo, hi, k)]
    df["status"] = np.where(k <= 0, "not available",
                            np.where(df["survives"].fillna(False).astype(bool), "same conclusion",
                                     "conclusion changes"))
    df["k_text"] = k.astype(str)
    df["removed"] = df["removed"].fillna("").astype(str) if "removed" in df.columns else ""
    df["verdict"] = df["verdict"].fillna("").astype(str) if "verdict" in df.columns else ""
    columns = list(dict.fromkeys(df["column"]))
    methods = list(dict.fromkeys(df["method"]))
    status_scale = alt.Scale(domain=["same conclusion", "conclusion changes", "not available"],
                             range=[OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"], "#DDDDDD"])
    base = alt.Chart(df).encode(
        x=alt.X("column:N", sort=columns, title=None,
                axis=alt.Axis(labelAngle=-35, labelLimit=320, orient="top", labelFontSize=12)),
        y=alt.Y("method:N", sort=methods, title="Estimator"),
    )
    tooltip = [alt.Tooltip("method:N", title="Estimator"), alt.Tooltip("column:N", title="Scenario"),
               alt.Tooltip("k_text:N", title="k"), alt.Tooltip("detail:N", title="Estimate [CI]"),
               alt.Tooltip("verdict:N", title="Conclusion"), alt.Tooltip("removed:N", title="Left out")]
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("status:N", title="Compared with the main analysis", scale=status_scale),
        tooltip=tooltip)
    labels = base.mark_text(fontSize=FONT["text"], color="#111111").encode(text="cell:N", tooltip=tooltip)
    chart = alt.layer(rect, labels).properties(width=alt.Step(78), height=alt.Step(34))
    return _configure(chart, title)


# ---------------------------------------------------------------------------
# meta-regression bubble plot


def bubble_plot(effects: pd.DataFrame, moderator: str, *, line: pd.DataFrame | None = None,
                intercept: float | None = None, slope: float | None = None,
                effect_measure: str = "SMD", moderator_title: str | None = None, tau2: float = 0.0,
                title: str | None = None) -> alt.LayerChart:
    """Bubble plot for a meta-regression on one numeric moderator.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``label, yi, vi`` (or ``sei``) and the ``moderator`` column.
    moderator : str
    line : pandas.DataFrame, optional
        The fitted line, columns ``x, fit`` and optionally ``ci_low, ci_high``
        (analysis scale), e.g. from the meta-regression's predictions.
    intercept, slope : float, optional
        Coefficients of a one-moderator meta-regression; when given (and no
        ``line``), the fitted line ``intercept + slope * x`` is drawn over the
        observed range of the moderator.
    tau2 : float
        Residual heterogeneity of the fit; bubble area is proportional to the
        random-effects weight ``1 / (vi + tau2)``.
    """
    df = effects.reset_index(drop=True)
    vi = df["vi"].to_numpy(float) if "vi" in df.columns else df["sei"].to_numpy(float) ** 2
    w = 1.0 / (vi + max(float(tau2), 0.0))
    data = pd.DataFrame({
        "row": _unique_labels(df["label"] if "label" in df.columns else df["study_id"]),
        "x": pd.to_numeric(df[moderator], errors="coerce").to_numpy(float),
        "y": _to_display(df["yi"], effect_measure),
        "weight_pct": 100 * w / np.nansum(w),
    })
    data = data[np.isfinite(data["x"]) & np.isfinite(data["y"])]
    if line is None and intercept is not None and slope is not None and len(data):
        xs_line = np.linspace(float(data["x"].min()), float(data["x"].max()), 50)
        line = pd.DataFrame({"x": xs_line, "fit": float(intercept) + float(slope) * xs_line})
    y_scale = _x_scale(effect_measure)
    xt = moderator_title or moderator
    tooltip = [alt.Tooltip("row:N", title="Study"), alt.Tooltip("x:Q", title=xt, format=".4g"),
               alt.Tooltip("y:Q", title="Effect", format=".2f"),
               alt.Tooltip("weight_pct:Q", title="Weight (%)", format=".1f")]
    layers: list[Any] = [alt.Chart(pd.DataFrame({"y": [_null_value(effect_measure)]})).mark_rule(
        color="#777777").encode(y="y:Q")]
    if line is not None and len(line):
        ln = pd.DataFrame({"x": line["x"].to_numpy(float), "fit": _to_display(line["fit"], effect_measure)})
        if {"ci_low", "ci_high"} <= set(line.columns):
            ln["lo"] = _to_display(line["ci_low"], effect_measure)
            ln["hi"] = _to_display(line["ci_high"], effect_measure)
            layers.append(alt.Chart(ln).mark_area(opacity=0.18, color=OKABE_ITO["blue"]).encode(
                x="x:Q", y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q"))
        layers.append(alt.Chart(ln).mark_line(color=OKABE_ITO["blue"], strokeWidth=3).encode(
            x="x:Q", y=alt.Y("fit:Q", scale=y_scale)))
    whole = bool(len(data)) and bool(np.all(np.mod(data["x"].to_numpy(float), 1) == 0))
    layers.append(alt.Chart(data).mark_circle(opacity=0.55, color=OKABE_ITO["orange"], stroke="#333333",
                                              strokeWidth=0.8).encode(
        x=alt.X("x:Q", title=xt, scale=alt.Scale(zero=False), axis=alt.Axis(format="d" if whole else "~g")),
        y=alt.Y("y:Q", title=axis_title(effect_measure), scale=y_scale),
        size=alt.Size("weight_pct:Q", scale=alt.Scale(range=[40, 1600]), legend=None),
        tooltip=tooltip))
    chart = alt.layer(*layers).properties(width=PLOT_WIDTH + 120, height=360)
    return _configure(chart, title)


# ---------------------------------------------------------------------------
# contour-enhanced funnel plot

#: Two-sided p-value contours drawn on the funnel plot (Peters et al. 2008).
FUNNEL_CONTOURS = ((0.10, "p < 0.10"), (0.05, "p < 0.05"), (0.01, "p < 0.01"))


def funnel_plot(effects: pd.DataFrame, pooled: Any = None, *, filled: pd.DataFrame | None = None,
                adjusted_estimate: float | None = None, effect_measure: str = "SMD",
                ps_side: str = "right", title: str | None = None) -> alt.LayerChart:
    """Contour-enhanced funnel plot (Peters et al. 2008, J Clin Epidemiol 61:991-6).

    Shaded regions mark where a study would be statistically significant at
    two-sided p < 0.10, 0.05 and 0.01 against no effect (``|yi| / sei >= z``);
    the white region is p >= 0.10. Dashed lines are the pseudo 95% limits
    around the pooled estimate (``estimate +/- 1.96 * se``).

    Parameters
    ----------
    effects : pandas.DataFrame
        ``label, yi`` and ``sei`` (or ``vi``).
    pooled : stats.PooledEstimate, optional
    filled : pandas.DataFrame, optional
        Studies imputed by trim-and-fill, columns ``yi`` and ``sei`` (or ``vi``);
        drawn as hollow vermillion circles.
    adjusted_estimate : float, optional
        The trim-and-fill adjusted pooled estimate (analysis scale).
    """
    df = effects.reset_index(drop=True)
    sei = df["sei"].to_numpy(float) if "sei" in df.columns else np.sqrt(df["vi"].to_numpy(float))
    pts = pd.DataFrame({"row": _unique_labels(df["label"] if "label" in df.columns else df["study_id"]),
                        "yi": df["yi"].to_numpy(float), "sei": sei, "kind": "Observed study"})
    if filled is not None and len(filled):
        fsei = filled["sei"].to_numpy(float) if "sei" in filled.columns else np.sqrt(filled["vi"].to_numpy(float))
        pts = pd.concat([pts, pd.DataFrame({"row": [f"Filled study {i + 1}" for i in range(len(filled))],
                                            "yi": filled["yi"].to_numpy(float), "sei": fsei,
                                            "kind": "Filled by trim-and-fill"})], ignore_index=True)
    pts["x"] = _to_display(pts["yi"], effect_measure)
    se_max = float(np.nanmax(pts["sei"])) * 1.08 if len(pts) else 1.0
    z99 = _z(0.99)
    half = max(float(np.nanmax(np.abs(pts["yi"]))) if len(pts) else 0.0, z99 * se_max) * 1.05
    if pooled is not None:
        half = max(half, abs(float(pooled.estimate)) + 1.96 * se_max)
    lo_lim, hi_lim = -half, half

    # Contour regions, drawn from the outside in so inner ones paint over.
    shades = {"p < 0.01": "#A6A6A6", "0.01 ≤ p < 0.05": "#C9C9C9", "0.05 ≤ p < 0.10": "#E8E8E8",
              "p ≥ 0.10": "#FFFFFF"}
    regions = [pd.DataFrame({"sei": [0.0, se_max], "lo": [lo_lim, lo_lim], "hi": [hi_lim, hi_lim],
                             "region": "p < 0.01"})]
    for p, name in ((0.01, "0.01 ≤ p < 0.05"), (0.05, "0.05 ≤ p < 0.10"), (0.10, "p ≥ 0.10")):
        z = float(_sps.norm.ppf(1 - p / 2))
        regions.append(pd.DataFrame({"sei": [0.0, se_max], "lo": [0.0, -z * se_max], "hi": [0.0, z * se_max],
                                     "region": name}))
    reg = pd.concat(regions, ignore_index=True)
    reg["lo"] = _to_display(reg["lo"], effect_measure)
    reg["hi"] = _to_display(reg["hi"], effect_measure)
    reg["layer"] = reg["region"].map({n: i for i, n in enumerate(shades)})
    x_dom = [float(_to_display(lo_lim, effect_measure)), float(_to_display(hi_lim, effect_measure))]
    xs = _x_scale(effect_measure, x_dom)
    ys = alt.Scale(domain=[se_max, 0.0], nice=False, zero=False)
    region_colour = alt.Color("region:N", title="Significance contours",
                              scale=alt.Scale(domain=list(shades), range=list(shades.values())),
                              legend=alt.Legend(symbolStrokeColor="#888888", symbolStrokeWidth=1))
    layers: list[Any] = []
    for name in shades:
        layers.append(alt.Chart(reg[reg["region"] == name]).mark_area(orient="horizontal", opacity=1).encode(
            y=alt.Y("sei:Q", scale=ys, title="Standard error"), x=alt.X("lo:Q", scale=xs,
                                                                       title=axis_title(effect_measure)),
            x2="hi:Q", color=region_colour))
    layers.append(_null_rule(effect_measure))
    if pooled is not None:
        est = float(pooled.estimate)
        lines = pd.DataFrame({"sei": [0.0, se_max, 0.0, se_max],
                              "x": _to_display([est, est - 1.96 * se_max, est, est + 1.96 * se_max], effect_measure),
                              "side": ["l", "l", "r", "r"]})
        layers.append(alt.Chart(lines).mark_line(strokeDash=[4, 4], color="#333333").encode(
            x=alt.X("x:Q", scale=xs), y=alt.Y("sei:Q", scale=ys), detail="side:N"))
        ests = [("Pooled estimate", est, OKABE_ITO["blue"])]
        if adjusted_estimate is not None and math.isfinite(float(adjusted_estimate)):
            ests.append(("Adjusted (trim-and-fill)", float(adjusted_estimate), OKABE_ITO["vermillion"]))
        dash_scale = alt.Scale(domain=[e[0] for e in ests], range=[[1, 0], [6, 3]][:len(ests)])
        for what, value, colour in ests:
            est_df = pd.DataFrame({"what": [what], "x": _to_display([value], effect_measure)})
            layers.append(alt.Chart(est_df).mark_rule(strokeWidth=2.5, color=colour).encode(
                x=alt.X("x:Q", scale=xs),
                strokeDash=alt.StrokeDash("what:N", title="Estimate", scale=dash_scale),
                tooltip=[alt.Tooltip("what:N", title="Line"), alt.Tooltip("x:Q", title="Estimate", format=".2f")]))
    kinds = ["Observed study", "Filled by trim-and-fill"]
    layers.append(alt.Chart(pts).mark_point(size=90, strokeWidth=2, opacity=1).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("sei:Q", scale=ys),
        shape=alt.Shape("kind:N", title="Study", scale=alt.Scale(domain=kinds, range=["circle", "circle"])),
        fill=alt.Fill("kind:N", scale=alt.Scale(domain=kinds, range=["#111111", "#FFFFFF"]), legend=None),
        stroke=alt.Stroke("kind:N", scale=alt.Scale(domain=kinds, range=["#111111", OKABE_ITO["vermillion"]]),
                          legend=None),
        tooltip=[alt.Tooltip("row:N", title="Study"), alt.Tooltip("kind:N", title="Kind"),
                 alt.Tooltip("x:Q", title="Effect", format=".2f"),
                 alt.Tooltip("sei:Q", title="Standard error", format=".3f")]))
    layers.append(_favours_layer(effect_measure, ps_side))
    # Wide enough for the legends on the right (hosts may fit legends inside the given width).
    chart = alt.layer(*layers).properties(width=PLOT_WIDTH + 300, height=400)
    return _configure(chart, title, legend="right")
