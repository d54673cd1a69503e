"""Sensitivity figures: estimate-with-interval rows (leave-one-out, cumulative), influence panels, the robustness grid."""

from __future__ import annotations

import math
from typing import Any, Sequence

import altair as alt
import numpy as np
import pandas as pd


from ._common import (_as_text, OKABE_ITO, FONT, ROW_HEIGHT, PLOT_WIDTH, axis_title, _to_display, _x_scale, _x_axis, _interval_text, _domain, _unique_labels, _favours_layer, _null_rule, _configure)

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
