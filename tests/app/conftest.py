"""Shared setup of the AppTest suite."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _store_built():
    """Build the store once, before any app run (the app would do the same on start)."""
    from evidence.store.build import ensure_database
    ensure_database()
