"""AppTest: every analysis page offers the view as code, and the bytes it hands the browser are a zip of
effects.csv, analysis.R and analysis.py describing that very view."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from evidence import FilterSpec, analyse

from app_helpers import PAGES, run_app

ANALYSIS_PAGES = ("pages/explore.py", "pages/sensitivity.py", "pages/subgroups.py", "pages/small_study.py")
LABEL = "Rerun this view in R or Python (zip)"


@pytest.fixture()
def served(monkeypatch) -> list[tuple[object, str, str | None]]:
    """Every deferred download the app registers in a run: (the callable a click runs, mimetype, file name)."""
    seen: list[tuple[object, str, str | None]] = []
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        seen.append((data_callable, mimetype, file_name))
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return seen


def _zip_served(served) -> tuple[bytes, str]:
    """The bytes a click on the code download would send (its callable, run as Streamlit runs it)."""
    zips = [(make, name) for make, mime, name in served if mime == "application/zip"]
    assert len(zips) == 1, f"expected one zip download, got {[(m, n) for _, m, n in served]}"
    make, name = zips[0]
    data = make()
    assert isinstance(data, bytes)
    return data, name


@pytest.mark.parametrize("path", ANALYSIS_PAGES)
def test_each_analysis_page_offers_the_view_as_a_zip_of_three_files(path, served):
    at = run_app({"outcome": "depression", "method": "DL", "hk": "1"}, page=path)
    assert not at.exception, [e.value for e in at.exception]
    buttons = [b for b in at.get("download_button") if b.proto.label == LABEL]
    assert len(buttons) == 1
    data, name = _zip_served(served)
    assert name.endswith(".zip") and "depression" in name
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["effects.csv", "analysis.R", "analysis.py"]
        script_r = zf.read("analysis.R").decode("utf-8")
        script_py = zf.read("analysis.py").decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(zf.read("effects.csv").decode("utf-8"))))
    a = analyse(FilterSpec(outcome="depression"), method="DL", hartung_knapp=True)
    assert [r["study_id"] for r in rows] == a.effects["study_id"].tolist()
    for script in (script_r, script_py):
        assert a.description in script and "DL estimator" in script and "Hartung-Knapp adjustment" in script
        assert "?outcome=depression&method=DL&hk=1&version=" in script
    assert 'METHOD <- "DL"' in script_r and 'TEST <- "knha"' in script_r
    # The Subgroups page's scripts also pool the subgroups of its moderator (the default: format).
    subgroups = path == "pages/subgroups.py"
    assert ('MODERATOR <- "ps_format"' if subgroups else "MODERATOR <- NULL") in script_r
    assert ("MODERATOR = 'ps_format'" if subgroups else "MODERATOR = None") in script_py
    assert "ps_format" in rows[0]
    assert "METHOD = 'DL'" in script_py and "HARTUNG_KNAPP = True" in script_py


def test_the_subgroups_zip_follows_the_chosen_moderator(served):
    at = run_app({"outcome": "depression", "moderator": "risk_of_bias"}, page="pages/subgroups.py")
    assert not at.exception
    data, _ = _zip_served(served)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert 'MODERATOR <- "risk_of_bias"' in zf.read("analysis.R").decode("utf-8")
        assert "&moderator=risk_of_bias" in zf.read("analysis.py").decode("utf-8")


def test_the_zip_follows_the_filters(served):
    at = run_app({"outcome": "depression", "exclude_studies": "Chen2000"}, page=PAGES["Explore"])
    assert not at.exception
    data, _ = _zip_served(served)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        ids = [r["study_id"] for r in csv.DictReader(io.StringIO(zf.read("effects.csv").decode("utf-8")))]
    assert "Chen2000" not in ids and len(ids) == analyse(FilterSpec(outcome="depression",
                                                                    exclude_studies=("Chen2000",))).k
