"""AppTest: every analysis page offers the view as code, and the bytes it hands the browser are a zip of
effects.csv, analysis.R and analysis.py describing that very view."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from evidence import FilterSpec, analyse

from app_helpers import run_app

ANALYSIS_PAGES = ("pages/explore.py", "pages/sensitivity.py", "pages/subgroups.py", "pages/small_study.py")
LABEL = "Rerun this view in R or Python (zip)"


@pytest.fixture()
def served(monkeypatch) -> list[tuple[bytes, str, str | None]]:
    """Every file the app hands Streamlit's media store in a run: (bytes, mimetype, file name)."""
    seen: list[tuple[bytes, str, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes):
            seen.append((path_or_data, mimetype, filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def _zip_served(served) -> tuple[bytes, str]:
    zips = [(data, name) for data, mime, name in served if mime == "application/zip"]
    assert len(zips) == 1, f"expected one zip download, got {[(m, n) for _, m, n in served]}"
    return zips[0]


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
    assert "METHOD = 'DL'" in script_py and "HARTUNG_KNAPP = True" in script_py


def test_the_zip_follows_the_filters(served):
    at = run_app({"outcome": "depression", "exclude_studies": "Chen2000"})
    assert not at.exception
    data, _ = _zip_served(served)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        ids = [r["study_id"] for r in csv.DictReader(io.StringIO(zf.read("effects.csv").decode("utf-8")))]
    assert "Chen2000" not in ids and len(ids) == analyse(FilterSpec(outcome="depression",
                                                                    exclude_studies=("Chen2000",))).k
