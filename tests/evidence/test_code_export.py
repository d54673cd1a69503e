"""The view exported as code: the zip's scripts run (R with metafor, Python with stats) and give the numbers
the dashboard shows, to 1e-6; hostile text cannot break out of the scripts' literals or comments."""

from __future__ import annotations

import ast
import csv
import io
import math
import os
import random
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence import FilterSpec, analyse
from evidence.analysis import leave_one_out_table, small_study, subgroup_table
from evidence.analysis.export_rows import EXPORT_COLUMNS, export_rows
from evidence.present.code_export import (ZIP_FILES, analysis_zip, comment_text, header_lines, py_string,
                                          r_string)

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-6

#: (name, filter, method, Hartung-Knapp): the default view, binary outcomes on both ratio scales, a
#: Hartung-Knapp REML view, DerSimonian-Laird, and the smallest cases (k = 2, k = 1); some with the
#: Subgroups page's moderator.
VIEWS = [
    ("depression_reml", dict(outcome="depression"), "REML", False, None),
    ("engagement_or", dict(outcome="treatment engagement"), "REML", False, None),
    ("hospitalised_rr", dict(outcome="hospitalised"), "REML", False, None),
    ("depression_reml_hk", dict(outcome="depression"), "REML", True, "ps_format"),
    ("quality_of_life_dl", dict(outcome="quality of life"), "DL", False, "risk_of_bias"),
    ("hba1c_pm_hk", dict(outcome="glycaemic control (HbA1c)"), "PM", True, "computed_from"),
    ("viral_k2_hk", dict(outcome="HIV viral suppression"), "REML", True, "ps_mode"),
    ("single_study", dict(outcome="adverse events"), "REML", False, None),
    ("recovery_fe", dict(outcome="recovery"), "FE", False, "ps_format"),
]


@pytest.fixture(scope="module")
def rscript() -> str:
    """Rscript with metafor; missing is a failure on CI (``CI=true``; ``make test`` installs them), a skip
    elsewhere."""
    path = shutil.which("Rscript")
    ok = path is not None and subprocess.run([path, "-e", "library(metafor)"], capture_output=True).returncode == 0
    if not ok:
        message = "Rscript with the metafor package is missing (make r-deps installs r-base-core r-cran-metafor)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def _view(filters: dict, method: str, hk: bool):
    return analyse(FilterSpec(**filters), method=method, hartung_knapp=hk)


def _unzip(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == list(ZIP_FILES)
        zf.extractall(folder)
    return folder


def _export(a, folder: Path, rows=None, link="?outcome=test&version=1", moderator=None) -> Path:
    rows = export_rows(a) if rows is None else rows
    return _unzip(analysis_zip(a, rows, dataset_version="test-version", link=link, moderator=moderator), folder)


def _run_r(rscript: str, folder: Path) -> subprocess.CompletedProcess:
    # From another working directory: the script finds effects.csv beside itself.
    return subprocess.run([rscript, str(folder / "analysis.R")], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def _run_py(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(folder / "analysis.py")], capture_output=True, text=True,
                          cwd=folder.parent, env=env, timeout=120)


def _results(path: Path) -> dict[tuple[str, int, str], float]:
    with open(path, newline="", encoding="utf-8") as fh:
        # subgroups by name (R lists them in order of appearance, stats in its own order)
        return {(r["section"], r["study_id"] if r["section"] == "subgroup" else int(float(r["position"])),
                 r["quantity"]): (float(r["value"]) if r["value"] else math.nan) for r in csv.DictReader(fh)}


def _same(got: float, want: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return abs(got - want) <= TOL * max(1.0, abs(want))


def _expected(a, moderator: str | None = None) -> dict[tuple[str, int, str], float]:
    """What the dashboard shows for this analysis (the Analysis and the pages' tables)."""
    p = a.pooled
    out = {("pooled", 0, q): float(getattr(p, q)) for q in ("estimate", "se", "ci_low", "ci_high", "p_value",
                                                             "tau2", "i2", "q", "k")}
    if a.k >= 3:
        out.update({("pooled", 0, "pi_low"): p.pi_low, ("pooled", 0, "pi_high"): p.pi_high})
    if a.k >= 2:
        loo = leave_one_out_table(a)
        for j, row in enumerate(loo.itertuples(), start=1):
            for q in ("estimate", "ci_low", "ci_high", "p_value", "tau2", "i2"):
                out[("leave1out", j, q)] = float(getattr(row, q))
    s = small_study(a)
    if s.egger is not None:
        e = s.egger
        out.update({("egger", 0, q): float(getattr(e, q)) for q in ("intercept", "se", "t", "df", "p_value",
                                                                    "limit_estimate")})
    if s.trim_and_fill is not None:
        t, adj = s.trim_and_fill, s.trim_and_fill.adjusted
        out.update({("trimfill", 0, "k0"): t.k0, ("trimfill", 0, "right"): float(t.side == "right")})
        out.update({("trimfill", 0, q): float(getattr(adj, q)) for q in ("estimate", "se", "ci_low", "ci_high",
                                                                         "p_value", "tau2", "i2", "q", "k")})
    if moderator is not None and a.k >= 2:
        sub = subgroup_table(a, moderator)
        for row in sub.table.itertuples():
            out.update({("subgroup", row.group, q): float(getattr(row, q)) for q in (
                "estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2", "k")})
            out[("subgroup", row.group, "q")] = float(sub.result.estimates[sub.result.groups.index(row.group)].q)
        if sub.df_between > 0:
            out.update({("subgroup_test", 0, "q_between"): sub.q_between,
                        ("subgroup_test", 0, "df_between"): sub.df_between,
                        ("subgroup_test", 0, "p_between"): sub.p_between})
    return out


def _check(got: dict, want: dict, who: str) -> None:
    assert set(got) == set(want), f"{who}: keys differ: {sorted(set(got) ^ set(want))}"
    off = {key: (got[key], want[key]) for key in want if not _same(got[key], want[key])}
    assert not off, f"{who} differs from the dashboard: {off}"


@pytest.mark.parametrize("name,filters,method,hk,moderator", VIEWS, ids=[v[0] for v in VIEWS])
def test_exported_r_script_gives_the_dashboards_numbers(rscript, tmp_path, name, filters, method, hk, moderator):
    a = _view(filters, method, hk)
    folder = _export(a, tmp_path / name, moderator=moderator)
    run = _run_r(rscript, folder)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"escalc reproduces yi and vi of all {a.k} studies" in run.stdout
    _check(_results(folder / "results_R.csv"), _expected(a, moderator), f"R ({name})")


@pytest.mark.parametrize("name,filters,method,hk,moderator", VIEWS, ids=[v[0] for v in VIEWS])
def test_exported_python_script_gives_the_dashboards_numbers(tmp_path, name, filters, method, hk, moderator):
    a = _view(filters, method, hk)
    folder = _export(a, tmp_path / name, moderator=moderator)
    run = _run_py(folder)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"stats reproduces yi and vi of all {a.k} studies" in run.stdout
    _check(_results(folder / "results_py.csv"), _expected(a, moderator), f"Python ({name})")


def test_r_check_fails_loudly_when_a_row_was_tampered_with(rscript, tmp_path):
    a = _view({"outcome": "depression"}, "REML", False)
    rows = export_rows(a)
    rows.loc[rows["route"] == "arm_continuous", "mean_ps"] += 1.0
    run = _run_r(rscript, _export(a, tmp_path / "t", rows=rows))
    assert run.returncode != 0 and "escalc does not reproduce yi/vi" in run.stderr
    run = _run_py(tmp_path / "t")
    assert run.returncode != 0 and "stats does not reproduce yi/vi" in run.stderr


def test_export_rows_carry_raw_inputs_orientation_and_provenance():
    a = _view({"outcome": "depression"}, "REML", False)
    rows = export_rows(a)
    assert list(rows.columns) == list(EXPORT_COLUMNS)
    assert rows["study_id"].tolist() == a.effects["study_id"].tolist()
    assert np.array_equal(rows["yi"].to_numpy(float), a.effects["yi"].to_numpy(float))
    arm = rows[rows["route"] == "arm_continuous"]
    assert len(arm) and arm[["mean_ps", "sd_ps", "mean_ctl", "sd_ctl", "n_ps", "n_ctl"]].notna().all().all()
    # lower scores better: the effect as computed (peer minus control) was reversed
    lower = arm[arm["higher_is_better"] == False]  # noqa: E712
    assert len(lower) and (lower["orientation"] == -1).all()
    assert set(rows["orientation"]) <= {-1, 1}
    assert rows["source_location"].notna().all() and rows["derived"].notna().all()


HOSTILE = ('x"); system("touch PWNED_R"); #\n__import__("os").system("touch PWNED_PY") # \\" \' '
           "\r\u2028\u202e@@R_LINK@@ @@PY_FILTERS@@ \x00 \U0001f600 é")


def test_hostile_filter_text_stays_inside_literals_and_comments(rscript, tmp_path):
    a = _view({"outcome": "depression", "exclude_studies": (HOSTILE, "Chen2000")}, "REML", False)
    assert HOSTILE in a.description
    rows = export_rows(a)
    rows["label"] = HOSTILE  # a hostile study label too (it lives in the CSV, never in code)
    folder = _export(a, tmp_path / "h", rows=rows, link="?exclude=" + HOSTILE)
    for script in ("analysis.R", "analysis.py"):
        text = (folder / script).read_text(encoding="utf-8")
        header = text.split("\n\n")[0].split("\n")
        assert all(line.startswith("#") for line in header), header
        assert not any(unicodedata.category(ch) in ("Cf", "Zl", "Zp") for ch in text)
    # Python: the literals hold exactly the text, and nothing ran.
    tree = ast.parse((folder / "analysis.py").read_text(encoding="utf-8"))
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
              if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id in
              ("FILTERS", "VIEW_LINK")}
    assert values == {"FILTERS": a.description, "VIEW_LINK": "?exclude=" + HOSTILE}
    assert _run_py(folder).returncode == 0
    # R: the parsed literal is the text (NUL, which R strings cannot hold, becomes U+FFFD).
    probe = (f'e <- parse({r_string(str(folder / "analysis.R"))}); for (x in e) if (is.call(x) && '
             'identical(x[[2]], as.name("FILTERS"))) writeBin(charToRaw(enc2utf8(eval(x[[3]]))), "filters.bin")')
    run = subprocess.run([rscript, "-e", probe], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "filters.bin").read_bytes() == a.description.replace("\x00", "\ufffd").encode("utf-8")
    assert _run_r(rscript, folder).returncode == 0
    assert not list(tmp_path.rglob("PWNED*")) and not list(ROOT.glob("PWNED*"))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_python_literal_and_comment_hold_any_text(text):
    literal = py_string(text)
    assert literal.isascii() and ast.literal_eval(literal) == text
    line = comment_text(text)
    assert len(("# " + line).splitlines()) <= 1 and len(line) == len(text)
    tree = ast.parse(f"# {line}\nX = {literal}\n")
    assert len(tree.body) == 1 and ast.literal_eval(tree.body[0].value) == text


def test_r_literals_hold_any_text(rscript, tmp_path):
    """Many generated strings (every Unicode plane, quotes, backslashes, controls) parsed by R in one run."""
    rng = random.Random(15)  # seeded: the same strings every run
    points = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)]
    texts = ["".join(chr(rng.randint(*rng.choice(points))) for _ in range(rng.randint(0, 40))) for _ in range(200)]
    texts += ['"', "\\", '\\"', "\n", "\r\n", "\u202e", "\U0001f600", "\ud800", "\x00", "\x7f", "'", "`"]
    exprs = "\n".join(f"x[{i + 1}] <- {r_string(t)}" for i, t in enumerate(texts))
    script = tmp_path / "probe.R"
    script.write_text(f"x <- character({len(texts)})\n{exprs}\n"
                      'con <- file("out.bin", "wb"); for (s in x) { b <- charToRaw(enc2utf8(s)); '
                      "writeBin(length(b), con); writeBin(b, con) }; close(con)\n", encoding="ascii")
    run = subprocess.run([rscript, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    data, got, at = (tmp_path / "out.bin").read_bytes(), [], 0
    while at < len(data):
        n = int.from_bytes(data[at:at + 4], "little")
        got.append(data[at + 4:at + 4 + n].decode("utf-8"))
        at += 4 + n
    want = ["".join("\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in t) for t in texts]
    assert got == want


def test_escapes_round_trip():
    text = 'a"b\\c\nd\x00\u202e\U0001f600'
    assert ast.literal_eval(py_string(text)) == text and py_string(text).isascii()
    assert r_string(text).isascii() and "\n" not in r_string(text)
    assert "\n" not in comment_text(text) and "\u202e" not in comment_text(text)


def test_header_names_version_filters_method_and_link():
    a = _view({"outcome": "depression"}, "DL", True)
    lines = header_lines(a, title="analysis.R", dataset_version="9.9.9", link="?outcome=depression&method=DL&hk=1")
    text = "\n".join(lines)
    assert "Dataset version: 9.9.9" in text and a.description in text
    assert "DL estimator" in text and "Hartung-Knapp" in text and "?outcome=depression&method=DL&hk=1" in text


def test_same_view_same_bytes():
    a = _view({"outcome": "depression"}, "REML", False)
    rows = export_rows(a)
    one = analysis_zip(a, rows, dataset_version="v", link="?x=1")
    assert one == analysis_zip(replace(a), rows, dataset_version="v", link="?x=1")


def _fixture_outcomes(con) -> list[str]:
    from evidence import query
    return sorted(set(query.table("effects", con)["outcome"]))


@pytest.mark.parametrize("multi_arm", ["one", "split"])
def test_every_fixture_case_exports_and_its_python_script_reproduces_it(con, tmp_path, multi_arm):
    """The fixture store's invented cases (every route, orientation, multi-arm trials, shared arms)."""
    from evidence.core.errors import EvidenceError
    done = 0
    for outcome in _fixture_outcomes(con):
        try:
            a = analyse(FilterSpec(outcome=outcome), con=con, multi_arm=multi_arm)
        except EvidenceError:
            continue
        rows = export_rows(a, con)
        folder = _unzip(analysis_zip(a, rows, dataset_version="fixture", link="?x"), tmp_path / f"{outcome}-{multi_arm}")
        run = _run_py(folder)
        assert run.returncode == 0, (outcome, run.stderr[-2000:])
        got = _results(folder / "results_py.csv")
        assert _same(got[("pooled", 0, "estimate")], a.pooled.estimate), outcome
        done += 1
    assert done >= 3


def test_an_imported_dataset_merged_with_the_shipped_one_exports(rscript, tmp_path, uploads):
    from evidence import ingest
    from evidence.ingest.sheet import SHEET_COLUMNS
    good = dict(study_id="Smith2020", first_author="Smith", year="2020", country="UK", population="depression",
                setting="primary care", ps_format="group", comparator="usual care", outcome="depression",
                measure="PHQ-9", higher_is_better="no", timepoint_months="6", n_ps="40", mean_ps="8.5",
                sd_ps="4.1", n_ctl="42", mean_ctl="10.2", sd_ctl="4.4", source_review="primary paper",
                source_url="https://example.org/smith", source_location="Table 2", source_quote="8.5 vs 10.2")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHEET_COLUMNS)
    w.writerow([good.get(c, "") for c in SHEET_COLUMNS])
    ingest.import_sheet(buf.getvalue().encode("utf-8"), "mine.csv", "mine", uploads_dir=uploads)
    a = analyse(FilterSpec(outcome="depression", dataset="all"), uploads_dir=uploads)
    rows = export_rows(a, uploads_dir=uploads)
    assert "mine" in set(rows["dataset"]) and "shipped" in set(rows["dataset"])
    folder = _unzip(analysis_zip(a, rows, dataset_version="v", link="?dataset=all"), tmp_path / "merged")
    run = _run_r(rscript, folder)
    assert run.returncode == 0, run.stderr[-2000:]
    _check(_results(folder / "results_R.csv"), _expected(a), "R (merged datasets)")
