"""A view as code to take away: a zip of the pooled effect rows (``effects.csv``), ``analysis.R`` (metafor)
and ``analysis.py`` (this project's :mod:`stats`), which refit what the dashboard showed.

The scripts are fixed templates (``templates/analysis.R.tmpl``, ``templates/analysis.py.tmpl``); only a few values
are written into them: the dataset version, the filters in words, the link that restores the view, the
effect measure and the model settings. Those that come from users (filter words name hand-excluded study
ids, which an imported sheet chooses) go in as escaped string literals (:func:`r_string`,
:func:`py_string`) or as comment lines that cannot end early (:func:`comment_text`). The rows go in the CSV
only, never into source code.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd

from evidence.analysis.analyse import Analysis
from evidence.analysis.moderators import MODERATOR_COLUMNS
from evidence.core.errors import InvalidChoice
from evidence.core.measures import measure
from evidence.present.export import table_csv

__all__ = ["analysis_zip", "r_script", "python_script", "header_lines", "r_string", "py_string",
           "comment_text", "ZIP_FILES"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: The files of the zip, in order.
ZIP_FILES = ("effects.csv", "analysis.R", "analysis.py")

#: Fixed timestamp of the zip entries, so the same view gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# Characters that may end a comment line or hide text from a reader: control characters (line feed,
# carriage return, ...), line and paragraph separators, and format characters such as bidirectional
# overrides ("Trojan Source", CVE-2021-42574).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def comment_text(text: object) -> str:
    """``text`` on one line that is safe after ``#`` in R and Python: unsafe characters become spaces."""
    return "".join(" " if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in str(text))


def py_string(text: object) -> str:
    """A Python string literal of ``text``: ASCII only, every other character escaped (``ascii``)."""
    return ascii(str(text))


def r_string(text: object) -> str:
    """An R string literal of ``text``: printable ASCII as is, ``\\`` and ``"`` escaped, everything else as
    a ``\\u{....}``/``\\U{........}`` escape. R strings cannot hold NUL or a lone surrogate, which become U+FFFD."""
    out = ['"']
    for ch in str(text):
        code = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code == 0 or 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code <= 0xFFFF:
            out.append(f"\\u{{{code:04x}}}")
        else:
            out.append(f"\\U{{{code:08x}}}")
    out.append('"')
    return "".join(out)


def _method_words(a: Analysis) -> str:
    adj = "with the Hartung-Knapp adjustment" if a.hartung_knapp else "with normal (z) intervals"
    return f"{a.method} estimator of tau^2, {adj}, {a.level:.0%} confidence level"


def _yi_words(effect_measure: str) -> str:
    m = measure(effect_measure)
    return f"the log {m.ratio_name}" if m.is_ratio else "the SMD itself"


def header_lines(a: Analysis, *, title: str, dataset_version: str, link: str) -> list[str]:
    """The header comment of both scripts: what the view is and how to get back to it.

    The first two lines are fixed text, so nothing a user chose can reach the lines Python reads for an
    encoding declaration (PEP 263).
    """
    scale = measure(a.effect_measure)
    lines = [
        f"{title}: a view of the peer-support evidence dashboard, exported as code.",
        "Written by the dashboard; reads effects.csv (the pooled studies, one row each) from its folder.",
        f"Dataset version: {dataset_version}",
        f"Filters: {a.description}",
        f"Effect measure: {scale.axis_title}; yi is {_yi_words(a.effect_measure)}. {a.favours}.",
        f"Method: {_method_words(a)}",
        f"Link that restores the view (append to the dashboard's address): {link}",
    ]
    return ["# " + comment_text(line) for line in lines]


_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def _fill(template: str, values: dict[str, str]) -> str:
    """The template with each placeholder replaced in one pass (a value is never scanned for more)."""
    text = (TEMPLATES / f"{template}.tmpl").read_text(encoding="utf-8")
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise ValueError(f"{template}: placeholders {sorted(wanted)} but values for {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def r_script(a: Analysis, *, dataset_version: str, link: str, moderator: str | None = None) -> str:
    """``analysis.R``: escalc checks, ``rma`` with the view's method and test, leave1out, regtest, trimfill."""
    return _fill("analysis.R", {
        "HEADER": "\n".join(header_lines(a, title="analysis.R", dataset_version=dataset_version, link=link)),
        "R_VERSION": r_string(dataset_version), "R_FILTERS": r_string(a.description), "R_LINK": r_string(link),
        "R_MEASURE": r_string(a.effect_measure), "R_METHOD": r_string(a.method),
        "R_TEST": r_string("knha" if a.hartung_knapp else "z"), "R_LEVEL": repr(float(a.level) * 100.0),
        "R_MODERATOR": "NULL" if moderator is None else r_string(_moderator(moderator)),
    })


def python_script(a: Analysis, *, dataset_version: str, link: str, moderator: str | None = None) -> str:
    """``analysis.py``: the same analyses with this project's :mod:`stats`."""
    return _fill("analysis.py", {
        "HEADER": "\n".join(header_lines(a, title="analysis.py", dataset_version=dataset_version, link=link)),
        "PY_VERSION": py_string(dataset_version), "PY_FILTERS": py_string(a.description),
        "PY_LINK": py_string(link), "PY_MEASURE": py_string(a.effect_measure), "PY_METHOD": py_string(a.method),
        "PY_HK": repr(bool(a.hartung_knapp)), "PY_LEVEL": repr(float(a.level)),
        "PY_MODERATOR": "None" if moderator is None else py_string(_moderator(moderator)),
    })


def _without_nul(rows: pd.DataFrame) -> pd.DataFrame:
    """R's read.csv stops at a NUL character; none belongs in a label or a quote, so it shows as U+FFFD."""
    out = rows.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: v.replace("\x00", "\ufffd") if isinstance(v, str) else v)
    return out


def _moderator(name: str) -> str:
    if name not in MODERATOR_COLUMNS:
        raise InvalidChoice("moderator", name, MODERATOR_COLUMNS)
    return name


def analysis_zip(a: Analysis, rows: pd.DataFrame, *, dataset_version: str, link: str,
                 moderator: str | None = None) -> bytes:
    """The zip of :data:`ZIP_FILES` for analysis ``a`` with its export rows
    (:func:`evidence.analysis.export_rows.export_rows`); with ``moderator`` the scripts also pool each of
    its subgroups and test the difference, as the Subgroups page does."""
    files = {
        "effects.csv": table_csv(_without_nul(rows)),
        "analysis.R": r_script(a, dataset_version=dataset_version, link=link, moderator=moderator).encode("utf-8"),
        "analysis.py": python_script(a, dataset_version=dataset_version, link=link,
                                     moderator=moderator).encode("utf-8"),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in ZIP_FILES:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()
