"""What pages render the same way: escaped user text, domain errors and the k = 0 widening, headline
metrics, charts with their downloads, cautions, and the per-rerun timing line."""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any, Callable

import pandas as pd
import pyarrow as pa
import streamlit as st

from evidence import NoMatchingStudies
from evidence import analysis as analysis_mod
from evidence.core.errors import EvidenceError, TooFewStudies
from evidence.core.filters import CATEGORICAL_FIELDS
from evidence.core.measures import measure
from evidence.present import wording as words
from evidence.present.export import chart_png, chart_svg, table_csv
from evidence.store import namespaces

from ._cache import FRONTS, SPEC_HASH, cache_key, ranges, result
from ._state import FIELD_LABELS, KEY_EXCLUDED, KEYS, View, view_link

PERF_LOGGER = "peer_dashboard.perf"

log = logging.getLogger(PERF_LOGGER)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$])")

# Streamlit's GitHub-flavoured Markdown links bare "http://...", "www." and "a@b.org" after escapes are
# resolved, so backslashes cannot stop it; an invisible word joiner inside the pattern does.
_AUTOLINK_START = re.compile(r"(?i)(https?|ftp|www|mailto)(?=[:.])|(@)")

_WORD_JOINER = "\u2060"

def md_escape(text: object) -> str:
    """User text (study names, ids) made inert inside Markdown: no links, images, emphasis or math.

    Streamlit renders ``st.markdown``/``st.warning`` text as Markdown (never HTML here); a study
    label from an imported sheet must not become a link or an image.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text))
    return _AUTOLINK_START.sub(lambda m: m.group(0) + _WORD_JOINER, escaped)


def _widen(culprit: str) -> None:
    ss = st.session_state
    if culprit == "exclude_studies":
        ss[KEY_EXCLUDED] = ()
    elif culprit in CATEGORICAL_FIELDS:
        ss[KEYS[culprit]] = []
    elif culprit in ("year", "timepoint_months"):
        full = ranges()[culprit]
        ss[KEYS[culprit]] = (int(full[0]), int(full[1])) if culprit == "year" else (float(full[0]),
                                                                                  float(full[1]))
    elif culprit == "include_flagged":
        ss[KEYS["include_flagged"]] = True
    elif culprit == "dataset":
        ss[KEYS["dataset"]] = "shipped"

WIDENABLE = set(CATEGORICAL_FIELDS) | {"exclude_studies", "year", "timepoint_months", "include_flagged"}

def render_error(exc: Exception) -> None:
    """The one place domain errors become messages."""
    if isinstance(exc, NoMatchingStudies):
        culprit = exc.culprit
        name = FIELD_LABELS.get(culprit or "", culprit or "")
        if culprit and culprit in WIDENABLE:
            st.warning(f"No studies left (k = 0). The **{name}** filter removed the last studies. "
                       "Widen it to see results.", icon=":material/warning:")
            st.button(f"Widen: clear the '{name}' filter", key=f"btn_widen_{culprit}", on_click=_widen,
                      args=(culprit,), type="primary")
        elif culprit == "usable numbers":
            st.warning(str(exc) + " Choose another outcome.", icon=":material/warning:")
        elif culprit == "outcome":
            st.warning("No studies report this outcome with usable numbers. Choose another outcome.", icon=":material/warning:")
        else:
            st.warning(str(exc), icon=":material/warning:")
        if exc.counts:
            st.caption("Trials left as each filter is applied: "
                       + " → ".join(f"{FIELD_LABELS.get(n, n)}: {c}" for n, c in exc.counts))
    elif isinstance(exc, TooFewStudies):
        st.info(str(exc) + " Widen the filters in the sidebar to include more studies.", icon=":material/info:")
    elif isinstance(exc, EvidenceError):
        st.error(str(exc), icon=":material/block:")
    else:
        raise exc

def analysis_or_stop(view: View, *, warn_catch_all: bool = True):
    """Analysis for the view, or render the error and stop the page.

    With ``warn_catch_all`` a catch-all outcome ("other") gets its caution at the top (pages other than
    Explore show no caution box, and every number on them mixes unrelated measures too).
    """
    try:
        analysis = result("analysis", view)
    except EvidenceError as exc:
        render_error(exc)
        st.stop()
    if warn_catch_all and view.spec.outcome in analysis_mod.CATCH_ALL_OUTCOMES and analysis.warnings:
        st.warning(analysis.warnings[0], icon=":material/warning:")
    return analysis

def display(value: float, analysis) -> float:
    return measure(analysis.effect_measure).to_display(value)

def _num(v: Any, digits: int = 2) -> str:
    return words.format_number(v, digits) if v is not None else "not available"

#: Wide enough for an interval such as "−0.52 to −0.10" at the metric's font size.
_METRIC_WIDTH = 190


def render_metrics(analysis) -> None:
    """The seven headline numbers as st.metric widgets with the contract's labels."""
    p = analysis.pooled
    scale = measure(analysis.effect_measure)
    conv = scale.to_display
    # One row that wraps (seven metrics side by side would truncate the intervals on a laptop screen),
    # in one container rather than two rows of columns: nine layout elements fewer on every rerun.
    row = st.container(horizontal=True, gap="small")
    pi = (f"{_num(conv(p.pi_low))} to {_num(conv(p.pi_high))}"
          if math.isfinite(p.pi_low) and math.isfinite(p.pi_high) else "needs k ≥ 3")
    missing = sum(1 for n in analysis.data.n_total.tolist() if math.isnan(n))
    for label, value, help_text in (
        ("Pooled effect", _num(conv(p.estimate)), f"{scale.label}. {analysis.favours}. Model: {p.describe()}."),
        ("95% CI" if abs(p.level - 0.95) < 1e-9 else f"{p.level:.0%} CI",
         f"{_num(conv(p.ci_low))} to {_num(conv(p.ci_high))}",
         f"Confidence interval of the average effect ({words.format_p(p.p_value)})."),
        ("Prediction interval", pi, words.PI_DEFINITION),
        ("Studies (k)", f"{analysis.k}", None),
        ("I²", f"{p.i2:.0f}%" if math.isfinite(p.i2) else "not available", words.I2_DEFINITION),
        ("τ²", f"{p.tau2:.3f}" if math.isfinite(p.tau2) else "not available", words.TAU2_DEFINITION),
        ("Participants", ("≥ " if missing else "") + f"{analysis.participants:,}",
         f"{missing} stud{'y does' if missing == 1 else 'ies do'} not report N; not counted." if missing
         else "Analysed participants in the pooled studies."),
    ):
        row.metric(label, value, help=help_text, width=_METRIC_WIDTH)


def download_chart(chart, name: str, key: str) -> None:
    """PNG and SVG download buttons; the image is rendered only when clicked."""
    row = st.container(horizontal=True, gap="small")  # one layout element, not three columns
    row.download_button("PNG", icon=":material/download:", data=lambda: chart_png(chart), file_name=f"{name}.png", mime="image/png",
                       key=f"dl_png_{key}", on_click="ignore")
    row.download_button("SVG", icon=":material/download:", data=lambda: chart_svg(chart), file_name=f"{name}.svg", mime="image/svg+xml",
                       key=f"dl_svg_{key}", on_click="ignore")

def download_table(table: pd.DataFrame, name: str, key: str, label: str = "CSV") -> None:
    st.download_button(label, icon=":material/download:", data=lambda: table_csv(table), file_name=f"{name}.csv", mime="text/csv",
                       key=f"dl_csv_{key}", on_click="ignore")

def download_code(view: View, moderator: str | None = None) -> None:
    """The view as code: a zip of the pooled rows (CSV), analysis.R (metafor) and analysis.py (stats); with
    ``moderator`` (the Subgroups page) the scripts pool its subgroups too."""
    arg = (view_link(view), moderator)
    # Built when clicked (about 30 ms for a new view, cached by view after that), not on every rerun.
    st.download_button("Rerun this view in R or Python (zip)", icon=":material/code:",
                       data=lambda: result("code_zip", view, arg),
                       file_name=f"peer_support_{_file_stem(view.spec.outcome)}_code.zip", mime="application/zip",
                       key="dl_code_zip", on_click="ignore",
                       help="effects.csv (the studies pooled, with their raw inputs and sources), analysis.R "
                            "(metafor: escalc, rma, leave1out, regtest, trimfill, subgroups on the Subgroups page) and analysis.py (this project's "
                            "stats package); each reproduces the numbers shown here and names the link back.")

def _file_stem(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text or "view").strip("_")[:40] or "view"


def download_table_lazily(make_table: Callable[[], pd.DataFrame], name: str, key: str, label: str = "CSV") -> None:
    """A CSV download of a table made only when the user asks for it (a long problem report, say)."""
    st.download_button(label, icon=":material/download:", data=lambda: table_csv(make_table()),
                       file_name=f"{name}.csv", mime="text/csv", key=f"dl_csv_{key}", on_click="ignore")

@st.cache_resource(max_entries=256, show_spinner="Drawing…", hash_funcs=SPEC_HASH)
def _chart_specs(chart_id: str, inputs: tuple, _build: Callable[[], Any]) -> tuple[dict, dict]:
    """A chart's Vega-Lite dict (for exports) and the same with its data sets as Arrow bytes (for display).

    Built once per chart and inputs: ``_build`` returns an Altair chart, or the dict itself where a fast
    builder exists (the forest plot). Streamlit turns inline data sets into Arrow bytes on every call
    unless they already are; doing it here once took a tenth of the server's time off each rerun. A
    shared resource, never mutated (Streamlit copies the dict it is given), so no per-rerun copy either.
    """
    chart = _build()
    # Validated against the Vega-Lite schema in the chart tests; skipped here to keep reruns fast.
    spec = chart if isinstance(chart, dict) else chart.to_dict(validate=False)
    display = dict(spec)
    if "datasets" in spec:
        display["datasets"] = {name: records_to_arrow_bytes(values) for name, values in spec["datasets"].items()}
    return spec, display

def _arrow_table(frame: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """``frame`` as an Arrow table, converted once per frame object (a shared frame of a cached result is
    shown on every rerun of every session); the frame itself when pyarrow cannot type a column (Streamlit
    then converts it its own way). Keyed by the frame's identity, the frame kept alive beside its table, so
    an id is never reused while its entry stands."""
    def convert() -> tuple[pd.DataFrame, pa.Table | pd.DataFrame]:
        try:
            return frame, pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
            return frame, frame

    return FRONTS["tables"].get(id(frame), convert)[1]


def show_table(frame: pd.DataFrame, **kwargs) -> None:
    """``st.dataframe`` of a frame that a cached result holds (shared and never changed), without its index."""
    st.dataframe(_arrow_table(frame), hide_index=True, **kwargs)


def records_to_arrow_bytes(records: list[dict]) -> bytes:
    """A chart data set (list of row dicts) as Arrow IPC stream bytes, the form Streamlit sends to the browser.

    Straight through pyarrow (Streamlit accepts bytes it would otherwise make from a pandas frame); the
    detour through pandas that Streamlit takes for plain lists cost more than the rest of a cached rerun.
    A column pyarrow cannot type (text mixed with numbers) is sent as text, as Streamlit does.
    """
    try:
        table = pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        columns: dict[str, list] = {}
        for row in records:
            for key in row:
                columns.setdefault(key, [])
        for key in columns:
            values = [row.get(key) for row in records]
            kinds = {type(v) for v in values if v is not None}
            mixed = len(kinds - {int, float}) > 0 and len(kinds) > 1
            columns[key] = [None if v is None else str(v) for v in values] if mixed else values
        table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def view_inputs(view: View, *extra: Any) -> tuple:
    """Everything a page's chart depends on: the view, the store version, the session's own datasets when the
    view reads them (the same name in two sessions is two datasets), and chart-specific extras."""
    return (view.spec, view.method, view.hartung_knapp, view.level, cache_key(), view.uploads,
            namespaces.namespace_key(view.uploads), *extra)

def show_chart(build: Callable[[], Any], name: str, key: str, inputs: tuple, *, downloads: bool = True) -> None:
    """Render a chart and its PNG/SVG downloads.

    ``build`` makes the Altair chart (or its Vega-Lite dict); ``inputs`` must identify everything the chart depends on
    (see :func:`view_inputs`), so a changed filter can never show a stale figure.
    """
    spec, display = FRONTS["charts"].get((key, inputs), lambda: _chart_specs(key, inputs, build))
    # width="content": the chart keeps the size it was designed at (fonts sized for slides);
    # stretching distorts band scales such as the robustness heatmap.
    st.vega_lite_chart(display, theme=None, key=f"chart_{key}", width="content")
    if downloads:
        download_chart(spec, name, key)

def show_cautions(analysis, extra: list[str] | tuple[str, ...] = ()) -> None:
    """Every caution of the analysis in one box (one bullet each), so the plot stays near the top."""
    items = list(analysis.warnings) + [w for w in extra if w not in analysis.warnings]
    if not items:
        return
    st.warning("**Before you quote this result**\n\n" + "\n".join(f"- {w}" for w in items),
               icon=":material/warning:")

class PerfTimer:
    """Logs one line per rerun: page name and server time in ms (logger ``peer_dashboard.perf``)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = time.thread_time()  # this script thread's own CPU: steadier than wall time on a shared machine
        if not log.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False

    def done(self, page: str, queued_s: float = 0.0) -> float:
        """Log the rerun's server time (from the start of the entry script), of which ``queued_s`` seconds
        were spent waiting for a run slot, and the CPU time the script's thread used."""
        ms = (time.perf_counter() - self.t0) * 1000.0
        cpu_ms = (time.thread_time() - self.cpu0) * 1000.0
        log.info("page=%s server_ms=%.1f queued_ms=%.1f cpu_ms=%.1f", page, ms, queued_s * 1000.0, cpu_ms)
        return ms

def try_table(kind: str, view: View, arg: str | None = None):
    """A diagnostic table, or ``None`` after rendering why it cannot be computed."""
    try:
        return result(kind, view, arg)  # slow kinds show "Computing…" while they compute
    except EvidenceError as exc:
        render_error(exc)
        return None

def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy with floats rounded for display (downloads keep full precision)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
    return out
