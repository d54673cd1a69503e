"""Subgroups & moderators: subgroup forest with the test for differences, meta-regression, A vs B."""

import pandas as pd
import streamlit as st

from evidence.present import charts
from evidence.present import wording as words
from evidence.analysis import MODERATOR_COLUMNS, NUMERIC_MODERATORS
from evidence.core.errors import EvidenceError
from pages import _shared as ui

view = ui.current_view()
outcome_label = ui.labels("outcome").get(view.spec.outcome or "", view.spec.outcome or "")
st.title(f"Subgroups & moderators: {outcome_label}")
ui.show_url_notices()
analysis = ui.analysis_or_stop(view)
side = analysis.favours.side
st.caption(f"{analysis.description}. Model: {analysis.pooled.describe()}.")
if st.session_state.get(ui.KEY_MODERATOR) not in MODERATOR_COLUMNS:
    st.session_state[ui.KEY_MODERATOR] = "ps_format"
ui.download_code(view, st.session_state[ui.KEY_MODERATOR])

MODERATOR_LABELS = {**ui.FIELD_LABELS, "country": "Country", "design": "Design", "measure": "Measure (scale)",
                    "dataset": "Dataset", "computed_from": "Effect computed from",
                    "year": "Publication year", "timepoint_months": "Follow-up (months)",
                    "n_total": "Participants (N)"}

# -- subgroups ---------------------------------------------------------------------------------
st.header("Subgroups")
moderator = st.selectbox("Moderator", list(MODERATOR_COLUMNS), key=ui.KEY_MODERATOR,
                         format_func=lambda m: MODERATOR_LABELS.get(m, m))
sub = ui.try_table("subgroups", view, moderator)
if sub is not None:
    name = MODERATOR_LABELS.get(moderator, moderator).lower()
    st.markdown(words.subgroup_test_sentence(sub.q_between, sub.df_between, sub.p_between, name))
    small = sub.table[sub.table["k"] < 2]
    if len(small):
        st.info(f"{len(small)} subgroup(s) have a single study; their 'pooled' effect is that study's own.",
                icon=":material/info:")
    build = lambda: charts.subgroup_forest(sub.table, analysis.pooled, effect_measure=analysis.effect_measure,
                                   ps_side=side, title=f"{outcome_label} by {name}")
    ui.show_chart(build, f"subgroups_{moderator}", "subgroups", ui.view_inputs(view, moderator))
    st.dataframe(ui.rounded(sub.table), hide_index=True, width="stretch")
    ui.download_table(sub.table, f"subgroups_{moderator}", "subgroups")

# -- meta-regression ---------------------------------------------------------------------------
st.header("Meta-regression")
numeric = st.selectbox("Numeric moderator", list(NUMERIC_MODERATORS), key="opt_numeric_moderator",
                       format_func=lambda m: MODERATOR_LABELS.get(m, m))
reg = ui.try_table("meta_regression", view, numeric)
if reg is not None:
    r = reg.result
    slope = float(r.coefficients[1])
    st.markdown(
        f"Slope {words.format_number(slope, 4)} per unit of {MODERATOR_LABELS.get(numeric, numeric).lower()} "
        f"(95% CI {words.format_number(r.ci_low[1], 4)} to {words.format_number(r.ci_high[1], 4)}, "
        f"{words.format_p(r.p_values[1])}); residual τ² = {words.format_number(r.tau2, 3)}, "
        f"k = {reg.k}. Meta-regression with few studies is exploratory.")
    if reg.dropped:
        st.info(f"Left out (no value for this moderator): {', '.join(ui.md_escape(x) for x in reg.dropped)}.", icon=":material/info:")
    used = analysis.effects[analysis.effects[numeric].notna()]
    build = lambda: charts.bubble_plot(used, numeric, intercept=float(r.coefficients[0]), slope=slope,
                               effect_measure=analysis.effect_measure,
                               moderator_title=MODERATOR_LABELS.get(numeric, numeric), tau2=float(r.tau2),
                               title=f"{outcome_label}: effect against {MODERATOR_LABELS.get(numeric, numeric).lower()}")
    ui.show_chart(build, f"meta_regression_{numeric}", "metareg", ui.view_inputs(view, numeric))
    st.caption("Bubble area is proportional to the study's weight in the meta-regression; the line is the "
               "fitted regression (on the log scale for ratios).")
    st.dataframe(ui.rounded(reg.table, 4), hide_index=True, width="stretch")
    ui.download_table(reg.table, f"meta_regression_{numeric}", "metareg")

# -- A vs B ------------------------------------------------------------------------------------
st.header("Compare two filter sets (A vs B)")
st.markdown("Pin the current sidebar filters as **A**, change the filters, pin them as **B**; the two pooled "
            "effects are compared with the test for subgroup differences.")


def _pin(slot: str) -> None:
    st.session_state[f"pin_{slot}"] = st.session_state[ui.KEY_VIEW].spec


c1, c2 = st.columns(2)
for col, slot in ((c1, "A"), (c2, "B")):
    with col:
        st.button(f"Pin current filters as {slot}", key=f"btn_pin_{slot}", on_click=_pin, args=(slot,))
        pinned = st.session_state.get(f"pin_{slot}")
        st.caption(f"{slot}: " + (pinned.describe() if pinned is not None else "not pinned yet"))

spec_a, spec_b = st.session_state.get("pin_A"), st.session_state.get("pin_B")
if spec_a is not None and spec_b is not None:
    try:
        with st.spinner("Comparing…"):
            cmp = ui.result("compare", view, (spec_a, spec_b))
    except EvidenceError as exc:
        ui.render_error(exc)
    else:
        rows = pd.DataFrame([
            {"label": "A", "k": cmp.a.k, "estimate": cmp.a.pooled.estimate, "ci_low": cmp.a.pooled.ci_low,
             "ci_high": cmp.a.pooled.ci_high, "filter": cmp.a.description},
            {"label": "B", "k": cmp.b.k, "estimate": cmp.b.pooled.estimate, "ci_low": cmp.b.pooled.ci_low,
             "ci_high": cmp.b.pooled.ci_high, "filter": cmp.b.description},
        ])
        build = lambda: charts.compare_plot(rows, effect_measure=cmp.a.effect_measure,
                                    ps_side=cmp.a.favours.side,
                                    title="A vs B")
        ui.show_chart(build, "compare_a_b", "compare", ui.view_inputs(view, spec_a, spec_b))
        diff_name = "Ratio of ratios (A / B)" if cmp.a.is_ratio else "Difference (A − B)"
        d1, d2 = st.columns(2)
        d1.metric(diff_name, words.format_number(ui.display(cmp.difference, cmp.a)))
        d2.metric("Test of the difference", words.format_p(cmp.p_value), help=f"Q = {cmp.q:.2f}, df = 1")
        st.caption(f"95% CI of the difference: {words.format_interval(cmp.ci_low, cmp.ci_high, cmp.a.effect_measure)}.")
        if cmp.note:
            st.warning(cmp.note, icon=":material/warning:")
        ui.download_table(rows, "compare_a_b", "compare")
