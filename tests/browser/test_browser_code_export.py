"""In Debian chromium: the "Rerun this view in R or Python" button downloads a zip whose Python script, run as
a user would run it, gives the pooled effect and CI the page shows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from stbrowser import parse_interval, parse_number

ROOT = Path(__file__).resolve().parents[2]


def test_downloaded_code_reproduces_the_numbers_on_screen(app, tmp_path):
    app.open("sensitivity", {"outcome": "depression", "method": "PM", "hk": "1"})
    app.assert_healthy()
    shown_effect = parse_number(app.metric("Pooled effect"))
    shown_ci = parse_interval(app.metric("95% CI"))
    with app.page.expect_download() as download_info:
        app.page.get_by_role("button", name="Rerun this view in R or Python (zip)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as zf:
        assert zf.namelist() == ["effects.csv", "analysis.R", "analysis.py"]
        zf.extractall(tmp_path)
    assert "?outcome=depression&method=PM&hk=1" in (tmp_path / "analysis.R").read_text(encoding="utf-8")
    run = subprocess.run([sys.executable, str(tmp_path / "analysis.py")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(tmp_path / "results_py.csv", newline="", encoding="utf-8") as fh:
        pooled = {r["quantity"]: float(r["value"]) for r in csv.DictReader(fh) if r["section"] == "pooled"}
    assert round(pooled["estimate"], 2) == shown_effect
    assert (round(pooled["ci_low"], 2), round(pooled["ci_high"], 2)) == shown_ci
    app.screenshot("sensitivity-code-export")
