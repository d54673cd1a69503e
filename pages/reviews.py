"""Reviews: every review we hold and its pooled results, a forest plot of those results for one outcome, the
overlap of their trial lists, and the reproduction of one published result from our trial data."""

import streamlit as st

from evidence.analysis import reviews as rv
from evidence.present.charts import reviews as review_charts
from evidence.present import wording as words
from pages import _shared as ui

view = ui.current_view()
st.title("Reviews")
ui.show_url_notices()
st.caption("Systematic reviews of peer support: what each asked, how confident one can be in it (AMSTAR 2, as "
           "rated by Cooper et al. 2024 where they rated it), every pooled result it reports, and, where we hold "
           "its list of included trials, how its result compares with ours on the same trials.")

results = ui.result("review_results", None, None)
listed = ui.review_options()
reproduce_tab, reviews_tab, results_tab, forest_tab, overlap_tab = st.tabs(
    ["Reproduce a result", "Reviews", "Pooled results", "Forest plot", "Overlap of trial lists"])


def _known(value) -> bool:
    return value is not None and value == value  # not None, not NaN


def _result_label(rid: str) -> str:
    r = results[results["result_id"] == rid].iloc[0]
    ci = (f" [{r['CI low']:g}, {r['CI high']:g}]" if r["CI low"] == r["CI low"] and r["CI high"] == r["CI high"]
          else "")
    effect = f"{r['Measure']} {r['Effect']:g}{ci}" if r["Effect"] == r["Effect"] else "no estimate"
    return f"{r['Review']}: {r['Outcome']} ({effect})"


def _open_set(spec) -> None:
    """The sidebar takes the reproduction's set: outcome, the review's trials and the review's scale."""
    st.session_state[ui.KEYS["outcome"]] = spec.outcome
    st.session_state[ui.KEYS["review"]] = spec.review
    st.session_state[ui.KEYS["scale"]] = spec.scale


with reproduce_tab:
    candidates = results[results["review_id"].isin(list(listed)) & results["Effect"].notna()]
    if candidates.empty:
        st.info("No review whose trial list we hold reports a pooled result.", icon=":material/info:")
    else:
        ids = candidates["result_id"].tolist()
        chosen = st.session_state.get("rev_result")
        own = candidates[candidates["review_id"] == view.spec.review]
        if len(own) and chosen not in set(own["result_id"]):  # a link or the sidebar named a review
            same = own[own["outcome"] == view.spec.outcome]
            st.session_state["rev_result"] = (same if len(same) else own)["result_id"].iloc[0]
        if st.session_state.get("rev_result") not in ids:
            st.session_state["rev_result"] = ids[0]
        c1, c2 = st.columns([3, 1])
        rid = c1.selectbox("Published result", ids, key="rev_result", format_func=_result_label,
                           help="Results of the reviews whose list of included trials we hold.")
        method = c2.selectbox("Our estimator", ["DL", "REML", "FE"], key="rev_method",
                              format_func=lambda m: ui.METHOD_LABELS.get(m, m),
                              help="DerSimonian-Laird is the random-effects method of RevMan, which most of these "
                                   "reviews used; the review's own method is not recorded here.")
        rep = ui.result("reproduce", None, (rid, method))
        pub = rep.result
        counts = rep.group_counts()
        n_listed = len(rep.trials)
        st.markdown(f"**{_result_label(rid)}**: {pub['k_studies'] if _known(pub['k_studies']) else 'k not stated'}"
                    f" trial(s) in the published analysis; we hold a list of {n_listed} of the review's "
                    f"{pub['n_primary_studies'] if _known(pub['n_primary_studies']) else '?'} "
                    f"included trials. Pooled here: **{counts['pooled here']}**, in our data but not poolable: "
                    f"**{counts['in our data, not poolable']}**, not in our data: **{counts['not in our data']}**.")
        left, mid, right = st.columns(3)
        ci = (f"{pub['ci_low']:g} to {pub['ci_high']:g}" if _known(pub["ci_low"]) and _known(pub["ci_high"]) else "no CI reported")
        left.metric(f"Published ({pub['effect_type']})", f"{pub['estimate']:g}", help=pub.get("source_quote") or None)
        k_pub = f"k = {pub['k_studies']:g}" if _known(pub["k_studies"]) else "k not stated"
        n_pub = f"N = {pub['n_participants']:,.0f}" if _known(pub["n_participants"]) else "N not stated"
        i2_pub = f"I² {pub['i2']:g}%" if _known(pub["i2"]) else "I² not reported"
        left.caption(f"95% CI {ci}; {k_pub}, {n_pub}; {i2_pub}")
        if rep.ours is not None:
            est, lo, hi = rep.ours
            a = rep.analysis
            mid.metric(f"Ours ({pub['effect_type']}, {method})", words.format_number(est),
                       help=f"{a.description}. {rep.orientation}.")
            mid.caption(f"95% CI {words.format_number(lo)} to {words.format_number(hi)}; k = {a.k}, "
                        f"N = {a.participants:,}" + (f"; I² {a.pooled.i2:.0f}%" if a.k > 1 else ""))
            right.metric(rep.difference.split("=")[0].strip().capitalize(),
                         rep.difference.split("=")[-1].split("(")[0].strip(), help=rep.difference)
            right.caption(rep.difference)
            st.caption(f"Orientation: ours is shown on the review's sign: {rep.orientation}.")
        else:
            mid.metric("Ours", "not available")
            st.info(rep.problem or "No trial of this review could be pooled.", icon=":material/info:")
            if rep.analysis is not None:
                st.caption(f"Ours on {rep.analysis.effect_measure}: {rep.analysis.pooled.describe()}.")
        for group in rv.TRIAL_GROUPS:
            part = rep.trials[rep.trials["group"] == group].drop(columns=["group"])
            part = part.assign(**{"our effect": [words.format_number(v) if v == v and v is not None else ""
                                                 for v in part["our effect"]]})
            st.subheader(f"{group.capitalize()}: {len(part)}")
            if len(part):
                st.dataframe(part, hide_index=True, width="stretch")
        ui.download_table(rep.trials, f"review_trials_{pub['review_id']}", "rev_trials", "Trials in three groups (CSV)")
        st.button("Analyse these trials on Explore, Sensitivity and the other pages", key="btn_open_set",
                  type="primary", on_click=_open_set, args=(rep.spec,),
                  help="Sets the sidebar to this outcome and to the review's trials (link parameter review=). "
                       "Every control then works on that set.")
        st.caption("Link parameters: `?" + "&".join(f"{k}={v}" for k, v in rep.spec.to_query_params().items()) + "`. "
                   + rv.REVIEW_ORIENTATION_RULE)

with reviews_tab:
    catalogue = ui.result("review_catalogue", None)
    st.markdown(f"**{len(catalogue)} reviews.** The search date is not yet in the review tables, so it reads "
                "'not recorded' rather than a guess.")
    st.dataframe(catalogue.drop(columns=["review_id"]), hide_index=True, width="stretch", height=420)
    ui.download_table(catalogue, "reviews", "reviews")

with results_tab:
    st.markdown(f"**{len(results)} pooled results**, as each review printed them (sign conventions differ; the "
                "last columns say which way each runs).")
    st.dataframe(results.drop(columns=["review_id", "result_id", "outcome"]), hide_index=True, width="stretch", height=480,
                 column_config={"Source": st.column_config.LinkColumn("Source", display_text="open")})
    ui.download_table(results, "review_results", "review_results", "Review results (CSV)")

with forest_tab:
    outcomes = [o for o in ui.choices("outcome") if o in set(results["outcome"].dropna())]
    default = view.spec.outcome if view.spec.outcome in outcomes else (outcomes[0] if outcomes else None)
    if st.session_state.get("rev_forest_outcome") not in outcomes:
        st.session_state["rev_forest_outcome"] = default
    outcome = st.selectbox("Outcome", outcomes, key="rev_forest_outcome",
                           format_func=lambda o: ui.labels("outcome").get(o, o))
    rows, left_out = ui.result("review_forest", None, outcome)
    st.warning("Reviews share trials: these results are not independent, and agreement between them is not "
               "separate confirmation. See the overlap of their trial lists in the next tab.",
               icon=":material/warning:")
    if len(rows):
        title = f"What reviews found: {ui.labels('outcome').get(outcome, outcome)}"
        ui.show_chart(lambda: review_charts.review_forest(rows, title=title), f"review_forest_{outcome}",
                      "review_forest", (outcome, ui.cache_key()))
        st.caption("One row per pooled result, coloured by the review's AMSTAR 2 rating. " + rv.REVIEW_ORIENTATION_RULE)
    if len(left_out):
        with st.expander(f"{len(left_out)} result(s) not drawn, and why"):
            st.dataframe(left_out, hide_index=True, width="stretch")

with overlap_tab:
    choices = list(listed)
    picked = st.multiselect("Reviews", choices, default=choices, key="rev_overlap",
                            format_func=lambda r: listed.get(r, r))
    ov = ui.result("review_overlap", None, tuple(sorted(picked)))
    cca = f"{100 * ov.cca:.1f}% ({ov.band} overlap)" if ov.cca == ov.cca else "needs two reviews"
    c1, c2, c3 = st.columns(3)
    c1.metric("Corrected covered area", cca, help="CCA = (N − r) / (r·c − r): N inclusions, r trials, c reviews "
                                                  "(Pieper et al. 2014; 0–5% slight, 6–10% moderate, 11–15% high, "
                                                  "above 15% very high).")
    c2.metric("Trials (r)", ov.n_trials)
    c3.metric("Reviews (c) / inclusions (N)", f"{ov.n_reviews} / {ov.n_inclusions}")
    st.caption("Computed on the trial lists as we hold them; most lists are incomplete (the Reviews tab says how "
               "many of each review's trials are listed), so the CCA describes the listed trials only.")
    if ov.n_trials:
        ui.show_chart(lambda: review_charts.overlap_matrix(ov.matrix, title="Which review included which trial"),
                      "review_overlap", "review_overlap", (tuple(sorted(picked)), ui.cache_key()))
