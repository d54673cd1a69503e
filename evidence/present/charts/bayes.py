"""Posterior densities of a Bayesian fit: the overall effect mu (with its credible interval shaded and the
null line) and the between-study standard deviation tau (with its prior dashed)."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ._common import OKABE_ITO, PLOT_WIDTH, _configure, _favours_layer, _null_rule, _to_display, _x_axis, \
    _x_scale, axis_title

_HEIGHT = 220


def mu_posterior_chart(estimate: Any, *, effect_measure: str = "SMD", ps_side: str = "right",
                       title: str | None = None) -> alt.LayerChart:
    """Posterior density of mu (``estimate``: a ``stats.BayesEstimate``), drawn on the display scale.

    For ratios the x axis is the ratio on a log axis and the curve is the density of the log ratio (the
    shape on a log axis); the credible interval is shaded.
    """
    x, dens = estimate.mu_density()
    shown = _to_display(x, effect_measure)
    lo, hi = _to_display([estimate.mu_ci_low, estimate.mu_ci_high], effect_measure)
    df = pd.DataFrame({"x": shown, "density": dens, "inside": (shown >= lo) & (shown <= hi)})
    domain = (float(min(shown.min(), _to_display([0.0], effect_measure)[0])),
              float(max(shown.max(), _to_display([0.0], effect_measure)[0])))
    xs = _x_scale(effect_measure, domain)
    x_enc = alt.X("x:Q", scale=xs, axis=_x_axis(effect_measure, domain), title=axis_title(effect_measure))
    y_enc = alt.Y("density:Q", title="Posterior density")
    pct = f"{100 * estimate.level:g}%"
    area = alt.Chart(df[df["inside"]]).mark_area(color=OKABE_ITO["sky_blue"], opacity=0.45).encode(
        x=x_enc, y=y_enc, tooltip=alt.value(None))
    line = alt.Chart(df).mark_line(color=OKABE_ITO["blue"], strokeWidth=2.5).encode(
        x=x_enc, y=y_enc, tooltip=[alt.Tooltip("x:Q", title="Effect", format=".3f"),
                                   alt.Tooltip("density:Q", title="Density", format=".3f")])
    median = pd.DataFrame({"x": _to_display([estimate.mu_median], effect_measure),
                           "label": [f"median; shaded: {pct} credible interval"]})
    rule = alt.Chart(median).mark_rule(color=OKABE_ITO["blue"], strokeDash=[4, 3]).encode(
        x="x:Q", tooltip=alt.Tooltip("label:N", title=""))
    chart = alt.layer(area, line, rule, _null_rule(effect_measure), _favours_layer(effect_measure, ps_side)
                      ).properties(width=PLOT_WIDTH + 120, height=_HEIGHT)
    return _configure(chart, title)


def tau_posterior_chart(estimate: Any, prior: Any = None, *, title: str | None = None) -> alt.LayerChart:
    """Posterior density of tau (solid) and, when given, the prior's density (dashed, ``prior.pdf``)."""
    tau, dens = estimate.tau_density()
    frames = [pd.DataFrame({"tau": tau, "density": dens, "curve": "posterior"})]
    if prior is not None:
        frames.append(pd.DataFrame({"tau": tau, "density": np.asarray(prior.pdf(tau), float), "curve": "prior"}))
    df = pd.concat(frames, ignore_index=True)
    peak = float(df.loc[df["curve"] == "posterior", "density"].max())
    df["density"] = df["density"].clip(upper=3 * peak)  # a prior spiking at 0 must not flatten the posterior
    chart = alt.Chart(df).mark_line(strokeWidth=2.5).encode(
        x=alt.X("tau:Q", title="Between-study standard deviation τ", scale=alt.Scale(zero=True, nice=False)),
        y=alt.Y("density:Q", title="Density"),
        color=alt.Color("curve:N", title=None, scale=alt.Scale(domain=["posterior", "prior"],
                                                               range=[OKABE_ITO["vermillion"], OKABE_ITO["grey"]])),
        strokeDash=alt.StrokeDash("curve:N", title=None, scale=alt.Scale(domain=["posterior", "prior"],
                                                                          range=[[1, 0], [6, 4]])),
        tooltip=[alt.Tooltip("curve:N", title="Curve"), alt.Tooltip("tau:Q", title="τ", format=".3f"),
                 alt.Tooltip("density:Q", title="Density", format=".3f")],
    ).properties(width=PLOT_WIDTH + 120, height=_HEIGHT)
    return _configure(chart, title)
