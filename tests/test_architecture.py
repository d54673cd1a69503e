"""The rooms of the code and the one-way flow between them (docs/architecture.md), checked on the source.

data/ -> evidence.store -> evidence.query -> evidence.analysis (calls stats) -> evidence.present -> pages.
Each test reads the files as Python syntax trees: nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("core", "store", "query", "analysis", "present", "ingest")
# Which evidence rooms each room may import (the flow of docs/architecture.md). core reads the
# controlled lists through store.vocab (the one reader of vocab.csv).
ALLOWED = {
    "core": {"store"},
    "store": {"core"},
    "query": {"core", "store"},
    "analysis": {"core", "store", "query"},
    "present": {"core", "analysis"},
    "ingest": {"core", "store", "query"},
}
# SQL statements (upper-case keywords, as every statement here is written) may stand only in these.
SQL_HOMES = ("evidence/query/", "evidence/store/")
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bCREATE\s+(TABLE|VIEW|INDEX)\b"
                 r"|\bATTACH\b\s+'|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b")


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved within evidence/)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_every_room_exists_and_nothing_is_left_flat():
    for room in ROOMS:
        assert (ROOT / "evidence" / room / "__init__.py").is_file(), room
    flat = sorted(p.name for p in (ROOT / "evidence").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert flat == [], f"modules outside a room: {flat}"


def test_stats_imports_numpy_and_scipy_only():
    for path in _files("stats"):
        roots = {m.split(".")[0] for m in _imports(path)}
        foreign = roots & {"evidence", "pages", "streamlit", "pandas", "duckdb", "altair", "pyarrow"}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_evidence_never_imports_streamlit_or_pages():
    for path in _files("evidence"):
        roots = {m.split(".")[0] for m in _imports(path)}
        assert not roots & {"streamlit", "pages"}, path.relative_to(ROOT)


@pytest.mark.parametrize("room", ROOMS)
def test_rooms_import_only_upstream_rooms(room):
    for path in _files(f"evidence/{room}"):
        used = {m.split(".")[1] for m in _imports(path) if m.startswith("evidence.") and m.count(".") >= 1}
        used &= set(ROOMS)
        used.discard(room)
        assert used <= ALLOWED[room], f"{path.relative_to(ROOT)} imports {sorted(used - ALLOWED[room])}"


def test_pages_call_evidence_only():
    for path in _files("pages") + [ROOT / "app.py"]:
        roots = {m.split(".")[0] for m in _imports(path)}
        foreign = roots & {"stats", "duckdb", "scipy", "numpy", "altair", "vl_convert", "openpyxl"}
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_sql_only_in_query_and_store():
    offenders = []
    for path in _files("evidence") + _files("pages") + [ROOT / "app.py"]:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SQL_HOMES):
            continue
        offenders += [f"{rel}:{line}" for line, text in _strings(path) if SQL.search(text)]
    assert not offenders, offenders


def test_the_sql_detector_finds_a_statement():
    assert SQL.search("SELECT study_id FROM effects WHERE x = ?")
    assert SQL.search("INSERT OR REPLACE INTO metadata VALUES (?, ?)")
    assert not SQL.search("Select the studies from the list")
