"""The Metapsy standard through the user-sheet import path; cross-checks against its own .g and our data."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

import stats
from evidence import FilterSpec, InvalidSheet, computed_vs_reported, effects, ingest
from evidence.ingest import metapsy

PATH = next(p for p in metapsy.DEFAULT_PATHS if p.is_file())


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("uploads")
    res = metapsy.import_metapsy(PATH, uploads_dir=d)
    return res, d


@pytest.fixture(scope="module")
def raw():
    # An independent reading of the same file with pandas (decimal commas, NA) to compare against.
    return pd.read_csv(PATH, sep=";", decimal=",", na_values=["NA"], keep_default_na=False)


def test_every_row_is_imported_with_attribution(imported, raw):
    res, d = imported
    assert res.name == "metapsy-depression"
    assert res.n_effects == len(raw) and res.n_studies == raw["study"].nunique()
    info = ingest.dataset_info(res.name, d)
    assert "10.5281/zenodo.7254845" in info["attribution"] and info["kind"] == "imported"
    src = ingest.load_dataset_frames(res.name, d)["sources"]
    assert (src["source_url"] == "https://doi.org/10.5281/zenodo.7254845").all()


def test_decimal_commas_and_precalculated_g_survive(imported, raw):
    res, d = imported
    eff = ingest.load_dataset_frames(res.name, d)["effects"]
    eff = eff.assign(line=eff["effect_id"].str.extract(r"-E(\d+)$")[0].astype(int) - 2).set_index("line")
    raw = raw.reset_index(drop=True)
    assert np.allclose(eff.loc[raw.index, "reported_effect"], raw[".g"])
    # the CI was derived from .g_se; inverting it gives the SE back
    _, vi = stats.from_confidence_interval(eff.loc[raw.index, "reported_effect"],
                                           eff.loc[raw.index, "reported_ci_low"],
                                           eff.loc[raw.index, "reported_ci_high"])
    assert np.allclose(np.sqrt(vi), raw[".g_se"])
    msd = raw["outcome_type"] == "msd"
    whole = (raw["n_arm1"] % 1 == 0) & (raw["n_arm2"] % 1 == 0)
    sel = raw[msd & whole]
    assert np.allclose(eff.loc[sel.index, "mean_ps"], sel["mean_arm1"])
    assert np.allclose(eff.loc[sel.index, "sd_ctl"], sel["sd_arm2"])
    assert eff["derived"].all() and eff["derivation_kind"].str.contains("back-calculated").all()


def test_fractional_ns_are_not_rounded(imported, raw):
    res, d = imported
    eff = ingest.load_dataset_frames(res.name, d)["effects"]
    frac = raw[(raw["n_arm1"] % 1 != 0) & raw["n_arm1"].notna()]
    assert len(frac) >= 1
    notes = eff[eff["measure_note"].str.contains("is not a whole number", na=False)]
    assert len(notes) == len(frac) and notes["n_ps"].isna().all()


def test_our_hedges_g_reproduces_metapsy_g(imported):
    """Arm data -> stats.smd -> orientation gives Metapsy's own .g for all but two rows."""
    res, d = imported
    cmp = computed_vs_reported(FilterSpec(dataset=res.name), uploads_dir=d)
    assert len(cmp) > 800
    close = cmp["difference"].abs() < 1e-3
    assert close.sum() >= len(cmp) - 4  # all but four to 0.001; two more within rounding (0.002)
    # the two rows whose precalculated g does not follow from the arm numbers in the same line
    assert set(cmp.loc[~cmp["agrees"], "study_id"]) == {"MuellerWeinitschke2023", "VictorAigbodion2023"}


def test_analysis_of_the_imported_dataset(imported):
    res, d = imported
    df = effects(FilterSpec(outcome="depression", dataset=res.name), uploads_dir=d)
    assert df["study_id"].is_unique and len(df) > 300
    assert np.isfinite(df["yi"]).all() and (df["dataset"] == res.name).all()


def _mini_metapsy(rows: list[dict]) -> bytes:
    header = next(csv.reader(io.StringIO(PATH.read_text(encoding="utf-8").splitlines()[0]), delimiter=";"))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "NA") for h in header])
    return buf.getvalue().encode("utf-8")


ROW = {"": "1", "study": "A, 2001", "condition_arm1": "cbt", "condition_arm2": "cau", "outcome_type": "msd",
       "instrument": "bdi-ii", "rating": "self-report", "mean_arm1": "13,5", "sd_arm1": "8", "n_arm1": "48",
       "mean_arm2": "16", "sd_arm2": "8", "n_arm2": "47", ".g": "0,31", ".g_se": "0,2", "year": "2001",
       "time_weeks": "26", "time": "post", "format": "grp", "country": "uk", "target_group": "adul",
       "age_group": "adul", "rob": "3", ".id": "A_2001_x", "full_ref": "Fixture reference"}


def test_metapsy_rows_go_through_the_same_validation(tmp_path):
    bad = _mini_metapsy([ROW, dict(ROW, **{"": "2", "sd_arm2": "0", "instrument": "phq-9"})])
    rep = metapsy.validate_metapsy(bad)
    assert rep.problems == (ingest.Problem(3, "sd_ctl", "SD must be greater than 0, got 0"),)
    (tmp_path / "bad.csv").write_bytes(bad)
    with pytest.raises(InvalidSheet):
        metapsy.import_metapsy(tmp_path / "bad.csv", "broken", uploads_dir=tmp_path)
    assert ingest.list_datasets(tmp_path) == ()
    assert metapsy.validate_metapsy(b"").problems == (ingest.Problem(0, "", "the file is empty"),)
    missing = metapsy.validate_metapsy(b'"study";"x"\n"A, 2001";"1"\n').problems
    assert ingest.Problem(1, ".g", "missing required Metapsy column") in missing


def test_mapping_rules():
    cols, cells = metapsy.metapsy_rows(*metapsy.read_metapsy(_mini_metapsy([ROW])))
    rec = dict(zip(cols, cells[0]))
    assert rec["study_id"] == "A2001" and rec["first_author"] == "A"
    assert rec["mean_ps"] == "13.5" and rec["comparator"] == "usual care"
    assert rec["timepoint_months"] == "5.98" and rec["risk_of_bias"] == "some concerns"
    assert rec["higher_is_better"] == "no"  # g > 0 while the intervention mean is lower
    assert rec["reported_sign"] == "positive_favours_ps" and rec["ps_format"] == "group"
    z = 1.959963984540054
    assert float(rec["reported_ci_low"]) == pytest.approx(0.31 - z * 0.2)


def test_disagreements_on_fixture(con, tmp_path):
    (tmp_path / "m.csv").write_bytes(_mini_metapsy([ROW]))
    metapsy.import_metapsy(tmp_path / "m.csv", "mini", uploads_dir=tmp_path)
    dis = metapsy.disagreements("mini", con, uploads_dir=tmp_path)
    got = dis[dis["field"] != "row"]
    assert list(got["field"]) == ["mean_ps"] and list(got["shipped_effect_id"]) == ["A-2"]
    assert got["shipped"].iat[0] == 13.0 and got["metapsy"].iat[0] == 13.5
    # A2001's 3-month BDI-II row has no Metapsy counterpart and says so
    assert "A-1" in set(dis.loc[dis["field"] == "row", "shipped_effect_id"])


def test_disagreements_with_shipped_data(imported, shipped_con):
    res, d = imported
    dis = metapsy.disagreements(res.name, shipped_con, uploads_dir=d)
    # Fuhr 2019's PHQ-9 arm data are the same in the primary paper and in Metapsy (verification notes).
    fuhr = dis[(dis["study_id"] == "Fuhr2019") & (dis["field"] != "row")]
    assert fuhr.empty, fuhr
    assert set(dis.columns) == {"study_id", "measure", "timepoint_months", "field", "shipped", "metapsy",
                                "shipped_effect_id", "metapsy_effect_id", "note"}
