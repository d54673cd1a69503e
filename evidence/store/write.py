"""Writing an imported dataset as its own DuckDB store, with the shipped schema and every rule of the build."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import duckdb

from evidence.store import build, connection

__all__ = ["write_store"]


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r[c], float) else str(r[c]))
                        for c in columns])


def write_store(tables: Mapping[str, Sequence[Mapping]], db_path: str | Path, *,
                vocab_dir: str | Path | None = None, metadata: Mapping[str, str] | None = None,
                version: str = "0.0.0") -> Path:
    """Build a DuckDB store with the shipped schema from in-memory tables, atomically.

    The tables (``studies``, ``sources``, ``effects`` and optionally ``reviews``,
    ``review_results``) are written as CSVs beside the shipped ``vocab.csv`` in a temporary
    folder and built by :func:`evidence.store.build.build_database` — the same validation and CHECK
    constraints as the shipped data. Extra ``metadata`` rows are added before the file is renamed
    into place, so a reader never sees a half-written store.

    Raises
    ------
    evidence.store.build.DataValidationError
        When the tables break a rule of the store.
    """
    db_path = Path(db_path)
    vocab_src = Path(vocab_dir or build.DEFAULT_DATA_DIR) / "vocab.csv"
    with tempfile.TemporaryDirectory(prefix="evidence-store-") as tmp:
        tmpdir = Path(tmp)
        shutil.copyfile(vocab_src, tmpdir / "vocab.csv")
        (tmpdir / "CHANGELOG.md").write_text(f"# Changelog\n\n## {version}\n\nImported dataset.\n",
                                             encoding="utf-8")
        for table in build.LOAD_ORDER:
            _write_csv(tmpdir / f"{table}.csv", list(build.TABLE_COLUMNS[table]), tables.get(table, ()))
        staging = db_path.with_name(f".{db_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.staging")
        try:
            build.build_database(tmpdir, staging)
            if metadata:
                con = duckdb.connect(str(staging))
                try:
                    for k, v in metadata.items():
                        con.execute("INSERT OR REPLACE INTO metadata VALUES (?, ?)", [str(k), str(v)])
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            connection._close_cached(db_path)
            os.replace(staging, db_path)
        finally:
            for leftover in (staging, staging.with_name(staging.name + ".wal")):
                if leftover.exists():
                    leftover.unlink()
    return db_path
