"""Build of the evidence store: validation rules, CHECK constraints, atomicity and staleness.

Every test builds from small fixture CSVs written into ``tmp_path`` (datasette style): a valid
dataset first, then one cell changed to break exactly one rule.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from evidence.store import build
from evidence.store import vocab
from evidence.store.build import DataValidationError, build_database, database_is_stale, ensure_database

SHIPPED_DATA = Path(__file__).resolve().parents[2] / "data"


def _study(study_id: str, **kw) -> dict:
    row = {c: "" for c in build.TABLE_COLUMNS["studies"]}
    row.update(study_id=study_id, first_author=study_id[:-4], year=study_id[-4:], design="RCT", pilot="no",
               population="depression", peer_deliverer="paid peer", in_white2020="no")
    row.update(kw)
    return row


def _source(source_id: str, study_id: str, quote: str, row: int) -> dict:
    return {"source_id": source_id, "study_id": study_id, "source_review": "primary paper",
            "source_url": "https://example.org/abstract", "source_location": "Abstract, Results",
            "source_quote": quote, "raw_file": "fixture.csv", "raw_row": str(row)}


def _effect(effect_id: str, study_id: str, source_id: str, **kw) -> dict:
    row = {c: "" for c in build.TABLE_COLUMNS["effects"]}
    row.update(effect_id=effect_id, study_id=study_id, source_id=source_id,
               comparison="peer support vs usual care", comparator="usual care", outcome="depression",
               measure="EPDS", higher_is_better="no", timepoint_months="3", derived="no", verification="verified")
    row.update(kw)
    return row


def fixture_tables() -> dict[str, list[dict]]:
    """A small valid dataset: two studies, one continuous, one binary and one reported-effect row."""
    return {
        "studies": [_study("Alpha2010"), _study("Beta2015", peer_deliverer="volunteer peer"),
                    _study("Gamma2020", flags="characteristics-only")],
        "sources": [
            _source("S1", "Alpha2010", "EPDS 9.1 (SD 4.2) n=50 vs 11.3 (SD 4.8) n=48", 1),
            _source("S2", "Beta2015", "12/60 vs 20/61 depressed; RR 0.61 (0.33 to 1.13)", 2),
            _source("S3", "Gamma2020", "", 3),
        ],
        "effects": [
            _effect("E1", "Alpha2010", "S1", n_ps="50", mean_ps="9.1", sd_ps="4.2", n_ctl="48", mean_ctl="11.3",
                    sd_ctl="4.8", score_type="post"),
            _effect("E2", "Beta2015", "S2", n_ps="60", n_ctl="61", events_ps="12", events_ctl="20",
                    score_type="events"),
            _effect("E3", "Beta2015", "S2", reported_effect="0.61", reported_effect_type="RR",
                    reported_ci_low="0.33", reported_ci_high="1.13", reported_sign="ps_minus_ctl",
                    flags="duplicate-data"),
        ],
        "reviews": [{c: "" for c in build.TABLE_COLUMNS["reviews"]} | {
            "review_id": "Rev2020", "first_author": "Rev", "year": "2020", "review_type": "SR with MA",
            "n_primary_studies": "9", "raw_file": "reviews.csv"}],
        "review_results": [{c: "" for c in build.TABLE_COLUMNS["review_results"]} | {
            "result_id": "R1", "review_id": "Rev2020", "outcome": "depression", "outcome_label": "Depression",
            "k_studies": "9", "effect_type": "SMD", "estimate": "-0.37", "ci_low": "-0.66", "ci_high": "-0.08",
            "reported_sign": "ps_minus_ctl", "i2": "84", "raw_file": "review_results.csv", "raw_row": "1"}],
        "review_trials": [{c: "" for c in build.TABLE_COLUMNS["review_trials"]} | {
            "membership_id": f"M-Rev2020-{t}", "review_id": "Rev2020", "trial_id": t, "study_id": sid,
            "review_label": label, "raw_file": "review_membership.csv", "raw_row": str(i)}
            for i, (t, sid, label) in enumerate((("Alpha2010", "Alpha2010", "Alpha 2010"),
                                                 ("Missing2011", "", "Missing 2011")), start=1)],
    }


def write_data_dir(path: Path, tables: dict[str, list[dict]] | None = None, version: str = "1.2.3") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_DATA / "vocab.csv", path / "vocab.csv")
    (path / "CHANGELOG.md").write_text(f"# Changelog\n\n## {version} - 2026-01-01\n\nFixture.\n", encoding="utf-8")
    for table, rows in (tables or fixture_tables()).items():
        with open(path / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(build.TABLE_COLUMNS[table]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def with_cell(table: str, index: int, **cells) -> dict[str, list[dict]]:
    tables = fixture_tables()
    tables[table][index].update(cells)
    return tables


# ---------------------------------------------------------------------------------------------
# A valid build


def test_a_data_folder_without_review_trials_builds_with_no_lists(tmp_path):
    tables = fixture_tables()
    del tables["review_trials"]
    result = build_database(write_data_dir(tmp_path / "data", tables), tmp_path / "e.duckdb")
    assert result.counts["review_trials"] == 0


def test_build_of_valid_fixture_loads_every_row(tmp_path):
    data = write_data_dir(tmp_path / "data")
    result = build_database(data, tmp_path / "e.duckdb")
    # risk_of_bias.csv is optional: a folder without it builds an empty table.
    assert result.counts == {"studies": 3, "sources": 3, "effects": 3, "reviews": 1, "review_results": 1,
                             "review_trials": 2, "risk_of_bias": 0}
    assert result.dataset_version == "1.2.3"
    con = duckdb.connect(str(tmp_path / "e.duckdb"), read_only=True)
    meta = dict(con.execute("SELECT key, value FROM metadata").fetchall())
    assert meta["dataset_version"] == "1.2.3"
    assert meta["content_hash"] == build.content_hash(data)
    assert meta["built_at"].startswith("20")
    # Typed columns: yes/no became booleans, numbers are numbers.
    row = con.execute("SELECT higher_is_better, derived, n_ps, sd_ps FROM effects WHERE effect_id = 'E1'").fetchone()
    assert row == (False, False, 50, 4.2)
    assert con.execute("SELECT flag FROM study_flags").fetchall() == [("characteristics-only",)]


def test_study_contribution_view_says_which_studies_have_usable_effects(tmp_path):
    build_database(write_data_dir(tmp_path / "data"), tmp_path / "e.duckdb")
    con = duckdb.connect(str(tmp_path / "e.duckdb"), read_only=True)
    got = dict(con.execute("SELECT study_id, contributes_effect FROM study_contribution").fetchall())
    assert got == {"Alpha2010": True, "Beta2015": True, "Gamma2020": False}
    kinds = dict(con.execute("SELECT effect_id, computable_from FROM effect_usability").fetchall())
    assert kinds == {"E1": "arm means and SDs", "E2": "arm events", "E3": "reported effect and CI"}


def test_effect_usability_gives_a_reason_when_a_row_cannot_be_used(tmp_path):
    tables = fixture_tables()
    tables["effects"][0].update(sd_ps="", sd_ctl="")
    tables["effects"][2].update(reported_ci_low="", reported_ci_high="")
    build_database(write_data_dir(tmp_path / "data", tables), tmp_path / "e.duckdb")
    con = duckdb.connect(str(tmp_path / "e.duckdb"), read_only=True)
    got = dict(con.execute("SELECT effect_id, unusable_reason FROM effect_usability").fetchall())
    assert got == {"E1": "arm means without SDs", "E2": None, "E3": "reported effect without a 95% CI"}


def test_effect_usability_needs_a_direction_unless_the_reported_effect_states_its_sign(tmp_path):
    tables = fixture_tables()
    tables["effects"][0].update(higher_is_better="")
    build_database(write_data_dir(tmp_path / "data", tables), tmp_path / "e.duckdb")
    con = duckdb.connect(str(tmp_path / "e.duckdb"), read_only=True)
    got = dict(con.execute("SELECT effect_id, reason_code FROM effect_usability").fetchall())
    assert got["E1"] == "no_direction"
    contributes = dict(con.execute("SELECT study_id, contributes_effect FROM study_contribution").fetchall())
    assert contributes == {"Alpha2010": False, "Beta2015": True, "Gamma2020": False}  # E1 was Alpha2010's only row


# ---------------------------------------------------------------------------------------------
# Validation rules: each with a failing example; the report names file, line and column.

RULES = [
    # id, table, row index, cells, (file, line, column), message fragment
    ("n_ps < 1", "effects", 0, {"n_ps": "0"}, ("effects.csv", 2, "n_ps"), "must be at least 1"),
    ("n_ctl < 1", "effects", 0, {"n_ctl": "-3"}, ("effects.csv", 2, "n_ctl"), "must be at least 1"),
    ("sd_ps = 0", "effects", 0, {"sd_ps": "0"}, ("effects.csv", 2, "sd_ps"), "must be greater than 0"),
    ("sd_ctl < 0", "effects", 0, {"sd_ctl": "-1.5"}, ("effects.csv", 2, "sd_ctl"), "must be greater than 0"),
    ("events > n", "effects", 1, {"events_ps": "61"}, ("effects.csv", 3, "events_ps"), "more than n_ps"),
    ("events < 0", "effects", 1, {"events_ctl": "-1"}, ("effects.csv", 3, "events_ctl"), "must be 0 or more"),
    ("ci_low > ci_high", "effects", 2, {"reported_ci_low": "1.2", "reported_effect": "1.3", "reported_ci_high": "1.1"},
     ("effects.csv", 4, "reported_ci_low"), "above the upper bound"),
    ("estimate below CI", "effects", 2, {"reported_effect": "0.2"}, ("effects.csv", 4, "reported_effect"),
     "below its CI lower bound"),
    ("estimate above CI", "effects", 2, {"reported_effect": "1.5"}, ("effects.csv", 4, "reported_effect"),
     "above its CI upper bound"),
    ("ratio CI <= 0", "effects", 2, {"reported_ci_low": "0", "reported_effect": "0.5"},
     ("effects.csv", 4, "reported_ci_low"), "must be greater than 0"),
    ("ratio estimate <= 0", "effects", 2, {"reported_effect": "-0.2", "reported_ci_low": "-0.5"},
     ("effects.csv", 4, "reported_effect"), "must be greater than 0"),
    ("year too late", "studies", 0, {"year": "20019"}, ("studies.csv", 2, "year"), "is outside"),
    ("year too early", "studies", 0, {"year": "1899"}, ("studies.csv", 2, "year"), "is outside"),
    ("text in a number", "effects", 0, {"mean_ps": "9,1"}, ("effects.csv", 2, "mean_ps"), "text where a number belongs"),
    ("fraction in a count", "effects", 0, {"n_ps": "50.5"}, ("effects.csv", 2, "n_ps"), "must be a whole number"),
    ("bad yes/no", "effects", 0, {"higher_is_better": "true"}, ("effects.csv", 2, "higher_is_better"),
     "must be 'yes' or 'no'"),
    ("unknown category", "studies", 0, {"population": "Depression"}, ("studies.csv", 2, "population"),
     "did you mean 'depression'?"),
    ("unknown comparator", "effects", 0, {"comparator": "TAU"}, ("effects.csv", 2, "comparator"),
     "not an allowed comparator value"),
    ("unknown flag", "studies", 1, {"flags": "derived;made-up"}, ("studies.csv", 3, "flags"),
     "'made-up' is not an allowed flag value"),
    ("missing required", "effects", 0, {"outcome": ""}, ("effects.csv", 2, "outcome"), "must not be empty"),
    ("derived without derivation", "effects", 0, {"derived": "yes", "derivation_kind": "re-signed"},
     ("effects.csv", 2, "derivation"), "must say how it was derived"),
    ("derived without kind", "effects", 0, {"derived": "yes", "derivation": "n from table 2"},
     ("effects.csv", 2, "derivation_kind"), "must name the kind"),
    ("unknown derivation kind", "effects", 0, {"derived": "yes", "derivation": "x", "derivation_kind": "guessed"},
     ("effects.csv", 2, "derivation_kind"), "not an allowed derivation_kind value"),
    ("effect type without sign", "effects", 2, {"reported_sign": ""}, ("effects.csv", 4, "reported_sign"),
     "required when reported_effect_type"),
    ("shared control without arm", "effects", 0, {"shared_control": "Alpha-peer"}, ("effects.csv", 2, "shared_arm"),
     "required when shared_control"),
    ("duplicate key", "effects", 1, {"effect_id": "E1"}, ("effects.csv", 3, "effect_id"), "duplicate key 'E1'"),
    ("dangling study", "effects", 0, {"study_id": "Nobody1999"}, ("effects.csv", 2, "study_id"),
     "is not a study_id in studies.csv"),
    ("dangling source", "effects", 0, {"source_id": "S99"}, ("effects.csv", 2, "source_id"),
     "is not a source_id in sources.csv"),
    ("source of another study", "effects", 0, {"source_id": "S2"}, ("effects.csv", 2, "source_id"),
     "belongs to study 'Beta2015'"),
    ("dangling review", "review_results", 0, {"review_id": "Nope2000"}, ("review_results.csv", 2, "review_id"),
     "is not a review_id"),
    ("i2 above 100", "review_results", 0, {"i2": "184"}, ("review_results.csv", 2, "i2"), "percentage 0-100"),
    ("k < 1", "review_results", 0, {"k_studies": "0"}, ("review_results.csv", 2, "k_studies"), "must be at least 1"),
    ("review CI reversed", "review_results", 0, {"ci_low": "-0.01", "ci_high": "-0.66", "estimate": "-0.37"},
     ("review_results.csv", 2, "ci_low"), "above the upper bound"),
    ("membership of an unknown review", "review_trials", 0, {"review_id": "Nope2000"},
     ("review_trials.csv", 2, "review_id"), "is not a review_id"),
    ("membership naming an unknown study", "review_trials", 1, {"study_id": "Missing2011"},
     ("review_trials.csv", 3, "study_id"), "is not a study_id"),
    ("raw_row < 1", "sources", 0, {"raw_row": "0"}, ("sources.csv", 2, "raw_row"), "must be at least 1"),
]


@pytest.mark.parametrize("table,index,cells,where,fragment", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_validation_rule_refuses_a_failing_example(tmp_path, table, index, cells, where, fragment):
    data = write_data_dir(tmp_path / "data", with_cell(table, index, **cells))
    with pytest.raises(DataValidationError) as err:
        build_database(data, tmp_path / "e.duckdb")
    hits = [p for p in err.value.problems if (p.file, p.line, p.column) == where]
    assert hits, f"no problem at {where}; got {[str(p) for p in err.value.problems]}"
    assert any(fragment in p.message for p in hits), [p.message for p in hits]
    assert not (tmp_path / "e.duckdb").exists()


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    tables = fixture_tables()
    tables["effects"][0].update(n_ps="0", sd_ctl="-1")
    tables["effects"][1].update(events_ctl="99")
    tables["studies"][2].update(setting="hospital")
    data = write_data_dir(tmp_path / "data", tables)
    with pytest.raises(DataValidationError) as err:
        build_database(data, tmp_path / "e.duckdb")
    where = {(p.file, p.line, p.column) for p in err.value.problems}
    assert where == {("effects.csv", 2, "n_ps"), ("effects.csv", 2, "sd_ctl"), ("effects.csv", 3, "events_ctl"),
                     ("studies.csv", 4, "setting")}
    text = str(err.value)
    assert "4 problem(s)" in text and "effects.csv line 3, column events_ctl" in text


def test_missing_file_column_and_version_are_reported(tmp_path):
    data = write_data_dir(tmp_path / "data")
    (data / "reviews.csv").unlink()
    with open(data / "sources.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(data / "sources.csv", "w", newline="", encoding="utf-8") as fh:
        cols = [c for c in build.TABLE_COLUMNS["sources"] if c != "source_quote"]
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (data / "CHANGELOG.md").write_text("# Changelog\n\nno version yet\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        build_database(data, tmp_path / "e.duckdb")
    msgs = {(p.file, p.column): p.message for p in err.value.problems}
    assert msgs[("reviews.csv", "")] == "file is missing"
    assert "required column(s) missing" in msgs[("sources.csv", "source_quote")]
    assert "x.y.z" in msgs[("CHANGELOG.md", "")]


def test_non_utf8_and_ragged_rows_are_reported(tmp_path):
    data = write_data_dir(tmp_path / "data")
    (data / "reviews.csv").write_bytes((data / "reviews.csv").read_bytes() + "\n\xe9t\xe9".encode("latin-1"))
    with open(data / "studies.csv", "a", encoding="utf-8") as fh:
        fh.write("Delta2001,Delta\n")
    with pytest.raises(DataValidationError) as err:
        build_database(data, tmp_path / "e.duckdb")
    msgs = [str(p) for p in err.value.problems]
    assert any(m.startswith("reviews.csv: not valid UTF-8") for m in msgs), msgs
    assert any(m.startswith("studies.csv line 5: has 2 cells") for m in msgs), msgs


def test_vocab_rules(tmp_path):
    data = write_data_dir(tmp_path / "data")
    with open(data / "vocab.csv", "a", encoding="utf-8") as fh:
        fh.write('outcome,"a,b",Bad,,99\n')
        fh.write("outcome,depression,Again,,100\n")
        fh.write("Bad Field,x,X,,1\n")
    with pytest.raises(DataValidationError) as err:
        build_database(data, tmp_path / "e.duckdb")
    msgs = [p.message for p in err.value.problems if p.file == "vocab.csv"]
    assert any("must not contain ','" in m for m in msgs)
    assert any("duplicate value 'depression'" in m for m in msgs)
    assert any("lower-case letters" in m for m in msgs)


# ---------------------------------------------------------------------------------------------
# The SQL constraints themselves, bypassing the Python checks: each CHECK and FOREIGN KEY refuses a row.

SQL_VIOLATIONS = [
    ("n >= 1", "UPDATE effects SET n_ps = 0 WHERE effect_id = 'E1'"),
    ("sd > 0", "UPDATE effects SET sd_ctl = 0 WHERE effect_id = 'E1'"),
    ("events <= n", "UPDATE effects SET events_ps = 61 WHERE effect_id = 'E2'"),
    ("events >= 0", "UPDATE effects SET events_ctl = -1 WHERE effect_id = 'E2'"),
    ("ci ordered", "UPDATE effects SET reported_ci_low = 2, reported_effect = 2.5, reported_ci_high = 1.5 "
                   "WHERE effect_id = 'E3'"),
    ("estimate inside ci", "UPDATE effects SET reported_effect = 3 WHERE effect_id = 'E3'"),
    ("ratio > 0", "UPDATE effects SET reported_ci_low = -0.1 WHERE effect_id = 'E3'"),
    ("derived needs derivation", "UPDATE effects SET derived = true, derivation_kind = 're-signed' "
                                 "WHERE effect_id = 'E1'"),
    ("derived needs kind", "UPDATE effects SET derived = true, derivation = 'x' WHERE effect_id = 'E1'"),
    ("sign needed", "UPDATE effects SET reported_sign = NULL WHERE effect_id = 'E3'"),
    ("timepoint >= 0", "UPDATE effects SET timepoint_months = -1 WHERE effect_id = 'E1'"),
    ("year sane", "UPDATE studies SET year = 20019 WHERE study_id = 'Gamma2020'"),
    ("vocab FK", "UPDATE studies SET population = 'martians' WHERE study_id = 'Gamma2020'"),
    ("outcome FK", "INSERT INTO effects (effect_id, study_id, source_id, comparison, outcome, derived, verification) "
                   "VALUES ('E9', 'Alpha2010', 'S1', 'x', 'happiness', false, 'verified')"),
    ("study FK", "INSERT INTO sources (source_id, study_id, raw_file, raw_row) VALUES ('S9', 'Nobody1999', 'f', 1)"),
    ("flag FK", "INSERT INTO study_flags VALUES ('Alpha2010', 'made-up')"),
    ("review i2", "UPDATE review_results SET i2 = 101 WHERE result_id = 'R1'"),
]


@pytest.mark.parametrize("sql", [v[1] for v in SQL_VIOLATIONS], ids=[v[0] for v in SQL_VIOLATIONS])
def test_each_sql_constraint_refuses_a_violating_row(tmp_path, sql):
    db = tmp_path / "e.duckdb"
    build_database(write_data_dir(tmp_path / "data"), db)
    con = duckdb.connect(str(db))
    with pytest.raises(duckdb.ConstraintException):
        con.execute(sql)


# ---------------------------------------------------------------------------------------------
# Atomicity and staleness


def test_failed_build_leaves_previous_database_byte_identical(tmp_path):
    data = write_data_dir(tmp_path / "data")
    db = tmp_path / "e.duckdb"
    build_database(data, db)
    before = db.read_bytes()
    mtime = db.stat().st_mtime_ns
    write_data_dir(data, with_cell("effects", 0, sd_ps="-2"))
    with pytest.raises(DataValidationError):
        build_database(data, db)
    assert db.read_bytes() == before
    assert db.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "e.duckdb"]  # no temp file left behind


def test_failure_during_load_also_leaves_old_database_and_no_temp_file(tmp_path, monkeypatch):
    data = write_data_dir(tmp_path / "data")
    db = tmp_path / "e.duckdb"
    build_database(data, db)
    before = db.read_bytes()
    write_data_dir(data, with_cell("effects", 0, mean_ps="9.9"))

    def broken_insert(con, table, frame):
        if table == "effects":
            raise duckdb.IOException("disk full (simulated)")
        original(con, table, frame)

    original = build._insert
    monkeypatch.setattr(build, "_insert", broken_insert)
    with pytest.raises(duckdb.IOException):
        build_database(data, db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "e.duckdb"]


def test_staleness_follows_content_not_just_time(tmp_path):
    data = write_data_dir(tmp_path / "data")
    db = tmp_path / "e.duckdb"
    assert database_is_stale(data, db)  # missing
    first = ensure_database(data, db)
    assert first is not None and not database_is_stale(data, db)
    assert ensure_database(data, db) is None  # fresh: no rebuild
    os.utime(data / "effects.csv")  # touched, same bytes
    assert not database_is_stale(data, db)
    write_data_dir(data, with_cell("effects", 0, mean_ps="9.2"))
    assert database_is_stale(data, db)
    second = ensure_database(data, db)
    assert second is not None and second.content_hash != first.content_hash
    assert not database_is_stale(data, db)
    (data / "CHANGELOG.md").write_text("## 1.2.4\n", encoding="utf-8")  # a new version is a new dataset
    assert database_is_stale(data, db)


def test_unreadable_database_is_stale(tmp_path):
    data = write_data_dir(tmp_path / "data")
    db = tmp_path / "e.duckdb"
    db.write_bytes(b"not a database")
    assert database_is_stale(data, db)
    ensure_database(data, db)
    assert build.read_metadata(db)["dataset_version"] == "1.2.3"


def test_command_line_build_reports_problems_and_exit_code(tmp_path, capsys):
    from evidence.__main__ import main

    data = write_data_dir(tmp_path / "data")
    assert main(["build", "--data-dir", str(data), "--db", str(tmp_path / "e.duckdb")]) == 0
    assert "dataset 1.2.3" in capsys.readouterr().out
    assert main(["build", "--data-dir", str(data), "--db", str(tmp_path / "e.duckdb"), "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().out
    write_data_dir(data, with_cell("effects", 1, events_ps="70"))
    assert main(["build", "--data-dir", str(data), "--db", str(tmp_path / "e.duckdb")]) == 1
    assert "effects.csv line 3, column events_ps" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Vocabulary module


def test_vocab_module_gives_values_labels_and_suggestions():
    v = vocab.load_vocab(SHIPPED_DATA)
    assert v.values("ps_format") == ("one-to-one", "group", "mixed")
    assert v.label("comparator", "waitlist") == "Waiting list"
    assert v.label("comparator", "unknown thing") == "unknown thing"
    assert v.suggest("comparator", "Usual Care") == "usual care"
    assert v.suggest("outcome", "deprssion") == "depression"
    assert v.suggest("outcome", "zzzz") is None
    with pytest.raises(vocab.UnknownVocabField, match="must be one of"):
        v.values("colour")


def test_every_categorical_column_of_the_schema_has_a_vocab_field():
    v = vocab.load_vocab(SHIPPED_DATA)
    for table, cols in vocab.COLUMN_FIELDS.items():
        for col, field in cols.items():
            assert col in build.TABLE_COLUMNS[table], (table, col)
            assert v.values(field), field
