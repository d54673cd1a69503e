"""Small-study effects: contour-enhanced funnel plot, Egger's test, trim-and-fill (with the usual caution)."""

import pandas as pd
import streamlit as st

from evidence.present import charts
from evidence.present import wording as words
from pages import _shared as ui

view = ui.current_view()
outcome_label = ui.labels("outcome").get(view.spec.outcome or "", view.spec.outcome or "")
st.title(f"Small-study effects: {outcome_label}")
ui.show_url_notices()
analysis = ui.analysis_or_stop(view)
side = analysis.favours.side
st.caption(f"{analysis.description}. Model: {analysis.pooled.describe()}.")
ui.download_code(view)

if analysis.k < words.SMALL_STUDY_MIN_K:
    st.warning(f"Only {analysis.k} studies. Funnel plots and tests for small-study effects are weak with fewer "
               f"than {words.SMALL_STUDY_MIN_K} studies (Sterne et al. 2011): read everything on this page "
               "with caution, and do not take 'no asymmetry found' as 'no publication bias'.", icon=":material/warning:")

res = ui.heavy_table("small_study", view, analysis.k, "the funnel plot, Egger's test and trim-and-fill")
if res is None:
    st.stop()
for note in res.notes:
    if analysis.k >= 3:
        continue  # the caution above already says it in plain words
    st.info(note, icon=":material/info:")

tf = res.trim_and_fill
filled = None
adjusted = None
if tf is not None and tf.k0 > 0:
    filled = pd.DataFrame({"yi": tf.filled_yi, "vi": tf.filled_vi})
    adjusted = tf.adjusted.estimate

# The funnel plot takes the full width; the tests sit below it.
build = lambda: charts.funnel_plot(analysis.effects, analysis.pooled, filled=filled, adjusted_estimate=adjusted,
                           effect_measure=analysis.effect_measure, ps_side=side,
                           title=f"Contour-enhanced funnel plot: {outcome_label}")
ui.show_chart(build, f"funnel_{view.spec.outcome}", "funnel", ui.view_inputs(view))
st.caption("Each dot is a study (black: observed; hollow vermillion: imputed by trim-and-fill). Shaded "
           "regions: where a study would be statistically significant (darker = smaller p). Missing studies "
           "in the white region suggest publication bias; missing studies in shaded regions suggest other "
           "causes of asymmetry (Peters et al. 2008).")
left, right = st.columns(2, gap="large")
with left:
    st.subheader("Egger's test")
    if res.egger is None:
        st.info("Egger's test needs at least 3 studies.", icon=":material/info:")
    else:
        e = res.egger
        c1, c2 = st.columns(2)
        c1.metric("Egger bias coefficient", words.format_number(e.intercept), help=f"SE {e.se:.3f}, t = {e.t:.2f}, "
                                                                                   f"df = {e.df}")
        c2.metric("Egger p-value", words.format_p(e.p_value).replace("p = ", ""))
        st.markdown(words.egger_sentence(e.p_value, analysis.k))
with right:
    st.subheader("Trim-and-fill")
    if tf is None:
        st.info("Trim-and-fill needs at least 3 studies.", icon=":material/info:")
    else:
        adj = tf.adjusted
        c1, c2 = st.columns(2)
        c1.metric("Imputed studies", f"{tf.k0}")
        c2.metric("Adjusted effect", words.format_number(ui.display(adj.estimate, analysis)),
                  help=f"Original: {words.format_number(ui.display(analysis.pooled.estimate, analysis))}")
        st.markdown(words.trim_and_fill_sentence(tf.k0, adj.estimate, adj.ci_low, adj.ci_high,
                                                 effect_measure=analysis.effect_measure, side=tf.side))
rows = []
if res.egger is not None:
    e = res.egger
    rows.append({"test": "Egger", "statistic": e.intercept, "se": e.se, "t": e.t, "df": e.df,
                 "p_value": e.p_value, "k": e.k})
if tf is not None:
    rows.append({"test": "Trim-and-fill", "statistic": tf.adjusted.estimate, "se": tf.adjusted.se,
                 "ci_low": tf.adjusted.ci_low, "ci_high": tf.adjusted.ci_high, "k0": tf.k0, "side": tf.side,
                 "k": analysis.k})
if rows:
    ui.download_table(pd.DataFrame(rows), f"small_study_{view.spec.outcome}", "small_study")
