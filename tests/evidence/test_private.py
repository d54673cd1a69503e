"""Imported datasets are private to the session that made them (issue 14): namespaces, share links, limits,
expiry. Two sessions are two owner tokens over one uploads folder, as in the app."""

from __future__ import annotations

import os
import time

import pytest

from evidence import FilterSpec, analyse, effects, query
from evidence.core.errors import InvalidDatasetName, LimitExceeded, UnknownDataset
from evidence.ingest import uploads as own_import
from evidence.ingest.sheet import validate_sheet
from evidence.store import connection, limits, namespaces
from tests.evidence.test_ingest import GOOD, GOOD2, sheet


@pytest.fixture()
def root(tmp_path):
    return tmp_path / "uploads"


def session(root):
    return namespaces.owner_dir(namespaces.new_owner_token(), root)


def put(folder, name, *rows, replace=False, root=None):
    report = validate_sheet(sheet(*(rows or (GOOD, GOOD2))), "s.csv")
    return own_import.import_own(report, name, folder, source_file="s.csv", replace=replace, root=root)


def test_owner_folders_differ_and_do_not_reveal_the_token(root):
    token = namespaces.new_owner_token()
    folder = namespaces.owner_dir(token, root)
    assert folder == namespaces.owner_dir(token, root) and folder.parent == root / namespaces.SESSIONS
    assert token not in str(folder) and folder != session(root)
    with pytest.raises(ValueError):
        namespaces.owner_dir("", root)


def test_a_dataset_of_session_a_is_invisible_and_unopenable_for_b(con, root):
    a, b = session(root), session(root)
    put(a, "mine")
    assert connection.list_datasets(a) == ("mine",)
    assert connection.list_datasets(b) == ()
    with pytest.raises(UnknownDataset) as info:
        effects(FilterSpec(outcome="depression", dataset="mine"), con, uploads_dir=b)
    assert info.value.valid == ("shipped", "all")  # lists only what B may open, never A's names
    assert "mine" not in str(info.value).replace("'mine'", "")
    assert set(effects(FilterSpec(outcome="depression", dataset="mine"), con, uploads_dir=a)["study_id"]) == {
        "Smith2020", "Jones2018"}


def test_all_is_shipped_plus_own(con, root):
    a, b = session(root), session(root)
    put(a, "a-trials")
    put(b, "b-trials", GOOD)
    shipped_k = analyse(FilterSpec(outcome="depression"), con=con).k
    merged_a = analyse(FilterSpec(outcome="depression", dataset="all"), con=con, uploads_dir=a)
    merged_b = analyse(FilterSpec(outcome="depression", dataset="all"), con=con, uploads_dir=b)
    assert set(merged_a.effects["dataset"]) == {"shipped", "a-trials"} and merged_a.k == shipped_k + 2
    assert set(merged_b.effects["dataset"]) == {"shipped", "b-trials"} and merged_b.k == shipped_k + 1
    counts = query.count_studies(FilterSpec(outcome="depression", dataset="all"), con, uploads_dir=b)
    assert counts == shipped_k + 1


def test_replace_only_within_the_own_session(root):
    a, b = session(root), session(root)
    put(a, "same")
    before = (a / "same.duckdb").read_bytes()
    res = put(b, "same", GOOD, replace=True)  # B's "replace" makes B's own dataset; A's is untouched
    assert res.path.parent == b and (a / "same.duckdb").read_bytes() == before
    with pytest.raises(InvalidDatasetName, match="already exists"):
        put(a, "same", GOOD)
    assert put(a, "same", GOOD, replace=True).n_studies == 1
    assert query.metadata(connection.connect_dataset("same", b))["n_studies"] == "1"


def test_limits_are_checked_before_the_work_and_named(root, monkeypatch):
    a = session(root)
    monkeypatch.setattr(limits, "MAX_DATASETS_PER_SESSION", 2)
    put(a, "one")
    put(a, "two")
    with pytest.raises(LimitExceeded, match=r"imported datasets per browser session is 2; this session has 2"):
        own_import.check_can_import(a, "three")
    own_import.check_can_import(a, "two", replace=True)  # replacing takes no new place
    monkeypatch.setattr(limits, "MAX_STUDIES_PER_DATASET", 1)
    with pytest.raises(LimitExceeded, match=r"studies per imported dataset is 1; this sheet has 2"):
        put(a, "two", replace=True)
    monkeypatch.setattr(limits, "MAX_SESSION_DISK_BYTES", 1000)
    with pytest.raises(LimitExceeded, match=r"disk per session is 0 MB; this session's datasets take"):
        own_import.check_can_import(a, "two", replace=True)
    monkeypatch.setattr(limits, "MAX_SESSION_DISK_BYTES", 10**12)
    monkeypatch.setattr(limits, "MAX_UPLOADS_DISK_BYTES", 2_000_000)
    with pytest.raises(LimitExceeded, match=r"disk for all uploads on this server is 2 MB"):
        own_import.check_can_import(session(root), "x", root=root)


def test_expiry_deletes_old_uploads_and_their_links(root):
    a, b = session(root), session(root)
    put(a, "old")
    put(a, "new", GOOD)
    token = namespaces.create_share(a, "old", root)
    assert namespaces.open_share(token, b, root) == "old"
    long_ago = time.time() - limits.UPLOAD_LIFETIME_SECONDS - 60
    os.utime(a / "old.duckdb", (long_ago, long_ago))
    removed = namespaces.expire(root)
    assert a / "old.duckdb" in removed and not (a / "old.duckdb").exists()
    assert connection.list_datasets(a) == ("new",) and connection.list_datasets(b) == ()
    assert not list((root / namespaces.SHARES).glob("*.json")) and not list(b.glob("*.share"))
    with pytest.raises(namespaces.InvalidShareLink, match="expired"):
        namespaces.open_share(token, b, root)
    os.utime(a / "new.duckdb", (long_ago, long_ago))
    namespaces.expire(root)
    assert not a.exists()  # an emptied session folder goes too


def test_share_token_opens_read_only_for_others(con, root):
    a, b, c = session(root), session(root), session(root)
    put(a, "shared-one")
    token = namespaces.create_share(a, "shared-one", root)
    assert len(token) >= 32 and token not in "".join(p.read_text() for p in root.rglob("*.json"))
    put(b, "shared-one", GOOD)  # B has its own dataset of that name: the shared one is renamed
    name = namespaces.open_share(token, b, root)
    assert name == "shared-one-shared" and namespaces.open_share(token, b, root) == name
    assert set(connection.list_datasets(b)) == {"shared-one", "shared-one-shared"}
    got = effects(FilterSpec(outcome="depression", dataset=name), con, uploads_dir=b)
    assert set(got["study_id"]) == {"Smith2020", "Jones2018"}
    ro = connection.connect_dataset(name, b)
    with pytest.raises(Exception, match="read-only"):
        ro.execute("DELETE FROM effects")
    assert connection.list_datasets(c) == ()  # a link opened by B gives C nothing
    assert namespaces.open_share(token, a, root) == "shared-one"  # the owner's own link: its own dataset
    before = (a / "shared-one.duckdb").read_bytes()
    put(b, name, GOOD, replace=True)  # B replacing "its" shared copy makes B's own; A's file is untouched
    assert (a / "shared-one.duckdb").read_bytes() == before and not (b / f"{name}.share").exists()
    for bad in ("", "x", "../../etc/passwd" * 2, namespaces.new_owner_token()):
        with pytest.raises(namespaces.InvalidShareLink) as info:
            namespaces.open_share(bad, c, root)
        assert info.value.valid == ("shipped", "all")


def test_share_of_a_dataset_not_owned_is_refused(root):
    a, b = session(root), session(root)
    put(a, "private")
    with pytest.raises(UnknownDataset):
        namespaces.create_share(b, "private", root)


def test_delete_own_dataset(root):
    a = session(root)
    put(a, "gone")
    assert namespaces.delete_dataset(a, "gone") and connection.list_datasets(a) == ()
    assert not namespaces.delete_dataset(a, "../gone")


def test_namespace_key_changes_with_the_folder(root):
    a = session(root)
    k0 = namespaces.namespace_key(a)
    put(a, "k")
    k1 = namespaces.namespace_key(a)
    put(a, "k", GOOD, replace=True)
    assert len({k0, k1, namespaces.namespace_key(a)}) == 3


def test_limits_read_positive_numbers_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVIDENCE_TEST_LIMIT", "7.5")
    assert limits._number("EVIDENCE_TEST_LIMIT", 3) == 7.5
    for bad in ("", "zero", "-1", "0"):
        monkeypatch.setenv("EVIDENCE_TEST_LIMIT", bad)
        assert limits._number("EVIDENCE_TEST_LIMIT", 3) == 3
    named = dict(limits.describe_limits())
    assert named["Imported datasets per browser session"] == str(limits.MAX_DATASETS_PER_SESSION)
    assert named["Lifetime of an upload and its share links"].endswith("hours after import")


def test_old_files_of_the_former_shared_folder_expire_too(root):
    root.mkdir(parents=True)
    legacy, fresh = root / "old-shared.duckdb", root / "fresh-shared.duckdb"
    legacy.write_bytes(b"x")
    fresh.write_bytes(b"x")
    long_ago = time.time() - limits.UPLOAD_LIFETIME_SECONDS - 1
    os.utime(legacy, (long_ago, long_ago))
    assert namespaces.expire(root) == [legacy] and fresh.exists()


def test_a_dataset_downloads_as_a_sheet_that_imports_again_unchanged(root):
    from evidence.present.export import table_csv

    a, b = session(root), session(root)
    formula = dict(GOOD2, measure="=1+1", source_quote="note;=2+2")
    original = validate_sheet(sheet(GOOD, formula), "s.csv")
    own_import.import_own(original, "round", a, source_file="s.csv")
    data = table_csv(own_import.dataset_as_sheet("round", a))
    again = validate_sheet(data, "round.csv")
    assert again.ok, again.problems
    assert again.records[1]["measure"] == "'=1+1"  # the download neutralises formula-like text (an apostrophe)
    own_import.import_own(again, "round", b, source_file="round.csv")  # another session imports the file
    first, second = connection.connect_dataset("round", a), connection.connect_dataset("round", b)
    assert query.table("studies", first).equals(query.table("studies", second))
    eff_a, eff_b = query.table("effects", first), query.table("effects", second)
    assert eff_b.loc[1, "measure"] == "'=1+1"
    eff_b.loc[1, "measure"] = "=1+1"
    assert eff_a.equals(eff_b)  # every number, category and note as stored, the ids too
    src = [query.table("sources", c).drop(columns=["raw_file"]) for c in (first, second)]
    # a formula after ';' is defused too (Excel in ';'-separated locales would start a cell there)
    assert src[1].loc[1, "source_quote"] == "note;'=2+2"
    src[1].loc[1, "source_quote"] = "note;=2+2"
    assert src[0].equals(src[1])
