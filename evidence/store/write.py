"""Writing an imported dataset as its own DuckDB store, with the shipped schema and every rule of the build."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Mapping, Sequence

from evidence.store import build, connection

__all__ = ["write_store"]


def write_store(tables: Mapping[str, Sequence[Mapping]], db_path: str | Path, *,
                vocab_dir: str | Path | None = None, metadata: Mapping[str, str] | None = None,
                version: str = "0.0.0") -> Path:
    """Build a DuckDB store with the shipped schema from in-memory tables, atomically.

    The tables (``studies``, ``sources``, ``effects`` and optionally ``reviews``,
    ``review_results``) are built from memory by :func:`evidence.store.build.build_from_tables` —
    the same rule table, validation and CHECK constraints as the shipped data, against the shipped
    ``vocab.csv`` (or ``vocab_dir``'s), with no CSV written on the way. Extra ``metadata`` rows are
    written in the same transaction, before the file is renamed into place, so a reader never sees a
    half-written store.

    Raises
    ------
    evidence.store.build.DataValidationError
        When the tables break a rule of the store.
    """
    db_path = Path(db_path)
    staging = db_path.with_name(f".{db_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.staging")
    try:
        build.build_from_tables(tables, staging, vocab_dir=vocab_dir, version=version, metadata=metadata)
        connection._close_cached(db_path)
        build.replace_durably(staging, db_path)
    finally:
        for leftover in (staging, staging.with_name(staging.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return db_path
