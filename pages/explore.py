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

table, ids = ui.result("exclusions", view)
with table_col:
    st.subheader("Include / exclude")
    st.caption("Tick a study to leave it out; everything recomputes and the link keeps the choice.")
    editor_key = f"exclude_editor_{st.session_state.get('_exclude_rev', 0)}"
    st.data_editor(
        # Weights are in the forest plot beside it; two columns keep the narrow panel readable.
        table[["Exclude", "Study"]], key=editor_key, hide_index=True, width="stretch",
        disabled=["Study"],
        column_config={"Exclude": st.column_config.CheckboxColumn("Exclude", help="Leave this study out",
                                                                   width="small")},
        on_change=_on_exclude_edit, args=(editor_key, ids),
    )

ui.render_probability(view, analysis, outcome_label, "explore")

st.subheader("Heterogeneity")
h = st.columns(5)
h[0].metric("Q (df)", f"{pooled.q:.2f} ({pooled.q_df})", help="Cochran's Q with its degrees of freedom (k − 1).")
h[1].metric("Heterogeneity test", words.format_p(pooled.q_p), help="Chi-square test of Q: do the trials differ "
                                                                   "more than chance would explain?")
h[2].metric("τ² (95% CI)", words.format_number(pooled.tau2, 3), help=words.TAU2_DEFINITION)
h[2].caption(f"CI {words.format_number(pooled.tau2_ci[0], 3)} to {words.format_number(pooled.tau2_ci[1], 3)} "
             "(Q-profile)")
h[3].metric("I² (95% CI)", f"{words.format_number(pooled.i2, 0)}%", help=words.I2_DEFINITION)
h[3].caption(f"CI {words.format_number(pooled.i2_ci[0], 0)}% to {words.format_number(pooled.i2_ci[1], 0)}%")
h[4].metric("H²", words.format_number(pooled.h2), help="Total variability relative to sampling variability "
                                                       "(1 = no heterogeneity).")
# One element per block of text: each element is a message to the browser, and under load every message
# costs the server a wake-up of its event loop.
st.markdown(words.heterogeneity_sentence(pooled) + "\n\n"
            + words.prediction_sentence(pooled, effect_measure=analysis.effect_measure, ps_side=side))
with st.expander("What do I², τ² and the prediction interval mean?"):
    st.markdown("\n\n".join((words.I2_DEFINITION, words.TAU2_DEFINITION, words.PI_DEFINITION)))

st.subheader("Studies")
st.dataframe(table.drop(columns=["Exclude"]).assign(Excluded=table["Exclude"]), hide_index=True, width="stretch")
ui.download_table(analysis.effects.assign(followup_rule=analysis.followup_rule, scale_choice=view.spec.scale),
                  f"effects_{view.spec.outcome}", "effects", "Effects used (CSV)")

if len(analysis.excluded):
    with st.expander(f"{len(analysis.excluded)} matching result(s) not pooled, and why"):
        st.dataframe(analysis.excluded, hide_index=True, width="stretch")
        ui.download_table(analysis.excluded, "not_pooled", "excluded")
reviews = ui.review_findings(view.spec.outcome)
if len(reviews):
    with st.expander(f"What {reviews['Review'].nunique()} published review(s) found for this outcome"):
        st.caption("As printed by each review (sign conventions differ; each row says which way it runs), with its "
                   "AMSTAR 2 rating where the 2024 umbrella review gave one. Trial sets differ from the one above.")
        st.dataframe(reviews.drop(columns=["result_id", "review_id", "outcome"]), hide_index=True, width="stretch",
                     column_config={"Source": st.column_config.LinkColumn("Source", display_text="open")})
with st.expander("How one result per study is chosen"):
    st.markdown("\n\n".join((analysis.followup_rule, analysis.selection_rule, analysis.orientation_rule))
                + "".join(f"\n- {note}" for note in analysis.notes))
