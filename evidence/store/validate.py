"""Reading and checking the shipped CSVs of ``data/`` against the rule table (:mod:`evidence.store.rules`).

Every problem is collected (file, line, column, message) instead of stopping at the first one;
:class:`DataValidationError` carries the full list. Nothing here writes anything.
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from evidence.core.errors import Problem
from evidence.store import rules
from evidence.store import vocab as _vocab

PRIMARY_KEYS = {
    "studies": "study_id", "sources": "source_id", "effects": "effect_id",
    "reviews": "review_id", "review_results": "result_id", "review_trials": "membership_id",
    "risk_of_bias": "rob_id",
}
# (table, column) -> (referenced table, its key)
FOREIGN_KEYS = {
    ("sources", "study_id"): ("studies", "study_id"),
    ("effects", "study_id"): ("studies", "study_id"),
    ("effects", "source_id"): ("sources", "source_id"),
    ("review_results", "review_id"): ("reviews", "review_id"),
    ("review_trials", "review_id"): ("reviews", "review_id"),
    ("review_trials", "study_id"): ("studies", "study_id"),
    ("risk_of_bias", "study_id"): ("studies", "study_id"),
}
LOAD_ORDER = ("studies", "sources", "effects", "reviews", "review_results", "review_trials", "risk_of_bias")
#: Tables whose CSV may be absent (an older data folder or an imported sheet): absent means no rows.
OPTIONAL_TABLES = frozenset({"review_trials", "risk_of_bias"})
HASHED_FILES_GLOB = "*.csv"
CHANGELOG = "CHANGELOG.md"
_VERSION_RE = re.compile(r"^##\s+\[?(\d+\.\d+\.\d+)\]?", re.MULTILINE)


class DataValidationError(ValueError):
    """The CSVs are invalid; ``.problems`` lists every problem found (file, line, column, message)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        files = sorted({p.file for p in self.problems})
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Refusing to build: {len(self.problems)} problem(s) in {', '.join(files)}:\n{lines}"
        )


def content_hash(data_dir: str | Path) -> str:
    """SHA-256 over the names and bytes of ``data_dir/*.csv`` and ``CHANGELOG.md`` (sorted by name)."""
    data_dir = Path(data_dir)
    digest = hashlib.sha256()
    paths = sorted(data_dir.glob(HASHED_FILES_GLOB)) + [data_dir / CHANGELOG]
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def dataset_version(data_dir: str | Path) -> str | None:
    """Version from the first ``## x.y.z`` heading of ``data_dir/CHANGELOG.md`` (None if absent)."""
    path = Path(data_dir) / CHANGELOG
    if not path.is_file():
        return None
    match = _VERSION_RE.search(path.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def _read_csv(path: Path, problems: list[Problem]) -> tuple[list[str], list[dict[str, str]]] | None:
    name = path.name
    if not path.is_file():
        problems.append(Problem(0, "", "file is missing", name))
        return None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            rows = list(reader)
    except UnicodeDecodeError as exc:
        problems.append(Problem(0, "", f"not valid UTF-8 ({exc.reason} at byte {exc.start})", name))
        return None
    except csv.Error as exc:
        problems.append(Problem(0, "", f"malformed CSV: {exc}", name))
        return None
    if not rows:
        problems.append(Problem(0, "", "file is empty (a header row is required)", name))
        return None
    header = rows[0]
    records = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(
                Problem(i, "", f"has {len(row)} cells but the header has {len(header)}", name)
            )
            continue
        records.append({"__line__": str(i), **dict(zip(header, row))})
    return header, records


# --------------------------------------------------------------------------------------------------
# Validation


def _validate_vocab(data_dir: Path, problems: list[Problem]) -> _vocab.Vocabulary | None:
    read = _read_csv(data_dir / "vocab.csv", problems)
    if read is None:
        return None
    header, rows = read
    missing = [c for c in _vocab.VOCAB_COLUMNS if c not in header]
    if missing:
        problems.append(Problem(1, ", ".join(missing), "required column(s) missing", "vocab.csv"))
        return None
    seen: set[tuple[str, str]] = set()
    good = []
    for r in rows:
        line = int(r["__line__"])
        ok = True
        for col in ("field", "value", "label", "sort_order"):
            if not r[col].strip():
                problems.append(Problem(line, col, "must not be empty", "vocab.csv"))
                ok = False
        if r["field"] and not re.fullmatch(r"[a-z][a-z0-9_]*", r["field"]):
            problems.append(Problem(line, "field", f"{r['field']!r} must be lower-case letters, digits and '_'", "vocab.csv"))
            ok = False
        if "," in r["value"] or ";" in r["value"]:
            problems.append(Problem(line, "value", f"{r['value']!r} must not contain ',' or ';' (list separators in URLs and flags)",
                                    "vocab.csv"))
            ok = False
        if r["value"] != r["value"].strip():
            problems.append(Problem(line, "value", f"{r['value']!r} has leading/trailing spaces", "vocab.csv"))
            ok = False
        try:
            int(r["sort_order"])
        except ValueError:
            if r["sort_order"].strip():
                problems.append(Problem(line, "sort_order", f"{r['sort_order']!r} is not an integer", "vocab.csv"))
            ok = False
        key = (r["field"], r["value"])
        if key in seen:
            problems.append(Problem(line, "value", f"duplicate value {r['value']!r} of field {r['field']!r}",
                                    "vocab.csv"))
            ok = False
        seen.add(key)
        if ok:
            good.append(r)
    vocabulary = _vocab.vocabulary_from_rows(good, source=str(data_dir / "vocab.csv"))
    needed = sorted({f for cols in _vocab.COLUMN_FIELDS.values() for f in cols.values()})
    for f in needed:
        if f not in vocabulary.fields():
            problems.append(Problem(0, "field", f"field {f!r} has no values (needed by the schema)", "vocab.csv"))
    return vocabulary


def _validate_table(table: str, data_dir: Path, vocabulary: _vocab.Vocabulary | None,
                    problems: list[Problem]) -> list[dict] | None:
    name = f"{table}.csv"
    read = _read_csv(data_dir / name, problems)
    if read is None:
        return None
    header, rows = read
    return check_table(table, header, rows, vocabulary, problems, name)


def check_table(table: str, header: Sequence[str], rows: Sequence[Mapping], vocabulary: _vocab.Vocabulary | None,
                problems: list[Problem], name: str = "") -> list[dict] | None:
    """Check one table's rows (``__line__`` = line number, cells as text or plain values) against the rules.

    Returns the parsed records (typed values, ``None`` for empty cells), or None when columns are missing.
    """
    name = name or f"{table}.csv"
    spec = rules.TABLE_COLUMNS[table]
    missing = [c for c in spec if c not in header]
    if missing:
        problems.append(Problem(1, ", ".join(missing), "required column(s) missing", name, "missing column"))
        return None
    unknown = [c for c in header if c not in spec]
    if unknown:
        problems.append(Problem(1, ", ".join(unknown),
                                "unknown column(s); add them to evidence/store/rules.py and schema.sql first",
                                name, "unknown column"))
    raw = pd.DataFrame(rows, columns=["__line__", *header]) if rows else pd.DataFrame(columns=["__line__", *header])
    lines = raw["__line__"].astype(int).to_numpy()
    typed, flagged = {}, {}
    for col, kind in spec.items():
        text = rules.texts(raw[col])
        values, errors = rules.parse_column(kind, text)
        bad = errors.notna()
        problems.extend(Problem(int(lines[i]), col, errors.iloc[i], name, "unreadable value")
                        for i in np.flatnonzero(bad.to_numpy()))
        if col in rules.REQUIRED[table]:
            empty = text.isna()
            problems.extend(Problem(int(lines[i]), col, "must not be empty", name, "empty required cell")
                            for i in np.flatnonzero(empty.to_numpy()))
            bad |= empty
        typed[col], flagged[col] = values, bad
    frame = pd.DataFrame(typed)
    if vocabulary is not None:
        for col, vfield in _vocab.COLUMN_FIELDS.get(table, {}).items():
            if spec[col] == rules.BOOL or vfield not in vocabulary.fields():
                continue
            flagged[col] |= rules.check_vocab(col, frame[col], vocabulary.values(vfield), lines, problems, name,
                                              label=vfield)
    pk = PRIMARY_KEYS[table]
    keys = frame[pk]
    dup = keys.notna() & keys.duplicated(keep="first")
    first = pd.Series(lines, index=frame.index).groupby(keys).transform("first")
    problems.extend(Problem(int(lines[i]), pk, f"duplicate key {keys.iloc[i]!r} (first on line {int(first.iloc[i])})",
                            name, "duplicate key") for i in np.flatnonzero(dup.to_numpy()))
    rules.check_rules(frame, rules.rules_for((table,)), lines, problems, file=name, already=flagged)
    frame = frame.astype(object).where(frame.notna(), None)
    records = frame.to_dict("records")
    for rec, line in zip(records, lines):
        rec["__line__"] = int(line)
        for col, kind in spec.items():
            if kind == rules.INT and rec[col] is not None:
                rec[col] = int(rec[col])
    return records


def validate_data_dir(data_dir: str | Path) -> tuple[list[Problem], dict[str, list[dict]], _vocab.Vocabulary | None]:
    """Check every CSV of ``data_dir``; return (problems, parsed tables, vocabulary).

    Nothing is written. An empty problem list means the directory can be built.
    """
    data_dir = Path(data_dir)
    problems: list[Problem] = []
    if dataset_version(data_dir) is None:
        problems.append(Problem(0, "", "missing, or has no '## x.y.z' version heading", CHANGELOG))
    vocabulary = _validate_vocab(data_dir, problems)
    tables: dict[str, list[dict]] = {}
    for table in LOAD_ORDER:
        if table in OPTIONAL_TABLES and not (data_dir / f"{table}.csv").is_file():
            tables[table] = []
            continue
        recs = _validate_table(table, data_dir, vocabulary, problems)
        if recs is not None:
            tables[table] = recs
    check_references(tables, problems)
    return problems, tables, vocabulary


def validate_vocab(data_dir: str | Path) -> tuple[list[Problem], _vocab.Vocabulary | None]:
    """Check ``data_dir/vocab.csv``; return (problems, vocabulary)."""
    problems: list[Problem] = []
    return problems, _validate_vocab(Path(data_dir), problems)


def check_references(tables: Mapping[str, list[dict]], problems: list[Problem]) -> None:
    """Foreign keys between the parsed tables, and an effect's source belonging to its study."""
    for (table, col), (ref_table, ref_col) in FOREIGN_KEYS.items():
        if table not in tables or ref_table not in tables:
            continue
        keys = {r[ref_col] for r in tables[ref_table]}
        for rec in tables[table]:
            if rec[col] is not None and rec[col] not in keys:
                problems.append(Problem(rec["__line__"], col, f"{rec[col]!r} is not a {ref_col} in {ref_table}.csv",
                                        f"{table}.csv", "unknown reference"))
    if "effects" in tables and "sources" in tables:
        source_study = {r["source_id"]: r["study_id"] for r in tables["sources"]}
        for rec in tables["effects"]:
            sid = source_study.get(rec["source_id"])
            if sid is not None and sid != rec["study_id"]:
                problems.append(Problem(rec["__line__"], "source_id",
                                        f"source {rec['source_id']!r} belongs to study {sid!r}, not {rec['study_id']!r}",
                                        "effects.csv", "unknown reference"))
