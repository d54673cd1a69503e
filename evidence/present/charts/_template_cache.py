"""Chart templates kept on disk between server processes (a cache: losing it costs time, never a result).

Building a forest plot's template through Altair takes about half a second, during which one server process
answers nobody else; every template depends only on the chart code and the Altair version, so a process
reads what an earlier one built. The folder is ``EVIDENCE_CACHE_DIR`` (default ``.cache/`` in the project,
git-ignored); each file is named by a hash of the template's key, this package's chart code and Altair's
version, so a code change never reads an old template. Files are written atomically (temporary file, then
rename), so replicas sharing the folder never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

import altair as alt

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parents[2]


def cache_dir() -> Path:
    return Path(os.environ.get("EVIDENCE_CACHE_DIR") or _ROOT / ".cache") / "chart_templates"


def _code_version() -> str:
    digest = hashlib.sha256(alt.__version__.encode())
    for path in sorted(_HERE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


_VERSION = _code_version()


def _path(name: str, key: tuple) -> Path:
    digest = hashlib.sha256(repr((name, _VERSION, key)).encode()).hexdigest()[:32]
    return cache_dir() / f"{name}-{digest}.json"


def stored(name: str, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()``'s JSON-able value for ``key``, read from the folder when an earlier process wrote it."""
    path = _path(name, key)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only or full disk: the template is still used, only not kept
        pass
    return value
