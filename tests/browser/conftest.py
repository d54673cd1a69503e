"""A real dashboard server and Debian chromium for the browser tests.

Each pytest session (each xdist worker) starts its own ``streamlit run app.py`` on a free
loopback port, waits for ``/_stcore/health``, and drives it with Playwright for Python using
Debian's ``/usr/bin/chromium`` (Playwright's own browser download is never used). A missing
chromium is a test *failure*, never a skip: these tests are the only proof that the app works in
a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stbrowser import CHROMIUM, CHROMIUM_ARGS, PROBE_JS, AppPage

ROOT = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 90     # a cold start builds the store when it is missing
VIEWPORT = {"width": 1440, "height": 1000}


def pytest_collection_modifyitems(items):
    """Every test in this folder drives the browser: mark it ``browser`` (``-m "not browser"`` skips them)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the ``app`` fixture can screenshot a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]) if path.exists() else ""


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's chromium; fail loudly (not skip) when it is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(`make test` installs it: apt-get install chromium)", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """A ``streamlit run app.py`` server on a free loopback port; yields (base_url, log_path)."""
    from evidence.store.build import ensure_database
    ensure_database()  # build once here, not racing inside the first page load
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    last_error = ""
    for _attempt in range(3):  # the free port can be taken between probing and binding
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false", "--browser.gatherUsageStats", "false"]
        log = log_path.open("ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not _healthy(url):
            time.sleep(0.25)
        if proc.poll() is None and _healthy(url):
            break
        proc.kill()
        proc.wait(10)
        log.close()
        last_error = _tail(log_path)
    else:
        pytest.fail(f"streamlit server did not become healthy; log tail:\n{last_error}", pytrace=False)
    try:
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = ROOT / "artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def app(request, browser, app_server, screenshot_dir):
    """A fresh browser context (own cookies, own Streamlit session) on the test server.

    When the test fails, the page as it was is saved as ``artifacts/screenshots/FAILED-<test>.png``.
    """
    url, log_path = app_server
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.add_init_script(PROBE_JS)
    page = context.new_page()
    ui = AppPage(page, url, log_path, screenshot_dir)
    try:
        yield ui
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
            try:
                page.screenshot(path=str(screenshot_dir / f"FAILED-{name}.png"))
            except Exception:  # a crashed page cannot be photographed; the failure is reported anyway
                pass
        context.close()
