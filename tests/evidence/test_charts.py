"""Chart builders, tested through ``chart.to_dict()``: data rows, encodings, orientation, exports."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from evidence.core.measures import Favours

import stats
from evidence.present import charts
from evidence.present import export

# A structural fixture (not evidence): eight studies with spread-out variances,
# one with an HTML-looking name and a quote that must stay plain data.
K = 8


@pytest.fixture()
def effects() -> pd.DataFrame:
    rng = np.random.default_rng(20261121)
    yi = rng.normal(0.3, 0.25, K)
    vi = rng.uniform(0.01, 0.09, K)
    df = pd.DataFrame({
        "study_id": [f"Study{i}" for i in range(K)],
        "label": [f"Author{i} {2005 + i}" for i in range(K)],
        "year": [2005 + i for i in range(K)],
        "yi": yi, "vi": vi, "sei": np.sqrt(vi),
        "risk_of_bias": ["low", "high", "some concerns", None, "low", "unclear", "low", "high"],
        "population": "depression",
        "source_url": [f"https://example.org/paper{i}" for i in range(K)],
        "source_location": "Table 2",
        "source_quote": "mean (SD) 12.1 (3.4)",
        "timepoint_months": rng.uniform(1, 24, K),
    })
    df.loc[2, "label"] = "<script>alert(1)</script> & Co"
    df.loc[3, "source_quote"] = "<b>bold?</b> " * 60
    return df


@pytest.fixture()
def pooled(effects):
    return stats.pool(effects["yi"], effects["vi"], method="REML")


def _datasets(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


def _forest_rows(chart) -> list[dict]:
    for data in _datasets(chart.to_dict()):
        if data and "row_type" in data[0]:
            return data
    raise AssertionError("no forest dataset")


def _marks(spec: dict) -> list[dict]:
    """Every unit (non-composite) view in a spec, depth first."""
    out = []
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            out += _marks(sub)
    if "mark" in spec:
        out.append(spec)
    return out


def _mark_type(view: dict) -> str:
    mark = view["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def test_forest_has_one_row_per_study_plus_pooled_row(effects, pooled):
    rows = _forest_rows(charts.forest_plot(effects, pooled))
    assert len(rows) == K + 1
    assert [r["row_type"] for r in rows].count("study") == K
    assert rows[-1]["row_type"] == "pooled"
    assert rows[-1]["est"] == pytest.approx(pooled.estimate)
    assert rows[-1]["lo"] == pytest.approx(pooled.ci_low)
    assert rows[-1]["pi_lo"] == pytest.approx(pooled.pi_low)
    assert "REML" in rows[-1]["row"] and f"k = {K}" in rows[-1]["row"]


def test_forest_study_intervals_and_weights(effects, pooled):
    rows = _forest_rows(charts.forest_plot(effects, pooled))[:K]
    sei = np.sqrt(effects["vi"].to_numpy())
    np.testing.assert_allclose([r["lo"] for r in rows], effects["yi"] - 1.959963984540054 * sei, rtol=1e-9)
    np.testing.assert_allclose([r["hi"] for r in rows], effects["yi"] + 1.959963984540054 * sei, rtol=1e-9)
    w = 1 / (effects["vi"].to_numpy() + pooled.tau2)
    np.testing.assert_allclose([r["weight_pct"] for r in rows], 100 * w / w.sum(), rtol=1e-9)
    assert sum(r["weight_pct"] for r in rows) == pytest.approx(100.0)


def test_forest_fixed_effect_weights_ignore_tau2(effects):
    fe = stats.pool(effects["yi"], effects["vi"], method="FE")
    rows = _forest_rows(charts.forest_plot(effects, fe))[:K]
    w = 1 / effects["vi"].to_numpy()
    np.testing.assert_allclose([r["weight_pct"] for r in rows], 100 * w / w.sum(), rtol=1e-9)


def test_forest_encodings(effects, pooled):
    spec = charts.forest_plot(effects, pooled).to_dict()
    views = _marks(spec)
    squares = [v for v in views if _mark_type(v) == "square"]
    assert len(squares) == 1
    enc = squares[0]["encoding"]
    assert enc["size"]["field"] == "weight_pct"
    assert enc["color"]["field"] == "rob"
    assert enc["color"]["scale"]["range"] == list(charts.ROB_COLOURS.values())
    tooltip_fields = {t["field"] for t in enc["tooltip"]}
    assert {"tt_source_url", "tt_source_location", "tt_source_quote", "tt_population", "tt_year"} <= tooltip_fields
    trails = [v for v in views if _mark_type(v) == "trail"]
    assert len(trails) == 1, "pooled diamond"
    dashed = [v for v in views if _mark_type(v) == "rule" and "pi_lo" in json.dumps(v["encoding"])]
    assert len(dashed) == 1, "prediction interval bar"
    all_text = json.dumps(spec)
    assert "Favours peer support" in all_text and "Favours control" in all_text


def test_forest_palette_is_okabe_ito(effects, pooled):
    okabe = {c.upper() for c in charts.OKABE_ITO.values()}
    used = {c.upper() for c in charts.ROB_COLOURS.values()}
    # Every judgement colour is Okabe-Ito except the light grey for "not reported".
    assert len(used - okabe) == 1


def test_forest_without_pooled_draws_studies_only(effects):
    one = effects.iloc[:1]
    chart = charts.forest_plot(one, None)
    rows = _forest_rows(chart)
    assert len(rows) == 1 and rows[0]["row_type"] == "study"
    assert not [v for v in _marks(chart.to_dict()) if _mark_type(v) == "trail"]


def test_forest_user_strings_stay_plain_data(effects, pooled):
    rows = _forest_rows(charts.forest_plot(effects, pooled))
    assert rows[2]["row"] == "<script>alert(1)</script> & Co"
    quote = rows[3]["tt_source_quote"]
    assert quote.startswith("<b>bold?</b>") and len(quote) <= 400 and quote.endswith("\u2026")
    spec = charts.forest_plot(effects, pooled).to_dict()
    assert "html" not in json.dumps(spec).lower()


def test_forest_duplicate_labels_are_made_unique(effects, pooled):
    effects = effects.copy()
    effects.loc[1, "label"] = effects.loc[0, "label"]
    rows = _forest_rows(charts.forest_plot(effects, pooled))
    labels = [r["row"] for r in rows]
    assert len(set(labels)) == len(labels)


def test_ratio_forest_uses_log_axis_and_natural_ratios(effects):
    fit = stats.pool(effects["yi"], effects["vi"])
    chart = charts.forest_plot(effects, fit, effect_measure="logRR", ps_side="left")
    rows = _forest_rows(chart)
    np.testing.assert_allclose([r["est"] for r in rows[:K]], np.exp(effects["yi"]), rtol=1e-9)
    assert rows[-1]["est"] == pytest.approx(math.exp(fit.estimate))
    spec = json.dumps(chart.to_dict(), ensure_ascii=False)
    assert '"type": "log"' in spec
    assert "Risk ratio" in spec
    assert "\u2190 Favours peer support" in spec


def test_favours_is_typed_and_its_sentence_is_for_people():
    from evidence.core.measures import Favours
    assert Favours.for_scale("SMD").side == "right"
    undesirable = Favours.for_scale("logRR", -1.0)
    assert undesirable.side == "left" and undesirable.benefit_sign == -1.0
    assert str(undesirable).startswith("Ratios below 1 favour peer support")
    assert Favours.for_scale("logOR", 1.0).side == "right"
    unknown = Favours.for_scale("logRR", None)
    assert (unknown.side, unknown.event_known, str(unknown)) == ("right", False, "Ratios are peer support / control")
    with pytest.raises(ValueError, match="must be one of"):
        Favours("logRR", "up")

def test_forest_from_analysis_like_object(effects, pooled):
    class A:
        pass
    a = A()
    a.effects, a.pooled, a.effect_measure, a.favours = effects, pooled, "SMD", Favours("SMD")
    assert len(_forest_rows(charts.forest(a))) == K + 1


def test_leave_one_out_and_cumulative_rows(effects, pooled):
    loo = pd.DataFrame({"label": effects["label"], "estimate": effects["yi"], "ci_low": effects["yi"] - 0.2,
                        "ci_high": effects["yi"] + 0.2})
    spec = charts.leave_one_out_plot(loo, pooled).to_dict()
    rows = next(d for d in _datasets(spec) if d and "est_text" in d[0])
    assert len(rows) == K and all(r["row"].startswith("Without ") for r in rows)
    assert any(d and d[0].get("what") == "All studies" for d in _datasets(spec))
    cum = loo.assign(year=effects["year"])
    spec = charts.cumulative_plot(cum).to_dict()
    rows = next(d for d in _datasets(spec) if d and "est_text" in d[0])
    assert rows[0]["row"] == f"+ {effects['label'][0]} (2005)"


def test_influence_plot_flags(effects):
    table = pd.DataFrame({"label": effects["label"], "rstudent": np.linspace(-3, 3, K),
                          "cook_d": np.linspace(0, 1, K), "hat": 1 / K,
                          "flagged": [False] * (K - 1) + [True]})
    spec = charts.influence_plot(table).to_dict()
    rows = next(d for d in _datasets(spec) if d and "status" in d[0])
    assert [r["status"] for r in rows].count("Influential") == 1
    assert len(rows) == K


def test_subgroup_forest_labels_include_k(pooled):
    table = pd.DataFrame({"group": ["group", "one-to-one"], "k": [3, 5], "estimate": [0.2, 0.4],
                          "ci_low": [0.0, 0.1], "ci_high": [0.4, 0.7]})
    spec = charts.subgroup_forest(table, pooled).to_dict()
    rows = next(d for d in _datasets(spec) if d and "est_text" in d[0])
    assert [r["row"] for r in rows] == ["group (k = 3)", "one-to-one (k = 5)"]


def test_bubble_plot_sizes_by_random_effects_weight(effects):
    line = pd.DataFrame({"x": [1.0, 24.0], "fit": [0.2, 0.4], "ci_low": [0.0, 0.1], "ci_high": [0.4, 0.7]})
    spec = charts.bubble_plot(effects, "timepoint_months", line=line, tau2=0.05).to_dict()
    rows = next(d for d in _datasets(spec) if d and "weight_pct" in d[0])
    w = 1 / (effects["vi"].to_numpy() + 0.05)
    np.testing.assert_allclose([r["weight_pct"] for r in rows], 100 * w / w.sum())
    assert any(_mark_type(v) == "line" for v in _marks(spec))


def test_funnel_draws_observed_and_filled_studies_and_contours(effects, pooled):
    filled = pd.DataFrame({"yi": [-0.1, -0.2], "vi": [0.05, 0.08]})
    spec = charts.funnel_plot(effects, pooled, filled=filled, adjusted_estimate=0.1).to_dict()
    pts = next(d for d in _datasets(spec) if d and "kind" in d[0])
    kinds = [p["kind"] for p in pts]
    assert kinds.count("Observed study") == K and kinds.count("Filled by trim-and-fill") == 2
    regions = {r["region"] for d in _datasets(spec) if d and "region" in d[0] for r in d}
    assert regions == {"p < 0.01", "0.01 ≤ p < 0.05", "0.05 ≤ p < 0.10", "p ≥ 0.10"}
    # Standard error axis runs downwards: 0 at the top.
    y_domains = [v["encoding"]["y"]["scale"]["domain"] for v in _marks(spec)
                 if "y" in v.get("encoding", {}) and "scale" in v["encoding"]["y"]]
    assert y_domains and all(d[1] == 0.0 for d in y_domains)
    assert "Adjusted (trim-and-fill)" in json.dumps(spec)


def test_funnel_contour_edges_are_the_normal_quantiles(effects, pooled):
    spec = charts.funnel_plot(effects, pooled).to_dict()
    reg = [r for d in _datasets(spec) if d and "region" in d[0] for r in d]
    edge = {r["region"]: r["hi"] / r["sei"] for r in reg if r["sei"] > 0 and r["region"] != "p < 0.01"}
    assert edge["p ≥ 0.10"] == pytest.approx(1.6448536269514722)
    assert edge["0.05 ≤ p < 0.10"] == pytest.approx(1.959963984540054)
    assert edge["0.01 ≤ p < 0.05"] == pytest.approx(2.5758293035489004)


def test_robustness_heatmap_colours_by_survival():
    table = pd.DataFrame({"method": ["REML", "REML", "DL"], "hartung_knapp": [False, True, False],
                          "trials": ["all trials"] * 3, "outliers": ["kept"] * 3, "k": [8, 8, 0],
                          "estimate": [0.3, 0.3, np.nan], "ci_low": [0.1, -0.05, np.nan],
                          "ci_high": [0.5, 0.65, np.nan], "survives": [True, False, False],
                          "verdict": ["favours peer support", "no clear difference", ""],
                          "removed": ["", "", "no trial at low risk of bias"]})
    spec = charts.robustness_heatmap(table).to_dict()
    rows = next(d for d in _datasets(spec) if d and "status" in d[0])
    assert [r["status"] for r in rows] == ["same conclusion", "conclusion changes", "not available"]
    assert [r["cell"] for r in rows] == ["0.30", "0.30", "n/a"]


def test_leave_one_out_highlights_changed_verdicts(effects, pooled):
    loo = pd.DataFrame({"label": effects["label"], "estimate": effects["yi"], "ci_low": effects["yi"] - 0.2,
                        "ci_high": effects["yi"] + 0.2, "verdict_changes": [True] + [False] * (K - 1)})
    spec = charts.leave_one_out_plot(loo, pooled).to_dict()
    rows = next(d for d in _datasets(spec) if d and "est_text" in d[0])
    assert [r["flag"] for r in rows] == ["yes"] + ["no"] * (K - 1)


def test_exports_png_svg_csv(effects, pooled):
    chart = charts.forest_plot(effects, pooled)
    png = export.chart_png(chart, scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = export.chart_svg(chart).decode("utf-8")
    assert svg.lstrip().startswith("<svg") and "Author0 2005" in svg
    # Study names are escaped as SVG text, never injected as markup.
    assert "<script>" not in svg
    csv = export.table_csv(pd.DataFrame({"study": ["=HYPERLINK(1)", "plain"], "yi": [-0.5, 0.2]}))
    assert csv.decode().splitlines() == ["study,yi", "'=HYPERLINK(1),-0.5", "plain,0.2"]


def test_bubble_plot_line_from_coefficients(effects):
    spec = charts.bubble_plot(effects, "timepoint_months", intercept=0.1, slope=0.02).to_dict()
    line = next(d for d in _datasets(spec) if d and "fit" in d[0])
    xs = [r["x"] for r in line]
    assert min(xs) == pytest.approx(effects["timepoint_months"].min())
    assert max(xs) == pytest.approx(effects["timepoint_months"].max())
    assert all(r["fit"] == pytest.approx(0.1 + 0.02 * r["x"]) for r in line)


def test_ratio_axis_always_labels_the_null(effects):
    fit = stats.pool(effects["yi"] - 0.5, effects["vi"])
    spec = charts.forest_plot(effects.assign(yi=effects["yi"] - 0.5), fit, effect_measure="logOR").to_dict()
    values = [v["encoding"]["x"]["axis"]["values"] for v in _marks(spec)
              if "axis" in v.get("encoding", {}).get("x", {}) and v["encoding"]["x"]["axis"]]
    assert values and all(1.0 in vals for vals in values)


def test_decorations_have_no_tooltips(effects, pooled):
    spec = charts.forest_plot(effects, pooled).to_dict()
    for view in _marks(spec):
        if _mark_type(view) == "text" or (_mark_type(view) == "rule" and view["encoding"]["x"].get("field") == "x"):
            assert view["encoding"].get("tooltip") in (None, {"value": None}), view


def _same_up_to_data_name(a: dict, b: dict) -> bool:
    """Specs equal once the inline data sets are keyed by their content (names are content hashes)."""
    def keyed(spec: dict) -> str:
        text = json.dumps(spec, sort_keys=True)
        for name, values in spec.get("datasets", {}).items():
            text = text.replace(json.dumps(name), json.dumps(json.dumps(values, sort_keys=True)))
        return json.dumps(json.loads(text), sort_keys=True)  # re-sorted: the new keys order differently
    return keyed(a) == keyed(b)


@pytest.mark.parametrize("measure,side", [("SMD", "right"), ("SMD", "left"), ("logRR", "left"), ("logOR", "right")])
@pytest.mark.parametrize("method", ["REML", "FE"])
@pytest.mark.parametrize("title", [None, 'Depression "quoted" <b>, k = 8</b>'])
def test_fast_forest_spec_equals_the_altair_built_one(effects, measure, side, method, title):
    """forest_plot_spec swaps each view's values into a cached template; it must build exactly the same plot."""
    fit = stats.pool(effects["yi"], effects["vi"], method=method)
    for pooled in (fit, None):
        for rows in (effects, effects.iloc[:1], effects.assign(yi=effects["yi"] * 3)):
            kwargs = dict(effect_measure=measure, ps_side=side, title=title)
            slow = charts.forest_plot(rows, pooled, **kwargs).to_dict(validate=False)
            fast = charts.forest_plot_spec(rows, pooled, **kwargs)
            assert _same_up_to_data_name(slow, fast), (measure, side, method, title, len(rows), pooled is None)


def test_fast_forest_spec_carries_hostile_labels_as_data(effects, pooled):
    hostile = effects.assign(label=['"}]}, {"mark": "x', "__ORDER__", "__PLABEL__", "a\\b", "\u2028", "'", "<i>", "x"])
    fast = charts.forest_plot_spec(hostile, pooled, title="__TITLE__")
    slow = charts.forest_plot(hostile, pooled, title="__TITLE__").to_dict(validate=False)
    assert _same_up_to_data_name(slow, fast)


def test_study_columns_without_tooltips_keep_every_other_column(effects, pooled):
    full = charts.study_columns(effects, pooled)
    lean = charts.study_columns(effects, pooled, tooltips=False)
    assert not any(c.startswith("tt_") for c in lean)
    assert {c: v for c, v in full.items() if not c.startswith("tt_")} == lean


def test_forest_templates_read_back_from_disk_build_the_same_plot(effects, pooled, tmp_path, monkeypatch):
    from evidence.present.charts import _template_cache, forest_chart

    monkeypatch.setenv("EVIDENCE_CACHE_DIR", str(tmp_path))
    forest_chart._forest_template.cache_clear()
    slow = charts.forest_plot(effects, pooled, effect_measure="logOR", ps_side="left").to_dict(validate=False)
    built = charts.forest_plot_spec(effects, pooled, effect_measure="logOR", ps_side="left")
    files = list((tmp_path / "chart_templates").glob("forest-*.json"))
    assert len(files) == 1  # written once, atomically (no temporary file left)
    forest_chart._forest_template.cache_clear()  # a new process: the template comes from the file
    read = charts.forest_plot_spec(effects, pooled, effect_measure="logOR", ps_side="left")
    assert read == built and _same_up_to_data_name(slow, read)
    files[0].write_text("{ not json", encoding="utf-8")  # a damaged file is rebuilt, never trusted
    forest_chart._forest_template.cache_clear()
    assert charts.forest_plot_spec(effects, pooled, effect_measure="logOR", ps_side="left") == built
    assert _template_cache.cache_dir() == tmp_path / "chart_templates"
    forest_chart._forest_template.cache_clear()


def test_forest_templates_work_when_the_cache_folder_cannot_be_written(effects, pooled, tmp_path, monkeypatch):
    from evidence.present.charts import forest_chart

    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("EVIDENCE_CACHE_DIR", str(blocker))
    forest_chart._forest_template.cache_clear()
    slow = charts.forest_plot(effects, pooled).to_dict(validate=False)
    assert _same_up_to_data_name(slow, charts.forest_plot_spec(effects, pooled))
    forest_chart._forest_template.cache_clear()
