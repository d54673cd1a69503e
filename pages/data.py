"""Data: the trials and their coverage, and the import of a user's sheet
(extraction template or the Metapsy standard) as a separate dataset with a row-by-row problem report."""

import streamlit as st

from evidence import InvalidSheet, ingest
from evidence.query import catalogue as coverage
from evidence.ingest import metapsy
from evidence.ingest import uploads as own_import
from evidence.store import limits, namespaces
from evidence.core.errors import EvidenceError
from pages import _shared as ui

ui.current_view()  # makes sure the run went through app.py (page config, sidebar)
st.title("Data")
ui.show_url_notices()
st.caption(f"Shipped dataset version {ui.dataset_version()}: {ui.store_metadata().get('n_studies', '?')} trials, "
           f"{ui.store_metadata().get('n_effects', '?')} effect rows, every number with its source and a verbatim "
           "quote. Missing numbers are never filled in: trials without poolable numbers are listed, not dropped.")


@st.cache_data(max_entries=4, show_spinner=False)
def _overview(key: str):
    return coverage.study_overview(ui.connection())


@st.cache_data(max_entries=4, show_spinner=False)
def _coverage(key: str):
    return coverage.coverage_table(ui.connection())


key = ui.dataset_version() + ui.store_metadata().get("content_hash", "")
st.caption("What published reviews found, and how their results compare with ours, is on the **Reviews** page.")
trials_tab, coverage_tab, import_tab = st.tabs(["Trials", "Coverage", "Add your own trials"])

with trials_tab:
    overview = _overview(key)
    with_numbers = int((overview["Poolable numbers"] == "yes").sum())
    st.markdown(f"**{len(overview)} trials**, {with_numbers} with numbers that can be pooled. Characteristics "
                "follow White et al. (2020) where they coded the trial; *Flags* mark derived numbers and "
                "borderline definitions of a peer.")
    st.dataframe(overview, hide_index=True, width="stretch", height=480)
    ui.download_table(overview, "trials", "trials", "Trials (CSV)")

with coverage_tab:
    st.markdown("Trials with poolable numbers, by population and outcome. Empty cells are questions the trial "
                "evidence here cannot answer yet.")
    st.dataframe(_coverage(key), hide_index=True, width="stretch")
    ui.download_table(_coverage(key), "coverage", "coverage", "Coverage (CSV)")

def _show_problems(problems, title: str) -> None:
    """The problem report, capped: counts by kind, the first problems by row, the full list as a CSV download."""
    st.error(title, icon=":material/block:")
    report = ingest.SheetReport(tuple(problems), ())
    shown = ingest.SHOWN_PROBLEMS
    if len(report.problems) > shown:
        st.markdown(f"**Problems by kind.** The first {shown:,} of {len(report.problems):,} are listed below; "
                    "the problem report lists all of them.")
        st.dataframe(report.counts_by_kind(), hide_index=True)
    st.dataframe(report.problems_frame(limit=shown), hide_index=True, width="stretch")
    # The download is made only when asked for (a lambda), so a long report is never sent unasked.
    ui.download_table_lazily(report.problems_frame, "sheet_problems", "problems", "Problem report (CSV)")


def _dataset_rows(folder) -> list[dict]:
    rows = [{"dataset": "shipped", "access": "shipped with the dashboard", "version": ui.dataset_version(),
             "studies": ui.store_metadata().get("n_studies", ""),
             "effect rows": ui.store_metadata().get("n_effects", ""),
             "source file": "data/*.csv", "attribution": "shipped with the dashboard"}]
    for ds in ui.own_datasets():
        try:
            info = ingest.dataset_info(ds, folder)
        except EvidenceError as exc:
            info = {"source_file": f"unreadable: {exc}"}
        shared = not (folder / f"{ds}.duckdb").is_file()
        rows.append({"dataset": ds, "access": "opened from a share link (read-only)" if shared else "imported by you",
                     "version": info.get("imported_at", info.get("built_at", "")),
                     "studies": info.get("n_studies", ""), "effect rows": info.get("n_effects", ""),
                     "source file": info.get("source_file", ""), "attribution": info.get("attribution", "")})
    return rows


KEY_SHARE_LINKS = "_share_links"


def _make_share(folder, name: str) -> None:
    try:
        link = _share_url(namespaces.create_share(folder, name))
    except EvidenceError as exc:
        link = exc
    st.session_state.setdefault(KEY_SHARE_LINKS, {})[name] = link


def _delete(folder, name: str) -> None:
    namespaces.delete_dataset(folder, name)
    st.session_state.get(KEY_SHARE_LINKS, {}).pop(name, None)


def _share_url(token: str) -> str:
    # The page's own address (behind a proxy too) with only the share token as query.
    base = (st.context.url or "").split("?")[0].split("#")[0]
    return f"{base}?share={token}" if base else f"?share={token}"


with import_tab:
    folder = ui.own_folder()
    hours = limits.UPLOAD_LIFETIME_SECONDS / 3600
    st.markdown(
        "Fill in the template (one row per study × comparison × outcome × follow-up, the same columns as the "
        "shipped extraction) and upload it as CSV or XLSX, or upload a file in the **Metapsy data standard** "
        "(semicolon-separated, decimal commas). Every row is checked; if anything is wrong you get a list naming "
        "the row and column, and nothing is stored. A valid sheet becomes its own dataset — the shipped data are "
        "never changed. Pick it under **Dataset** in the sidebar.")
    st.info(f"**Your datasets are private to this browser session.** Other visitors never see them, cannot open "
            f"them by name, and *all* means the shipped data plus your own datasets. An upload is deleted "
            f"{hours:g} hours after its import; reloading the page starts a new session without it, so keep a "
            "share link (to open it again, or to show it to someone, who gets it read-only) or a copy as a sheet "
            "(below).",
            icon=":material/lock:")
    st.download_button("Blank template (CSV)", data=ingest.blank_template_csv(),
                       file_name="peer_support_template.csv", mime="text/csv", key="dl_template", on_click="ignore")

    with st.form("upload_form", clear_on_submit=False):
        sheet_format = st.radio("Format", ["Extraction template", "Metapsy data standard"], horizontal=True,
                                key="upload_format")
        upload = st.file_uploader("Extraction sheet", type=["csv", "xlsx"], key="upload_sheet")
        name = st.text_input("Dataset name", key="upload_name", max_chars=40,
                             help="Lower-case letters, digits, '-' or '_' (e.g. my-trials).")
        attribution = st.text_input("Who extracted these data (shown with the dataset)", key="upload_attr",
                                    max_chars=200)
        replace_existing = st.checkbox("Replace my dataset of the same name", key="upload_replace",
                                       help="Only a dataset of this session can be replaced.")
        submitted = st.form_submit_button("Check and import", type="primary")

    if submitted:
        if upload is None:
            st.warning("Choose a CSV or XLSX file first.", icon=":material/warning:")
        elif not name.strip():
            st.warning("Give the dataset a name.", icon=":material/warning:")
        else:
            try:
                ui.expire_old_uploads(force=True)
                slug = own_import.check_can_import(folder, name, replace=replace_existing)  # before the work
            except EvidenceError as exc:
                ui.render_error(exc)
            else:
                data = upload.getvalue()
                # seconds of work on a large sheet: other sessions' reruns go on meanwhile (pages/_admission.py)
                with st.spinner("Checking every row…"), ui.slot_released():
                    if sheet_format == "Metapsy data standard":
                        report = metapsy.validate_metapsy(data, source_name=upload.name)
                    else:
                        report = ingest.validate_sheet(data, upload.name)
                if not report.ok:
                    _show_problems(report.problems, f"{len(report.problems):,} problem(s) found; nothing was "
                                                    "stored. Fix them and upload again.")
                else:
                    try:
                        with st.spinner("Importing…"), ui.slot_released():
                            result = own_import.import_own(report, slug, folder, source_file=upload.name,
                                                           replace=replace_existing, attribution=attribution)
                    except InvalidSheet as exc:
                        _show_problems(exc.problems, f"{len(exc.problems)} problem(s) found; nothing was stored.")
                    except EvidenceError as exc:
                        ui.render_error(exc)
                    else:
                        st.success(f"Imported '{result.name}': {result.n_studies} studies, {result.n_effects} "
                                   "effect rows. Choose it under Dataset in the sidebar.",
                                   icon=":material/check_circle:")
                        if report.warnings:
                            st.warning(f"{len(report.warnings)} warning(s): text kept as plain text.",
                                       icon=":material/warning:")
                            st.dataframe(report.problems_frame(), hide_index=True, width="stretch")

    st.subheader("The Metapsy depression database")
    st.markdown(f"The {metapsy.METAPSY_ATTRIBUTION} "
                "ships with the dashboard as an example of the Metapsy standard. Importing it goes through the same "
                "checks as your own sheet; it is not peer support, so it is never mixed into the shipped data. "
                "Once imported, the trials it shares with the shipped data are cross-checked number by number.")
    if st.button("Import the Metapsy database as dataset 'metapsy-depression'", key="import_metapsy"):
        try:
            ui.expire_old_uploads(force=True)
            own_import.check_can_import(folder, "metapsy-depression", replace=True)
            with st.spinner("Checking and importing 900+ rows…"), ui.slot_released():
                result = metapsy.import_metapsy(uploads_dir=folder)
        except InvalidSheet as exc:
            _show_problems(exc.problems, f"{len(exc.problems)} problem(s) in the Metapsy file; nothing was stored.")
        except FileNotFoundError as exc:
            st.error(str(exc), icon=":material/block:")
        except EvidenceError as exc:
            ui.render_error(exc)
        else:
            st.success(f"Imported '{result.name}': {result.n_studies} studies, {result.n_effects} effect rows.",
                       icon=":material/check_circle:")
    if "metapsy-depression" in ui.own_datasets():
        try:
            diffs = metapsy.disagreements("metapsy-depression", ui.connection(), uploads_dir=folder)
        except EvidenceError as exc:
            ui.render_error(exc)
        else:
            st.markdown(f"**Cross-check with the shipped data:** {diffs['study_id'].nunique()} shared trial(s), "
                        f"{len(diffs)} difference(s) or unmatched row(s).")
            st.dataframe(diffs, hide_index=True, width="stretch")
            ui.download_table(diffs, "metapsy_disagreements", "metapsy_diffs", "Cross-check (CSV)")

    st.subheader("Your datasets")
    st.dataframe(_dataset_rows(folder), hide_index=True, width="stretch")
    mine = [d for d in ui.own_datasets() if (folder / f"{d}.duckdb").is_file()]
    if ui.own_datasets():
        share_col, download_col, delete_col = st.columns(3, gap="large")
        if mine:
            with share_col:
                chosen = st.selectbox("Share one of your datasets", mine, key="share_pick")
                st.button("Make a share link", key="btn_share", on_click=_make_share, args=(folder, chosen))
                link = st.session_state.get(KEY_SHARE_LINKS, {}).get(chosen)
                if isinstance(link, EvidenceError):
                    ui.render_error(link)
                elif link:
                    st.code(link, language=None, wrap_lines=True)
                    st.caption(f"Whoever opens this link sees '{chosen}' read-only, in their own session, until "
                               f"the dataset expires ({hours:g} hours after its import). Anyone with the link can "
                               "open it: share it only with people who may see the data.")
        with download_col:
            keep = st.selectbox("Keep a copy as a sheet", ui.own_datasets(), key="download_pick")
            try:
                ui.download_table(own_import.dataset_as_sheet(keep, folder), f"{keep}-sheet", "own_sheet",
                                  "Download the sheet (CSV)")
            except EvidenceError as exc:
                ui.render_error(exc)
            st.caption("The same columns as the template: import it again after a reload, after it expired, or "
                       "on another server.")
        with delete_col:
            gone = st.selectbox("Delete one of your datasets", ui.own_datasets(), key="delete_pick")
            st.button("Delete it now", key="btn_delete", on_click=_delete, args=(folder, gone))
    with st.expander("Limits of this server"):
        st.dataframe([{"limit": a, "value": b} for a, b in limits.describe_limits()], hide_index=True,
                     width="stretch")
