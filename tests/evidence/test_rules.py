"""The one rule table (evidence.store.rules) against the store's schema, and the build's atomic write under a kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from evidence.store import build, rules

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _norm(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def _schema_checks() -> dict[str, set[str]]:
    """Every CHECK (...) of schema.sql, per table, as normalised SQL text."""
    text = re.sub(r"--[^\n]*", "", build.SCHEMA_PATH.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", text, flags=re.S):
        body, checks = m.group(2), set()
        for c in re.finditer(r"CHECK\s*\(", body):
            depth, i = 1, c.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(body[i], 0)
                i += 1
            checks.add(_norm(body[c.end():i - 1]))
        out[m.group(1)] = checks
    return out


def test_every_schema_check_is_a_rule_and_every_store_rule_with_sql_is_a_check():
    schema = _schema_checks()
    for table in rules.TABLE_COLUMNS:
        from_rules = {_norm(r.sql) for r in rules.RULES if table in r.tables and r.sql}
        assert schema.get(table, set()) == from_rules, table


def test_sheet_only_rules_have_no_check_and_store_rules_all_do_but_the_dated_one():
    for r in rules.RULES:
        if r.scope == "sheet":
            assert r.sql is None, r.kind
        else:
            assert r.sql, r.kind


def test_required_cells_are_not_null_in_the_store(tmp_path):
    db = tmp_path / "e.duckdb"
    build.build_database(DATA, db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                           "WHERE table_name IN ('studies', 'sources', 'effects', 'reviews', 'review_results', "
                           "'review_trials', 'risk_of_bias')"
                           ).fetchall()
    finally:
        con.close()
    not_null = {(t, c) for t, c, nullable in rows if nullable == "NO"}
    keys = {(t, k) for t, k in build.PRIMARY_KEYS.items()}
    required = {(t, c) for t, cols in rules.REQUIRED.items() for c in cols}
    assert not_null == required | keys
    columns = {(t, c) for t, c, _ in rows}
    assert columns == {(t, c) for t, spec in rules.TABLE_COLUMNS.items() for c in spec}


def test_year_bounds_agree_the_check_is_the_outer_bound():
    year = next(r for r in rules.RULES if r.column == "year")
    assert year.sql == f"year BETWEEN {rules.MIN_YEAR} AND {rules.MAX_YEAR_CHECK}"
    import pandas as pd
    frame = pd.DataFrame({"year": [rules.MIN_YEAR - 1, rules.MIN_YEAR, time.gmtime().tm_year + 2, 20019]})
    assert year.violated(frame).tolist() == [True, False, True, True]


_CHILD = textwrap.dedent("""
    import sys, time
    from evidence.store import build
    real_load = build._load

    def load_then_hang(con, *args, **kwargs):   # the real load, then a pause in which the parent kills us
        real_load(con, *args, **kwargs)
        print("loaded", flush=True)
        time.sleep(120)

    build._load = load_then_hang
    build.build_database(sys.argv[1], sys.argv[2])
""")


def test_a_build_killed_mid_way_leaves_nothing_after_the_next_build(tmp_path):
    db = tmp_path / "evidence.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(DATA), str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "loaded", proc.stderr.read()
        leftovers = list(tmp_path.glob("evidence.duckdb.tmp-*"))
        assert leftovers, "the build writes to a temporary file first"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob("evidence.duckdb.tmp-*")), "a killed build leaves its temporary behind"
    assert not db.exists()
    result = build.build_database(DATA, db)
    assert list(tmp_path.glob("evidence.duckdb.tmp-*")) == []
    assert build.read_metadata(db)["content_hash"] == result.content_hash


def test_a_temporary_of_a_running_build_is_kept(tmp_path):
    db = tmp_path / "evidence.duckdb"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"evidence.duckdb.tmp-{sleeper.pid}-abcd1234"
        dead = tmp_path / "evidence.duckdb.tmp-999999999-abcd1234"
        live.write_bytes(b"in progress")
        dead.write_bytes(b"left behind")
        removed = build.remove_stale_temporaries(db)
        assert removed == [dead] and live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


# ---------------------------------------------------------------------------------------------
# Each rule's Python check and its SQL CHECK agree on every row (hypothesis: random rows, DuckDB evaluates the SQL)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_NUMBERS = st.sampled_from([np.nan, -1.0, 0.0, 0.5, 1.0, 2.0, 10.0, 101.0, 1949.0, 1950.0, 2100.0, 2101.0])
_VALUES = {
    "reported_effect_type": st.sampled_from([None, "RR", "OR", "SMD", "MD"]),
    "effect_type": st.sampled_from([None, "RR", "OR", "SMD"]),
    "reported_sign": st.sampled_from([None, "ps_minus_ctl"]),
    "derived": st.sampled_from([True, False]),
    "derivation": st.sampled_from([None, "", "  ", "from table 2"]),
    "derivation_kind": st.sampled_from([None, "re-signed"]),
    "shared_control": st.sampled_from([None, "Alpha-peer"]),
    "shared_arm": st.sampled_from([None, "control"]),
}


def _columns(table: str) -> list[str]:
    used = set()
    for r in rules.RULES:
        if table in r.tables and r.sql:
            used |= {c for c in rules.TABLE_COLUMNS[table] if re.search(rf"\b{c}\b", r.sql)}
    return sorted(used)


@pytest.mark.parametrize("table", ["studies", "sources", "effects", "reviews", "review_results"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_python_rule_and_sql_check_agree_on_random_rows(table, data):
    cols = _columns(table)
    rows = data.draw(st.lists(st.fixed_dictionaries({c: _VALUES.get(c, _NUMBERS) for c in cols}),
                              min_size=1, max_size=20))
    frame = pd.DataFrame(rows, columns=cols)
    for c in cols:
        if c not in _VALUES:
            frame[c] = frame[c].astype(float)
        else:
            frame[c] = frame[c].astype(object)
    con = duckdb.connect()
    try:
        con.register("t", frame)
        for rule in rules.RULES:
            if table not in rule.tables or not rule.sql:
                continue
            sql_fails = [bool(v) for (v,) in con.execute(
                f"SELECT NOT COALESCE(({rule.sql}), TRUE) FROM t").fetchall()]
            py_fails = rule.violated(frame).astype(object).fillna(False).astype(bool).tolist()
            if rule.column == "year":  # the Python bound is tighter (next year) than the CHECK's fixed 2100
                assert all(p or not s for p, s in zip(py_fails, sql_fails)), rule.kind
                continue
            assert py_fails == sql_fails, (rule.kind, frame.to_dict("records"))
    finally:
        con.close()
