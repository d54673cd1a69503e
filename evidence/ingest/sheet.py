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

import datetime as _dt
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from evidence import query
from evidence.core.errors import InvalidDatasetName, InvalidSheet, Problem
from evidence.core.filters import DATASET_NAME_PATTERN
from evidence.ingest import validate as _validate
from evidence.ingest.read import (  # noqa: F401  (re-exported)
    MAX_COLUMNS, MAX_ROWS, MAX_UPLOAD_BYTES, MAX_XLSX_MEMBER_BYTES, MAX_XLSX_TOTAL_BYTES, read_sheet,
)
from evidence.ingest.validate import (  # noqa: F401  (re-exported)
    MAX_CELL_CHARS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SHEET_COLUMNS, SHOWN_PROBLEMS, SheetReport,
    blank_template_csv, validate_records, validate_sheet,
)
from evidence.store import connection
from evidence.store.write import write_store

__all__ = [
    "SHEET_COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "MAX_UPLOAD_BYTES", "MAX_ROWS", "MAX_COLUMNS",
    "MAX_XLSX_MEMBER_BYTES", "MAX_XLSX_TOTAL_BYTES", "SHOWN_PROBLEMS", "MAX_CELL_CHARS", "SheetReport",
    "ImportResult", "blank_template_csv", "read_sheet",
    "validate_sheet", "validate_records", "import_sheet", "import_records", "safe_dataset_name",
    "list_datasets", "delete_dataset", "dataset_info", "load_dataset_frames",
]

#: Study-level columns that must agree between rows of one study (and are stored once per study).
_STUDY_COLUMNS = _validate._STUDY_COLUMNS


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
        raise InvalidSheet([Problem(0, p.column, f"{p.file} line {p.line}: {p.message}", kind=p.kind)
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
