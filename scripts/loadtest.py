#!/usr/bin/env python3
"""Load test: N concurrent sessions change sidebar filters on a running dashboard.

Two kinds of session, mixed (``--browser-sessions K`` of the N are browsers, default 2):

* **Real browsers**: headless Debian chromium pages (Playwright for Python, never a downloaded
  browser), each in its own browser context (own cookies, so its own sticky replica behind nginx,
  and its own Streamlit session). They click the sidebar like a user: open a multiselect or
  selectbox, pick an option that leaves trials (or remove a chosen one).
* **Websocket clients**: Streamlit's own protocol on ``/_stcore/stream`` (see :class:`WsSession`),
  sending the same ``rerun_script`` message with the same widget values the frontend sends.
  On a 2-core machine 30 chromium pages saturate the CPU by themselves (load average ~29 in a
  trial), so they would measure the load robot, not the server; in real use each browser renders
  on its visitor's own machine. The websocket clients put the same load on the server for a
  fraction of the CPU, and the few real browsers measure what a user sees end to end.

For ``--duration`` seconds every session repeatedly changes one filter, waits until the app has
re-run, records the time, and pauses for a think time. It reports errors and the 50th/95th
percentiles, overall and per kind of session.

What "filter change to updated metric" means
    Websocket clients: from sending the rerun to receiving that run's ``script_finished``
    (every element of the run, including the metrics, has arrived by then).
    Browsers: a script injected before the app loads (:data:`PROBE_JS`) watches the app's own
    websocket (``script_finished``, ForwardMsg field 6; ``session_status_changed``, field 9), the
    frontend's run state on the ``stApp`` element and DOM changes. The time runs from the pointer
    press on the option to the last DOM change once the run is applied (the page then stays still
    for 150 ms), in the page's own clock. Nothing is inferred from the metric's text, so a change
    that leaves the pooled effect equal (or empties the set) is timed the same way.

Errors counted
    an exception element in the run, no finished run within ``--timeout`` seconds, an uncaught
    page error, a closed websocket, a JavaScript dialog, a failed session, and the same view (URL
    query string) showing different "Pooled effect" values in two sessions (which, behind nginx,
    may be two replicas); with ``--replica`` also replicas disagreeing on a view. A browser click that
    left the sidebar's values unchanged and started no run within :data:`SWALLOW_S` is reported as a
    click the page ignored and clicked again once (timed from the first click), as a user would.

Server time
    With ``--server-log FILE`` (the server's stderr/stdout, repeatable for replicas) the script also
    reads the per-rerun lines the app logs on logger ``peer_dashboard.perf`` during the run and
    reports server time percentiles per log (replica) and page, and how many reruns each served.

Everything stays on loopback (other hosts are refused); every loop is bounded by ``--duration``
and ``--timeout``.

Usage::

    .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:8501 --sessions 30 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

CHROMIUM = "/usr/bin/chromium"
#: The flags the team runs Debian chromium with, plus the ones that stop chromium from throttling
#: timers in pages it thinks are in the background (every page here is "in the background").
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOAD_ARGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows", "--disable-dev-shm-usage"]
METRIC_LABEL = "Pooled effect"

#: Injected into every page before the app's own scripts (see the module docstring). It parses
#: only the top level of each ForwardMsg (and the one nested field of SessionStatus), so it does
#: not depend on the rest of Streamlit's protocol.
PROBE_JS = r"""
(() => {
  if (window.__stProbe) return;
  const probe = window.__stProbe = {
    finishedOk: 0, finishedAll: 0, lastStatus: null, running: false, state: null,
    finishedAt: 0, idleAt: 0, renderedAt: 0, pointerdownAt: 0, opened: 0, closed: 0, mutatedAt: 0,
  };
  // When the page last changed at all (lazily loaded widgets can paint after the run is applied).
  new MutationObserver(() => { probe.mutatedAt = performance.now(); })
    .observe(document, {subtree: true, childList: true, characterData: true});
  document.addEventListener('pointerdown', () => { probe.pointerdownAt = performance.now(); }, true);
  // The frontend's own run state, rendered on the stApp element once it has applied a run's messages.
  new MutationObserver((records) => {
    for (const r of records) {
      const state = r.target.getAttribute('data-test-script-state');
      if (state === probe.state) continue;
      probe.state = state;
      if (state === 'notRunning') {
        const at = probe.idleAt = performance.now();
        requestAnimationFrame(() => requestAnimationFrame(() => {
          if (probe.idleAt === at) probe.renderedAt = performance.now();
        }));
      }
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
  const varint = (b, i) => {
    let r = 0, m = 1, x;
    do { x = b[i++]; r += (x & 0x7f) * m; m *= 128; } while ((x & 0x80) && i < b.length);
    return [r, i];
  };
  function* fields(b) {
    let i = 0;
    while (i < b.length) {
      let tag; [tag, i] = varint(b, i);
      const f = Math.floor(tag / 8), w = tag & 7;
      if (w === 0) { let v; [v, i] = varint(b, i); yield [f, v]; }
      else if (w === 2) { let n; [n, i] = varint(b, i); yield [f, b.subarray(i, i + n)]; i += n; }
      else if (w === 1) { i += 8; } else if (w === 5) { i += 4; } else { return; }
    }
  }
  const onMessage = (buffer) => {
    for (const [f, v] of fields(new Uint8Array(buffer))) {
      if (f === 6) {                      // ForwardMsg.script_finished
        probe.finishedAll++; probe.lastStatus = v; probe.finishedAt = performance.now();
        if (v === 0 || v === 3) probe.finishedOk++;   // FINISHED_SUCCESSFULLY, ..._FRAGMENT_RUN_SUCCESSFULLY
      } else if (f === 9 && typeof v !== 'number') {   // ForwardMsg.session_status_changed
        let running = false;
        for (const [g, x] of fields(v)) if (g === 2) running = x === 1;   // script_is_running
        probe.running = running;
      }
    }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      probe.opened++;
      this.addEventListener('message', (ev) => {
        if (ev.data instanceof ArrayBuffer) onMessage(ev.data);
        else if (ev.data instanceof Blob) ev.data.arrayBuffer().then(onMessage);
      });
      this.addEventListener('close', () => { probe.closed++; });
    }
  };
})();
"""

#: JavaScript predicate: the page has not changed for ``quiet_ms`` milliseconds.
QUIET_JS = "(quiet_ms) => !!window.__stProbe && performance.now() - window.__stProbe.mutatedAt > quiet_ms"

#: JavaScript predicate: a successful run finished after ``before`` (seen on the websocket), the
#: frontend has applied it (stApp's run state is back to notRunning) and painted the result.
SETTLED_JS = """(before) => {
  const p = window.__stProbe;
  return !!p && p.finishedOk > before && !p.running && p.state === 'notRunning'
    && ((p.idleAt >= p.finishedAt && p.renderedAt >= p.idleAt)
        // A run answered from cache can finish within one frame: the frontend never shows it running,
        // so no notRunning transition follows. Settled once it stayed idle for 250 ms after the finish.
        || performance.now() - p.finishedAt > 250);
}"""

#: The per-rerun line the app logs on logger ``peer_dashboard.perf`` (pages/_shared.py PerfTimer):
#: ``<time> peer_dashboard.perf page=<page title> server_ms=<milliseconds>``.
PERF_LINE = re.compile(r"peer_dashboard\.perf\b.*?(?:page=(?P<page>.*?)\s+)?server_ms=(?P<ms>\d+(?:\.\d+)?)")


@dataclass
class SessionResult:
    """What one browser session saw."""

    index: int
    kind: str = "websocket"
    latencies: list[float] = field(default_factory=list)   # seconds, change -> updated
    errors: list[str] = field(default_factory=list)
    views: dict[str, set[str]] = field(default_factory=dict)   # query string -> pooled effect texts
    console_errors: int = 0
    click_failures: list[str] = field(default_factory=list)  # the load robot's own misclicks
    swallowed: list[str] = field(default_factory=list)  # clicks the page ignored (retried once)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def canonical_view(url: str) -> str:
    """The URL's path and sorted query string, so two sessions' equal views compare equal."""
    parts = urlsplit(url)
    return f"{parts.path}?{urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))}"


def check_loopback(url: str) -> None:
    """Refuse any target that is not on this machine."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to load-test {url!r}: only loopback hosts (127.0.0.0/8, ::1, localhost)")


async def settle(page, before: int, timeout_s: float) -> None:
    """Wait until a successful script run finished after ``before`` and the app is idle."""
    await page.wait_for_function(SETTLED_JS, arg=before, timeout=timeout_s * 1000, polling=20)


async def quiet(page, quiet_ms: int, timeout_s: float) -> None:
    """Wait until the page has not changed for ``quiet_ms`` (lazily loaded widgets paint late)."""
    await page.wait_for_function(QUIET_JS, arg=quiet_ms, timeout=timeout_s * 1000, polling=25)


async def stable_metrics(page, timeout_s: float) -> dict[str, str]:
    """The metrics once a freshly opened page has finished its lazy painting.

    After the first run is applied, charts and tables of a new page keep painting for seconds
    (their code loads on first use); read only when no request is pending, the page has been still
    for 300 ms, and two reads half a second apart agree.
    """
    deadline = time.monotonic() + timeout_s
    previous = None
    while time.monotonic() < deadline:
        await page.wait_for_load_state("networkidle")
        await quiet(page, 300, max(deadline - time.monotonic(), 0.1))
        current = await headline_metrics(page)
        if current == previous:
            return current
        previous = current
        await asyncio.sleep(0.5)
    return previous or {}


async def metric_text(page, label: str = METRIC_LABEL) -> str | None:
    """The value text of the ``st.metric`` labelled ``label`` (None when the page shows none)."""
    return (await headline_metrics(page)).get(label)


async def headline_metrics(page) -> dict[str, str]:
    """Every ``st.metric`` in the main area as {label: value text}."""
    pairs = await page.eval_on_selector_all(
        '[data-testid="stMain"] [data-testid="stMetric"]',
        """els => els.map(e => [
            (e.querySelector('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]')?.textContent || '').trim(),
            (e.querySelector('[data-testid="stMetricValue"]')?.textContent || '').trim()])""")
    found: dict[str, str] = {}
    for label, value in pairs:
        found.setdefault(label, value)
    return found


async def compare_replicas(browser, replicas: list[str], views: list[str], timeout_s: float) -> tuple[list[str], list[dict]]:
    """Open each view on each replica directly (fresh session) and compare all metrics shown."""
    errors, table = [], []
    for view in views:
        seen = {}
        for base in replicas:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.add_init_script(PROBE_JS)
            page = await context.new_page()
            try:
                await page.goto(base.rstrip("/") + view, wait_until="domcontentloaded", timeout=timeout_s * 1000)
                await settle(page, 0, timeout_s)
                seen[base] = await stable_metrics(page, timeout_s)
            except Exception as exc:
                errors.append(f"replica {base} failed on {view}: {type(exc).__name__}: {str(exc)[:150]}")
            finally:
                await context.close()
        values = list(seen.values())
        same = bool(values) and all(v == values[0] for v in values) and len(values) == len(replicas)
        table.append({"view": view, "same": same, "pooled_effect": {b: m.get(METRIC_LABEL) for b, m in seen.items()}})
        if not same:
            errors.append(f"replicas disagree on {view}: {seen}")
    return errors, table


async def sidebar_comboboxes(page) -> list[str]:
    """Accessible names (widget labels) of the sidebar multiselects and selectboxes."""
    boxes = page.locator('[data-testid="stSidebar"] [role="combobox"]')
    names = []
    for i in range(await boxes.count()):
        name = await boxes.nth(i).get_attribute("aria-label")
        if name:
            names.append(name)
    return names


#: The sidebar's chosen values: every chip's remove label and every selectbox's shown value. A click
#: that changed nothing here had no effect in the page (see :data:`SWALLOW_S`).
FILTER_STATE_JS = """() => {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (!bar) return '';
  const chips = [...bar.querySelectorAll('button[aria-label^="Remove "]')].map(b => b.getAttribute('aria-label'));
  const boxes = [...bar.querySelectorAll('[data-testid="stSelectbox"] input')].map(i => i.value);
  return JSON.stringify([chips, boxes]);
}"""

#: Seconds after which a click that left the sidebar's values unchanged and started no run counts as
#: swallowed by the page (the frontend shows a new choice at once, before the server answers, so a
#: second is ample even under load). Streamlit's multiselect scrolls its chips when it takes focus, so a
#: click on a chip's × right after picking in the same box can land beside it (the mousedown moves the
#: chip); a user clicks again, and so does the robot, once, timing from the first click.
SWALLOW_S = 1.0


EXPANDED_JS = "(el) => el.getAttribute('aria-expanded') === 'true' && !!el.getAttribute('aria-controls')"


async def open_dropdown(page, box) -> str:
    """Open a combobox's option list like a user (click; the arrow key if a click only focused it).

    Returns the id of the listbox it opened, so only *its* options are read.
    """
    handle = await box.element_handle()
    await box.click()
    for key in ("ArrowDown", "Alt+ArrowDown"):
        try:
            await page.wait_for_function(EXPANDED_JS, arg=handle, timeout=1500, polling=20)
            break
        except Exception:
            await box.press(key)
    await page.wait_for_function(EXPANDED_JS, arg=handle, timeout=5000, polling=20)
    return await box.get_attribute("aria-controls")


#: The app's option text ends with how many trials the choice would leave: "Online (4 trials)".
TRIAL_COUNT = re.compile(r"\((\d+) trials?\)\s*$")


async def change_one_filter(page, rng: random.Random, labels: list[str], max_tags: int,
                            widen: bool = False) -> str | None:
    """Click one filter change in the sidebar; return a description, or None if nothing to click.

    Like a user reading the counts: multiselects get one more choice that leaves trials (until they
    hold ``max_tags``), or lose one; selectboxes switch to another option that leaves trials. With
    ``widen`` (the page shows no pooled effect) a chosen filter value is removed first if any.
    """
    sidebar = page.locator('[data-testid="stSidebar"]')
    order = rng.sample(labels, len(labels))
    if widen:
        tagged = []
        for label in order:
            widget = sidebar.locator('[data-testid="stMultiSelect"]').filter(
                has=page.get_by_role("combobox", name=label, exact=True))
            if await widget.locator('button[aria-label^="Remove "]').count():
                tagged.append(label)
        order = tagged + [label for label in order if label not in tagged]
        max_tags = 0 if tagged else max_tags
    for label in order:
        box = sidebar.get_by_role("combobox", name=label, exact=True)
        if await box.count() != 1:
            continue
        widget = sidebar.locator('[data-testid="stMultiSelect"], [data-testid="stSelectbox"]').filter(
            has=page.get_by_role("combobox", name=label, exact=True))
        is_multi = await widget.first.get_attribute("data-testid") == "stMultiSelect"
        remove = widget.locator('button[aria-label^="Remove "]')
        n_tags = await remove.count()
        if is_multi and n_tags and (n_tags >= max_tags or rng.random() < 0.4):
            target = remove.nth(rng.randrange(n_tags))
            what = await target.get_attribute("aria-label")
            await target.click()
            return f"{label}: {what}"
        listbox = await open_dropdown(page, box)
        options = page.locator(f'[id="{listbox}"] [role="option"]')
        await options.first.wait_for(timeout=5000)
        texts = [t.strip() for t in await options.all_inner_texts()]
        # The open list marks the current choice; picking it again would start no run to wait for.
        selected = await options.evaluate_all("els => els.map(e => e.getAttribute('aria-selected') === 'true')")
        current = await box.input_value() if not is_multi else None
        choices = [i for i, t in enumerate(texts)
                   if t and t != "Select all" and t != current and not (not is_multi and selected[i])]
        counts = {i: TRIAL_COUNT.search(texts[i]) for i in choices}
        with_trials = [i for i in choices if counts[i] and int(counts[i].group(1)) > 0]
        if any(counts.values()):
            choices = with_trials
        if not choices:
            await page.keyboard.press("Escape")
            continue
        pick = rng.choice(choices)
        await options.nth(pick).click()
        if is_multi:
            await page.keyboard.press("Escape")
        return f"{label}: {texts[pick]}"
    return None


async def run_session(index: int, context, args, deadline: float, start_url: str) -> SessionResult:
    """One user: open the app, then change filters until ``deadline`` (monotonic seconds)."""
    result = SessionResult(index)
    rng = random.Random(args.seed * 1000 + index)
    page = await context.new_page()
    page.on("pageerror", lambda exc: result.errors.append(f"page error: {exc}"))
    page.on("dialog", lambda d: (result.errors.append(f"dialog: {d.type} {d.message!r}"),
                                 asyncio.ensure_future(d.dismiss())))
    page.on("console", lambda m: setattr(result, "console_errors", result.console_errors + (m.type == "error")))
    try:
        await page.goto(start_url, wait_until="domcontentloaded", timeout=args.timeout * 1000)
        await settle(page, 0, args.timeout)
        # Widget code is loaded lazily on first use, so the first paint can lag the first run.
        await page.locator('[data-testid="stSidebar"] [role="combobox"]').first.wait_for(
            timeout=args.timeout * 1000)
        await quiet(page, 300, args.timeout)
        labels = await sidebar_comboboxes(page)
        value = await metric_text(page)
        if args.filters:
            labels = [label for label in labels if label in args.filters]
        if not labels:
            result.errors.append("no sidebar multiselect/selectbox to click")
            return result
        while time.monotonic() < deadline:
            before = await page.evaluate("window.__stProbe.finishedOk")
            runs_before = await page.evaluate("window.__stProbe.finishedAll")
            filters_before = await page.evaluate(FILTER_STATE_JS)
            t0 = time.perf_counter()
            try:
                what = await change_one_filter(page, rng, labels, args.max_tags, widen=value is None)
            except Exception as exc:  # the robot failed to click; the app did nothing wrong (yet)
                result.click_failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
                await page.keyboard.press("Escape")
                if len(result.click_failures) > 10:
                    result.errors.append(f"gave up after {len(result.click_failures)} failed clicks")
                    break
                continue
            if what is None:
                result.errors.append("no filter choice could be clicked")
                break
            retried = False
            try:
                await settle(page, before, min(SWALLOW_S, args.timeout))
            except Exception:
                probe = await page.evaluate("({...window.__stProbe})")
                ignored = (not probe["running"] and probe["finishedAll"] == runs_before
                           and await page.evaluate(FILTER_STATE_JS) == filters_before)
                if ignored:  # the click changed nothing: click again, as a user would
                    result.swallowed.append(what)
                    retried = True
                    try:
                        again = await change_one_filter(page, rng, labels, args.max_tags, widen=value is None)
                    except Exception as exc:
                        again = None
                        result.click_failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
                    what = f"{what}, then {again or 'no second click'}"
            try:
                if not (await page.evaluate(SETTLED_JS, before)):
                    await settle(page, before, args.timeout)
            except Exception:
                state = await page.evaluate("({...window.__stProbe})")
                result.errors.append(f"no updated page within {args.timeout}s after '{what}' "
                                     f"(runs finished ok before/now {before}/{state['finishedOk']}, "
                                     f"all {state['finishedAll']}, last status {state['lastStatus']}, "
                                     f"running {state['running']}, frontend {state['state']})")
                if args.shots:
                    args.shots.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(args.shots / f"timeout-session{index}-{int(time.time())}.png"),
                                          full_page=True)
                continue
            try:  # fully painted: nothing changed for 150 ms (bounded; an animation may never stop)
                await quiet(page, 150, 5)
            except Exception:
                pass
            wall = time.perf_counter() - t0
            probe = await page.evaluate("({...window.__stProbe})")
            shown = probe["renderedAt"] if probe["renderedAt"] >= probe["finishedAt"] else probe["finishedAt"]
            painted = max(shown, min(probe["mutatedAt"], shown + 5000))
            in_page = (painted - probe["pointerdownAt"]) / 1000.0
            # The in-page clock is exact; fall back to the wall clock if the press went unseen. After a
            # retried click the wall clock from the first click is what the user waited.
            result.latencies.append(wall if retried else in_page if 0 < in_page <= wall + 0.05 else wall)
            if probe["closed"]:
                result.errors.append("websocket closed")
                break
            exceptions = page.locator('[data-testid="stException"]')
            if await exceptions.count():
                text = (await exceptions.first.inner_text())[:200].replace("\n", " ")
                result.errors.append(f"exception box after '{what}': {text}")
            value = await metric_text(page)
            result.views.setdefault(canonical_view(page.url), set()).add(value or "(no metric)")
            await asyncio.sleep(rng.uniform(*args.think))
    except Exception as exc:  # one broken session is reported, not fatal to the run
        result.errors.append(f"session failed: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        await page.close()
    return result


# ---------------------------------------------------------------------------------------------
# Websocket sessions: Streamlit's own protocol, without a browser

@dataclass
class WsView:
    """What one script run of a websocket session produced."""

    widgets: dict[str, object] = field(default_factory=dict)   # widget id -> MultiSelect/Selectbox proto
    metrics: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)


class WsSession:
    """One app session spoken to over ``/_stcore/stream`` the way the frontend does.

    It sends ``rerun_script`` BackMsgs carrying the query string, the page and the *whole* widget
    state (as the browser does: every widget's current value, with one changed), and reads
    ForwardMsgs until ``script_finished``. Multiselect and selectbox values are their formatted
    option strings, as Streamlit's frontend sends them. Only those two widget types are driven;
    others are left to their server-side state.
    """

    def __init__(self, ws, timeout_s: float):
        self.ws = ws
        self.timeout_s = timeout_s
        self.page_script_hash = ""
        self.query_string = ""
        self.values: dict[str, object] = {}     # widget id -> list[str] | str
        self.view = WsView()

    async def rerun(self, changed: dict[str, object] | None = None) -> WsView:
        """Send a rerun (with ``changed`` widget values on top of the current ones) and read the run."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        values = {**self.values, **(changed or {})}
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        for widget_id, value in values.items():
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            if isinstance(value, list):
                widget.string_array_value.data.extend(value)
            else:
                widget.string_value = value
        await self.ws.send(msg.SerializeToString())
        return await self._read_run()

    async def _read_run(self) -> WsView:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        view = WsView()
        deadline = time.monotonic() + self.timeout_s
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=max(deadline - time.monotonic(), 0.01))
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_script_hash = msg.new_session.page_script_hash
            elif kind == "page_info_changed":
                self.query_string = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which in ("multiselect", "selectbox"):
                    widget = getattr(element, which)
                    view.widgets[widget.id] = widget
                    self.values[widget.id] = self._value_of(widget)
                elif which == "metric":
                    view.metrics.setdefault(element.metric.label, element.metric.body)
                elif which == "exception":
                    view.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:200])
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    view.exceptions.append("script compile error")
                if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    # Forget widgets this run did not draw, as the frontend does.
                    self.values = {k: v for k, v in self.values.items() if k in view.widgets}
                    self.view = view
                    return view

    def _value_of(self, widget) -> object:
        """The widget's value as the frontend would hold it after this run."""
        multi = hasattr(widget, "raw_values")
        if widget.set_value:
            return list(widget.raw_values) if multi else widget.raw_value
        if widget.id in self.values:
            return self.values[widget.id]
        if multi:
            return [widget.options[i] for i in widget.default if i < len(widget.options)]
        if widget.HasField("default") and 0 <= widget.default < len(widget.options):
            return widget.options[widget.default]
        return ""


def ws_change(session: WsSession, rng: random.Random, max_tags: int, widen: bool) -> tuple[str, dict] | None:
    """One filter change as a user would make it (see :func:`change_one_filter`)."""
    widgets = list(session.view.widgets.values())
    rng.shuffle(widgets)
    if widen:
        widgets.sort(key=lambda w: not (hasattr(w, "raw_values") and session.values.get(w.id)))
    for widget in widgets:
        multi = hasattr(widget, "raw_values")
        current = session.values.get(widget.id)
        if multi and current and (widen or len(current) >= max_tags or rng.random() < 0.4):
            drop = rng.choice(current)
            return f"{widget.label}: remove {drop}", {widget.id: [v for v in current if v != drop]}
        if widen and multi:
            continue
        options = [o for o in widget.options if o != current and (not multi or o not in current)]
        counted = [o for o in options if TRIAL_COUNT.search(o)]
        if counted:
            options = [o for o in counted if int(TRIAL_COUNT.search(o).group(1)) > 0]
        if not options:
            continue
        pick = rng.choice(options)
        return f"{widget.label}: {pick}", {widget.id: (current or []) + [pick] if multi else pick}
    return None


async def run_ws_session(index: int, args, deadline: float) -> SessionResult:
    """One user over the websocket: first run from the link, then filter changes until ``deadline``."""
    import websockets

    result = SessionResult(index)
    rng = random.Random(args.seed * 1000 + index)
    parts = urlsplit(args.url)
    uri = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
    try:
        async with websockets.connect(uri, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=args.timeout, ping_interval=None) as ws:
            session = WsSession(ws, args.timeout)
            session.query_string = args.query
            view = await session.rerun()
            while time.monotonic() < deadline:
                change = ws_change(session, rng, args.max_tags, widen="Pooled effect" not in view.metrics)
                if change is None:
                    result.errors.append("no filter choice to change")
                    break
                what, values = change
                t0 = time.perf_counter()
                try:
                    view = await session.rerun(values)
                except asyncio.TimeoutError:
                    result.errors.append(f"no finished run within {args.timeout}s after '{what}'")
                    break
                result.latencies.append(time.perf_counter() - t0)
                if view.exceptions:
                    result.errors.append(f"exception after '{what}': {view.exceptions[0]}")
                key = canonical_view(f"/?{session.query_string}")
                result.views.setdefault(key, set()).add(view.metrics.get(METRIC_LABEL, "(no metric)"))
                await asyncio.sleep(rng.uniform(*args.think))
    except Exception as exc:
        result.errors.append(f"session failed: {type(exc).__name__}: {str(exc)[:200]}")
    return result


def read_perf_lines(path: Path, offset: int) -> list[tuple[str, float]]:
    """(page, server ms) of each ``peer_dashboard.perf`` line written after byte ``offset``."""
    runs = []
    with path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            match = PERF_LINE.search(raw.decode("utf-8", "replace"))
            if match:
                runs.append(((match.group("page") or "?").strip(), float(match.group("ms"))))
    return runs


async def run(args) -> dict:
    """Start the sessions (websocket ones and real-browser ones), wait for them, and summarise."""
    from playwright.async_api import async_playwright

    n_browser = min(args.browser_sessions, args.sessions)
    if n_browser and not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    start_url = args.url.rstrip("/") + "/" + (f"?{args.query}" if args.query else "")
    logs = [Path(p) for p in args.server_log]
    offsets = [p.stat().st_size if p.exists() else 0 for p in logs]
    async with async_playwright() as pw:
        n_procs = min(args.browsers, n_browser) if n_browser else (1 if args.replica else 0)
        browsers = [await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + LOAD_ARGS)
                    for _ in range(n_procs)]
        # Browser sessions are spread evenly among the websocket ones (indices 0, N/K, 2N/K, ...).
        browser_ids = {round(i * args.sessions / n_browser) for i in range(n_browser)} if n_browser else set()
        contexts = {}
        for j, i in enumerate(sorted(browser_ids)):
            contexts[i] = await browsers[j % len(browsers)].new_context(viewport={"width": 1280, "height": 900})
            await contexts[i].add_init_script(PROBE_JS)
        started = time.monotonic()
        deadline = started + args.duration
        tasks = []
        for i in range(args.sessions):
            if i in contexts:
                tasks.append(asyncio.create_task(run_session(i, contexts[i], args, deadline, start_url)))
            else:
                tasks.append(asyncio.create_task(run_ws_session(i, args, deadline)))
            await asyncio.sleep(args.ramp / max(args.sessions, 1))   # a short ramp, as users arrive
        # Bounded: every session stops at the deadline; a hung one is cut off after one more timeout.
        done, pending = await asyncio.wait(tasks, timeout=args.duration + args.ramp + 2 * args.timeout + 30)
        for task in pending:
            task.cancel()
        results = sorted((t.result() for t in done if not t.cancelled() and t.exception() is None),
                         key=lambda r: r.index)
        crashed = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
        elapsed = time.monotonic() - started
        views_in_order: list[str] = []
        for r in results:
            views_in_order += [v for v in r.views if v not in views_in_order]
        replica_errors, replica_table = [], []
        if args.replica:
            replica_errors, replica_table = await compare_replicas(
                browsers[0], args.replica, views_in_order[:args.replica_views], args.timeout)
        for browser in browsers:
            await browser.close()
    for r in results:
        r.kind = "browser" if r.index in browser_ids else "websocket"
    errors = [f"session {r.index}: {e}" for r in results for e in r.errors]
    errors += [f"session task did not finish ({len(pending)} cut off)"] if pending else []
    errors += [f"session crashed: {type(e).__name__}: {e}" for e in crashed]
    views: dict[str, set[str]] = {}
    for r in results:
        for query, values in r.views.items():
            views.setdefault(query, set()).update(values)
    inconsistent = {q: sorted(v) for q, v in views.items() if len(v) > 1}
    errors += [f"view {q} showed different pooled effects: {v}" for q, v in inconsistent.items()]
    errors += replica_errors
    latencies = [x for r in results for x in r.latencies]
    by_kind = {}
    for kind in ("websocket", "browser"):
        lat = [x for r in results if r.kind == kind for x in r.latencies]
        by_kind[kind] = {"sessions": sum(r.kind == kind for r in results), "changes": len(lat),
                         "p50_s": round(percentile(lat, 50), 3), "p95_s": round(percentile(lat, 95), 3),
                         "max_s": round(max(lat), 3) if lat else None}
    summary = {
        "url": args.url, "sessions": args.sessions, "browser_sessions": n_browser,
        "browsers": len(browsers), "by_kind": by_kind,
        "duration_s": args.duration, "elapsed_s": round(elapsed, 1),
        "changes": len(latencies), "errors": len(errors), "error_messages": errors[:50],
        "p50_s": round(percentile(latencies, 50), 3), "p95_s": round(percentile(latencies, 95), 3),
        "max_s": round(max(latencies), 3) if latencies else None,
        "mean_s": round(statistics.fmean(latencies), 3) if latencies else None,
        "views": len(views), "inconsistent_views": len(inconsistent),
        "console_errors": sum(r.console_errors for r in results),
        "click_failures": sum(len(r.click_failures) for r in results),
        "click_failure_messages": sorted({m for r in results for m in r.click_failures})[:10],
        "swallowed_clicks": sum(len(r.swallowed) for r in results),
        "swallowed_click_messages": [m for r in results for m in r.swallowed][:10],
        "view_values": {q: sorted(v) for q, v in views.items()},
        "replica_check": replica_table,
    }
    server = {}
    for path, offset in zip(logs, offsets):
        runs = read_perf_lines(path, offset) if path.exists() else []
        times = [ms for _, ms in runs]
        pages = {}
        for name in sorted({page for page, _ in runs}):
            page_times = [ms for page, ms in runs if page == name]
            pages[name] = {"reruns": len(page_times), "p50_ms": round(percentile(page_times, 50), 1),
                           "p95_ms": round(percentile(page_times, 95), 1)}
        server[str(path)] = {"reruns": len(times), "p50_ms": round(percentile(times, 50), 1),
                             "p95_ms": round(percentile(times, 95), 1),
                             "max_ms": round(max(times), 1) if times else None, "pages": pages}
    summary["server_logs"] = server
    return summary


def print_summary(summary: dict) -> None:
    """The human-readable report (the JSON file has every detail)."""
    print(f"target {summary['url']}: {summary['sessions']} sessions ({summary['browser_sessions']} in real "
          f"chromium, the rest websocket clients) for {summary['duration_s']} s (ran {summary['elapsed_s']} s)")
    print(f"filter changes {summary['changes']}, errors {summary['errors']}, "
          f"console errors {summary['console_errors']}, robot click failures {summary['click_failures']}, "
          f"clicks the page ignored (retried) {summary['swallowed_clicks']}")
    print(f"change -> updated metric: p50 {summary['p50_s']:.3f} s, p95 {summary['p95_s']:.3f} s, "
          f"max {summary['max_s']} s")
    for kind, k in summary["by_kind"].items():
        if k["sessions"]:
            print(f"  {kind} sessions {k['sessions']}: {k['changes']} changes, p50 {k['p50_s']:.3f} s, "
                  f"p95 {k['p95_s']:.3f} s, max {k['max_s']} s")
    print(f"views seen {summary['views']}, views with differing pooled effects {summary['inconsistent_views']}")
    for path, s in summary["server_logs"].items():
        print(f"server log {path}: {s['reruns']} perf lines (reruns), server time p50 {s['p50_ms']} ms, "
              f"p95 {s['p95_ms']} ms, max {s['max_ms']} ms")
    for row in summary["replica_check"]:
        print(f"replicas {'agree' if row['same'] else 'DISAGREE'} on {row['view']}: pooled effect {row['pooled_effect']}")
    for message in summary["error_messages"][:20]:
        print("ERROR", message)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501", help="app base URL (loopback only)")
    parser.add_argument("--sessions", type=int, default=30, help="concurrent browser sessions (default 30)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of filter changing (default 60)")
    parser.add_argument("--browser-sessions", type=int, default=2,
                        help="how many of the sessions are real chromium pages (default 2; the others are "
                             "websocket clients). 30 chromium pages saturate a 2-core machine by themselves")
    parser.add_argument("--browsers", type=int, default=1,
                        help="chromium processes the browser sessions are spread over (default 1)")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"),
                        help="pause between a session's changes, uniform in [MIN, MAX] s (default 0.5 1.5)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which sessions arrive")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for one update")
    parser.add_argument("--max-tags", type=int, default=2, help="most choices held by one multiselect")
    parser.add_argument("--filters", nargs="*", default=None, help="only these sidebar widget labels")
    parser.add_argument("--query", default="", help="query string of the URL the sessions open")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-log", action="append", default=[],
                        help="server log file to read peer_dashboard.perf lines from (repeatable)")
    parser.add_argument("--replica", action="append", default=[],
                        help="after the run, open views seen during it on this replica URL directly and "
                             "check every replica shows the same metrics (repeatable)")
    parser.add_argument("--replica-views", type=int, default=5, help="how many views to compare (default 5)")
    parser.add_argument("--json", type=Path, help="write the full summary here")
    parser.add_argument("--shots", type=Path, help="save a screenshot of a browser page that timed out here")
    args = parser.parse_args(argv)
    for url in [args.url, *args.replica]:
        check_loopback(url)
    if args.sessions < 1 or args.browsers < 1 or args.duration <= 0:
        parser.error("--sessions, --browsers and --duration must be positive")
    args.browsers = min(args.browsers, args.sessions)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(run(args))
    print_summary(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
