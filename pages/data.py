"""Data: download the template, upload a sheet as a separate dataset (row-by-row problem report), list datasets."""

import streamlit as st

from evidence import InvalidSheet, ingest
from evidence.errors import EvidenceError
from pages import _shared as ui

ui.current_view()  # makes sure the run went through app.py (page config, sidebar)
st.title("Data")
ui.show_url_notices()

st.header("Add your own trials")
st.markdown(
    "Fill in the template (one row per study × comparison × outcome × follow-up, the same columns as the "
    "shipped extraction) and upload it as CSV or XLSX. Every row is checked; if anything is wrong you get a "
    "list naming the row and column, and nothing is stored. A valid sheet becomes its own dataset — the "
    "shipped data are never changed. Pick it under **Dataset** in the sidebar.")
st.download_button("Blank template (CSV)", data=ingest.blank_template_csv(), file_name="peer_support_template.csv",
                   mime="text/csv", key="dl_template", on_click="ignore")

with st.form("upload_form", clear_on_submit=False):
    upload = st.file_uploader("Extraction sheet", type=["csv", "xlsx"], key="upload_sheet")
    name = st.text_input("Dataset name", key="upload_name", max_chars=40,
                         help="Lower-case letters, digits, '-' or '_' (e.g. my-trials).")
    attribution = st.text_input("Who extracted these data (shown with the dataset)", key="upload_attr",
                                max_chars=200)
    replace_existing = st.checkbox("Replace a dataset of the same name", key="upload_replace")
    submitted = st.form_submit_button("Check and import", type="primary")

if submitted:
    if upload is None:
        st.warning("Choose a CSV or XLSX file first.", icon=":material/warning:")
    elif not name.strip():
        st.warning("Give the dataset a name.", icon=":material/warning:")
    else:
        data = upload.getvalue()
        with st.spinner("Checking every row…"):
            report = ingest.validate_sheet(data, upload.name)
        if not report.ok:
            st.error(f"{len(report.problems)} problem(s) found; nothing was stored. Fix them and upload again.",
                     icon=":material/block:")
            frame = report.problems_frame()
            st.dataframe(frame, hide_index=True, width="stretch")
            ui.download_table(frame, "sheet_problems", "problems", "Problem report (CSV)")
        else:
            try:
                with st.spinner("Importing…"):
                    result = ingest.import_records(report, ingest.safe_dataset_name(name),
                                                   source_file=upload.name, replace=replace_existing,
                                                   attribution=attribution)
            except InvalidSheet as exc:
                st.error(f"{len(exc.problems)} problem(s) found; nothing was stored.", icon=":material/block:")
                st.dataframe([{"row": p.row, "column": p.column, "message": p.message} for p in exc.problems],
                             hide_index=True, width="stretch")
            except EvidenceError as exc:
                ui.render_error(exc)
            else:
                st.cache_data.clear()  # new dataset: counts and analyses must be recomputed
                st.success(f"Imported '{result.name}': {result.n_studies} studies, {result.n_effects} effect rows. "
                           "Choose it under Dataset in the sidebar.", icon=":material/check_circle:")
                if report.warnings:
                    st.warning(f"{len(report.warnings)} warning(s): text kept as plain text.", icon=":material/warning:")
                    st.dataframe(report.problems_frame(), hide_index=True, width="stretch")

st.header("Datasets")
rows = [{"dataset": "shipped", "version": ui.dataset_version(),
         "studies": ui.store_metadata().get("n_studies", ""), "effect rows": ui.store_metadata().get("n_effects", ""),
         "source file": "data/*.csv", "attribution": "shipped with the dashboard"}]
for ds in ingest.list_datasets():
    try:
        info = ingest.dataset_info(ds)
    except EvidenceError as exc:
        info = {"source_file": f"unreadable: {exc}"}
    rows.append({"dataset": ds, "version": info.get("imported_at", info.get("built_at", "")),
                 "studies": info.get("n_studies", ""), "effect rows": info.get("n_effects", ""),
                 "source file": info.get("source_file", ""), "attribution": info.get("attribution", "")})
st.dataframe(rows, hide_index=True, width="stretch")
