"""Driving the dashboard in a real browser: open a view, wait for the app to settle, read metrics.

"Settled" is read from the app itself, not guessed with sleeps: the probe script shared with
``scripts/loadtest.py`` (one source of truth, loaded from there) watches Streamlit's websocket for
the ``script_finished`` message and the frontend's run state on the ``stApp`` element, so
:meth:`AppPage.settle` returns once a successful run after a given point has been applied and
painted.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("peer_loadtest", ROOT / "scripts" / "loadtest.py")
_loadtest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _loadtest  # dataclasses look their module up while the class is built
_spec.loader.exec_module(_loadtest)

CHROMIUM: str = _loadtest.CHROMIUM
CHROMIUM_ARGS: list[str] = _loadtest.CHROMIUM_ARGS
PROBE_JS: str = _loadtest.PROBE_JS
SETTLED_JS: str = _loadtest.SETTLED_JS
QUIET_JS: str = _loadtest.QUIET_JS
#: No element is waiting for its code (Streamlit shows a ``stSkeleton`` placeholder meanwhile).
NO_SKELETON_JS = "() => !document.querySelector('[data-testid=\"stSkeleton\"]')"
EXPANDED_JS: str = _loadtest.EXPANDED_JS
PERF_LINE = _loadtest.PERF_LINE
#: Milliseconds without any DOM change that count as "finished painting".
QUIET_MS = 300

#: Seconds to wait for one run to settle; a cold first page load computes and caches everything.
SETTLE_TIMEOUT_S = 60
_NUMBER = re.compile(r"[-+\u2212]?\d[\d,]*(?:\.\d+)?")


def parse_number(text: str) -> float:
    """The first number in a displayed value ("−0.41", "2,141 +", "0.18 to 0.64" -> first)."""
    match = _NUMBER.search(text)
    if not match:
        raise ValueError(f"no number in {text!r}")
    return float(match.group(0).replace("\u2212", "-").replace(",", ""))


def parse_interval(text: str) -> tuple[float, float]:
    """A displayed interval "a to b" as two numbers."""
    numbers = [float(m.replace("\u2212", "-").replace(",", "")) for m in _NUMBER.findall(text)]
    if len(numbers) != 2:
        raise ValueError(f"not an interval 'a to b': {text!r}")
    return numbers[0], numbers[1]


class AppPage:
    """One browser page on the dashboard, with what a test needs to read and click."""

    def __init__(self, page, base_url: str, log_path: Path, screenshot_dir: Path):
        self.page = page
        self.base_url = base_url
        self.log_path = log_path
        self.screenshot_dir = screenshot_dir
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[str] = []   # every URL the page asked for (hostile-link checks)
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _on_dialog(self, dialog) -> None:
        # Any alert/confirm/prompt means page content ran script: record it, never accept it.
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    # -- running and waiting ----------------------------------------------------------------

    def runs(self) -> int:
        """Successful script runs this page has seen so far."""
        return self.page.evaluate("window.__stProbe ? window.__stProbe.finishedOk : 0")

    def settle(self, before: int, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Wait until a successful run after ``before`` is applied and painted and nothing runs."""
        self.page.wait_for_function(SETTLED_JS, arg=before, timeout=timeout_s * 1000, polling=25)

    def open(self, path: str = "", query: dict[str, str] | str | None = None) -> None:
        """Load ``/path?query`` in this page and wait for the app to settle."""
        if isinstance(query, dict):
            query = urlencode(query)
        url = f"{self.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        self.page.goto(url, wait_until="domcontentloaded")
        self.settle(0)
        # Charts and tables of a new page keep painting for seconds after the first run is applied
        # (their code is fetched on first use): wait until no request is pending and nothing changes.
        for _ in range(2):
            self.page.wait_for_load_state("networkidle")
            self.quiet()

    def quiet(self, timeout_s: float = 20) -> None:
        """Wait until the page has stopped changing for :data:`QUIET_MS` and shows no loading placeholder.

        An element whose code is still being fetched shows Streamlit's skeleton (``stSkeleton``); on a busy
        machine the page can stay still for longer than :data:`QUIET_MS` while that code arrives, so
        stillness alone let a test read a page whose metrics were not drawn yet.
        """
        self.page.wait_for_function(QUIET_JS, arg=QUIET_MS, timeout=timeout_s * 1000, polling=50)
        if not self.page.evaluate(NO_SKELETON_JS):
            self.page.wait_for_function(NO_SKELETON_JS, timeout=timeout_s * 1000, polling=50)
            self.page.wait_for_function(QUIET_JS, arg=QUIET_MS, timeout=timeout_s * 1000, polling=50)

    def after(self, action) -> None:
        """Do ``action`` (a click) and wait for the rerun it causes to settle."""
        before = self.runs()
        action()
        self.settle(before)
        self.quiet()

    # -- reading ----------------------------------------------------------------------------

    def metrics(self) -> dict[str, str]:
        """Every ``st.metric`` on the page as {label: value text} (first one wins on a repeat)."""
        pairs = self.page.eval_on_selector_all(
            '[data-testid="stMain"] [data-testid="stMetric"]',
            """els => els.map(e => [
                (e.querySelector('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]')?.textContent || '').trim(),
                (e.querySelector('[data-testid="stMetricValue"]')?.textContent || '').trim()])""")
        found: dict[str, str] = {}
        for label, value in pairs:
            found.setdefault(label, value)
        return found

    def metric(self, label: str) -> str:
        metrics = self.metrics()
        assert label in metrics, f"no metric {label!r} on {self.page.url}; metrics: {metrics}"
        return metrics[label]

    def exceptions(self) -> list[str]:
        """Texts of Streamlit exception boxes on the page."""
        return [t.strip()[:500] for t in self.page.locator('[data-testid="stException"]').all_inner_texts()]

    def alerts(self) -> list[str]:
        """Texts of st.info / st.warning / st.error / st.success boxes in the main area."""
        return [t.strip() for t in self.page.locator('[data-testid="stMain"] [data-testid="stAlert"]').all_inner_texts()]

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.page.url).query, keep_blank_values=True))

    def nav_pages(self) -> list[tuple[str, str]]:
        """(title, path) of every page the visible navigation links to, in order."""
        links = self.page.eval_on_selector_all(
            '[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]',
            "els => els.map(e => [e.innerText, e.getAttribute('href')])")
        pages = []
        for text, href in links:
            title = [line.strip() for line in text.splitlines() if line.strip()][-1]  # after the icon name
            path = urlsplit(href).path.lstrip("/")
            if (title, path) not in pages:
                pages.append((title, path))
        return pages

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def path_of(self, title_word: str) -> str:
        """The URL path of the navigation page whose title contains ``title_word``."""
        pages = self.nav_pages()
        found = [path for title, path in pages if title_word.lower() in title.lower()]
        assert found, f"no page titled like {title_word!r} in the navigation: {pages}"
        return found[0]

    def assert_healthy(self) -> None:
        """No exception box, no "Page not found" modal, no uncaught page error, no JavaScript dialog."""
        assert self.exceptions() == [], f"exception box on {self.page.url}: {self.exceptions()}"
        modals = self.page.locator('[role="dialog"]').filter(has_text="Page not found")
        assert modals.count() == 0, f"'Page not found' on {self.page.url}"
        assert self.page_errors == [], f"uncaught page errors on {self.page.url}: {self.page_errors}"
        assert self.dialogs == [], f"page opened dialogs (script ran?): {self.dialogs}"

    # -- clicking ---------------------------------------------------------------------------

    def sidebar_widget(self, label: str):
        """The sidebar multiselect/selectbox whose label is ``label``."""
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        box = self.page.get_by_role("combobox", name=label, exact=True)
        widget = sidebar.locator('[data-testid="stMultiSelect"], [data-testid="stSelectbox"]').filter(has=box)
        assert widget.count() == 1, f"no single sidebar widget labelled {label!r}"
        return widget

    def pick(self, label: str, option: str) -> None:
        """Click ``label``'s dropdown open and click the option whose text starts with ``option``."""
        widget = self.sidebar_widget(label)
        multi = widget.get_attribute("data-testid") == "stMultiSelect"
        listbox = self.open_dropdown(widget.get_by_role("combobox"))
        choice = self.option(listbox, option)
        choice.first.wait_for()
        before, finished = self.runs(), self._runs_finished()
        choice.first.click()
        if not self._run_started_since(finished) and choice.count():
            # No run within a few seconds and the option is still offered: the click met the list while it
            # was still moving into place and reached no option. Click it once more, as a user would; a
            # click that did register has removed the option (multiselect) or closed the list (selectbox).
            if not self.page.locator(f'[id="{listbox}"]').is_visible():
                choice = self.option(self.open_dropdown(widget.get_by_role("combobox")), option)
            choice.first.click()
        self.settle(before)
        self.quiet()
        if multi:
            self.page.keyboard.press("Escape")

    def option(self, listbox: str, text: str):
        """The options of the open list ``listbox`` whose text starts with ``text``."""
        return self.page.locator(f'[id="{listbox}"] [role="option"]').filter(
            has_text=re.compile(r"^\s*" + re.escape(text)))

    def _runs_finished(self) -> int:
        """Runs this page has seen finish, successfully or not."""
        return self.page.evaluate("window.__stProbe ? window.__stProbe.finishedAll : 0")

    def _run_started_since(self, finished: int, timeout_s: float = 3.0) -> bool:
        """Whether a run started (or already finished) after ``finished`` runs, within ``timeout_s``."""
        try:
            self.page.wait_for_function(
                "(n) => !!window.__stProbe && (window.__stProbe.running || window.__stProbe.finishedAll > n)",
                arg=finished, timeout=timeout_s * 1000, polling=25)
            return True
        except PlaywrightTimeout:  # nothing started
            return False

    def open_dropdown(self, box) -> str:
        """Open a combobox's list like a user (a click; the arrow key when the click only focused it).

        Returns the id of the listbox it opened.
        """
        handle = box.element_handle()
        box.click()
        for key in ("ArrowDown", "Alt+ArrowDown", None):
            try:
                self.page.wait_for_function(EXPANDED_JS, arg=handle, timeout=1500, polling=20)
                break
            except Exception:
                if key is None:
                    raise
                box.press(key)
        return box.get_attribute("aria-controls")

    def selected(self, label: str) -> list[str]:
        """Texts of the chosen tags of a sidebar multiselect."""
        tags = self.sidebar_widget(label).locator('[data-tag] [title]')
        return [t.strip() for t in tags.all_inner_texts()]

    # -- pictures ---------------------------------------------------------------------------

    def screenshot(self, name: str) -> Path:
        """The whole page (the app scrolls inside its main area, so grow the viewport to fit)."""
        size = self.page.viewport_size
        height = self.page.evaluate(
            """() => { const m = document.querySelector('[data-testid="stMain"]');
                       return m ? m.scrollHeight : document.body.scrollHeight; }""")
        self.page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), 9000))})
        self.page.wait_for_timeout(400)  # let charts re-lay out at the new size
        path = self.screenshot_dir / f"{name}.png"
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path
