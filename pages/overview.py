"""Overview (the landing page): a summary of findings across every outcome under the current filters, with
certainty drafts, graded plain-language sentences and absolute effects; a row opens Explore for it."""

import streamlit as st

from evidence.analysis import certainty as grade
from evidence.analysis import findings_text
from evidence.present import summary_table
from pages import _shared as ui

view = ui.current_view()
ui.follow_goto()
st.title("Overview: what the trials found")
ui.show_url_notices()

sof = ui.summary(view)
if not sof.rows:
    st.warning("No outcome has trials with usable numbers under these filters. Widen the filters in the sidebar.",
               icon=":material/warning:")
    st.stop()

table = summary_table.display_frame(sof)
n_trials = int(len({sid for r in sof.rows for sid in r.analysis.effects["study_id"]}))
c = st.columns(4)
c[0].metric("Outcomes with data", f"{len(sof.rows)}")
c[1].metric("Trials", f"{n_trials}")
c[2].metric("Pooled (2 trials or more)", f"{sum(r.pooled for r in sof.rows)}")
c[3].metric("Moderate or high certainty", f"{sum(r.certainty.level in ('high', 'moderate') for r in sof.rows)}")
st.caption(f"{sof.spec.describe(n_trials)}. One row per outcome, most trials first. Certainty: "
           f"**{grade.CERTAINTY_LABEL}**. SMD: standardised mean difference, positive values favour peer "
           "support; RR/OR: ratios peer support / control. Select a row to open it in Explore with the same filters.")

st.subheader("Key findings")
pooled_rows = [r for r in sof.rows if r.pooled]
st.markdown("\n".join(f"- **{ui.md_escape(r.outcome_label)}** ({summary_table.certainty_text(r)}): "
                       f"{ui.md_escape(r.sentence)}"
                       + (f" {ui.md_escape(r.absolute.sentence)}" if r.absolute else "")
                       + (f" {ui.md_escape(r.natural.sentence)}" if r.natural else "")
                       for r in pooled_rows) or "No outcome has two or more trials.")

st.subheader("Summary of findings")
key = f"sof_table_{st.session_state.get('_sof_rev', 0)}"


def _open_selected() -> None:
    rows = (st.session_state.get(key) or {}).get("selection", {}).get("rows", [])
    if rows:
        st.session_state["_sof_rev"] = st.session_state.get("_sof_rev", 0) + 1  # a fresh, unselected table next
        ui.open_outcome(table["outcome"].iloc[int(rows[0])])


st.dataframe(
    table[["Outcome", "Certainty (draft)", "Trials", "Participants", "Effect (95% CI)", "Prediction interval", "I²",
           "Per 1,000 people", "Summary"]], key=key, hide_index=True, width="stretch",
    on_select=_open_selected, selection_mode="single-row", row_height=70,
    column_config={
        "Summary": st.column_config.TextColumn("Summary", width="large"),
        "Outcome": st.column_config.TextColumn("Outcome", pinned=True),
        "Per 1,000 people": st.column_config.TextColumn(
            "Per 1,000 people", help="Binary outcomes: people with the event per 1,000 with control and with peer "
                                     "support (assumed control risk: the median control-arm risk of the included "
                                     "trials). HbA1c: mean difference in %."),
        "Certainty (draft)": st.column_config.TextColumn("Certainty (draft)", help=grade.CERTAINTY_LABEL),
    })
ui.download_table(sof.as_frame(), "summary_of_findings", "sof", "Summary of findings (CSV)")
if sof.left_out:
    st.caption("Left out: " + "; ".join(f"{ui.md_escape(label)} ({why})" for label, why in sof.left_out) + ".")

st.subheader("Why each certainty")
for r in sof.rows:
    if not r.pooled:
        continue
    with st.expander(f"{r.outcome_label}: {summary_table.certainty_text(r)}"):
        st.markdown(r.sentence)
        for d in r.certainty.downgrades:
            st.markdown(f"- **{d.domain} (−{d.levels})**: {d.reason}")
        if not r.certainty.downgrades:
            st.markdown("- No downgrade.")
        for n in r.certainty.notes:
            st.markdown(f"- {n}")
        if r.absolute is not None:
            st.markdown(r.absolute.sentence)
        if r.natural is not None:
            st.markdown(r.natural.sentence)
        st.button("Open in Explore", key=f"open_{r.outcome}", on_click=ui.open_outcome, args=(r.outcome,),
                  icon=":material/forest:")
singles = [r for r in sof.rows if not r.pooled]
if singles:
    with st.expander(f"{len(singles)} outcome(s) with a single trial (not pooled)"):
        for r in singles:
            st.markdown(f"- **{r.outcome_label}**: {r.sentence} Certainty: {r.certainty.level}. "
                        f"{r.certainty.explain()}")

with st.expander("How the certainty draft and the sentences are made"):
    st.markdown("\n".join(f"- {rule}" for rule in grade.CERTAINTY_RULES))
    st.markdown(f"- {findings_text.VERB_RULE}\n- {findings_text.SIZE_RULE}")
    st.caption("Absolute effects (binary outcomes): the pooled ratio applied to the median control-arm risk of "
               "the included trials that report event counts, per 1,000 people, as Cochrane summary-of-findings "
               "tables do.")
