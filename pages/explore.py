"""Explore: forest plot, headline numbers, heterogeneity, and a table to exclude studies by hand."""

import streamlit as st

from evidence.present import charts
from evidence.present import wording as words
from pages import _shared as ui

view = ui.current_view()
outcome_label = ui.labels("outcome").get(view.spec.outcome or "", view.spec.outcome or "")
st.title(f"Explore: {outcome_label}")
ui.show_url_notices()

analysis = ui.analysis_or_stop(view, warn_catch_all=False)  # its caution box lists it
side = analysis.favours.side
st.caption(f"{analysis.description}. {analysis.favours}."
           + (f" {analysis.scale_note}" if analysis.scale_note else "") + f" {analysis.followup_rule}")
ui.download_code(view)


def _on_exclude_edit(editor_key: str, ids: list[str]) -> None:
    state = st.session_state.get(editor_key) or {}
    chosen = list(st.session_state.get(ui.KEY_EXCLUDED) or ())
    for idx, change in state.get("edited_rows", {}).items():
        if "Exclude" not in change:
            continue
        sid = ids[int(idx)]
        if change["Exclude"] and sid not in chosen:
            chosen.append(sid)
        elif not change["Exclude"] and sid in chosen:
            chosen.remove(sid)
    st.session_state[ui.KEY_EXCLUDED] = tuple(chosen)
    # A new editor key next run: the table then shows the new state with no stale edits on top.
    st.session_state["_exclude_rev"] = st.session_state.get("_exclude_rev", 0) + 1


if analysis.k == 1:
    row = analysis.effects.iloc[0]
    st.info(words.single_study_sentence(row, effect_measure=analysis.effect_measure, ps_side=side), icon=":material/info:")
    c1, c2, _ = st.columns([1, 1, 5])
    c1.metric("Studies (k)", "1")
    c2.metric("Participants", f"{analysis.participants:,}")
    build = lambda: charts.forest_plot_spec(analysis.effects, None, effect_measure=analysis.effect_measure, ps_side=side,
                               level=analysis.level, title=outcome_label)
    ui.show_chart(build, "forest_single_study", "forest", ui.view_inputs(view, "single"))
    st.stop()

pooled = analysis.pooled
ui.render_metrics(analysis)
st.markdown(words.pooled_sentence(pooled, effect_measure=analysis.effect_measure, ps_side=side,
                                  outcome=outcome_label, participants=analysis.participants))
ui.show_cautions(analysis, [w for w in words.certainty_warnings(pooled, effect_measure=analysis.effect_measure,
                                                                  ps_side=side)
                             if not w.startswith("Only ")])  # the analysis already warns about few studies

plot_col, table_col = st.columns([4, 1], gap="medium")
with plot_col:
    st.subheader("Forest plot")
    build = lambda: charts.forest_spec(analysis, title=f"{outcome_label} ({pooled.describe()})")  # noqa: E731
    ui.show_chart(build, f"forest_{view.spec.outcome}", "forest", ui.view_inputs(view))
    st.caption("Squares: each study's effect, area proportional to its weight, colour = risk of bias. "
               "Bars: 95% confidence intervals. Diamond: pooled effect and its CI. Dashed orange bar: "
               "prediction interval. Hover a study for its characteristics and source.")

tables = ui.result("exclusions", view)
with table_col:
    st.subheader("Include / exclude")
    st.caption("Tick a study to leave it out; everything recomputes and the link keeps the choice.")
    editor_key = f"exclude_editor_{st.session_state.get('_exclude_rev', 0)}"
    st.data_editor(
        # Weights are in the forest plot beside it; two columns keep the narrow panel readable.
        tables.editor, key=editor_key, hide_index=True, width="stretch",
        disabled=["Study"],
        column_config={"Exclude": st.column_config.CheckboxColumn("Exclude", help="Leave this study out",
                                                                   width="small")},
        on_change=_on_exclude_edit, args=(editor_key, tables.ids),
    )

ui.render_probability(view, analysis, outcome_label, "explore")

st.subheader("Heterogeneity")
# One element for the table and its reading: each element is a message to the browser, and under load
# every message costs the server a wake-up of its event loop.
st.markdown(words.heterogeneity_table(pooled) + "\n\n" + words.heterogeneity_sentence(pooled) + "\n\n"
            + words.prediction_sentence(pooled, effect_measure=analysis.effect_measure, ps_side=side))
with st.expander("What do I², τ² and the prediction interval mean?"):
    st.markdown("\n\n".join((words.I2_DEFINITION, words.TAU2_DEFINITION, words.PI_DEFINITION)))

st.subheader("Studies")
ui.show_table(tables.studies, width="stretch")
ui.download_table_lazily(lambda: analysis.effects.assign(followup_rule=analysis.followup_rule,
                                                         scale_choice=view.spec.scale),
                         f"effects_{view.spec.outcome}", "effects", "Effects used (CSV)")

if len(analysis.excluded):
    with st.expander(f"{len(analysis.excluded)} matching result(s) not pooled, and why"):
        ui.show_table(analysis.excluded, width="stretch")
        ui.download_table(analysis.excluded, "not_pooled", "excluded")
reviews = ui.review_findings(view.spec.outcome)
if len(reviews):
    with st.expander(f"What {reviews['Review'].nunique()} published review(s) found for this outcome"):
        st.caption("As printed by each review (sign conventions differ; each row says which way it runs), with its "
                   "AMSTAR 2 rating where the 2024 umbrella review gave one. Trial sets differ from the one above.")
        ui.show_table(reviews, width="stretch",
                      column_config={"Source": st.column_config.LinkColumn("Source", display_text="open")})
with st.expander("How one result per study is chosen"):
    st.markdown("\n\n".join((analysis.followup_rule, analysis.selection_rule, analysis.orientation_rule))
                + "".join(f"\n- {note}" for note in analysis.notes))
