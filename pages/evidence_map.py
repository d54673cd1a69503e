"""Evidence map: trials in each pair of characteristics under the current filters, coloured by the pooled
effect of the chosen outcome; a click on a cell applies both values as filters; the gaps in words."""

import streamlit as st

from evidence.analysis import evidence_map as emap
from evidence.present import gaps
from evidence.present.charts import evidence_map as map_chart
from pages import _shared as ui

view = ui.current_view()
st.title("Evidence map")
ui.show_url_notices()

fields = list(emap.MAP_FIELDS)
c1, c2, _ = st.columns([2, 2, 3])
row_field = c1.selectbox("Rows", fields, index=fields.index("population"), key="map_rows",
                         format_func=lambda f: ui.FIELD_LABELS.get(f, f))
col_options = [f for f in fields if f != row_field]
if st.session_state.get("map_cols") not in col_options:
    st.session_state["map_cols"] = "ps_format" if "ps_format" in col_options else col_options[0]
col_field = c2.selectbox("Columns", col_options, key="map_cols", format_func=lambda f: ui.FIELD_LABELS.get(f, f))

m = ui.result("evidence_map", view, (row_field, col_field))
labels = {f: ui.labels(f) for f in (row_field, col_field)}
outcome_label = ui.labels("outcome").get(view.spec.outcome or "", view.spec.outcome or "")
by_outcome = "outcome" in (row_field, col_field)
selected = None
chosen = {f: getattr(view.spec, f) for f in (row_field, col_field) if f != "outcome"}
if all(len(v) == 1 for v in chosen.values()) and not by_outcome:
    selected = (chosen[row_field][0], chosen[col_field][0])

st.caption(
    ("Each cell: trials with usable numbers " + ("for each outcome" if by_outcome else f"for **{outcome_label}**")
     + " under the current filters (the two axis filters are set aside, so a chosen cell keeps its neighbours; "
     "a trial with two comparators counts in both). Colour: the pooled effect where at least "
     f"{emap.MIN_K_COLOUR} trials were pooled, "
     + ("as an SMD oriented so that values above 0 favour peer support (odds ratios converted with Chinn's factor; "
        "risk ratios, which have no SMD equivalent, are counted, not coloured)" if m.colour_scale == "SMD" else
        "as the log risk ratio oriented so that values above 0 favour peer support")
     + ". Light cells with – are gaps. Click a cell to filter by both of its values."))

k_now = ui.choice_counts(view.spec)["outcome"].get(view.spec.outcome, 0)
m1, m2, _ = st.columns([2, 2, 3])
if not by_outcome:
    m1.metric(f"Trials of {outcome_label} (k)", f"{k_now}", help="Trials with usable numbers under every current "
                                                             "filter, the axis filters included.")
m2.metric("Gaps", f"{m.n_gaps}", help="Combinations of two known values with no trial.")
if not by_outcome and k_now == 0:
    st.warning(f"The current filters leave no trial of {outcome_label} (k = 0). The map sets aside the filters on "
               "its two axes, so it still shows the neighbouring cells; widen the other filters to see more.",
               icon=":material/warning:")

EVENT_KEY = "evidence_map_chart"


def _apply_cell() -> None:
    event = st.session_state.get(EVENT_KEY) or {}
    picked = (event.get("selection") or {}).get(map_chart.SELECTION) or []
    if not picked:
        return
    cell = picked[0]
    values = {row_field: cell.get("row_value"), col_field: cell.get("col_value")}
    ui.apply_filters({f: v for f, v in values.items() if v})  # "" = not reported: no filter can choose it


chart = map_chart.evidence_map_chart(m, labels, row_title=ui.FIELD_LABELS[row_field],
                                     col_title=ui.FIELD_LABELS[col_field], selected=selected)
st.altair_chart(chart, on_select=_apply_cell, selection_mode=map_chart.SELECTION, key=EVENT_KEY, theme=None)
ui.download_table(m.cells, f"evidence_map_{row_field}_{col_field}", "evidence_map", "Map cells (CSV)")

st.subheader("Gaps in the evidence")
sentences = gaps.gap_sentences(m, labels)
if not sentences:
    st.markdown("Every combination of these two characteristics has at least one trial.")
else:
    st.caption(f"{len(sentences)} combination(s) with no trial " + ("" if by_outcome else f"of {outcome_label} ")
               + "under the current filters.")
    st.markdown("\n".join(f"- {ui.md_escape(s)}" for s in sentences))
