"""The forest plot: one row per study with its CI and weight, the pooled diamond, the prediction interval, the risk-of-bias strip."""

from __future__ import annotations

import functools
import json
import math
from typing import Any, NamedTuple

import altair as alt
import numpy as np
import pandas as pd


from evidence.analysis.certainty import rob_standing

from . import _template_cache
from ._common import (_QUOTE_LIMIT, _as_text, OKABE_ITO, ROB_COLOURS, FONT, ROW_HEIGHT, PLOT_WIDTH, axis_title, _to_display, _x_scale, _x_axis, _interval_text, _z, _domain, _unique_labels, _favours_layer, _null_rule, _configure)

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
    ("rob_status", "Risk-of-bias judgement held"),
    ("rob_domains", "Risk of bias by domain"),
    ("computed_from", "Computed from"),
    ("flags", "Flags"),
    ("source_url", "Source"),
    ("source_location", "Where in the source"),
    ("source_quote", "Quote"),
]



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
    none = [None] * len(df)
    rob = [rob_standing(o, w) for o, w in zip(df["risk_of_bias"].tolist() if "risk_of_bias" in df.columns else none,
                                              df["rob_worst_domain"].tolist() if "rob_worst_domain" in df.columns
                                              else none)]
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


#: Placeholders put into the cached template where the values of one plot go (never valid data).
_SLOTS = {"order": "__ORDER__", "axis": "__AXIS__", "title": "__TITLE__", "data": "__DATA__",
          # numbers the chart builder checks as numbers: values no real plot has
          "lo": -1.2345678912345e+99, "hi": 9.8765432198765e+98, "weight": 7.6543219876543e+97}
_PLABEL = "__PLABEL__"  # inside a Vega expression string, so filled by replacing the marker in that string


@functools.lru_cache(maxsize=64)
def _forest_template(effect_measure: str, ps_side: str, level: float, has_pooled: bool, has_title: bool,
                     has_axis_values: bool, columns: tuple[str, ...]) -> tuple[str, tuple]:
    """The spec as JSON with placeholders, and where each placeholder sits (paths into the dict); built once
    per shape and kept on disk for later processes (:mod:`._template_cache`)."""
    def build() -> list:
        data = pd.DataFrame(columns=list(columns))
        layout = _ForestLayout(["__ORDER__"], (_SLOTS["lo"], _SLOTS["hi"]),
                               ["__AXIS__"] if has_axis_values else None, _SLOTS["weight"],
                               _PLABEL if has_pooled else None)
        spec = _forest_chart(data, layout, effect_measure=effect_measure, ps_side=ps_side, level=level,
                             title="__TITLE__" if has_title else None).to_dict(validate=False)
        spec["datasets"][spec["data"]["name"]] = "__DATA__"
        return [json.dumps(spec), list(_slot_paths(spec))]

    key = (effect_measure, ps_side, level, has_pooled, has_title, has_axis_values, columns)
    template, paths = _template_cache.stored("forest", key, build)
    return template, tuple((tuple(path), slot) for path, slot in paths)


def _slot_paths(node: Any, path: tuple = ()):
    """(path, slot) for every placeholder in the spec: a whole value, a one-item list, or a marked string."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        here = path + (key,)
        if isinstance(value, list) and len(value) == 1 and value[0] in ("__ORDER__", "__AXIS__"):
            yield here, "order" if value[0] == "__ORDER__" else "axis"
        elif isinstance(value, (str, float)) and not isinstance(value, bool) and value in _SLOTS.values():
            yield here, next(k for k, v in _SLOTS.items() if v == value)
        elif isinstance(value, str) and _PLABEL in value:
            yield here, "plabel"
        else:
            yield from _slot_paths(value, here)


def forest_plot_spec(effects: pd.DataFrame, pooled: Any = None, *, effect_measure: str = "SMD",
                     ps_side: str = "right", level: float = 0.95, title: str | None = None) -> dict:
    """The Vega-Lite dict of :func:`forest_plot` with the same arguments, built from a cached template.

    Equal to ``forest_plot(...).to_dict(validate=False)`` up to the name of the inline data set (a
    test checks it on every shape of forest plot). Building the Altair chart costs more than the
    page's whole rerun, so the layout of one shape is built once and the values of a plot are set
    at the places the template records.
    """
    cols = study_columns(effects, pooled, effect_measure=effect_measure, level=level)
    layout = _forest_layout(cols, pooled is not None, effect_measure)
    settings = (effect_measure, ps_side, float(level), pooled is not None, bool(title), layout.axis_values is not None)
    template, paths = _forest_template(*settings, tuple(cols))
    spec = json.loads(template)
    values = {"order": layout.order, "axis": layout.axis_values, "lo": float(layout.x_domain[0]),
              "hi": float(layout.x_domain[1]), "weight": float(layout.max_weight), "title": title,
              "data": _records(cols)}
    for path, slot in paths:
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        if slot == "plabel":
            # a JavaScript string literal inside the expression: the label JSON-escaped, without its quotes
            parent[path[-1]] = parent[path[-1]].replace(_PLABEL, json.dumps(layout.pooled_label or "")[1:-1])
        else:
            parent[path[-1]] = values[slot]
    return spec


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
