"""AppTest of the dashboard, always from the entry script: every page loads, metrics equal stats.pool on
the same subset, the k = 0 and k = 1 states, and the URL round trip."""

from __future__ import annotations

import logging
import math
import re

import pytest

import stats
from evidence import FilterSpec, effects
from evidence import query
from evidence.store import connection
from evidence.core.filters import CATEGORICAL_FIELDS

from app_helpers import PAGES, has_metric, metric, run_app

HEADLINE = ("Pooled effect", "95% CI", "Prediction interval", "I²", "τ²", "Studies (k)", "Participants")
OUTCOME = "depression"
EXPLORE = PAGES["Explore"]  # the landing page is the Overview; these tests read Explore


def _expected(spec: FilterSpec, method: str = "REML", hk: bool = False) -> dict[str, str]:
    """What the headline metrics must show, computed independently: evidence.effects + stats.pool."""
    eff = effects(spec)
    p = stats.pool(eff["yi"].to_numpy(float), eff["vi"].to_numpy(float), method=method, hartung_knapp=hk)
    ratio = eff["effect_measure"].iat[0] in ("logRR", "logOR")
    conv = math.exp if ratio else (lambda v: v)
    return {
        "Pooled effect": f"{conv(p.estimate):.2f}",
        "95% CI": f"{conv(p.ci_low):.2f} to {conv(p.ci_high):.2f}",
        "Prediction interval": (f"{conv(p.pi_low):.2f} to {conv(p.pi_high):.2f}"
                                if math.isfinite(p.pi_low) else "needs k ≥ 3"),
        "I²": f"{p.i2:.0f}%",
        "τ²": f"{p.tau2:.3f}",
        "Studies (k)": str(p.k),
    }


def _assert_metrics(at, expected: dict[str, str]) -> None:
    shown = {label: metric(at, label) for label in expected}
    assert shown == expected


def _counts(field: str, spec: FilterSpec) -> dict[str, int]:
    df = query.choice_counts(spec, field, connection.shared_connection())
    return dict(zip(df["value"], df["n_studies"]))


def _filter_with(lo: int, hi: int, **fixed) -> tuple[str, str]:
    """A (field, value) of the real data leaving between ``lo`` and ``hi`` poolable depression trials
    (inclusive; with the ``fixed`` filters too), fewer than all of them (so the filter really changes the set)."""
    base = FilterSpec(outcome=OUTCOME, **fixed)
    total = len(effects(base))
    for field in CATEGORICAL_FIELDS:
        for value, count in sorted(_counts(field, base).items()):
            if count < lo:
                continue
            k = len(effects(FilterSpec(outcome=OUTCOME, **fixed, **{field: (value,)})))
            if lo <= k <= hi and k < total:
                return field, value
    raise AssertionError(f"no single filter leaves {lo}-{hi} poolable trials in the shipped data")


def _empty_filter() -> tuple[str, str]:
    """A (field, value) from the controlled lists that no depression trial has."""
    from evidence.core.filters import vocabulary

    base = FilterSpec(outcome=OUTCOME)
    vocab = vocabulary()
    for field in CATEGORICAL_FIELDS:
        counts = _counts(field, base)
        for value in vocab.get(field, ()):
            if counts.get(value, 0) == 0:
                return field, value
    raise AssertionError("every controlled value occurs among depression trials")


# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def perf_lines():
    """Messages of the ``peer_dashboard.perf`` logger during the test."""
    records: list[str] = []

    class _Grab(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("peer_dashboard.perf")
    handler = _Grab(level=logging.INFO)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.mark.parametrize("title, path", list(PAGES.items()), ids=list(PAGES))
def test_every_page_loads_without_exceptions(title, path, perf_lines):
    at = run_app({"outcome": OUTCOME}, page=path)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value.split(":")[0] in (title, "About this dashboard")
    # The page ran through the entry script (page config, sidebar, navigation), which logs it by title.
    assert perf_lines and perf_lines[-1].startswith(f"page={title} server_ms=")
    assert at.sidebar.selectbox(key="flt_outcome").value == OUTCOME


def test_explore_shows_the_seven_headline_metrics_equal_to_stats_pool():
    at = run_app({"outcome": OUTCOME}, page=EXPLORE)
    assert not at.exception
    for label in HEADLINE:
        assert has_metric(at, label), label
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME)))


def test_changing_a_filter_changes_metrics_to_stats_pool_on_the_subset():
    field, value = _filter_with(3, 1000)
    before = run_app({"outcome": OUTCOME}, page=EXPLORE)
    after = run_app({"outcome": OUTCOME, field: value}, page=EXPLORE)
    spec = FilterSpec(outcome=OUTCOME, **{field: (value,)})
    expected = _expected(spec)
    _assert_metrics(after, expected)
    assert metric(before, "Studies (k)") != metric(after, "Studies (k)")


def test_filter_set_through_session_state_is_applied():
    field, value = _filter_with(3, 1000)
    at = run_app(state={f"flt_{field}": [value], "flt_outcome": OUTCOME, "_url_read": True}, page=EXPLORE)
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME, **{field: (value,)})))


@pytest.mark.parametrize("method, hk", [("DL", True), ("FE", False), ("PM", True)])
def test_estimator_and_hartung_knapp_from_the_url(method, hk):
    at = run_app({"outcome": OUTCOME, "method": method, "hk": "1" if hk else "0"}, page=EXPLORE)
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME), method, hk))
    assert at.session_state["opt_method"] == method and at.session_state["opt_hk"] is hk


def test_k0_names_the_filter_and_offers_to_widen_it():
    field, value = _empty_filter()
    at = run_app({"outcome": OUTCOME, field: value}, page=EXPLORE)
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "k = 0" in text
    from pages._shared import FIELD_LABELS

    assert FIELD_LABELS[field] in text
    assert not has_metric(at, "Pooled effect")
    widen = [b for b in at.button if b.key == f"btn_widen_{field}"]
    assert widen, [b.key for b in at.button]
    # The widen callback clears exactly that filter.
    widen[0].click()
    at.run()
    assert at.session_state[f"flt_{field}"] == []


def test_k1_shows_the_single_study_without_pooling():
    field, value = _filter_with(1, 1)
    at = run_app({"outcome": OUTCOME, field: value}, page=EXPLORE)
    assert not at.exception
    assert metric(at, "Studies (k)") == "1"
    assert not has_metric(at, "Pooled effect") and not has_metric(at, "I²")
    assert any("Only one study matches" in i.value for i in at.info)


def test_k_below_5_warns():
    field, value = _filter_with(2, 4)
    at = run_app({"outcome": OUTCOME, field: value}, page=EXPLORE)
    assert not at.exception
    assert int(metric(at, "Studies (k)")) < 5
    assert any("unreliable" in w.value for w in at.warning)


def test_url_round_trip_restores_the_exact_view():
    field, value = _filter_with(3, 1000, year=(2000, 2020))
    params = {"outcome": OUTCOME, field: value, "method": "DL", "hk": "1", "year": "2000,2020"}
    at = run_app(params, page=EXPLORE)
    assert not at.exception
    written = {k: at.query_params[k] for k in at.query_params}
    flat = {k: (v[0] if isinstance(v, list) else v) for k, v in written.items()}
    for key, value_ in params.items():
        assert flat[key] == value_, (key, flat)
    assert flat["version"] == query.metadata()["dataset_version"]
    # Opening the written link again gives the same numbers.
    again = run_app(flat, page=EXPLORE)
    assert [(m.label, m.value) for m in again.metric] == [(m.label, m.value) for m in at.metric]
    spec = FilterSpec(outcome=OUTCOME, year=(2000, 2020), **{field: (value,)})
    _assert_metrics(again, _expected(spec, "DL", True))


def test_unknown_url_values_are_ignored_with_a_visible_notice():
    at = run_app({"outcome": OUTCOME, "population": "martians", "method": "BOGUS", "colour": "red"}, page=EXPLORE)
    assert not at.exception
    notice = " ".join(i.value for i in at.info)
    assert "martians" in notice and "BOGUS" in notice and "colour" in notice
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME)))


def test_excluding_studies_via_url_recomputes():
    eff = effects(FilterSpec(outcome=OUTCOME))
    drop = tuple(eff["study_id"].iloc[:2])
    at = run_app({"outcome": OUTCOME, "exclude_studies": ",".join(drop)}, page=EXPLORE)
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME, exclude_studies=drop)))


def test_each_rerun_logs_page_and_server_time(perf_lines):
    run_app({"outcome": OUTCOME}, page=EXPLORE)
    assert perf_lines and perf_lines[-1].startswith("page=Explore server_ms=")
    m = re.fullmatch(r"page=Explore server_ms=([\d.]+) queued_ms=([\d.]+) cpu_ms=([\d.]+)", perf_lines[-1])
    assert m, perf_lines[-1]
    server, queued, cpu = (float(g) for g in m.groups())
    assert server > 0 and 0 <= queued <= server  # the wait for a run slot is part of the server time
    assert 0 < cpu


def _outcome_with(measure: str, k_max: int) -> str:
    """An outcome of the shipped data analysed on ``measure`` with at most ``k_max`` trials."""
    from evidence import analyse

    for outcome, n in sorted(_counts("outcome", FilterSpec()).items()):
        try:
            a = analyse(FilterSpec(outcome=outcome))
        except Exception:
            continue
        if a.effect_measure == measure and 2 <= a.k <= k_max:
            return outcome
    raise AssertionError(f"no outcome analysed as {measure} with 2-{k_max} trials")


@pytest.mark.parametrize("path", list(PAGES.values()), ids=list(PAGES))
def test_every_page_handles_a_small_ratio_analysis(path):
    outcome = _outcome_with("logRR", 4)
    at = run_app({"outcome": outcome}, page=path)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("path", list(PAGES.values()), ids=list(PAGES))
def test_every_page_handles_k0(path):
    field, value = _empty_filter()
    at = run_app({"outcome": OUTCOME, field: value}, page=path)
    assert not at.exception, [e.value for e in at.exception]
    if path == PAGES["Overview"]:  # every outcome: the filter empties depression, not necessarily the others
        shown = at.dataframe[0].value["Outcome"].tolist() if at.dataframe else []
        assert "Depression" not in shown
    elif path not in ("pages/data.py", "pages/about.py", "pages/reviews.py"):
        assert any("k = 0" in w.value for w in at.warning)


def test_ratio_metrics_are_on_the_ratio_scale():
    outcome = _outcome_with("logRR", 50)
    at = run_app({"outcome": outcome}, page=EXPLORE)
    _assert_metrics(at, _expected(FilterSpec(outcome=outcome)))


def test_user_text_is_made_inert_for_markdown():
    from pages._shared import md_escape

    raw = "![img](http://example.org/x.png) [link](http://e) *bold* <b>tag</b> O_Brien 2019"
    escaped = md_escape(raw)
    # Every Markdown control character is backslash-escaped, so nothing becomes a link, image or emphasis.
    for ch in "![]()*<>_":
        assert f"\\{ch}" in escaped
    # Bare addresses are broken by an invisible word joiner (GFM links them even when escaped).
    assert "http://" not in escaped and "http\u2060://" in escaped.replace("\\", "")
    assert md_escape("mail me@example.org").count("@\u2060") == 1
    assert escaped.replace("\\", "").replace("\u2060", "") == raw


def test_a_vs_b_compares_two_pinned_filter_sets():
    from evidence.analysis import compare_specs

    field_a, value_a = _filter_with(3, 1000)
    spec_a = FilterSpec(outcome=OUTCOME, **{field_a: (value_a,)})
    spec_b = FilterSpec(outcome=OUTCOME, exclude_studies=tuple(effects(spec_a)["study_id"]))
    at = run_app({"outcome": OUTCOME}, page=PAGES["Subgroups & moderators"],
                 state={"pin_A": spec_a, "pin_B": spec_b})
    assert not at.exception, [e.value for e in at.exception]
    expected = compare_specs(spec_a, spec_b)
    assert metric(at, "Difference (A − B)") == f"{expected.difference:.2f}"
    assert metric(at, "Test of the difference") == (f"p = {expected.p_value:.3f}" if expected.p_value >= 0.001
                                                    else "p < 0.001")


def test_hostile_link_values_are_quoted_as_inert_text():
    at = run_app({"outcome": OUTCOME, "comparator": "![x](http://127.0.0.1:9/pwned.png)",
                  "ps_role": "[official update](https://example.org/pwned)"}, page=EXPLORE)
    notice = " ".join(i.value for i in at.info)
    assert "ignored" in notice
    assert "![x](" not in notice and "](https://" not in notice  # brackets and parentheses are escaped
    assert "\\!\\[x\\]" in notice
    _assert_metrics(at, _expected(FilterSpec(outcome=OUTCOME)))


def test_data_page_lists_every_trial_and_coverage():
    from evidence.query import catalogue as coverage

    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"])
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Trials", "Coverage", "Add your own trials"]
    frames = [d.value for d in at.dataframe]
    overview = coverage.study_overview()
    assert any(list(f.columns) == list(overview.columns) and len(f) == len(overview) for f in frames)
    assert any("Reviews" in c.value for c in at.caption)  # the review tables moved to their own page
    assert [r.label for r in at.main.radio] == ["Format"] and at.main.radio[0].options == ["Extraction template",
                                                                                "Metapsy data standard"]


def test_explore_shows_what_published_reviews_found_for_the_outcome():
    from evidence.analysis.reviews import review_results_table

    at = run_app({"outcome": OUTCOME}, page=EXPLORE)
    n_reviews = review_results_table(OUTCOME)["Review"].nunique()
    assert n_reviews > 0
    assert any(e.label == f"What {n_reviews} published review(s) found for this outcome" for e in at.expander)


@pytest.mark.parametrize("page", ["Sensitivity", "Subgroups & moderators", "Small-study effects"])
def test_catch_all_outcome_is_cautioned_on_every_analysis_page(page):
    at = run_app({"outcome": "other"}, page=PAGES[page])
    assert not at.exception
    assert any("collects unrelated measures" in w.value for w in at.warning), [w.value for w in at.warning]
