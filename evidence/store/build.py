"""Build ``data/evidence.duckdb`` from the shipped CSVs, atomically and only from valid data.

The CSVs in ``data/`` are the source of truth (see ``docs/data-model.md``). A build

1. reads every table CSV and ``vocab.csv`` and validates them in Python, collecting *every* problem
   (file, line, column, message) instead of stopping at the first one;
2. refuses to go on if there is any problem (:class:`DataValidationError` carries the full list);
3. writes a new database to a temporary file next to the target inside one transaction, with the typed
   schema of ``schema.sql`` (CHECK constraints and foreign keys to the controlled lists repeat the
   Python checks, so a bug in one is caught by the other);
4. fsyncs it and moves it over the target with :func:`os.replace` (then fsyncs the folder), so readers
   see either the old or the new file, never a half-built one, and a failed build leaves the old
   database byte-identical. Temporaries left by a killed build are removed when the next one starts.

Rows are checked by :mod:`evidence.store.validate` against the rule table :mod:`evidence.store.rules`.

:func:`ensure_database` is what the app calls at start-up: it builds only when the database is
missing, unreadable, or its recorded content hash differs from the CSVs on disk.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import duckdb
import pandas as pd

from evidence.core.errors import Problem  # noqa: F401  (re-exported: the one Problem type)
from evidence.store import rules, usability
from evidence.store import vocab as _vocab
from evidence.store.validate import (  # noqa: F401  (re-exported: the build's public names)
    CHANGELOG, FOREIGN_KEYS, HASHED_FILES_GLOB, LOAD_ORDER, PRIMARY_KEYS, DataValidationError, check_references,
    check_table, content_hash, dataset_version, validate_data_dir, validate_vocab,
)

DEFAULT_DATA_DIR = _vocab.DEFAULT_DATA_DIR
DEFAULT_DB_PATH = DEFAULT_DATA_DIR / "evidence.duckdb"
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.sql"
SCHEMA_VERSION = "4"  # 2: review_trials, in_review(); 3: study_rob_domains; 4: effect_usability a table
TABLE_COLUMNS = rules.TABLE_COLUMNS
REQUIRED = rules.REQUIRED
MIN_YEAR = rules.MIN_YEAR


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote: path, dataset version, content hash, row counts and time taken."""

    db_path: Path
    dataset_version: str
    content_hash: str
    built_at: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------------
# Loading


_PANDAS_DTYPES = {rules.TEXT: "string", rules.INT: "Int64", rules.FLOAT: "Float64", rules.BOOL: "boolean",
                  rules.FLAGS: "string"}


def _frame(table: str, records: list[dict]) -> pd.DataFrame:
    spec = TABLE_COLUMNS[table]
    data = {}
    for col, kind in spec.items():
        values = [r[col] for r in records]
        if kind == rules.FLAGS:
            values = [";".join(v) if v else None for v in values]
        data[col] = pd.array(values, dtype=_PANDAS_DTYPES[kind])
    return pd.DataFrame(data)


def _schema_sql(vocabulary: _vocab.Vocabulary) -> str:
    blocks = []
    for f in vocabulary.fields():
        blocks.append(
            f"CREATE TABLE vocab_{f} (value VARCHAR PRIMARY KEY, label VARCHAR NOT NULL, "
            f"description VARCHAR, sort_order INTEGER NOT NULL);"
        )
    return SCHEMA_PATH.read_text(encoding="utf-8").replace("\n-- @vocab_tables\n", "\n" + "\n".join(blocks) + "\n")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    cols = ", ".join(frame.columns)
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    finally:
        con.unregister("_incoming")


def _load(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict]], vocabulary: _vocab.Vocabulary,
          metadata: dict[str, str]) -> None:
    con.execute(_schema_sql(vocabulary))
    vocab_frame = pd.DataFrame(
        {
            "field": pd.array([t.field for t in vocabulary.terms], dtype="string"),
            "value": pd.array([t.value for t in vocabulary.terms], dtype="string"),
            "label": pd.array([t.label for t in vocabulary.terms], dtype="string"),
            "description": pd.array([t.description for t in vocabulary.terms], dtype="string"),
            "sort_order": pd.array([t.sort_order for t in vocabulary.terms], dtype="Int64"),
        }
    )
    _insert(con, "vocab", vocab_frame)
    for f in vocabulary.fields():
        # Table names come from vocab field names, which validation restricts to [a-z0-9_].
        con.execute(
            f"INSERT INTO vocab_{f} SELECT value, label, description, sort_order FROM vocab WHERE field = ?", [f]
        )
    for table in LOAD_ORDER:
        _insert(con, table, _frame(table, tables[table]))
        if table in ("studies", "effects"):
            key = PRIMARY_KEYS[table]
            pairs = [(r[key], flag) for r in tables[table] for flag in dict.fromkeys(r["flags"] or ())]
            link = pd.DataFrame({
                key: pd.array([p[0] for p in pairs], dtype="string"),
                "flag": pd.array([p[1] for p in pairs], dtype="string"),
            })
            _insert(con, "study_flags" if table == "studies" else "effect_flags", link)
    _insert(con, "effect_usability", _usability(con))
    meta = pd.DataFrame({"key": pd.array(list(metadata), dtype="string"),
                         "value": pd.array(list(metadata.values()), dtype="string")})
    _insert(con, "metadata", meta)


def _usability(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every effect row's route or reason, by the one rule of :mod:`evidence.store.usability`."""
    cols = ", ".join(f"e.{c}" for c in usability.RULE_COLUMNS if c not in ("study_flags", "effect_flags"))
    rows = con.execute(f"SELECT e.effect_id, e.study_id, e.outcome, {cols}, s.flags AS study_flags, "
                       "e.flags AS effect_flags FROM effects e JOIN studies s ON s.study_id = e.study_id "
                       "ORDER BY e.effect_id").df()
    return usability.usability_table(rows)


TMP_INFIX = ".tmp-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(db_path: str | Path) -> list[Path]:
    """Delete ``<db>.tmp-<pid>-*`` files (and their ``.wal``) left by a build that was killed.

    A temporary whose process is still running belongs to a build in progress and is kept.
    Returns the removed paths.
    """
    db_path = Path(db_path)
    removed = []
    for path in db_path.parent.glob(f"{db_path.name}{TMP_INFIX}*"):
        pid_text = path.name[len(db_path.name) + len(TMP_INFIX):].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and _pid_alive(int(pid_text)):
            continue
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def replace_durably(tmp: Path, target: Path) -> None:
    """fsync ``tmp``, rename it over ``target`` and fsync the folder, so a crash leaves the old or the new file."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    try:
        fd = os.open(target.parent, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some platforms (Windows): the rename is all we can do
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(db_path: Path, tables: dict[str, list[dict]], vocabulary: _vocab.Vocabulary,
                      metadata: dict[str, str]) -> None:
    """Load validated tables into a temporary store in one transaction, then move it over ``db_path``."""
    remove_stale_temporaries(db_path)
    tmp = db_path.with_name(f"{db_path.name}{TMP_INFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("BEGIN TRANSACTION")
            _load(con, tables, vocabulary, metadata)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        replace_durably(tmp, db_path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()


def _metadata(version: str, digest: str, counts: dict[str, int]) -> dict[str, str]:
    return {
        "dataset_version": version,
        "content_hash": digest,
        "built_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "schema_version": SCHEMA_VERSION,
        "duckdb_version": duckdb.__version__,
        **{f"n_{t}": str(n) for t, n in counts.items()},
    }


def _cell(value: object) -> object:
    # In-memory rows may hold Python booleans where the CSVs say yes/no.
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def build_from_tables(tables: Mapping[str, Sequence[Mapping]], db_path: str | Path, *,
                      vocab_dir: str | Path | None = None, version: str = "0.0.0",
                      metadata: Mapping[str, str] | None = None) -> BuildResult:
    """Validate in-memory tables and write them as a store with the shipped schema, atomically.

    The same rules as :func:`build_database` (every problem collected, then the CHECKs), without
    writing CSVs first. ``tables`` maps table names of :data:`LOAD_ORDER` to row mappings (missing
    tables are empty); ``vocab_dir`` holds the ``vocab.csv`` to use (default the shipped one). Extra
    ``metadata`` rows are written in the same transaction.

    Raises
    ------
    DataValidationError
        When a row breaks a rule; problems name the table (as ``<table>.csv``), row (first row = 2) and column.
    """
    started = time.perf_counter()
    db_path = Path(db_path)
    problems, vocabulary = validate_vocab(Path(vocab_dir) if vocab_dir is not None else DEFAULT_DATA_DIR)
    checked: dict[str, list[dict]] = {}
    digest = hashlib.sha256()
    for table in LOAD_ORDER:
        header = list(TABLE_COLUMNS[table])
        rows = [{"__line__": i, **{c: _cell(r.get(c)) for c in header}}
                for i, r in enumerate(tables.get(table, ()), start=2)]
        digest.update(repr((table, [[r[c] for c in header] for r in rows])).encode("utf-8", "backslashreplace"))
        records = check_table(table, header, rows, vocabulary, problems)
        checked[table] = records or []
    check_references(checked, problems)
    if problems:
        raise DataValidationError(problems)
    assert vocabulary is not None
    counts = {t: len(checked[t]) for t in LOAD_ORDER}
    meta = {**_metadata(version, digest.hexdigest(), counts), **{str(k): str(v) for k, v in (metadata or {}).items()}}
    _write_atomically(db_path, checked, vocabulary, meta)
    return BuildResult(db_path=db_path, dataset_version=version, content_hash=meta["content_hash"],
                       built_at=meta["built_at"], counts=counts, seconds=time.perf_counter() - started)


def build_database(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> BuildResult:
    """Validate ``data_dir/*.csv`` and write the DuckDB store atomically.

    Parameters
    ----------
    data_dir : path
        Folder holding vocab.csv, studies.csv, sources.csv, effects.csv, reviews.csv,
        review_results.csv and CHANGELOG.md.
    db_path : path, optional
        Target database (default ``data_dir/evidence.duckdb``). Its folder must exist.

    Returns
    -------
    BuildResult

    Raises
    ------
    DataValidationError
        When any CSV is invalid; ``.problems`` lists every offending file, line and column.
        The existing database is left untouched.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    db_path = Path(db_path) if db_path is not None else data_dir / "evidence.duckdb"
    digest = content_hash(data_dir)
    problems, tables, vocabulary = validate_data_dir(data_dir)
    if problems:
        raise DataValidationError(problems)
    assert vocabulary is not None
    version = dataset_version(data_dir) or ""
    counts = {t: len(tables[t]) for t in LOAD_ORDER}
    metadata = _metadata(version, digest, counts)
    built_at = metadata["built_at"]
    _write_atomically(db_path, tables, vocabulary, metadata)
    return BuildResult(db_path=db_path, dataset_version=version, content_hash=digest, built_at=built_at,
                       counts=counts, seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------
# Staleness


def read_metadata(db_path: str | Path) -> dict[str, str]:
    """The metadata table of a built database as a dict (read-only open)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return dict(con.cursor().execute("SELECT key, value FROM metadata").fetchall())
    finally:
        con.close()


def database_is_stale(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> bool:
    """True when the database is missing, unreadable, or was built from different CSV content.

    The comparison uses the content hash recorded at build time, not file times alone, so touching a
    CSV without changing it does not force a rebuild, while an edit always does (even one that keeps
    the modification time, e.g. a checkout).
    """
    data_dir = Path(data_dir)
    db_path = Path(db_path) if db_path is not None else data_dir / "evidence.duckdb"
    if not db_path.is_file():
        return True
    try:
        meta = read_metadata(db_path)
    except duckdb.Error:
        return True
    # a store built by an older schema is stale too (its tables or macros may be missing)
    return meta.get("content_hash") != content_hash(data_dir) or meta.get("schema_version") != SCHEMA_VERSION


def ensure_database(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> BuildResult | None:
    """Build the database if it is stale (see :func:`database_is_stale`); return the build or None."""
    if database_is_stale(data_dir, db_path):
        return build_database(data_dir, db_path)
    return None
