"""Review-level figures: the reviews' pooled results for one outcome (one row per result, coloured by
AMSTAR 2) and the overlap matrix of reviews × trials."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ._common import (FONT, OKABE_ITO, PLOT_WIDTH, ROW_HEIGHT, _configure, _domain, _favours_layer, _unique_labels,
                      _x_axis, _x_scale)

#: AMSTAR 2 confidence rating -> colour (legend order: high to critically low, then not rated).
AMSTAR_COLOURS = {
    "high": OKABE_ITO["blue"],
    "moderate": OKABE_ITO["green"],
    "low": OKABE_ITO["orange"],
    "critically low": OKABE_ITO["vermillion"],
    "not rated": "#A0A0A0",
}
#: Published effect type -> the measure whose axis it is drawn on.
_PANEL_MEASURE = {"SMD": "SMD", "RR": "logRR", "OR": "logOR"}


def _panel(rows: pd.DataFrame, panel: str) -> alt.LayerChart:
    effect_measure = _PANEL_MEASURE.get(panel, "SMD")
    df = rows.copy()
    df["row"] = _unique_labels(df["row"])
    df["amstar2"] = df["amstar2"].where(df["amstar2"].isin(list(AMSTAR_COLOURS)), "not rated")
    domain = _domain(df["ci_low"].to_numpy(), df["ci_high"].to_numpy(), effect_measure)
    x = alt.X("estimate:Q", scale=_x_scale(effect_measure, domain), axis=_x_axis(effect_measure, domain),
              title={"SMD": "Standardised mean difference (positive favours peer support)",
                     "MD": "Mean difference in the measure's units (positive favours peer support)",
                     "RR": "Risk ratio (peer support / control)",
                     "OR": "Odds ratio (peer support / control)"}.get(panel, f"{panel} as printed"))
    y = alt.Y("row:N", sort=list(df["row"]), title=None, axis=alt.Axis(labelLimit=420))
    colour = alt.Color("amstar2:N", title="AMSTAR 2 rating (Cooper et al. 2024)",
                       scale=alt.Scale(domain=list(AMSTAR_COLOURS), range=list(AMSTAR_COLOURS.values())))
    tooltip = [alt.Tooltip("review:N", title="Review"), alt.Tooltip("printed:N", title="As printed"),
               alt.Tooltip("k:Q", title="Trials (k)"), alt.Tooltip("n:Q", title="Participants"),
               alt.Tooltip("amstar2:N", title="AMSTAR 2")]
    base = alt.Chart(df).encode(y=y)
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", scale=_x_scale(effect_measure, domain)),
                                                x2="ci_high:Q", color=colour, tooltip=tooltip)
    points = base.mark_point(filled=True, size=110, shape="square").encode(x=x, color=colour, tooltip=tooltip)
    null = alt.Chart(pd.DataFrame({"x": [1.0 if effect_measure != "SMD" else 0.0]})).mark_rule(
        color="#555555").encode(x=alt.X("x:Q", scale=_x_scale(effect_measure, domain)), tooltip=alt.value(None))
    layers = [null, bars, points]
    if panel in ("SMD", "MD"):  # oriented: positive favours peer support
        layers.append(_favours_layer(effect_measure, "right"))
    return alt.layer(*layers).properties(width=PLOT_WIDTH, height=max(ROW_HEIGHT * len(df), 60),
                                         title=alt.TitleParams(panel, fontSize=FONT["title"], anchor="start"))


def review_forest(rows: pd.DataFrame, *, title: str | None = None) -> alt.TopLevelMixin:
    """One row per review result (``row, review, amstar2, panel, estimate, ci_low, ci_high, printed, k, n``
    from :func:`evidence.analysis.reviews.review_forest_rows`), one panel per measure, stacked."""
    panels = [p for p in ("SMD", "MD", "RR", "OR") if (rows["panel"] == p).any()]
    panels += sorted(set(rows["panel"]) - set(panels))
    charts = [_panel(rows[rows["panel"] == p], p) for p in panels]
    chart = alt.vconcat(*charts).resolve_scale(color="shared") if charts else alt.Chart(pd.DataFrame()).mark_point()
    return _configure(chart, title)


def overlap_matrix(matrix: pd.DataFrame, *, title: str | None = None) -> alt.TopLevelMixin:
    """Reviews (columns) × trials (rows): a filled cell where the review included the trial."""
    long = (matrix.astype(bool).rename_axis(index="trial", columns="review").stack()
            .rename("included").reset_index())
    long["included"] = np.where(long["included"], "included", "not included")
    trials = list(matrix.index)
    chart = alt.Chart(long).mark_rect(stroke="#FFFFFF", strokeWidth=1).encode(
        x=alt.X("review:N", title=None, axis=alt.Axis(orient="top", labelAngle=-40, labelLimit=200)),
        y=alt.Y("trial:N", sort=trials, title=None, axis=alt.Axis(labelLimit=200)),
        color=alt.Color("included:N", title=None, scale=alt.Scale(domain=["included", "not included"],
                                                                 range=[OKABE_ITO["blue"], "#EEEEEE"])),
        tooltip=[alt.Tooltip("trial:N", title="Trial"), alt.Tooltip("review:N", title="Review"),
                 alt.Tooltip("included:N", title="")],
    ).properties(width=max(48 * matrix.shape[1], 120), height=max(16 * matrix.shape[0], 60))
    return _configure(chart, title)
