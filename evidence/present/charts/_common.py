"""What every chart shares: the palette, fonts, the measure's axis and scale, the favours band, formatting."""

from __future__ import annotations

import math
from typing import Any, Sequence

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats as _sps

from evidence.analysis.certainty import ROB_DOMAIN_NOT_LOW, ROB_DOMAINS_LOW, ROB_NONE
from evidence.core.measures import measure

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
    # trials without an overall judgement, by their per-domain judgements (analysis.certainty.rob_standing)
    ROB_DOMAIN_NOT_LOW: OKABE_ITO["purple"],
    ROB_DOMAINS_LOW: OKABE_ITO["sky_blue"],
    ROB_NONE: "#C8C8C8",
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
                                labelLimit=300, columns=4 if legend == "bottom" else 1),  # bottom: rows of four
        # Log axes crowd their tick labels: drop those closer than 6 px.
        axisQuantitative=alt.AxisConfig(labelOverlap="greedy", labelSeparation=6),
        view=alt.ViewConfig(strokeWidth=0),
        text=alt.MarkConfig(fontSize=FONT["text"]),
    )

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
