"""The contour-enhanced funnel plot with trim-and-fill's filled studies."""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats as _sps


from ._common import (OKABE_ITO, PLOT_WIDTH, axis_title, _to_display, _x_scale, _z, _unique_labels, _favours_layer, _null_rule, _configure)

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
