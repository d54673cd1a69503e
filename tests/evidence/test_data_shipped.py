"""The shipped data itself: controlled lists, counts stated in CHANGELOG.md, curation reproducible from
data/raw + data/curation, White 2020 coding carried over, every study's deliverer classified."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from pathlib import Path

import duckdb
import pytest

from evidence.store import build
from evidence.store import vocab

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _load_curate():
    spec = importlib.util.spec_from_file_location("curate_raw", ROOT / "scripts" / "curate_raw.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("curate_raw", module)
    spec.loader.exec_module(module)
    return sys.modules["curate_raw"]


curate = _load_curate()


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def shipped_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("shipped") / "evidence.duckdb"
    build.build_database(DATA, db)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_shipped_data_passes_every_validation_rule():
    problems, tables, _ = build.validate_data_dir(DATA)
    assert [str(p) for p in problems] == []
    assert set(tables) == set(build.LOAD_ORDER)


@pytest.mark.parametrize("table", sorted(vocab.COLUMN_FIELDS))
def test_every_categorical_value_in_the_shipped_csvs_is_in_vocab(table):
    v = vocab.load_vocab(DATA)
    bad = []
    for i, row in enumerate(_read(f"{table}.csv"), start=2):
        for col, field in vocab.COLUMN_FIELDS[table].items():
            cell = row[col].strip()
            if not cell:
                continue
            values = cell.split(";") if field in ("flag", "derivation_kind") else [cell]
            bad += [(i, col, x) for x in values if not v.is_valid(field, x)]
    assert bad == []


def test_vocab_has_no_unused_field_and_every_field_is_documented():
    v = vocab.load_vocab(DATA)
    used = {f for cols in vocab.COLUMN_FIELDS.values() for f in cols.values()}
    assert set(v.fields()) == used
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for field in v.fields():
        assert f"`{field}`" in doc, f"vocab field {field} is not documented in docs/data-model.md"


def test_every_schema_column_is_documented():
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for table, cols in build.TABLE_COLUMNS.items():
        for col in cols:
            assert f"`{col}`" in doc, f"{table}.{col} is not documented in docs/data-model.md"


def _changelog_counts() -> tuple[str, dict[str, int]]:
    text = (DATA / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    first = sections[1]
    version = first.split()[0]
    counts = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"^\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|\s*$",
                                                                          first, flags=re.MULTILINE)}
    return version, counts


def test_changelog_counts_are_reproduced_by_the_shipped_data():
    version, stated = _changelog_counts()
    assert version == build.dataset_version(DATA)
    assert stated, "CHANGELOG.md's current section has no counts table"
    assert stated == curate.dataset_counts(DATA)


def test_changelog_usable_counts_agree_with_the_database_view(shipped_db):
    _, stated = _changelog_counts()
    total = shipped_db.execute("SELECT count(*) FROM study_contribution WHERE contributes_effect").fetchone()[0]
    assert stated["studies the dashboard pools (SMD, log RR or log OR)"] == total
    per_outcome = dict(shipped_db.execute(
        "SELECT outcome, count(DISTINCT study_id) FROM effect_usability WHERE computable_from IS NOT NULL "
        "GROUP BY outcome").fetchall())
    stated_outcomes = {k.split(": ", 1)[1]: v for k, v in stated.items()
                       if k.startswith("studies the dashboard pools: ")}
    assert stated_outcomes == per_outcome
    assert stated["characteristics-only studies"] == shipped_db.execute(
        "SELECT count(*) FROM study_flags WHERE flag = 'characteristics-only'").fetchone()[0]
    assert stated["studies"] == shipped_db.execute("SELECT count(*) FROM studies").fetchone()[0]


def test_characteristics_only_studies_are_exactly_those_without_effect_rows(shipped_db):
    rows = shipped_db.execute(
        "SELECT s.study_id, list_contains(string_split(coalesce(s.flags, ''), ';'), 'characteristics-only'), "
        "c.n_effect_rows FROM studies s JOIN study_contribution c USING (study_id)").fetchall()
    for study_id, flagged, n in rows:
        assert flagged == (n == 0), study_id


def test_curation_is_reproducible_from_raw_and_curation_tables():
    """data/*.csv are generated: running the curation again gives the same rows (nobody hand-edited them)."""
    out = curate.curate(DATA, write=False)
    for table, columns in (("studies", curate.STUDIES_COLUMNS), ("effects", curate.EFFECTS_COLUMNS),
                           ("sources", curate.SOURCES_COLUMNS), ("reviews", curate.REVIEWS_COLUMNS),
                           ("review_results", curate.REVIEW_RESULTS_COLUMNS),
                           ("review_trials", curate.REVIEW_TRIALS_COLUMNS)):
        regenerated = [{c: curate._cell(r.get(c)) for c in columns} for r in out[table]]
        assert regenerated == _read(f"{table}.csv"), table


def test_white2020_coding_is_on_every_trial_it_covers():
    aliases = {a["alias_id"]: a["study_id"] for a in csv.DictReader(open(DATA / "curation" / "study_aliases.csv"))}
    studies = {s["study_id"]: s for s in _read("studies.csv")}
    white = list(csv.DictReader(open(DATA / "raw" / "white2020_trials.csv", newline="", encoding="utf-8")))
    assert len(white) == 19
    for w in white:
        s = studies[aliases.get(w["study_id"], w["study_id"])]
        assert s["in_white2020"] == "yes"
        assert (s["ps_role"], s["org_support"]) == (w["ps_role"], w["org_support"]), w["study_id"]
    assert sum(s["in_white2020"] == "yes" for s in studies.values()) == 19


def test_every_study_has_a_stated_deliverer_classification():
    for s in _read("studies.csv"):
        assert s["peer_deliverer"], s["study_id"]
        assert s["peer_deliverer_basis"] and "not yet classified" not in s["peer_deliverer_basis"], s["study_id"]
    borderline = {"near-peer", "community health worker", "mutual support", "professional with peer co-facilitation"}
    for s in _read("studies.csv"):
        assert ("borderline-peer" in s["flags"].split(";")) == (s["peer_deliverer"] in borderline), s["study_id"]


def test_merged_trials_keep_every_source():
    studies = {s["study_id"]: s for s in _read("studies.csv")}
    sources = _read("sources.csv")
    assert "Mahlke2016" in studies["Mahlke2017"]["id_aliases"].split(";")
    assert "Chinman2013" in studies["Chinman2015"]["id_aliases"].split(";")
    assert "Sells2008" not in studies and "Mahlke2016" not in studies and "Chinman2013" not in studies
    mahlke_files = {s["raw_file"] for s in sources if s["study_id"] == "Mahlke2017"}
    assert {"smi_trials.csv", "cochrane_trials.csv", "white2020_trials.csv"} <= mahlke_files


def test_same_number_from_two_sources_is_grouped_and_disagreements_flagged():
    effects = {e["effect_id"]: e for e in _read("effects.csv")}
    long_pub, long_conf = effects["E-chronic_trials-002"], effects["E-chronic_trials-003"]
    assert long_pub["duplicate_group"] == long_conf["duplicate_group"] != ""
    assert "-1.07" in long_pub["disagreement"] and "-1.01" in long_pub["disagreement"]
    assert "sources-disagree" in long_pub["flags"].split(";")
    mulf = [e for e in effects.values() if e["duplicate_group"] == "D-Mulfinger2018-stigma-stress-T1-d"]
    assert len(mulf) == 2 and all("duplicate-data" in e["flags"].split(";") and not e["disagreement"] for e in mulf)


def test_sign_conventions():
    effects = _read("effects.csv")
    for e in effects:
        if e["reported_effect_type"] in ("g", "d"):
            assert e["reported_sign"] == "positive_favours_ps", e["effect_id"]
        elif e["reported_effect_type"]:
            assert e["reported_sign"] in ("ps_minus_ctl", "positive_favours_ps"), e["effect_id"]
    lloyd = [r for r in _read("review_results.csv") if r["review_id"] == "LloydEvans2014"]
    assert lloyd and all(r["reported_sign"] == "negative_favours_ps" for r in lloyd)


def test_shared_arms_are_marked_for_multi_comparison_trials():
    effects = _read("effects.csv")
    by_study: dict[str, set[str]] = {}
    for e in effects:
        by_study.setdefault(e["study_id"], set()).add(e["comparison"])
    for e in effects:
        if len(by_study[e["study_id"]]) > 1:
            assert e["shared_control"] and e["shared_arm"], (e["effect_id"], by_study[e["study_id"]])


def test_review_trials_list_every_membership_row_and_mark_the_trials_we_lack():
    """review_trials.csv carries every row of the raw membership files; a trial not in studies.csv keeps its
    id with an empty study_id (listed, never dropped)."""
    raw = list(csv.DictReader(open(DATA / "raw" / "review_membership.csv", newline="", encoding="utf-8")))
    shipped = _read("review_trials.csv")
    assert len(shipped) == len(raw)
    studies = {s["study_id"] for s in _read("studies.csv")}
    for r in shipped:
        assert r["study_id"] in ("", r["trial_id"]), r["membership_id"]
        assert (r["study_id"] == r["trial_id"]) == (r["trial_id"] in studies), r["membership_id"]
    white = [r for r in shipped if r["review_id"] == "White2020"]
    assert len(white) == 19 and all(r["study_id"] for r in white)
    lacking = {r["trial_id"] for r in shipped if r["review_id"] == "Patil2016" and not r["study_id"]}
    assert {"Keyserling2002", "Ayala2015"} <= lacking
