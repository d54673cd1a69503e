"""Present: the view for a projector. Large type, no sidebar, a 16:9 frame, one finding per screen,
previous/next buttons (and the arrow keys), and on every screen a footer naming the dataset version, the
filters, the method and the link that restores exactly this screen. The PowerPoint deck and the HTML
report of the same contents are downloaded here."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from evidence.present import contents as pc
from evidence.present import deck, report
from pages import _shared as ui

#: Projector styling: the sidebar and the top bar hidden, body type 28 px, the screen a 16:9 frame.
_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"] {display: none;}
[data-testid="stMainBlockContainer"] {padding: 0.5rem 1rem; max-width: 100%;}
.st-key-present_frame {aspect-ratio: 16 / 9; width: min(100%, calc((100vh - 5.5rem) * 16 / 9)); margin: 0 auto;
  border: 1px solid #d0d0d0; border-radius: 6px; padding: 1.2rem 2rem 5.5rem; overflow: hidden;
  position: relative; background: #ffffff;}
.st-key-present_frame p, .st-key-present_frame li, .st-key-present_frame td, .st-key-present_frame th
  {font-size: 28px; line-height: 1.35;}
.st-key-present_frame h1 {font-size: 48px; padding: 0 0 0.4rem 0;}
.st-key-present_frame [data-testid="stTable"] td, .st-key-present_frame [data-testid="stTable"] th
  {font-size: 28px; padding: 0.15rem 0.6rem;}
.st-key-present_footer {position: absolute; left: 2rem; width: calc(100% - 4rem) !important; bottom: 0.5rem;
  border-top: 1px solid #d0d0d0;
  padding-top: 0.3rem;}
.st-key-present_footer p {font-size: 18px; line-height: 1.3; color: #444444;}
.st-key-present_certainty p {font-size: 30px; font-weight: 600;}
.st-key-present_controls button p {font-size: 20px;}
.st-key-present_body [data-testid="stColumn"] [data-testid="stVegaLiteChart"] {zoom: 1.1;}
</style>
"""

view = ui.current_view()
st.html(_CSS)
ui.show_url_notices()
pres = ui.result("presentation", view)
screens = pc.screens(pres)
ss = st.session_state
index = min(max(int(ss.get(ui.KEY_SCREEN) or 0), 0), len(screens) - 1)
ss[ui.KEY_SCREEN] = index
screen = screens[index]


def restoring_link(at: int) -> str:
    """The address that opens this view on screen ``at`` (absolute when the browser's address is known)."""
    query = urlencode(ui.view_params(view, screen=at))
    try:
        url = st.context.url or ""
    except Exception:  # no browser behind this session (AppTest)
        url = ""
    parts = urlsplit(url)
    if not parts.scheme:
        return f"/present?{query}"
    base = parts.path.rstrip("/")
    if base.endswith("/present"):
        base = base[: -len("/present")]
    return f"{parts.scheme}://{parts.netloc}{base}/present?{query}"


def _go(to: int) -> None:
    st.session_state[ui.KEY_SCREEN] = min(max(to, 0), len(screens) - 1)


def _jump() -> None:
    _go(int(st.session_state["present_jump"]))


def _show_question() -> None:
    st.title(pres.question)
    st.markdown(f"**Filters:** {ui.md_escape(pres.filters)}")
    trials = len(pres.studies)
    st.markdown(f"**Evidence:** {trials} trial{'s' if trials != 1 else ''} with usable numbers, "
                f"{len(pres.findings)} outcome{'s' if len(pres.findings) != 1 else ''}.")
    st.markdown(f"**Method:** {ui.md_escape(pres.method_text)}. **Dataset version:** {pres.dataset_version}.")


def _show_summary() -> None:
    st.title(screen.title)
    if not pres.findings:
        st.markdown("No outcome has trials with usable numbers under these filters.")
        return
    st.table(pc.summary_table(pres, screen.part, pc.SCREEN_COLUMNS).set_index("Outcome"))


def _show_finding() -> None:
    row = pc.finding_row(pres, screen.outcome)
    st.title(row.outcome_label)
    text_col, chart_col = st.columns([4, 7], gap="medium")
    with text_col:
        with st.container(key="present_certainty"):
            st.markdown(f"Certainty: {ui.md_escape(pc.certainty_text(row))}",
                        help=f"{pc.certainty_reasons(row)} An {pc.CERTAINTY_LABEL}.")
        st.markdown(ui.md_escape(row.sentence))
        for extra in pc.extra_sentences(row):
            st.markdown(ui.md_escape(extra))
        st.markdown(f"Effect (95% CI): {ui.md_escape(pc.effect_text(row))}.")
    with chart_col:
        ui.show_chart(lambda: pc.finding_chart(row), f"forest_{row.outcome}", f"present_forest_{index}",
                      ui.view_inputs(view, "present", row.outcome), downloads=False)


def _show_robustness() -> None:
    st.title(screen.title)
    st.markdown(ui.md_escape(pres.robustness_text))
    if pres.robustness is not None:
        ui.show_chart(lambda: pc.robustness_chart(pres), f"robustness_{screen.outcome}", "present_robustness",
                      ui.view_inputs(view, "present"), downloads=False)


def _show_map() -> None:
    st.title(screen.title)
    st.markdown(ui.md_escape(pres.map_text))
    # Its own width (a band per column): Streamlit's "content" width collapses this layered chart.
    st.altair_chart(pc.map_chart(pres), theme=None, key="present_map", width="stretch")


def _show_methods() -> None:
    st.title(screen.title)
    st.markdown("\n".join([
        f"- **Model:** {ui.md_escape(pres.method_text)}.",
        f"- **Filters:** {ui.md_escape(pres.filters)}.",
        "- **One result per trial**, oriented so that the favoured side is stated on every plot.",
        f"- **Dataset version** {pres.dataset_version}, shown on {pres.made_on}.",
        f"- **Certainty:** {ui.md_escape(pc.certainty_source(pres))}.",
    ]))


SHOW = {"question": _show_question, "summary": _show_summary, "finding": _show_finding,
        "robustness": _show_robustness, "map": _show_map, "methods": _show_methods}

with st.container(key="present_frame"):
    with st.container(key="present_body"):
        SHOW[screen.kind]()
    with st.container(key="present_footer"):
        link = restoring_link(index)
        st.markdown(f"Screen {index + 1} of {len(screens)} · Dataset version {pres.dataset_version} · "
                    f"{ui.md_escape(pres.filters)} · {ui.md_escape(pres.method_text)} · "
                    f"Restore this view: [{ui.md_escape(link)}]({link})")

with st.container(key="present_controls", horizontal=True, vertical_alignment="center"):
    st.button("Previous", icon=":material/arrow_back:", key="present_prev", on_click=_go, args=(index - 1,),
              disabled=index == 0, shortcut="Left")
    st.button("Next", icon=":material/arrow_forward:", key="present_next", on_click=_go, args=(index + 1,),
              disabled=index == len(screens) - 1, shortcut="Right")
    ss["present_jump"] = index
    st.selectbox("Go to screen", range(len(screens)), key="present_jump", on_change=_jump,
                 format_func=lambda i: f"{i + 1}. {screens[i].title}", label_visibility="collapsed", width=360)
    st.download_button("PowerPoint", icon=":material/download:", key="present_pptx", on_click="ignore",
                       data=lambda: deck.build_deck(pres, restoring_link(0)), file_name="peer-support-evidence.pptx",
                       mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
    st.download_button("HTML report", icon=":material/download:", key="present_html", on_click="ignore",
                       data=lambda: report.build_report(pres, restoring_link(0)),
                       file_name="peer-support-evidence.html", mime="text/html")
    st.page_link("pages/overview.py", label="Leave present mode", icon=":material/close:",
                 query_params=ui.view_params(view))
