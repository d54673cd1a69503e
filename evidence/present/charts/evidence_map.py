"""The evidence map as a heat map: one cell per pair of values, the number of trials written in it, the colour
of the pooled effect where at least two trials were pooled (diverging, colour-blind safe: ColorBrewer PuOr,
centred on no effect), empty cells drawn as visible gaps. A click selects a cell (``cell`` selection)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from evidence.analysis.evidence_map import NOT_REPORTED, EvidenceMap

from ._common import FONT

__all__ = ["evidence_map_chart", "map_records", "SELECTION"]

#: Name of the click selection (its fields are ``row_value`` and ``col_value``).
SELECTION = "cell"
_GAP = "#F2F2F2"
_COUNTED = "#BDBDBD"


def _label(labels: dict[str, str], value) -> str:
    return NOT_REPORTED if value is None or (isinstance(value, float) and math.isnan(value)) else labels.get(value, value)


def map_records(m: EvidenceMap, labels: dict[str, dict[str, str]] | None = None) -> pd.DataFrame:
    """The cells as chart rows: labels, count text, colour value and what the tooltip says."""
    labels = labels or {}
    rl, cl = labels.get(m.row_field, {}), labels.get(m.col_field, {})
    c = m.cells
    state = ["gap" if n == 0 else "pooled" if not math.isnan(e) else "counted"
             for n, e in zip(c["n_studies"], c["effect"])]
    return pd.DataFrame({
        "row_value": c["row_value"].astype(object).where(c["row_value"].notna(), ""),
        "col_value": c["col_value"].astype(object).where(c["col_value"].notna(), ""),
        "row_label": [_label(rl, v) for v in c["row_value"]],
        "col_label": [_label(cl, v) for v in c["col_value"]],
        "n_studies": c["n_studies"].astype(int),
        "count_text": [str(int(n)) if n else "–" for n in c["n_studies"]],
        "effect": [None if math.isnan(e) else round(float(e), 3) for e in c["effect"]],
        "state": state,
        "effect_text": [t or ("no trial" if n == 0 else "fewer than 2 trials pooled")
                        for t, n in zip(c["effect_text"], c["n_studies"])],
    })


def evidence_map_chart(m: EvidenceMap, labels: dict[str, dict[str, str]] | None = None, *,
                       row_title: str = "", col_title: str = "", selected: tuple | None = None) -> alt.LayerChart:
    """The heat map; ``selected``: a (row value, column value) pair to outline (the cell the filters chose)."""
    data = map_records(m, labels)
    finite = [abs(e) for e in data["effect"] if e is not None]
    span = max([0.8 if m.colour_scale == "SMD" else 0.5] + finite)
    rows = [_label((labels or {}).get(m.row_field, {}), v) for v in m.rows]
    cols = [_label((labels or {}).get(m.col_field, {}), v) for v in m.cols]
    pick = alt.selection_point(name=SELECTION, fields=["row_value", "col_value"], on="click", clear="dblclick")
    x = alt.X("col_label:N", sort=cols, title=col_title, axis=alt.Axis(labelAngle=-30, labelLimit=180))
    y = alt.Y("row_label:N", sort=rows, title=row_title, axis=alt.Axis(labelLimit=260))
    tooltip = [alt.Tooltip("row_label:N", title=row_title or "Row"), alt.Tooltip("col_label:N", title=col_title or "Column"),
               alt.Tooltip("n_studies:Q", title="Trials"), alt.Tooltip("effect_text:N", title="Pooled")]
    base = alt.Chart(data).encode(x=x, y=y)
    background = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("state:N", scale=alt.Scale(domain=["gap", "counted", "pooled"], range=[_GAP, _COUNTED, _COUNTED]),
                        legend=None), tooltip=tooltip)
    coloured = base.transform_filter("datum.effect != null").mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("effect:Q", title=(["Pooled effect", "(SMD; > 0 favours", "peer support)"]
                                           if m.colour_scale == "SMD" else
                                           ["Pooled effect", "(log risk ratio, oriented:", "> 0 favours peer support)"]),
                        scale=alt.Scale(scheme="purpleorange", domain=[-span, span], domainMid=0, reverse=True)),
        tooltip=tooltip)
    outline_test = ("false" if not selected else
                    f"datum.row_value === {_js(selected[0])} && datum.col_value === {_js(selected[1])}")
    outline = base.transform_filter(outline_test).mark_rect(fill=None, stroke="black", strokeWidth=3)
    text = base.mark_text(fontSize=FONT["text"]).encode(
        text="count_text:N", tooltip=tooltip,
        color=alt.condition("datum.state == 'gap'", alt.value("#777777"), alt.value("black")))
    return alt.layer(background, coloured, outline, text).add_params(pick).properties(
        width=max(240, 90 * len(cols)), height=max(160, 34 * len(rows)))


def _js(value) -> str:
    import json

    return json.dumps("" if value is None else str(value))
