"""Reading a user's file (CSV, TSV, semicolon-separated or XLSX) into a header and rows of text, never
evaluating anything and bounded before the work: the compressed size, then for an XLSX the
uncompressed size of every zip member and the sheet's declared dimensions, before openpyxl opens it.

Every file that cannot be read gets one message a person can act on, naming the limit and the value
when a limit is the reason.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import re
import zipfile

from evidence.core.errors import Problem

__all__ = ["MAX_UPLOAD_BYTES", "MAX_ROWS", "MAX_COLUMNS", "MAX_XLSX_MEMBER_BYTES", "MAX_XLSX_TOTAL_BYTES",
           "read_sheet", "sniff_delimiter"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 200
#: Uncompressed bytes of one XLSX part (a 20,000-row sheet of the template is about 40 MB of XML).
MAX_XLSX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_XLSX_TOTAL_BYTES = 150 * 1024 * 1024
MAX_CSV_CELL_CHARS = 100_000

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})(\d+))?"')
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def _file_problem(message: str, kind: str = "unreadable file") -> list[Problem]:
    return [Problem(0, "", message, kind=kind)]


def read_sheet(data: bytes, filename: str = "sheet.csv", *, max_bytes: int = MAX_UPLOAD_BYTES
               ) -> tuple[list[str], list[list[object]], list[Problem]]:
    """Read a CSV/TSV or XLSX file into a header and rows of cell text (``None`` for an empty XLSX cell).

    Returns
    -------
    header : list of str
    rows : list of list
    problems : list of Problem
        File-level problems (empty, too large, not UTF-8 in the header, unreadable); when there is
        one, header and rows are empty.
    """
    if not data:
        return [], [], _file_problem("the file is empty", "empty file")
    if len(data) > max_bytes:
        return [], [], _file_problem(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes",
                                     "limit")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return [], [], _file_problem("this is an old Excel (.xls) or other Office file; save it as .xlsx "
                                     "or as CSV (UTF-8) and upload that")
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    return _read_text(data)


# ---------------------------------------------------------------------------------------------
# CSV and friends

def sniff_delimiter(first_line: str) -> str:
    """The separator of a header line: the most frequent of comma, semicolon and tab (comma on a tie)."""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts.values())
    return "," if best == 0 or counts[","] == best else max(counts, key=counts.get)


def _bad_bytes(text: str) -> str | None:
    # Cells decoded with surrogateescape hold U+DC80..U+DCFF for bytes that were not UTF-8.
    bad = [ord(ch) - 0xDC00 for ch in text if 0xDC80 <= ord(ch) <= 0xDCFF]
    return " ".join(f"0x{b:02X}" for b in bad[:4]) if bad else None


def _clean_text(text: str) -> str:
    # Replace undecodable bytes so a message or a stored cell never carries lone surrogates.
    return "".join("\ufffd" if 0xDC80 <= ord(ch) <= 0xDCFF else ch for ch in text)


def _read_text(data: bytes) -> tuple[list[str], list[list[object]], list[Problem]]:
    if b"\x00" in data[:65536]:
        return [], [], _file_problem("this is not a text file (it holds NUL bytes): upload a CSV saved as "
                                     "UTF-8 text, or an .xlsx workbook")
    text = data.decode("utf-8-sig", errors="surrogateescape")
    if not text.strip():
        return [], [], _file_problem("the file is empty", "empty file")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = sniff_delimiter(first)
    csv.field_size_limit(MAX_CSV_CELL_CHARS)
    # strict: a stray or unclosed quote is an error to report, not a cell swallowing the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    all_rows = []
    try:
        for row in reader:
            if any(row) and (len(all_rows) or any(c.strip() for c in row)):
                all_rows.append(row)
            if len(all_rows) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        return [], [], _file_problem(_csv_error_message(exc, reader.line_num))
    if not all_rows:
        return [], [], _file_problem("the file is empty", "empty file")
    header = [h.strip() for h in all_rows[0]]
    if len(header) > MAX_COLUMNS:
        return [], [], _file_problem(f"the sheet has {len(header):,} columns; the limit is {MAX_COLUMNS:,}",
                                     "limit")
    problems = []
    for j, h in enumerate(header):
        bad = _bad_bytes(h)
        if bad:
            problems.append(Problem(1, _clean_text(h), f"not valid UTF-8 (bytes {bad}); save the file as UTF-8",
                                    kind="not UTF-8"))
            header[j] = _clean_text(h)
    return header, all_rows[1:], problems


def _csv_error_message(exc: csv.Error, line: int) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return (f"line {line}: a cell is longer than {MAX_CSV_CELL_CHARS:,} characters (often a quote "
                "character \" that is never closed); check that line")
    if "new-line character" in text or "unexpected end of data" in text:
        return f"line {line}: a quoted cell is never closed (a \" without its partner); check that line"
    if "expected after" in text:
        return (f"line {line}: a quote character \" stands inside a cell that is not quoted as a whole; quote the "
                "whole cell and double the quote inside it (\"\")")
    return f"line {line}: not a readable CSV line ({text})"


# ---------------------------------------------------------------------------------------------
# XLSX

def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _xlsx_limits(zf: zipfile.ZipFile) -> str | None:
    """Why this workbook is refused before it is parsed (sizes, declared dimensions), or None."""
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > MAX_XLSX_MEMBER_BYTES:
            return (f"the workbook part {info.filename[:80]!r} expands to {info.file_size:,} bytes; the limit "
                    f"is {MAX_XLSX_MEMBER_BYTES:,} bytes (save the sheet as CSV, or split it)")
    if total > MAX_XLSX_TOTAL_BYTES:
        return (f"the workbook expands to {total:,} bytes; the limit is {MAX_XLSX_TOTAL_BYTES:,} bytes "
                "(save the sheet as CSV, or split it)")
    for info in zf.infolist():
        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
            with zf.open(info) as fh:
                head = fh.read(4096)
            m = _DIMENSION.search(head)
            if not m or not m.group(4):
                continue
            rows, cols = int(m.group(4)), _column_number(m.group(3).decode("ascii"))
            if rows > MAX_ROWS + 1:
                return f"the sheet declares {rows:,} rows; the limit is {MAX_ROWS:,} data rows"
            if cols > MAX_COLUMNS:
                return f"the sheet declares {cols:,} columns; the limit is {MAX_COLUMNS:,}"
    return None


def _cell_text(value: object) -> str | None:
    # One text form per cell, as a CSV would have it: whole floats without '.0', dates as ISO.
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes) -> tuple[list[str], list[list[object]], list[Problem]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            refusal = _xlsx_limits(zf)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        return [], [], _file_problem("this is not a readable .xlsx workbook (the file is damaged or is not "
                                     "an Excel file); open it in a spreadsheet program and save it again as "
                                     ".xlsx or as CSV")
    if refusal:
        return [], [], _file_problem(refusal, "limit")
    import openpyxl  # only needed for XLSX

    try:
        # data_only=False: a formula cell is returned as its text ("=..."), never computed.
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises KeyError, ValueError, XML errors... for a damaged or partial file
        return [], [], _file_problem("this .xlsx workbook cannot be opened: parts of it are missing or "
                                     "damaged; open it in a spreadsheet program and save it again as .xlsx "
                                     "or as CSV")
    rows: list[list[object]] = []
    try:
        if not wb.worksheets:
            return [], [], _file_problem("the workbook has no worksheet", "empty file")
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1):
            cells = [_cell_text(c) for c in row]
            if any(c is not None and c.strip() for c in cells):
                rows.append(cells)
            if len(rows) > MAX_ROWS + 1:
                break
    except Exception:  # a damaged sheet part fails only while it is read
        return [], [], _file_problem("the first worksheet of this .xlsx cannot be read (it is damaged); "
                                     "open it in a spreadsheet program and save it again as .xlsx or as CSV")
    finally:
        wb.close()
    if not rows:
        return [], [], _file_problem("the file is empty", "empty file")
    header = ["" if h is None else h.strip() for h in rows[0]]
    while header and header[-1] == "":
        header.pop()
    if len(header) > MAX_COLUMNS:
        return [], [], _file_problem(f"the sheet has more than {MAX_COLUMNS:,} columns; the limit is "
                                     f"{MAX_COLUMNS:,}", "limit")
    return header, rows[1:], []
