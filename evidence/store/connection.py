"""Connections to the evidence store and the registry of datasets (no query text here).

The shipped store (``data/evidence.duckdb``) is opened **read-only**; imported datasets live in
their own DuckDB files in a folder (``uploads_dir``) and are opened read-only too. The app gives every
browser session its own folder (:mod:`evidence.store.namespaces`), so a name is looked up only among
that session's datasets: ``<name>.duckdb`` files it imported and ``<name>.share`` pointers to datasets
shared with it by a link. In-memory datasets belong to the default folder only. A DuckDB
connection is not thread-safe, so callers take a ``.cursor()`` per query (:mod:`evidence.query`).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb

from evidence.core.errors import UnknownDataset
from evidence.core.filters import DATASET_NAME_PATTERN

__all__ = [
    "PROJECT_ROOT", "DATA_DIR", "DB_PATH", "UPLOADS_DIR",
    "connect", "shared_connection", "connect_dataset", "register_memory_dataset",
    "forget_memory_dataset", "list_datasets", "dataset_connections", "share_target", "read_pointer",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"
DB_PATH = DATA_DIR / "evidence.duckdb"
UPLOADS_DIR = DATA_DIR / "uploads"
SHARES = "shares"  # below the uploads folder: share records, one JSON file per link

_lock = threading.Lock()
_shared: dict[str, duckdb.DuckDBPyConnection] = {}
_memory: dict[str, duckdb.DuckDBPyConnection] = {}


def connect(db_path: str | Path | None = None, *, data_dir: str | Path | None = None,
            build_if_needed: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the shipped store read-only, building it first when missing or older than the CSVs.

    Parameters
    ----------
    db_path : path, optional
        Defaults to ``data/evidence.duckdb``.
    data_dir : path, optional
        Folder of the source CSVs (for the freshness check); defaults to ``data/``.
    build_if_needed : bool
        Call :func:`evidence.store.build.ensure_database` first.
    """
    db_path = Path(db_path) if db_path is not None else DB_PATH
    if build_if_needed:
        from evidence.store.build import ensure_database  # imported late: build is optional for readers
        ensure_database(Path(data_dir) if data_dir is not None else db_path.parent, db_path)
    return duckdb.connect(str(db_path), read_only=True)


def shared_connection(db_path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """One read-only connection per store path for the process; callers take a cursor per query."""
    key = str(Path(db_path) if db_path is not None else DB_PATH)
    with _lock:
        con = _shared.get(key)
        if con is None:
            con = connect(key)
            _shared[key] = con
        return con


def register_memory_dataset(name: str, con: duckdb.DuckDBPyConnection) -> None:
    """Make an in-memory imported dataset available under ``name`` for this process."""
    with _lock:
        _memory[name] = con


def forget_memory_dataset(name: str) -> None:
    """Drop an in-memory dataset (no error when absent)."""
    with _lock:
        con = _memory.pop(name, None)
    if con is not None:
        con.close()


def _is_default(folder: Path) -> bool:
    return folder.resolve() == UPLOADS_DIR.resolve()


def read_pointer(path: Path) -> str | None:
    """The share id a ``<name>.share`` pointer file names (None when unreadable)."""
    try:
        share_id = json.loads(Path(path).read_text(encoding="utf-8")).get("share")
    except (OSError, ValueError, AttributeError):
        return None
    return share_id if isinstance(share_id, str) and share_id.isalnum() else None


def share_target(root: str | Path, share_id: str) -> Path | None:
    """The dataset file a share record points at, when the record and the file exist (inside ``root``)."""
    root = Path(root).resolve()
    if not share_id or not share_id.isalnum():
        return None
    try:
        rel = json.loads((root / SHARES / f"{share_id}.json").read_text(encoding="utf-8")).get("target")
        target = (root / rel).resolve()
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if root not in target.parents or target.suffix != ".duckdb" or not target.is_file():
        return None
    return target


def _pointer_target(pointer: Path) -> Path | None:
    # sessions/<owner>/<name>.share -> the uploads root is two folders up
    share_id = read_pointer(pointer)
    return share_target(pointer.parent.parent.parent, share_id) if share_id else None


def list_datasets(uploads_dir: str | Path | None = None) -> tuple[str, ...]:
    """Names of the datasets in a folder: files ``<name>.duckdb``, share pointers ``<name>.share`` that still
    lead to a dataset, and (default folder only) the in-memory ones."""
    folder = Path(uploads_dir) if uploads_dir is not None else UPLOADS_DIR
    names = set(_memory) if uploads_dir is None or _is_default(folder) else set()
    if folder.is_dir():
        names.update(p.stem for p in folder.glob("*.duckdb") if DATASET_NAME_PATTERN.match(p.stem))
        names.update(p.stem for p in folder.glob("*.share")
                     if DATASET_NAME_PATTERN.match(p.stem) and _pointer_target(p) is not None)
    return tuple(sorted(names))


def connect_dataset(name: str, uploads_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Read-only connection to one dataset of a folder (cached per file); :class:`UnknownDataset` names only
    ``shipped``, ``all`` and that folder's datasets."""
    folder = Path(uploads_dir) if uploads_dir is not None else UPLOADS_DIR
    if uploads_dir is None or _is_default(folder):
        with _lock:
            if name in _memory:
                return _memory[name]
    path = folder / f"{name}.duckdb"
    if DATASET_NAME_PATTERN.match(name) and not path.is_file():
        pointer = folder / f"{name}.share"
        path = (_pointer_target(pointer) if pointer.is_file() else None) or path
    if not DATASET_NAME_PATTERN.match(name) or not path.is_file():
        raise UnknownDataset(name, ("shipped", "all") + list_datasets(folder))
    key = str(path.resolve())
    with _lock:
        con = _shared.get(key)
        if con is None:
            con = duckdb.connect(key, read_only=True)
            _shared[key] = con
        return con


def _close_cached(path: Path) -> None:
    # ingest replaces a dataset file atomically; a cached handle on the old file must go.
    key = str(path.resolve())
    with _lock:
        con = _shared.pop(key, None)
    if con is not None:
        con.close()


def dataset_connections(dataset: str, con: duckdb.DuckDBPyConnection | None = None,
                        uploads_dir: str | Path | None = None
                        ) -> list[tuple[str, duckdb.DuckDBPyConnection]]:
    """The ``(dataset name, connection)`` pairs a spec's ``dataset`` refers to.

    ``"shipped"`` is the shipped store (``con`` or the shared connection), an imported name is that
    dataset alone, ``"all"`` is the shipped store followed by every dataset of the folder ``uploads_dir``
    (in the app: the session's own and those shared with it).
    """
    shipped = con if con is not None else None
    if dataset == "shipped":
        return [("shipped", shipped if shipped is not None else shared_connection())]
    if dataset == "all":
        out = [("shipped", shipped if shipped is not None else shared_connection())]
        out += [(n, connect_dataset(n, uploads_dir)) for n in list_datasets(uploads_dir)]
        return out
    return [(dataset, connect_dataset(dataset, uploads_dir))]
