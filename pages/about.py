"""About: dataset version, sources, methods in brief, link parameters, and how to cite."""

from datetime import date
from urllib.parse import urlencode

import streamlit as st

from evidence.analysis import METHODS
from evidence.analysis import certainty as grade
from evidence.analysis import findings_text
from evidence import query
from evidence.present import wording as words
from pages import _shared as ui

ui.current_view()  # makes sure the run went through app.py (page config, sidebar)
st.title("About this dashboard")
ui.show_url_notices()
meta = ui.store_metadata()
version = ui.dataset_version()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Dataset version", version)
c2.metric("Trials", meta.get("n_studies", "not available"))
c3.metric("Effect rows", meta.get("n_effects", "not available"))
c4.metric("Sources", meta.get("n_sources", "not available"))
st.caption(f"Store built {meta.get('built_at', 'at an unknown time')} from the CSV files in data/ "
           f"(content hash {meta.get('content_hash', 'not available')[:12]}).")

st.header("How to cite")
st.markdown(
    "Cite the dataset version and the exact view: every filter, the estimator and the Hartung-Knapp choice "
    "live in the page's link, so copying the address bar restores what you saw.")
params = urlencode(st.query_params.to_dict())  # encoded, so the copied view opens as a link
st.code(f"Peer-support evidence dashboard, dataset version {version}. Accessed {date.today().isoformat()}.\n"
        f"View: ?{params}", language=None)

st.header("Sources")
st.markdown("Every number was copied from a trial report or a systematic review, with the page location and a "
            "verbatim quote; hover a study in a forest plot to see them. The reviews the numbers were read from:")
try:
    reviews = query.table("reviews", ui.connection())
except Exception as exc:  # an older store without the table
    ui.render_error(exc)
else:
    st.dataframe(reviews, hide_index=True, width="stretch")
    ui.download_table(reviews, "reviews", "reviews", "Reviews (CSV)")
sources = query.table("sources", ui.connection())
ui.download_table(sources, "sources", "sources", f"All {len(sources)} source locations and quotes (CSV)")

st.header("Methods in brief")
st.markdown(
    f"- Estimators of τ²: {', '.join(ui.METHOD_LABELS[m] for m in METHODS)}; default REML. "
    "Optional Hartung-Knapp adjustment (t-based intervals).\n"
    "- Standardised mean differences are Hedges' g, oriented so positive values favour peer support. "
    "Binary outcomes are pooled as risk or odds ratios on the log scale.\n"
    "- Statistics are checked against R's metafor package.")
st.markdown(words.I2_DEFINITION)
st.markdown(words.TAU2_DEFINITION)
st.markdown(words.PI_DEFINITION)

st.header("Certainty drafts on the Overview")
st.markdown(f"The Overview rates each outcome's evidence in the GRADE style. It is an **{grade.CERTAINTY_LABEL}**: "
            "the rules below are applied mechanically to the trials' data, and a review team would judge each domain.")
st.markdown("\n".join(f"- {rule}" for rule in grade.CERTAINTY_RULES))
st.markdown(f"- {findings_text.VERB_RULE}\n- {findings_text.SIZE_RULE}\n- Absolute effects of binary outcomes: the "
            "pooled ratio applied to the median control-arm risk of the included trials that report event counts, "
            "per 1,000 people. HbA1c is also given as a mean difference in % (mmol/mol converted by the IFCC-NGSP "
            "master equation slope 0.09148).")

st.header("Link parameters")
st.markdown(
    "Query parameters are the filter's field names with comma-separated values: `outcome`, `population`, "
    "`setting`, `ps_format`, `ps_mode`, `ps_role`, `peer_paid`, `org_support`, `peer_deliverer`, `comparator`, "
    "`risk_of_bias`, `exclude_studies`, `timepoint_months` (low,high), `year` (low,high), `dataset`, "
    "`include_flagged` (0/1); plus `method` (one of " + ", ".join(METHODS) + "), `hk` (0/1), `moderator` (the Subgroups page's "
    "moderator) and `version` (the dataset version the link was made with). Unknown values are ignored with a notice.")
