"""AppTest of the Data page's private datasets (issue 14): a session sees, opens, shares and deletes only its
own imports; another session's name in a link gives a neutral notice; limits are refused by name; heavy
diagnostics on large k wait for a click. Two sessions are two AppTests with their own owner tokens over one
temporary uploads folder (the app's real code path: the token in session state names the folder)."""

from __future__ import annotations

import pytest

from evidence.ingest import uploads as own_import
from evidence.ingest.sheet import validate_sheet
from evidence.store import connection, limits, namespaces
from pages._owner import KEY_OWNER
from tests.app.app_helpers import PAGES, run_app
from tests.evidence.test_ingest import GOOD, GOOD2, sheet

OUTCOME = "depression"


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(connection, "UPLOADS_DIR", tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture()
def owner_a(root):
    token = namespaces.new_owner_token()
    report = validate_sheet(sheet(GOOD, GOOD2), "mine.csv")
    own_import.import_own(report, "mine", namespaces.owner_dir(token), source_file="mine.csv")
    return token


def dataset_box(at):
    return at.sidebar.selectbox(key="flt_dataset")


def test_own_dataset_is_listed_and_analysed_in_its_session(owner_a):
    at = run_app({"outcome": OUTCOME, "dataset": "mine"}, page=PAGES["Explore"], state={KEY_OWNER: owner_a})
    assert not at.exception
    assert dataset_box(at).options == ["Shipped dataset", "Shipped + your imported datasets", "Imported: mine"]
    assert dataset_box(at).value == "mine"
    assert [m.value for m in at.metric if m.label == "Studies (k)"] == ["2"]
    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"], state={KEY_OWNER: owner_a})
    rows = next(d.value for d in at.dataframe if "access" in d.value.columns)
    assert list(rows["dataset"]) == ["shipped", "mine"] and rows["access"].iat[1] == "imported by you"
    assert any("private to this browser session" in i.value for i in at.info)


def test_another_session_neither_lists_nor_opens_it(owner_a):
    at = run_app({"outcome": OUTCOME, "dataset": "mine"}, page=PAGES["Explore"], state={KEY_OWNER: namespaces.new_owner_token()})
    assert not at.exception
    assert dataset_box(at).options == ["Shipped dataset", "Shipped + your imported datasets"]
    assert dataset_box(at).value == "shipped"
    notice = " ".join(i.value for i in at.info)
    assert "no such dataset" in notice and "Datasets you can open: shipped, all" in notice
    assert "mine" not in notice.replace("'mine'", "")
    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"], state={KEY_OWNER: namespaces.new_owner_token()})
    rows = next(d.value for d in at.dataframe if "access" in d.value.columns)
    assert list(rows["dataset"]) == ["shipped"]


def test_share_link_opens_it_read_only_in_another_session(owner_a):
    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"], state={KEY_OWNER: owner_a})
    at.button(key="btn_share").click()
    at.run()
    assert not at.exception
    link = next(c.value for c in at.code if "share=" in c.value)
    token = link.split("share=", 1)[1]
    assert len(token) >= 32
    other = namespaces.new_owner_token()
    at = run_app({"share": token, "outcome": OUTCOME}, page=PAGES["Explore"], state={KEY_OWNER: other})
    assert not at.exception
    assert dataset_box(at).value == "mine"
    assert [m.value for m in at.metric if m.label == "Studies (k)"] == ["2"]
    assert "share" not in at.query_params and at.query_params["dataset"] == "mine"
    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"], state={KEY_OWNER: other})
    rows = next(d.value for d in at.dataframe if "access" in d.value.columns)
    assert rows["access"].iat[1] == "opened from a share link (read-only)"
    assert "btn_share" not in [b.key for b in at.button]  # a dataset shared with you is not yours to share
    bad = run_app({"share": "x" * 43, "outcome": OUTCOME}, page=PAGES["Explore"], state={KEY_OWNER: namespaces.new_owner_token()})
    assert any("This share link does not open a dataset" in i.value for i in bad.info)
    assert dataset_box(bad).value == "shipped"


def test_delete_removes_it(owner_a):
    at = run_app({"outcome": OUTCOME}, page=PAGES["Data"], state={KEY_OWNER: owner_a})
    at.button(key="btn_delete").click()
    at.run()
    assert not at.exception
    assert connection.list_datasets(namespaces.owner_dir(owner_a)) == ()


def test_heavy_diagnostics_wait_for_a_click_above_the_limit(monkeypatch):
    monkeypatch.setattr(limits, "HEAVY_DIAGNOSTICS_K", 3)
    at = run_app({"outcome": OUTCOME}, page=PAGES["Sensitivity"])
    assert not at.exception
    labels = [b.label for b in at.button if b.label.startswith("Compute")]
    assert len(labels) == 4 and labels[1].startswith("Compute leave-one-out for ")
    at.button(key="btn_heavy_leave_one_out_None").click()
    at.run()
    assert not at.exception
    assert [b.label for b in at.button if b.label.startswith("Compute")] == [labels[0], *labels[2:]]
    said = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any("when left out" in v or v.startswith("Leaving out") for v in said), said
    monkeypatch.setattr(limits, "MAX_DIAGNOSTICS_K", 3)
    at = run_app({"outcome": OUTCOME}, page=PAGES["Sensitivity"])
    assert sum("not computed for" in i.value and "the limit is 3 studies" in i.value for i in at.info) == 4


def _chart_bytes(at) -> bytes:
    charts = [e for e in at.main if getattr(e, "type", "") == "vega_lite_chart"]
    assert charts, "no chart drawn"
    proto = charts[0].proto
    return proto.spec.encode("utf-8") + b"".join(d.data.data for d in proto.datasets)


def test_the_same_dataset_name_in_two_sessions_is_two_datasets_down_to_the_charts(root, owner_a):
    owner_b = namespaces.new_owner_token()
    theirs = [dict(GOOD, study_id="Brown2019", first_author="Brown", year="2019", mean_ps="7.0"),
              dict(GOOD2, study_id="Green2017", first_author="Green", year="2017", mean_ps="12.0")]
    own_import.import_own(validate_sheet(sheet(*theirs), "b.csv"), "mine", namespaces.owner_dir(owner_b))
    a = run_app({"outcome": OUTCOME, "dataset": "mine"}, page=PAGES["Explore"], state={KEY_OWNER: owner_a})
    b = run_app({"outcome": OUTCOME, "dataset": "mine"}, page=PAGES["Explore"], state={KEY_OWNER: owner_b})
    assert not a.exception and not b.exception
    seen_a, seen_b = _chart_bytes(a), _chart_bytes(b)
    assert b"Smith" in seen_a and b"Brown" not in seen_a
    assert b"Brown" in seen_b and b"Smith" not in seen_b  # B never gets A's forest plot from the cache
    assert [m.value for m in a.metric if m.label == "Pooled effect"] != [
        m.value for m in b.metric if m.label == "Pooled effect"]
