"""The session's private namespace of imported datasets: its owner token, its folder, share links, expiry.

The owner token is random (:func:`evidence.store.namespaces.new_owner_token`) and lives only in this
session's ``st.session_state``, never in the URL; it names the session's folder of datasets. A new
browser session (a reload, another tab opened without a share link) gets a new, empty namespace.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import streamlit as st

from evidence.core.errors import EvidenceError
from evidence.store import connection as store
from evidence.store import limits, namespaces

KEY_OWNER = "_owner_token"

_expiry_lock = threading.Lock()
_last_expiry = [0.0]


def own_folder() -> Path:
    """This session's folder of imported datasets (made on its first import)."""
    ss = st.session_state
    if not ss.get(KEY_OWNER):
        ss[KEY_OWNER] = namespaces.new_owner_token()
    return namespaces.owner_dir(ss[KEY_OWNER])


def own_datasets() -> tuple[str, ...]:
    """Names of the datasets this session imported or opened by a share link."""
    return store.list_datasets(own_folder())


def expire_old_uploads(force: bool = False) -> None:
    """Delete expired uploads: at the process's first run, then at most every EXPIRY_INTERVAL_SECONDS (and
    before an import, ``force``). One session does it; the others do not wait for it."""
    now = time.time()
    if not force and now - _last_expiry[0] < limits.EXPIRY_INTERVAL_SECONDS:
        return
    if not _expiry_lock.acquire(blocking=False):
        return
    try:
        _last_expiry[0] = now
        namespaces.expire()
    finally:
        _expiry_lock.release()


def open_share_link(token: str) -> tuple[str | None, str | None]:
    """(dataset name in this session, None) for a valid share link, else (None, a notice in words)."""
    try:
        return namespaces.open_share(token, own_folder()), None
    except EvidenceError as exc:
        return None, str(exc)
