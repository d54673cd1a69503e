"""Sensitivity: estimator and Hartung-Knapp, a one-glance robustness panel, the Bayesian panel, leave-one-out,
influence, cumulative."""

import streamlit as st

from evidence.present import charts
from evidence.present import wording as words
from pages import _shared as ui

view = ui.current_view()
outcome_label = ui.labels("outcome").get(view.spec.outcome or "", view.spec.outcome or "")
st.title(f"Sensitivity: {outcome_label}")
ui.show_url_notices()
analysis = ui.analysis_or_stop(view)
side = analysis.favours.side
pooled = analysis.pooled
st.caption(f"{analysis.description}. Main analysis: {pooled.describe()}. Change the estimator and the "
           "Hartung-Knapp adjustment under **Method** in the sidebar; every table below refits with them.")
ui.download_code(view)

if analysis.k < 2:
    st.info("Only one study matches: there is nothing to pool, so no sensitivity analysis is possible. "
            "Widen the filters in the sidebar.", icon=":material/info:")
    st.stop()

ui.render_metrics(analysis)

# -- one-glance robustness ---------------------------------------------------------------------
st.header("Does the conclusion survive?")
with st.spinner("Refitting every estimator and scenario…"):
    grid = ui.heavy_table("robustness", view, analysis.k, "the robustness grid")
if grid is not None:
    main = words.conclusion_words(pooled.ci_low, pooled.ci_high,
                                  "left" if side == "left" else "right")
    fitted = grid[grid["k"] > 0]
    st.markdown(words.robustness_sentence(len(fitted), int(fitted["survives"].sum()), main))
    unfitted = grid[grid["k"] <= 0]
    if len(unfitted):
        reasons = "; ".join(dict.fromkeys(ui.md_escape(r) for r in unfitted["removed"].fillna(""))) or "no studies"
        st.caption(f"{len(unfitted)} of {len(grid)} scenarios could not be fitted ({reasons}); they show n/a.")
    build = lambda: charts.robustness_heatmap(grid, effect_measure=analysis.effect_measure,
                                      title="Pooled effect under every estimator and choice")
    ui.show_chart(build, f"robustness_{view.spec.outcome}", "robustness", ui.view_inputs(view))
    st.caption("Columns: standard or Hartung-Knapp CI | all trials or low risk of bias only | flagged outliers "
               "kept or removed (flagged by influence diagnostics under that cell's settings). Blue: same "
               "conclusion as the main analysis; vermillion: the conclusion changes; grey: nothing to fit.")
    with st.expander("Robustness table"):
        st.dataframe(ui.rounded(grid), hide_index=True, width="stretch")
    ui.download_table(grid, f"robustness_{view.spec.outcome}", "robustness")

# -- Bayesian ----------------------------------------------------------------------------------
ui.render_bayes_panel(view, analysis, outcome_label)

# -- leave one out -----------------------------------------------------------------------------
st.header("Leave one out")
loo = ui.heavy_table("leave_one_out", view, analysis.k, "leave-one-out")
if loo is not None:
    changed = loo[loo["verdict_changes"]]
    if len(changed):
        st.warning(f"Leaving out {', '.join(ui.md_escape(x) for x in changed['label'])} changes the conclusion.", icon=":material/warning:")
    else:
        st.success("No single study changes the conclusion when left out.", icon=":material/check_circle:")
    build = lambda: charts.leave_one_out_plot(loo, pooled, effect_measure=analysis.effect_measure, ps_side=side)
    ui.show_chart(build, f"leave_one_out_{view.spec.outcome}", "loo", ui.view_inputs(view))
    ui.download_table(loo, f"leave_one_out_{view.spec.outcome}", "loo")

# -- influence ---------------------------------------------------------------------------------
st.header("Influence diagnostics")
inf = ui.heavy_table("influence", view, analysis.k, "influence diagnostics")
if inf is not None:
    flagged = inf[inf["flagged"]]
    if len(flagged):
        st.warning(f"Flagged as influential: {', '.join(ui.md_escape(x) for x in flagged['label'])}. Check these studies; "
                   "the robustness panel shows the result without them.", icon=":material/warning:")
    else:
        st.success("No study is flagged as influential.", icon=":material/check_circle:")
    ui.show_chart(lambda: charts.influence_plot(inf), f"influence_{view.spec.outcome}", "influence", ui.view_inputs(view))
    st.caption("A study is flagged when |DFFITS| > 3√(1/(k−1)), its Cook's distance exceeds the median of "
               "χ²₁, its hat value exceeds 3/k, or |DFBETAS| > 1 (Viechtbauer & Cheung 2010, as in metafor).")
    with st.expander("Influence table"):
        st.dataframe(ui.rounded(inf), hide_index=True, width="stretch")
    ui.download_table(inf, f"influence_{view.spec.outcome}", "influence")

# -- cumulative --------------------------------------------------------------------------------
st.header("Cumulative meta-analysis by year")
cum = ui.heavy_table("cumulative", view, analysis.k, "the cumulative meta-analysis", "year")
if cum is not None:
    build = lambda: charts.cumulative_plot(cum, effect_measure=analysis.effect_measure, ps_side=side)
    ui.show_chart(build, f"cumulative_{view.spec.outcome}", "cumulative", ui.view_inputs(view))
    st.caption("Each row pools every study up to and including the one added, in order of publication year.")
    ui.download_table(cum, f"cumulative_{view.spec.outcome}", "cumulative")
