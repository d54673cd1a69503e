"""Private namespaces for imported datasets: one folder per browser session, share links, limits and expiry.

Layout under the uploads folder (``data/uploads/``; :data:`evidence.store.connection.UPLOADS_DIR`)::

    sessions/<owner>/<name>.duckdb   a dataset imported by one session (``owner`` = a hash of its token)
    sessions/<owner>/<name>.share    a dataset another session shared with this one (points at a share record)
    shares/<share id>.json           a share record: which dataset file the link opens (``share id`` = a hash
                                     of the link's token; the token itself is never written to disk)

A session's owner token (:func:`new_owner_token`) is random and lives only in that session's server-side
state; the folder name is its SHA-256, so the files on disk do not reveal it. Every read goes through
:mod:`evidence.store.connection` with the session's folder as ``uploads_dir``: another session's
datasets cannot be listed or opened by name. A share link opens a dataset read-only (every dataset is
opened read-only; only its owner's session can replace it). Limits: :mod:`evidence.store.limits`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from evidence.core.errors import InvalidDatasetName, LimitExceeded, UnknownDataset
from evidence.core.filters import DATASET_NAME_PATTERN
from evidence.store import connection, limits

__all__ = [
    "SESSIONS", "SHARES", "new_owner_token", "owner_dir", "namespace_key", "disk_bytes", "check_room",
    "check_studies", "create_share", "open_share", "delete_dataset", "expire", "InvalidShareLink",
]

SESSIONS = "sessions"
SHARES = connection.SHARES
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")


class InvalidShareLink(UnknownDataset):
    """A share link that does not (or no longer) open a dataset; says nothing about what exists."""

    def __init__(self, valid) -> None:
        super().__init__("(share link)", valid)
        self.args = ("This share link does not open a dataset: it is mistyped, was withdrawn or has expired "
                     f"(uploads live {limits.UPLOAD_LIFETIME_SECONDS / 3600:g} hours).",)


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else connection.UPLOADS_DIR


def new_owner_token() -> str:
    """A random owner token for one browser session (kept server-side, never in a URL)."""
    return secrets.token_urlsafe(32)


def _digest(token: str, n: int) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:n]


def owner_dir(token: str, root: str | Path | None = None) -> Path:
    """The folder of the datasets of the session holding ``token`` (not created here)."""
    if not token or len(token) < 16:
        raise ValueError("an owner token must be at least 16 characters")
    return _root(root) / SESSIONS / _digest(token, 32)


def namespace_key(folder: str | Path | None) -> str:
    """Changes whenever a dataset in ``folder`` is added, replaced or removed (for cache keys)."""
    if folder is None:
        return ""
    p = Path(folder)
    if not p.is_dir():
        return "empty"
    return "|".join(f"{f.name}:{f.stat().st_mtime_ns}" for f in sorted(p.iterdir()) if f.is_file())


def disk_bytes(folder: str | Path) -> int:
    """Bytes taken by every file below ``folder``."""
    p = Path(folder)
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else 0


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def check_room(folder: str | Path, name: str | None = None, *, replace: bool = False,
               root: str | Path | None = None) -> None:
    """Refuse (before any work) an import that would pass a per-session or a server-wide limit.

    Replacing one of the session's own datasets takes no new place in the count.

    Raises
    ------
    LimitExceeded
        Naming the limit and its value.
    """
    folder = Path(folder)
    own = connection.list_datasets(folder)
    if not (replace and name in own) and len(own) >= limits.MAX_DATASETS_PER_SESSION:
        raise LimitExceeded("imported datasets per browser session", f"{limits.MAX_DATASETS_PER_SESSION}",
                            f"this session has {len(own)}; replace or delete one first")
    used = disk_bytes(folder)
    if used >= limits.MAX_SESSION_DISK_BYTES:
        raise LimitExceeded("disk per session", _mb(limits.MAX_SESSION_DISK_BYTES),
                            f"this session's datasets take {_mb(used)}")
    total = disk_bytes(_root(root))
    if total >= limits.MAX_UPLOADS_DISK_BYTES:
        raise LimitExceeded("disk for all uploads on this server", _mb(limits.MAX_UPLOADS_DISK_BYTES),
                            f"uploads take {_mb(total)}; try again when older uploads have expired")


def check_studies(n_studies: int) -> None:
    """Refuse a dataset with more studies than :data:`limits.MAX_STUDIES_PER_DATASET`."""
    if n_studies > limits.MAX_STUDIES_PER_DATASET:
        raise LimitExceeded("studies per imported dataset", f"{limits.MAX_STUDIES_PER_DATASET:,}",
                            f"this sheet has {n_studies:,}")


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def create_share(folder: str | Path, name: str, root: str | Path | None = None) -> str:
    """A new unguessable token opening the session's own dataset ``name`` read-only (see :func:`open_share`).

    The link lives as long as the dataset; the owner's session may replace the dataset, and the link
    then opens the new version.
    """
    folder, root = Path(folder), _root(root)
    target = folder / f"{name}.duckdb"
    if not DATASET_NAME_PATTERN.match(name) or not target.is_file():
        raise UnknownDataset(name, ("shipped", "all") + connection.list_datasets(folder))
    token = secrets.token_urlsafe(24)
    _write_json(root / SHARES / f"{_digest(token, 40)}.json",
                {"target": target.resolve().relative_to(root.resolve()).as_posix(), "name": name,
                 "created": time.time()})
    return token


def open_share(token: str, folder: str | Path, root: str | Path | None = None) -> str:
    """Add the dataset a share link opens to this session's namespace (a pointer, never a copy); its name here.

    A link to one of the session's own datasets returns that name. Another session's dataset gets a
    pointer file named after it (``-shared`` appended when the name is taken here).

    Raises
    ------
    InvalidShareLink
        When the token is malformed, unknown or its dataset has expired (the message says no more).
    LimitExceeded
        When the session already holds its maximum of datasets.
    """
    folder, root = Path(folder), _root(root)
    own = connection.list_datasets(folder)
    share_id = _digest(token, 40) if isinstance(token, str) and _TOKEN.match(token) else None
    target = connection.share_target(root, share_id) if share_id else None
    if target is None:
        raise InvalidShareLink(("shipped", "all") + own)
    if target.parent.resolve() == folder.resolve():
        return target.stem
    for p in folder.glob("*.share"):  # opened before: the same pointer
        if connection.read_pointer(p) == share_id:
            return p.stem
    name, n = target.stem, 1
    while name in own:
        n += 1
        name = f"{target.stem}-shared" if n == 2 else f"{target.stem}-shared-{n - 1}"
    if not DATASET_NAME_PATTERN.match(name):
        raise InvalidDatasetName(name, "no free name for the shared dataset in this session")
    check_room(folder, name, root=root)
    _write_json(folder / f"{name}.share", {"share": share_id})
    return name


def delete_dataset(folder: str | Path, name: str) -> bool:
    """Remove one of the session's datasets (its file or its share pointer); True when something went."""
    if not DATASET_NAME_PATTERN.match(name):
        return False
    gone = False
    for path in (Path(folder) / f"{name}.duckdb", Path(folder) / f"{name}.share"):
        connection._close_cached(path)
        if path.is_file():
            path.unlink()
            gone = True
    return gone


def expire(root: str | Path | None = None, *, now: float | None = None,
           lifetime: float | None = None) -> list[Path]:
    """Delete imported datasets older than ``lifetime`` (default :data:`limits.UPLOAD_LIFETIME_SECONDS`), the
    share records and pointers that no longer lead to a dataset, stray staging files and empty session
    folders; the paths removed. Also old ``*.duckdb`` files directly in the uploads folder (the shared
    namespace of earlier versions, which nothing lists any more)."""
    root = _root(root)
    now = time.time() if now is None else now
    cutoff = now - (limits.UPLOAD_LIFETIME_SECONDS if lifetime is None else lifetime)
    removed: list[Path] = []

    def drop(path: Path) -> None:
        connection._close_cached(path)
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass

    sessions = root / SESSIONS
    for f in list(sessions.glob("*/*")) + list(root.glob("*.duckdb*")):
        if f.is_file() and not f.name.endswith(".share") and f.stat().st_mtime < cutoff:
            drop(f)
    for record in (root / SHARES).glob("*.json"):
        if connection.share_target(root, record.stem) is None:
            drop(record)
    for pointer in sessions.glob("*/*.share"):
        share_id = connection.read_pointer(pointer)
        if share_id is None or connection.share_target(root, share_id) is None:
            drop(pointer)
    for d in sessions.glob("*"):
        if d.is_dir() and not any(d.iterdir()):
            shutil.rmtree(d, ignore_errors=True)
    return removed
