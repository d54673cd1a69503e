"""Validation of a user's sheet against the store's rule table (:mod:`evidence.store.rules`), every problem
by row and column, in time linear in the number of cells.

Each check runs on a whole column (pandas); a problem is made only for a cell that breaks a rule, and a
cell with one problem gets no second one. Text that looks like a spreadsheet formula (leading ``=``,
``+``, ``-``, ``@``) or like HTML is kept as inert text and reported as a warning.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from evidence.core.errors import Problem
from evidence.core.filters import STUDY_ID_PATTERN
from evidence.ingest.read import MAX_ROWS, MAX_UPLOAD_BYTES, read_sheet
from evidence.store import rules
from evidence.store.vocab import COLUMN_FIELDS

__all__ = ["SHEET_COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "REQUIRED_CELLS", "MAX_CELL_CHARS",
           "SHOWN_PROBLEMS", "SheetReport", "blank_template_csv", "validate_sheet", "validate_records"]

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
MAX_CELL_CHARS = 2_000
#: Problems listed on the page; the full list is a CSV download.
SHOWN_PROBLEMS = 200

_ALL = SHEET_COLUMNS + OPTIONAL_COLUMNS
#: Each sheet column's type and controlled list, from the store's tables (a sheet row is a study + an effect).
_KINDS = {c: {**rules.TABLE_COLUMNS["studies"], **rules.TABLE_COLUMNS["effects"]}.get(c, rules.TEXT) for c in _ALL}
_CATEGORICAL = {c: f for c, f in {**COLUMN_FIELDS["studies"], **COLUMN_FIELDS["effects"]}.items()
                if c in _ALL and _KINDS[c] != rules.BOOL}
#: Study-level columns that must agree between rows of one study.
_STUDY_COLUMNS = ("first_author", "year", "country", "citation", "doi_or_pmid", "design", "pilot",
                  "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
                  "org_support", "peer_deliverer")
_DUPLICATE_KEY = ("study_id", "comparison", "outcome", "measure", "timepoint_months", "source_review",
                  "source_location")
_FORMULA = r"[=+\-@\t\r]"
_NUMBER = r"[+-]?\d+(\.\d+)?"
_HTML = r"<\s*/?\s*[a-zA-Z!][^>]*>|&#?\w+;|javascript:"
_UNDECODED = "[\udc80-\udcff]"


@dataclass(frozen=True)
class SheetReport:
    """Outcome of :func:`validate_sheet`.

    Attributes
    ----------
    problems : tuple of Problem
        Blocking problems by row, each naming row and column; empty when the sheet can be imported.
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

    def problems_frame(self, limit: int | None = None) -> pd.DataFrame:
        """Problems then warnings as a frame ``severity, row, column, kind, message`` (the first ``limit``)."""
        items = [("problem", p) for p in self.problems] + [("warning", w) for w in self.warnings]
        if limit is not None:
            items = items[:limit]
        return pd.DataFrame([(s, p.row, p.column, p.kind, p.message) for s, p in items],
                            columns=["severity", "row", "column", "kind", "message"])

    def counts_by_kind(self) -> pd.DataFrame:
        """How many problems of each kind, most frequent first (``kind, problems``)."""
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind or "other"] = counts.get(p.kind or "other", 0) + 1
        frame = pd.DataFrame(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), columns=["kind", "problems"])
        return frame


def blank_template_csv() -> bytes:
    """A blank sheet (header row only) with every column a user's sheet may have, UTF-8 CSV."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(_ALL)
    return buf.getvalue().encode("utf-8")


def validate_sheet(data: bytes, filename: str = "sheet.csv", *,
                   vocab: Mapping[str, Sequence[str]] | None = None,
                   max_bytes: int = MAX_UPLOAD_BYTES) -> SheetReport:
    """Validate a user's sheet and report every problem by row and column.

    Parameters
    ----------
    data : bytes
        The uploaded file (CSV, UTF-8, comma-, semicolon- or tab-separated; or XLSX, first sheet).
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
    return validate_records(header, rows, vocab=vocab)


def _header_problems(header: Sequence[str], problems: list[Problem], warnings: list[Problem]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in seen:
            problems.append(Problem(1, h, f"column appears twice (columns {seen[h] + 1} and {j + 1})",
                                    kind="duplicate column"))
        seen.setdefault(h, j)
    unknown = [h for h in header if h not in _ALL]
    for col in REQUIRED_COLUMNS:
        if col not in seen:
            hint = rules.nearest(col, unknown) if unknown else None
            extra = f"; is {hint!r} meant to be it?" if hint else ""
            problems.append(Problem(1, col, f"missing required column{extra}", kind="missing column"))
    for h in unknown:
        hint = rules.nearest(h, _ALL)
        extra = f" (did you mean {hint!r}?)" if hint else ""
        warnings.append(Problem(1, h, f"column is not part of the template and is ignored{extra}",
                                kind="ignored column"))
    return seen


def _emit(mask: pd.Series, rows: np.ndarray, column: str, messages: Iterable[str] | str, kind: str,
          out: list[Problem]) -> None:
    hits = np.flatnonzero(mask.to_numpy(dtype=bool))
    if isinstance(messages, str):
        out.extend(Problem(int(rows[i]), column, messages, kind=kind) for i in hits)
    else:
        out.extend(Problem(int(rows[i]), column, m, kind=kind) for i, m in zip(hits, messages))


def validate_records(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                     vocab: Mapping[str, Sequence[str]] | None = None,
                     file_problems: Iterable[Problem] = ()) -> SheetReport:
    """Validate already-read rows (see :func:`validate_sheet`; also used by the Metapsy reader)."""
    if vocab is None:
        from evidence.core.filters import vocabulary
        vocab = vocabulary()
    problems: list[Problem] = list(file_problems)
    warnings: list[Problem] = []
    seen = _header_problems(header, problems, warnings)
    if not rows:
        problems.append(Problem(0, "", "the sheet has a header but no data rows", kind="empty file"))
    if len(rows) > MAX_ROWS:
        problems.append(Problem(0, "", f"the sheet has more than {MAX_ROWS:,} data rows; the limit is {MAX_ROWS:,}",
                                kind="limit"))
        rows = rows[:MAX_ROWS]
    if not rows:
        return SheetReport(tuple(problems), tuple(warnings))
    raw = pd.DataFrame([[(c.strip() or None) if c.__class__ is str else _cell(c) for c in r] for r in rows],
                       dtype=object)
    row_no = np.arange(2, len(raw) + 2)
    if raw.shape[1] > len(header):
        extra = raw.iloc[:, len(header):].apply(rules.texts).notna().any(axis=1)
        _emit(extra, row_no, "", [f"has {len(rows[i]) } cells but the header has {len(header)}"
                                  for i in np.flatnonzero(extra.to_numpy())], "ragged row", problems)
    frame, flagged = _typed_frame(raw, seen, vocab, row_no, problems, warnings)
    _check_rows(frame, flagged, row_no, problems)
    problems.sort(key=lambda p: p.row)  # stable: within a row, the order the checks ran
    # The parsed rows are only needed to store a sheet without problems.
    records = () if problems else _records(frame, row_no)
    return SheetReport(tuple(problems), tuple(sorted(warnings, key=lambda p: p.row)), records)


def _cell(value: object) -> str | None:
    """A cell as stripped text, None when empty (cells arrive as text; a reader may pass numbers)."""
    if value is None:
        return None
    text = (value if isinstance(value, str) else str(value)).strip()
    return text or None


def _typed_frame(raw: pd.DataFrame, seen: Mapping[str, int], vocab: Mapping[str, Sequence[str]], rows: np.ndarray,
                 problems: list[Problem], warnings: list[Problem]) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Every template column parsed to its type; ``flagged`` marks the cells that already have a problem."""
    typed: dict[str, pd.Series] = {}
    flagged: dict[str, pd.Series] = {}
    empty = pd.Series([None] * len(raw), index=raw.index, dtype=object)
    for col in _ALL:
        j = seen.get(col)
        text = raw[j].where(raw[j].notna(), None) if j is not None and j in raw.columns else empty
        bad = pd.Series(False, index=raw.index)
        joined = "\n".join(text[text.notna()])
        if joined:
            undecoded = _true(text.str.contains(_UNDECODED, regex=True)) if re.search(_UNDECODED, joined) \
                else pd.Series(False, index=raw.index)
            _emit(undecoded, rows, col, [f"not valid UTF-8 (bytes {_bad_bytes(t)}); save the file as UTF-8"
                                         for t in text[undecoded]], "not UTF-8", problems)
            long = ~undecoded & pd.Series([t is not None and len(t) > MAX_CELL_CHARS for t in text.to_numpy()],
                                          index=raw.index) if len(joined) > MAX_CELL_CHARS \
                else pd.Series(False, index=raw.index)
            _emit(long, rows, col, [f"{len(t):,} characters; the limit is {MAX_CELL_CHARS:,}" for t in text[long]],
                  "too long", problems)
            bad = undecoded | long
            text = text.where(~bad, None)
        kind = _KINDS[col]
        values, errors = rules.parse_column(kind, text)
        parse_bad = errors.notna()
        _emit(parse_bad, rows, col, errors[parse_bad], "not a number" if kind in (rules.INT, rules.FLOAT)
              else "not yes or no", problems)
        bad |= parse_bad
        if col in _CATEGORICAL:
            bad |= rules.check_vocab(col, values, vocab.get(_CATEGORICAL[col], ()), rows, problems)
            values = values.where(~bad, None)
        elif kind == rules.TEXT and text.notna().any():
            _text_warnings(text, joined, rows, col, warnings)
        typed[col] = values.where(~bad) if kind in (rules.INT, rules.FLOAT) else values.where(~bad, None)
        flagged[col] = bad
    frame = pd.DataFrame(typed)
    return frame, flagged


def _true(mask: pd.Series) -> pd.Series:
    """A mask from a string method's result: missing cells are False."""
    return mask.astype(object).fillna(False).astype(bool)


def _bad_bytes(text: str) -> str:
    # Cells decoded with surrogateescape hold U+DC80..U+DCFF for bytes that were not UTF-8.
    return " ".join([f"0x{ord(ch) - 0xDC00:02X}" for ch in text if 0xDC80 <= ord(ch) <= 0xDCFF][:4])


def _text_warnings(text: pd.Series, joined: str, rows: np.ndarray, col: str, warnings: list[Problem]) -> None:
    # ``joined`` (the column's cells, one a line) tells at C speed whether any cell needs a closer look.
    if re.search(f"(?m)^{_FORMULA}|[\t\r]", joined):
        formula = _true(text.str.match(_FORMULA)) & ~_true(text.str.fullmatch(_NUMBER))
        _emit(formula, rows, col, [f"{rules.short(t)} looks like a spreadsheet formula; it is kept as plain text and "
                                   "never evaluated" for t in text[formula]], "formula-like text", warnings)
    if re.search(_HTML, joined, flags=re.IGNORECASE):
        html = _true(text.str.contains(_HTML, flags=re.IGNORECASE, regex=True))
        _emit(html, rows, col, [f"{rules.short(t)} looks like HTML; it is kept as plain text and never rendered"
                                for t in text[html]], "HTML-like text", warnings)


def _check_rows(f: pd.DataFrame, flagged: dict[str, pd.Series], rows: np.ndarray, problems: list[Problem]) -> None:
    """Required cells, study ids, the store's row rules, duplicate rows and one value per study."""
    for col in REQUIRED_CELLS:
        _emit(f[col].isna() & ~flagged[col], rows, col, "must not be empty", "empty required cell", problems)
    sid = f["study_id"]
    bad_id = sid.notna() & ~sid.map(lambda s: bool(STUDY_ID_PATTERN.match(s)), na_action="ignore").fillna(True) \
        .astype(bool)
    _emit(bad_id, rows, "study_id", [f"{rules.short(s)} is not a valid study id: use letters, digits, '.', '_' or "
                                     "'-' (at most 64, starting with a letter or digit), e.g. Dennis2009"
                                     for s in sid[bad_id]], "study id", problems)
    f["study_id"] = sid.where(~bad_id, None)
    # Defaults the template states: a reported effect runs peer support minus control; comparison names it.
    f["reported_sign"] = f["reported_sign"].where(~(f["reported_sign"].isna() & f["reported_effect_type"].notna()),
                                                  "ps_minus_ctl")
    comparison = ("vs " + f["comparator"].astype(object).fillna("control").astype(str))
    f["comparison"] = f["comparison"].where(f["comparison"].notna(), comparison)
    rules.check_rules(f, rules.rules_for(("studies", "effects"), sheet=True), rows, problems, already=flagged)
    valid = f["study_id"].notna()
    key = f.loc[valid, list(_DUPLICATE_KEY)].astype(object).fillna("\0")
    dup = key.duplicated(keep="first")
    if dup.any():
        involved = key[key.duplicated(keep=False)]
        first = pd.Series(rows[involved.index.to_numpy()], index=involved.index) \
            .groupby([involved[c] for c in _DUPLICATE_KEY]).transform("first")
        _emit(dup.reindex(f.index, fill_value=False), rows, "study_id",
              [f"duplicate row: same study, comparison, outcome, measure, follow-up and source as row {int(r)}"
               for r in first[dup[dup].index]], "duplicate row", problems)
    _check_one_value_per_study(f, rows, problems)


def _check_one_value_per_study(f: pd.DataFrame, rows: np.ndarray, problems: list[Problem]) -> None:
    """Each study-level column has one value per study: later rows are compared with the first that has one."""
    codes = pd.factorize(f["study_id"])[0]
    if codes.max(initial=-1) < 0:
        return
    sids = f["study_id"].to_numpy()
    for col in _STUDY_COLUMNS:
        values = f[col].to_numpy()
        idx = np.flatnonzero((codes >= 0) & f[col].notna().to_numpy())
        if len(idx) < 2:
            continue
        c = codes[idx]
        first_at = np.full(codes.max() + 1, -1)
        first_at[c[::-1]] = idx[::-1]  # the last write wins: the first row of each study
        ref = first_at[c]
        differ = np.flatnonzero(values[idx] != values[ref])
        problems.extend(Problem(int(rows[idx[k]]), col,
                                f"study {sids[idx[k]]} has {rules.short(_shown(values[ref[k]]))} on row "
                                f"{int(rows[ref[k]])} but {rules.short(_shown(values[idx[k]]))} here; one study has "
                                "one value", kind="study values disagree") for k in differ)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return rules.fmt(value)
    return str(value)


def _records(f: pd.DataFrame, rows: np.ndarray) -> tuple[dict, ...]:
    """The rows as the import stores them: ints, floats, 'yes'/'no', ';'-joined lists, None when empty."""
    columns = {}
    for col in _ALL:
        kind, values = _KINDS[col], f[col].tolist()
        if kind == rules.INT:
            values = [None if v != v or v is None else int(v) for v in values]
        elif kind == rules.FLOAT:
            values = [None if v != v or v is None else float(v) for v in values]
        elif kind == rules.BOOL:
            values = [None if v is None or v != v else ("yes" if v else "no") for v in values]
        elif kind == rules.FLAGS:
            values = [";".join(v) if isinstance(v, tuple) else None for v in values]
        else:
            values = [v if isinstance(v, str) else None for v in values]
        columns[col] = values
    names = list(columns)
    return tuple({"__row__": int(r), **dict(zip(names, cells))} for r, cells in zip(rows, zip(*columns.values())))
