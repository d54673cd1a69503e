"""Moderator figures: subgroup diamonds, A-vs-B comparison, the meta-regression bubble plot."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd


from .diagnostics import interval_plot
from ._common import (_as_text, OKABE_ITO, PLOT_WIDTH, axis_title, _null_value, _to_display, _x_scale, _unique_labels, _configure)

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
