"""Importing into a session's own namespace (:mod:`evidence.store.namespaces`), with the limits checked first.

The page calls :func:`check_can_import` before it reads the sheet (datasets per session, disk) and
:func:`import_own` after validation (studies per dataset, then the store is written through
:func:`evidence.ingest.sheet.import_records`, the same path as every import). "Replace" replaces only a
dataset of the same session's folder: another session's datasets are in folders this one never sees.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evidence import query
from evidence.core.errors import InvalidDatasetName
from evidence.ingest.sheet import (OPTIONAL_COLUMNS, SHEET_COLUMNS, ImportResult, SheetReport, import_records,
                                   safe_dataset_name)
from evidence.store import build, connection, namespaces

__all__ = ["check_can_import", "import_own", "dataset_as_sheet"]


def check_can_import(folder: str | Path, name: str, *, replace: bool = False,
                     root: str | Path | None = None) -> str:
    """The safe name for ``name`` after checking the session's and the server's limits (before any work).

    Raises
    ------
    InvalidDatasetName
        For an unusable name, or a name taken in this session without ``replace``.
    LimitExceeded
        When the import would pass a limit (which one and its value are in the message).
    """
    slug = safe_dataset_name(name)
    folder = Path(folder)
    taken = (folder / f"{slug}.duckdb").is_file() or (folder / f"{slug}.share").is_file()
    if taken and not replace:
        raise InvalidDatasetName(name, f"a dataset called {slug!r} already exists; choose another name")
    namespaces.check_room(folder, slug, replace=replace, root=root)
    return slug


def import_own(report: SheetReport, name: str, folder: str | Path, *, source_file: str = "sheet",
               replace: bool = False, attribution: str = "", root: str | Path | None = None) -> ImportResult:
    """Store a validated sheet as dataset ``name`` of the session whose folder is ``folder``.

    Raises
    ------
    InvalidSheet, InvalidDatasetName, LimitExceeded
        Nothing is stored.
    """
    folder = Path(folder)
    slug = check_can_import(folder, name, replace=replace, root=root)
    namespaces.check_studies(len({r.get("study_id") for r in report.records}))
    result = import_records(report, slug, source_file=source_file, uploads_dir=folder, replace=replace,
                            attribution=attribution)
    pointer = folder / f"{slug}.share"
    if pointer.is_file():  # an own import replaces a dataset shared with this session under that name
        pointer.unlink()
    return result


def dataset_as_sheet(name: str, folder: str | Path) -> pd.DataFrame:
    """One of the session's datasets back in the sheet's columns (one row per effect row), to download and
    import again later (after a reload, after expiry, on another server). Numbers keep their stored
    values; yes/no columns read ``yes``/``no``; a study's columns are repeated on each of its rows."""
    con = connection.connect_dataset(name, folder)
    eff, studies, sources = (query.table(t, con) for t in ("effects", "studies", "sources"))
    study_cols = [c for c in build.TABLE_COLUMNS["studies"] if c in SHEET_COLUMNS + OPTIONAL_COLUMNS
                  and c not in ("study_id", "risk_of_bias")]
    source_cols = ["source_review", "source_url", "source_location", "source_quote"]
    rows = (eff.merge(studies[["study_id", *study_cols]], on="study_id", how="left")
               .merge(sources[["source_id", *source_cols]], on="source_id", how="left"))
    rows = rows.sort_values("effect_id", key=lambda ids: ids.str.extract(r"-E(\d+)$")[0].astype(float),
                            kind="stable")
    out = pd.DataFrame(index=rows.index)
    for col in SHEET_COLUMNS + OPTIONAL_COLUMNS:
        kind = build.TABLE_COLUMNS["effects"].get(col) or build.TABLE_COLUMNS["studies"].get(col)
        values = rows[col] if col in rows else pd.Series(None, index=rows.index, dtype=object)
        if kind == "bool":
            values = values.map(lambda v: None if pd.isna(v) else ("yes" if v in (True, "yes", 1) else "no"))
        elif kind == "int":
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        out[col] = values
    return out.reset_index(drop=True)
