"""Import of a user's own sheet (CSV or XLSX) as a separate, named dataset.

The sheet has the columns of the shipped trial-level extraction schema
(``../shared/evidence/EXTRACTION_SCHEMA.md``; download :func:`blank_template_csv`).
:func:`validate_sheet` reports **every** problem with its spreadsheet row (the
header is row 1) and column, in plain words; nothing is stored while any
problem remains. A valid sheet becomes its own DuckDB file
``data/uploads/<name>.duckdb`` built by :func:`evidence.store.build.build_database`
(same schema and CHECK constraints as the shipped store, written to a temporary
file and renamed into place), so the shipped store is never written to and a
failed import changes nothing.

Text that looks like a spreadsheet formula (leading ``=``, ``+``, ``-``, ``@``)
or like HTML is kept as inert text and reported as a warning; it is never
evaluated (XLSX files are read with formulas as text, never computed) and
never rendered as HTML by the app.
"""

from __future__ import annotations

import csv
import datetime as _dt
import difflib
import io
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from evidence import query
from evidence.store import connection
from evidence.core.errors import InvalidDatasetName, InvalidSheet, Problem
from evidence.core.filters import DATASET_NAME_PATTERN, STUDY_ID_PATTERN
from evidence.store.write import write_store

__all__ = [
    "SHEET_COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "MAX_UPLOAD_BYTES", "MAX_ROWS",
    "MAX_CELL_CHARS", "SheetReport", "ImportResult", "blank_template_csv", "read_sheet",
    "validate_sheet", "validate_records", "import_sheet", "import_records", "safe_dataset_name",
    "list_datasets", "delete_dataset", "dataset_info", "load_dataset_frames",
]

#: Columns of the trial-level extraction schema, in its order (EXTRACTION_SCHEMA.md).
SHEET_COLUMNS: tuple[str, ...] = (
    "study_id", "first_author", "year", "country", "citation", "doi_or_pmid", "design", "pilot",
    "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid", "org_support",
    "comparator", "outcome", "measure", "higher_is_better", "timepoint_months", "n_ps", "mean_ps",
    "sd_ps", "n_ctl", "mean_ctl", "sd_ctl", "events_ps", "events_ctl", "reported_effect",
    "reported_effect_type", "reported_ci_low", "reported_ci_high", "measure_note", "risk_of_bias",
    "source_review", "source_url", "source_location", "source_quote",
)
#: Columns of the shipped data model a sheet may add (empty = the stated default).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "comparison",        # default "vs <comparator>"
    "reported_sign",     # default ps_minus_ctl when a reported effect is given
    "peer_deliverer",    # default "unclear"
    "shared_control", "shared_arm", "score_type",
    "derived", "derivation",  # default "no"
    "derivation_kind",  # ';'-separated kinds from the controlled list, required when derived
)
#: Columns that must be present (cells may be empty unless stated).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "study_id", "year", "outcome", "measure", "higher_is_better", "timepoint_months",
    "n_ps", "mean_ps", "sd_ps", "n_ctl", "mean_ctl", "sd_ctl", "events_ps", "events_ctl",
    "reported_effect", "reported_effect_type", "reported_ci_low", "reported_ci_high",
)
#: Cells that must not be empty in any row.
REQUIRED_CELLS: tuple[str, ...] = ("study_id", "outcome")

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_CELL_CHARS = 2_000

_INT = ("year", "n_ps", "n_ctl", "events_ps", "events_ctl")
_FLOAT = ("timepoint_months", "mean_ps", "sd_ps", "mean_ctl", "sd_ctl", "reported_effect",
          "reported_ci_low", "reported_ci_high")
_YESNO = ("pilot", "higher_is_better", "derived")
#: Categorical sheet column -> controlled list (vocab.csv field).
_CATEGORICAL = {
    "design": "design", "population": "population", "setting": "setting", "ps_format": "ps_format",
    "ps_mode": "ps_mode", "ps_role": "ps_role", "peer_paid": "peer_paid", "org_support": "org_support",
    "comparator": "comparator", "outcome": "outcome", "reported_effect_type": "reported_effect_type",
    "risk_of_bias": "risk_of_bias", "reported_sign": "reported_sign", "peer_deliverer": "peer_deliverer",
    "shared_arm": "shared_arm", "score_type": "score_type",
}
#: Columns holding a ';'-separated list of controlled values.
_LISTS = {"derivation_kind": "derivation_kind"}
#: Study-level columns that must agree between rows of one study.
_STUDY_COLUMNS = ("first_author", "year", "country", "citation", "doi_or_pmid", "design", "pilot",
                  "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
                  "org_support", "peer_deliverer")
_RATIO = ("RR", "OR", "IRR", "HR")
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|&#?\w+;|javascript:", re.IGNORECASE)
_DUPLICATE_KEY = ("study_id", "comparison", "outcome", "measure", "timepoint_months", "source_review",
                  "source_location")


@dataclass(frozen=True)
class SheetReport:
    """Outcome of :func:`validate_sheet`.

    Attributes
    ----------
    problems : tuple of Problem
        Blocking problems, each ``(row, column, message)``; empty when the sheet can be imported.
    warnings : tuple of Problem
        Non-blocking findings (formula-like or HTML-like text kept as inert text, ignored columns).
    records : tuple of dict
        The parsed rows (typed values; ``None`` for empty cells) with ``__row__`` = sheet row.
    """

    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    records: tuple[dict, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_frame(self) -> pd.DataFrame:
        """Problems then warnings as a frame ``severity, row, column, message``."""
        rows = [("problem", *p) for p in self.problems] + [("warning", *w) for w in self.warnings]
        return pd.DataFrame(rows, columns=["severity", "row", "column", "message"])


@dataclass(frozen=True)
class ImportResult:
    """A stored dataset: name, where, how many studies/rows, warnings and attribution."""

    name: str
    path: Path | None
    n_studies: int
    n_effects: int
    warnings: tuple[Problem, ...] = ()
    attribution: str = ""
    source_file: str = ""
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# Template and reading

def blank_template_csv() -> bytes:
    """A blank sheet (header row only) with every column a user's sheet may have, UTF-8 CSV."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(SHEET_COLUMNS + OPTIONAL_COLUMNS)
    return buf.getvalue().encode("utf-8")


def _bad_bytes(text: str) -> str | None:
    # Cells decoded with surrogateescape hold U+DC80..U+DCFF for bytes that were not UTF-8.
    bad = [ord(ch) - 0xDC00 for ch in text if 0xDC80 <= ord(ch) <= 0xDCFF]
    return " ".join(f"0x{b:02X}" for b in bad[:4]) if bad else None


def _clean_text(text: str) -> str:
    # Replace undecodable bytes so a message or a stored cell never carries lone surrogates.
    return "".join("\ufffd" if 0xDC80 <= ord(ch) <= 0xDCFF else ch for ch in text)


def read_sheet(data: bytes, filename: str = "sheet.csv", *, max_bytes: int = MAX_UPLOAD_BYTES
               ) -> tuple[list[str], list[list[object]], list[Problem]]:
    """Read a CSV or XLSX file into a header and rows of raw cell values, never evaluating anything.

    Returns
    -------
    header : list of str
    rows : list of list
        Raw values (str for CSV; str/int/float/datetime/None for XLSX).
    problems : list of Problem
        File-level problems (empty, too large, not UTF-8 in the header, unreadable XLSX).
    """
    problems: list[Problem] = []
    if not data:
        return [], [], [Problem(0, "", "the file is empty")]
    if len(data) > max_bytes:
        return [], [], [Problem(0, "", f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")]
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    text = data.decode("utf-8-sig", errors="surrogateescape")
    if not text.strip():
        return [], [], [Problem(0, "", "the file is empty")]
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        all_rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return [], [], [Problem(0, "", f"not a readable CSV file ({exc})")]
    all_rows = [r for r in all_rows if any(c.strip() for c in r)]
    if not all_rows:
        return [], [], [Problem(0, "", "the file is empty")]
    header = [h.strip() for h in all_rows[0]]
    for j, h in enumerate(header):
        bad = _bad_bytes(h)
        if bad:
            problems.append(Problem(1, _clean_text(h), f"not valid UTF-8 (bytes {bad}); save the file as UTF-8"))
            header[j] = _clean_text(h)
    return header, [list(r) for r in all_rows[1:]], problems


def _read_xlsx(data: bytes) -> tuple[list[str], list[list[object]], list[Problem]]:
    import openpyxl  # only needed for XLSX

    try:
        # data_only=False: a formula cell is returned as its text ("=..."), never computed.
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        return [], [], [Problem(0, "", f"not a readable .xlsx file ({type(exc).__name__})")]
    try:
        ws = wb.worksheets[0]
        rows = []
        for i, row in enumerate(ws.iter_rows(values_only=True)):
            if i > MAX_ROWS + 1:
                break
            rows.append(list(row))
    finally:
        wb.close()
    rows = [r for r in rows if any(c is not None and str(c).strip() for c in r)]
    if not rows:
        return [], [], [Problem(0, "", "the file is empty")]
    header = ["" if h is None else str(h).strip() for h in rows[0]]
    while header and header[-1] == "":
        header.pop()
    return header, rows[1:], []


# ---------------------------------------------------------------------------------------------
# Validation

def _nearest(value: str, valid: Sequence[str]) -> str | None:
    lowered = {v.lower(): v for v in valid}
    if value.strip().lower() in lowered:
        return lowered[value.strip().lower()]
    m = difflib.get_close_matches(value.strip().lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[m[0]] if m else None


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _as_text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, (_dt.datetime, _dt.date)):
        raw = raw.isoformat()
    text = str(raw).strip()
    return text or None


def _parse_number(raw: object, column: str, integer: bool) -> tuple[object, str | None]:
    if isinstance(raw, bool):
        return None, f"{_short(raw)} is not a number"
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip()
        if text.startswith(_FORMULA_LEAD[:1] + ("@",)) or text.startswith("="):
            return None, (f"text where a number belongs: {_short(text)} looks like a spreadsheet "
                          "formula (formulas are never evaluated; type the number itself)")
        if re.fullmatch(r"[+-]?\d+,\d+", text):
            return None, f"text where a number belongs: {_short(text)} (use '.' as the decimal point)"
        try:
            value = float(text)
        except ValueError:
            return None, f"text where a number belongs: {_short(text)}"
    if not math.isfinite(value):
        return None, f"{_short(raw)} is not a finite number"
    if integer:
        if not value.is_integer():
            return None, f"{_short(raw)} must be a whole number"
        return int(value), None
    return value, None


def _check_text(text: str, row: int, column: str, warnings: list[Problem]) -> None:
    if text.startswith(_FORMULA_LEAD) and not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        warnings.append(Problem(row, column, f"{_short(text)} looks like a spreadsheet formula; it is "
                                             "kept as plain text and never evaluated"))
    if _HTML.search(text):
        warnings.append(Problem(row, column, f"{_short(text)} looks like HTML; it is kept as plain text "
                                             "and never rendered"))


def validate_sheet(data: bytes, filename: str = "sheet.csv", *,
                   vocab: Mapping[str, Sequence[str]] | None = None,
                   max_bytes: int = MAX_UPLOAD_BYTES) -> SheetReport:
    """Validate a user's sheet and report every problem by row and column.

    Parameters
    ----------
    data : bytes
        The uploaded file (CSV, UTF-8, comma- or semicolon-separated; or XLSX, first sheet).
    filename : str
        Used to recognise XLSX.
    vocab : mapping, optional
        Allowed values per controlled list; defaults to the shipped ``vocab.csv``.
    max_bytes : int
        Size limit.

    Returns
    -------
    SheetReport
        ``problems`` (blocking), ``warnings`` and the parsed ``records``.
    """
    header, rows, problems = read_sheet(data, filename, max_bytes=max_bytes)
    if problems or not header:
        return SheetReport(tuple(problems), ())
    return validate_records(header, rows, vocab=vocab, file_problems=problems)


def validate_records(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                     vocab: Mapping[str, Sequence[str]] | None = None,
                     file_problems: Iterable[Problem] = ()) -> SheetReport:
    """Validate already-read rows (see :func:`validate_sheet`; also used by the Metapsy reader)."""
    if vocab is None:
        from evidence.core.filters import vocabulary
        vocab = vocabulary()
    problems: list[Problem] = list(file_problems)
    warnings: list[Problem] = []
    known = set(SHEET_COLUMNS) | set(OPTIONAL_COLUMNS)
    seen_cols: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in seen_cols:
            problems.append(Problem(1, h, f"column appears twice (columns {seen_cols[h] + 1} and {j + 1})"))
        seen_cols.setdefault(h, j)
    for col in REQUIRED_COLUMNS:
        if col not in seen_cols:
            hint = _nearest(col, [h for h in header if h not in known]) if header else None
            extra = f"; is {hint!r} meant to be it?" if hint else ""
            problems.append(Problem(1, col, f"missing required column{extra}"))
    for h in header:
        if h not in known:
            hint = _nearest(h, list(known))
            extra = f" (did you mean {hint!r}?)" if hint else ""
            warnings.append(Problem(1, h, f"column is not part of the template and is ignored{extra}"))
    if not rows:
        problems.append(Problem(0, "", "the sheet has a header but no data rows"))
    if len(rows) > MAX_ROWS:
        problems.append(Problem(0, "", f"the sheet has {len(rows):,} rows; the limit is {MAX_ROWS:,}"))
        rows = rows[:MAX_ROWS]
    if any(p.row == 1 and p.message.startswith("missing") for p in problems) and not rows:
        return SheetReport(tuple(problems), tuple(warnings))

    records: list[dict] = []
    first_key: dict[tuple, int] = {}
    studies: dict[str, dict] = {}
    for i, raw_row in enumerate(rows, start=2):
        if len(raw_row) > len(header) and any(_as_text(c) for c in raw_row[len(header):]):
            problems.append(Problem(i, "", f"has {len(raw_row)} cells but the header has {len(header)}"))
        rec: dict[str, object] = {"__row__": i}
        for col in SHEET_COLUMNS + OPTIONAL_COLUMNS:
            j = seen_cols.get(col)
            raw = raw_row[j] if j is not None and j < len(raw_row) else None
            text = _as_text(raw)
            if text is None:
                rec[col] = None
                continue
            bad = _bad_bytes(text)
            if bad:
                problems.append(Problem(i, col, f"not valid UTF-8 (bytes {bad}); save the file as UTF-8"))
                rec[col] = None
                continue
            if len(text) > MAX_CELL_CHARS:
                problems.append(Problem(i, col, f"{len(text):,} characters; the limit is {MAX_CELL_CHARS:,}"))
                rec[col] = None
                continue
            if col in _INT or col in _FLOAT:
                value, err = _parse_number(raw if not isinstance(raw, str) else text, col, col in _INT)
                if err:
                    problems.append(Problem(i, col, err))
                rec[col] = value
            elif col in _YESNO:
                low = text.lower()
                if low in ("yes", "no"):
                    rec[col] = low
                else:
                    problems.append(Problem(i, col, f"{_short(text)} must be 'yes' or 'no'"))
                    rec[col] = None
            elif col in _LISTS:
                valid = tuple(vocab.get(_LISTS[col], ()))
                items = [x.strip() for x in text.split(";") if x.strip()]
                wrong = [x for x in items if x not in valid]
                for x in wrong:
                    hint = _nearest(x, valid)
                    extra = f"; did you mean {hint!r}?" if hint else ""
                    problems.append(Problem(i, col, f"{_short(x)} is not an allowed {col} value{extra} "
                                                    f"Valid values: {list(valid)}"))
                rec[col] = ";".join(items) if not wrong and items else None
            elif col in _CATEGORICAL:
                valid = tuple(vocab.get(_CATEGORICAL[col], ()))
                if text in valid:
                    rec[col] = text
                else:
                    hint = _nearest(text, valid)
                    extra = f"; did you mean {hint!r}?" if hint else ""
                    problems.append(Problem(i, col, f"{_short(text)} is not an allowed {col} value{extra} "
                                                    f"Valid values: {list(valid)}"))
                    rec[col] = None
            else:
                _check_text(text, i, col, warnings)
                rec[col] = text
        _check_row(rec, i, problems)
        if rec.get("comparison") is None:
            rec["comparison"] = f"vs {rec['comparator']}" if rec.get("comparator") else "vs control"
        sid = rec.get("study_id")
        if isinstance(sid, str):
            key = tuple(rec.get(c) for c in _DUPLICATE_KEY)
            if key in first_key:
                problems.append(Problem(i, "study_id", f"duplicate row: same study, comparison, outcome, "
                                                       f"measure, follow-up and source as row {first_key[key]}"))
            else:
                first_key[key] = i
            _check_study_consistency(rec, i, studies, problems)
        records.append(rec)
    return SheetReport(tuple(problems), tuple(warnings), tuple(records))


def _check_row(rec: dict, i: int, problems: list[Problem]) -> None:
    def bad(col: str, msg: str) -> None:
        problems.append(Problem(i, col, msg))

    for col in REQUIRED_CELLS:
        if rec.get(col) is None and not any(p.row == i and p.column == col for p in problems):
            bad(col, "must not be empty")
    sid = rec.get("study_id")
    if isinstance(sid, str) and not STUDY_ID_PATTERN.match(sid):
        bad("study_id", f"{_short(sid)} is not a valid study id: use letters, digits, '.', '_' or '-' "
                        "(at most 64, starting with a letter or digit), e.g. Dennis2009")
        rec["study_id"] = None
    this_year = _dt.date.today().year
    if rec.get("year") is not None and not (1950 <= rec["year"] <= this_year + 1):
        bad("year", f"{rec['year']} is outside 1950–{this_year + 1}")
    if rec.get("timepoint_months") is not None and rec["timepoint_months"] < 0:
        bad("timepoint_months", f"must be 0 or more, got {rec['timepoint_months']:g}")
    for arm in ("ps", "ctl"):
        n, sd, ev = rec.get(f"n_{arm}"), rec.get(f"sd_{arm}"), rec.get(f"events_{arm}")
        if n is not None and n < 1:
            bad(f"n_{arm}", f"n must be at least 1, got {n}")
        if sd is not None and sd <= 0:
            bad(f"sd_{arm}", f"SD must be greater than 0, got {sd:g}")
        if ev is not None and ev < 0:
            bad(f"events_{arm}", f"events must be 0 or more, got {ev}")
        if ev is not None and n is not None and ev > n:
            bad(f"events_{arm}", f"{ev} events is more than n_{arm} = {n}")
        if (ev is not None or rec.get(f"mean_{arm}") is not None) and n is None \
                and not _error_at(problems, i, f"n_{arm}"):
            bad(f"n_{arm}", f"n_{arm} is needed with the arm's {'events' if ev is not None else 'mean'}")
    est, lo, hi = rec.get("reported_effect"), rec.get("reported_ci_low"), rec.get("reported_ci_high")
    rtype = rec.get("reported_effect_type")
    if lo is not None and hi is not None and lo > hi:
        bad("reported_ci_low", f"CI lower bound {lo:g} is above the upper bound {hi:g}")
    if est is not None and lo is not None and hi is not None and not (lo <= est <= hi):
        bad("reported_effect", f"CI does not bracket the estimate: {est:g} is outside [{lo:g}, {hi:g}]")
    if (lo is None) != (hi is None):
        bad("reported_ci_low" if lo is None else "reported_ci_high", "give both CI bounds or neither")
    if est is not None and rtype is None and not _error_at(problems, i, "reported_effect_type"):
        bad("reported_effect_type", "required when reported_effect is given (SMD, g, d, MD, RR, OR, IRR or HR)")
    if rtype in _RATIO:
        for col, value in (("reported_effect", est), ("reported_ci_low", lo), ("reported_ci_high", hi)):
            if value is not None and value <= 0:
                bad(col, f"a {rtype} and its CI must be greater than 0, got {value:g}")
    if rtype is not None and rec.get("reported_sign") is None:
        rec["reported_sign"] = "ps_minus_ctl"  # the schema's stated default
    has_numbers = any(rec.get(c) is not None for c in ("mean_ps", "mean_ctl", "events_ps", "events_ctl"))
    oriented = rec.get("reported_sign") in ("positive_favours_ps", "negative_favours_ps")
    if (has_numbers or (est is not None and not oriented)) and rec.get("higher_is_better") is None \
            and not _error_at(problems, i, "higher_is_better"):
        bad("higher_is_better", "needed to orient the numbers: 'yes' if higher scores (or the event) are good, else 'no'")
    if rec.get("derived") == "yes" and not rec.get("derivation"):
        bad("derivation", "a derived row must say how it was derived")
    if rec.get("derived") == "yes" and not rec.get("derivation_kind") \
            and not _error_at(problems, i, "derivation_kind"):
        bad("derivation_kind", "a derived row must name the kind of derivation (e.g. back-calculated)")
    if rec.get("shared_control") and not rec.get("shared_arm"):
        bad("shared_arm", "required when shared_control is given ('control' or 'peer support')")


def _error_at(problems: list[Problem], row: int, column: str) -> bool:
    return any(p.row == row and p.column == column for p in problems)


def _check_study_consistency(rec: dict, i: int, studies: dict[str, dict], problems: list[Problem]) -> None:
    sid = rec["study_id"]
    first = studies.get(sid)
    if first is None:
        studies[sid] = rec
        return
    for col in _STUDY_COLUMNS:
        a, b = first.get(col), rec.get(col)
        if a is not None and b is not None and a != b:
            problems.append(Problem(i, col, f"study {sid} has {_short(a)} on row {first['__row__']} "
                                            f"but {_short(b)} here; one study has one value"))


# ---------------------------------------------------------------------------------------------
# Storing

def safe_dataset_name(name: str) -> str:
    """Turn a user's label into a dataset name (lower-case ASCII letters, digits, ``-``, ``_``).

    Raises
    ------
    InvalidDatasetName
        When nothing usable is left, or the name is reserved (``shipped``, ``all``).
    """
    text = unicodedata.normalize("NFKD", str(name)[:200]).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40].strip("-_")
    if not slug:
        raise InvalidDatasetName(str(name), "use letters or digits (e.g. 'my-trials')")
    if slug in ("shipped", "all"):
        raise InvalidDatasetName(str(name), "'shipped' and 'all' are reserved")
    if not DATASET_NAME_PATTERN.match(slug):
        raise InvalidDatasetName(str(name), "use lower-case letters, digits, '-' or '_' (at most 40)")
    return slug


def _yn(value: object) -> str:
    return "" if value is None else str(value)


def _tables_from_records(records: Sequence[dict], source_file: str) -> dict[str, list[dict]]:
    """Shape validated sheet rows as the shipped CSV tables (studies, sources, effects)."""
    studies: dict[str, dict] = {}
    sources, effects = [], []
    for rec in records:
        sid = rec["study_id"]
        row = rec["__row__"]
        st = studies.setdefault(sid, {"study_id": sid, **{c: None for c in _STUDY_COLUMNS},
                                      "risk_of_bias": set()})
        for c in _STUDY_COLUMNS:
            if st[c] is None and rec.get(c) is not None:
                st[c] = rec[c]
        if rec.get("risk_of_bias"):
            st["risk_of_bias"].add(rec["risk_of_bias"])
        source_id = f"{sid}-S{row}"
        sources.append({"source_id": source_id, "study_id": sid, "source_review": rec.get("source_review"),
                        "source_url": rec.get("source_url"), "source_location": rec.get("source_location"),
                        "source_quote": rec.get("source_quote"), "raw_file": source_file, "raw_row": row})
        effects.append({
            "effect_id": f"{sid}-E{row}", "study_id": sid, "source_id": source_id,
            "comparison": rec.get("comparison"), "comparator": rec.get("comparator"),
            "shared_control": rec.get("shared_control"), "shared_arm": rec.get("shared_arm"),
            "outcome": rec.get("outcome"), "measure": rec.get("measure"),
            "higher_is_better": rec.get("higher_is_better"), "timepoint_months": rec.get("timepoint_months"),
            **{c: rec.get(c) for c in ("n_ps", "mean_ps", "sd_ps", "n_ctl", "mean_ctl", "sd_ctl",
                                       "events_ps", "events_ctl", "reported_effect", "reported_effect_type",
                                       "reported_ci_low", "reported_ci_high", "reported_sign", "score_type")},
            "derived": rec.get("derived") or "no", "derivation": rec.get("derivation"),
            "derivation_kind": rec.get("derivation_kind"),
            "risk_of_bias": rec.get("risk_of_bias"), "verification": "unverified",
            "verification_note": "imported by a user; not checked by the project",
            "measure_note": rec.get("measure_note"), "duplicate_group": None, "disagreement": None,
            "flags": None,
        })
    study_rows = []
    for st in studies.values():
        rob = st.pop("risk_of_bias")
        st["risk_of_bias"] = next(iter(rob)) if len(rob) == 1 else None
        st["peer_deliverer"] = st.get("peer_deliverer") or "unclear"
        st.update({"peer_deliverer_basis": None, "in_white2020": "no", "white2020_ref": None,
                   "id_aliases": None, "outcomes_no_data": None, "flags": None, "notes": None})
        study_rows.append(st)
    return {"studies": study_rows, "sources": sources, "effects": effects}


def import_records(report: SheetReport, name: str, *, source_file: str = "sheet",
                   uploads_dir: str | Path | None = None, replace: bool = False,
                   attribution: str = "", vocab_dir: str | Path | None = None) -> ImportResult:
    """Store a validated sheet as dataset ``name`` (raises :class:`InvalidSheet` if it has problems)."""
    import time

    started = time.perf_counter()
    if not report.ok:
        raise InvalidSheet(report.problems, report.warnings)
    slug = safe_dataset_name(name)
    folder = Path(uploads_dir) if uploads_dir is not None else connection.UPLOADS_DIR
    target = folder / f"{slug}.duckdb"
    if target.exists() and not replace:
        raise InvalidDatasetName(name, f"a dataset called {slug!r} already exists; choose another name")
    tables = _tables_from_records(report.records, _safe_file_label(source_file))
    folder.mkdir(parents=True, exist_ok=True)
    from evidence.store.build import DataValidationError

    meta = {"dataset_name": slug, "source_file": _safe_file_label(source_file),
            "imported_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "attribution": attribution, "kind": "imported"}
    try:
        write_store(tables, target, vocab_dir=vocab_dir, metadata=meta)
    except DataValidationError as exc:  # the store's own checks: a safety net behind validate_sheet
        raise InvalidSheet([Problem(0, p.column or "", f"{p.file} line {p.line}: {p.message}")
                            for p in exc.problems], report.warnings) from None
    return ImportResult(name=slug, path=target, n_studies=len(tables["studies"]),
                        n_effects=len(tables["effects"]), warnings=report.warnings,
                        attribution=attribution, source_file=meta["source_file"],
                        seconds=time.perf_counter() - started)


def _safe_file_label(name: str) -> str:
    base = os.path.basename(str(name))[:120]
    return re.sub(r"[^A-Za-z0-9._ -]+", "_", base) or "sheet"


def import_sheet(data: bytes, filename: str, name: str, *, uploads_dir: str | Path | None = None,
                 replace: bool = False, attribution: str = "") -> ImportResult:
    """Validate a user's sheet and, when it has no problems, store it as dataset ``name``.

    Parameters
    ----------
    data : bytes
        The CSV or XLSX file.
    filename : str
        Its name (to recognise XLSX; recorded in the dataset's metadata).
    name : str
        Dataset name (made safe by :func:`safe_dataset_name`).
    uploads_dir : path, optional
        Where dataset files live (default ``data/uploads``).
    replace : bool
        Replace an existing dataset of the same name (atomically).

    Returns
    -------
    ImportResult

    Raises
    ------
    InvalidSheet
        With every problem (row, column, message); nothing is written.
    InvalidDatasetName
        For an unusable or already used name.
    """
    slug = safe_dataset_name(name)  # check the name before the work
    report = validate_sheet(data, filename)
    return import_records(report, slug, source_file=filename, uploads_dir=uploads_dir,
                          replace=replace, attribution=attribution)


# ---------------------------------------------------------------------------------------------
# Using imported datasets

def list_datasets(uploads_dir: str | Path | None = None) -> tuple[str, ...]:
    """Names of the imported datasets (use them as ``FilterSpec(dataset=name)``; ``"all"`` merges)."""
    return connection.list_datasets(uploads_dir)


def dataset_info(name: str, uploads_dir: str | Path | None = None) -> dict[str, str]:
    """Metadata of an imported dataset (source file, import time, attribution, counts)."""
    return query.metadata(connection.connect_dataset(name, uploads_dir))


def load_dataset_frames(name: str, uploads_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The ``studies``, ``sources`` and ``effects`` tables of a dataset (``"shipped"`` or imported)."""
    con = connection.shared_connection() if name == "shipped" else connection.connect_dataset(name, uploads_dir)
    return {t: query.table(t, con) for t in ("studies", "sources", "effects")}


def delete_dataset(name: str, uploads_dir: str | Path | None = None) -> bool:
    """Remove an imported dataset's file; True when something was removed. The shipped store is never touched."""
    if not DATASET_NAME_PATTERN.match(name) or name in ("shipped", "all"):
        return False
    folder = Path(uploads_dir) if uploads_dir is not None else connection.UPLOADS_DIR
    path = folder / f"{name}.duckdb"
    connection._close_cached(path)
    if path.is_file():
        path.unlink()
        return True
    return False
