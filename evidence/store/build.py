"""Build ``data/evidence.duckdb`` from the shipped CSVs, atomically and only from valid data.

The CSVs in ``data/`` are the source of truth (see ``docs/data-model.md``). A build

1. reads every table CSV and ``vocab.csv`` and validates them in Python, collecting *every* problem
   (file, line, column, message) instead of stopping at the first one;
2. refuses to go on if there is any problem (:class:`DataValidationError` carries the full list);
3. writes a new database to a temporary file next to the target inside one transaction, with the typed
   schema of ``schema.sql`` (CHECK constraints and foreign keys to the controlled lists repeat the
   Python checks, so a bug in one is caught by the other);
4. moves it over the target with :func:`os.replace`, so readers see either the old or the new file,
   never a half-built one, and a failed build leaves the old database byte-identical.

:func:`ensure_database` is what the app calls at start-up: it builds only when the database is
missing, unreadable, or its recorded content hash differs from the CSVs on disk.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import math
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from evidence.store import vocab as _vocab

DEFAULT_DATA_DIR = _vocab.DEFAULT_DATA_DIR
DEFAULT_DB_PATH = DEFAULT_DATA_DIR / "evidence.duckdb"
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.sql"
SCHEMA_VERSION = "1"
MIN_YEAR = 1950
RATIO_TYPES = frozenset({"RR", "OR"})

# Column types: text, int, float, bool (CSV 'yes'/'no'), flags (';'-separated vocab 'flag' values).
# Categorical text columns are listed in evidence.store.vocab.COLUMN_FIELDS.
_T, _I, _F, _B, _FL = "text", "int", "float", "bool", "flags"

TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "studies": {
        "study_id": _T, "first_author": _T, "year": _I, "country": _T, "citation": _T, "doi_or_pmid": _T,
        "design": _T, "pilot": _B, "population": _T, "setting": _T, "ps_format": _T, "ps_mode": _T,
        "ps_role": _T, "peer_paid": _T, "org_support": _T, "peer_deliverer": _T, "peer_deliverer_basis": _T,
        "risk_of_bias": _T, "rob_status": _T, "rob_assessed_by": _T, "rob_tool": _T, "rob_domains": _T,
        "in_white2020": _B, "white2020_ref": _T, "id_aliases": _T,
        "outcomes_no_data": _T, "flags": _FL, "notes": _T,
    },
    "sources": {
        "source_id": _T, "study_id": _T, "source_review": _T, "source_url": _T, "source_location": _T,
        "second_source_url": _T, "source_quote": _T, "raw_file": _T, "raw_row": _I,
    },
    "effects": {
        "effect_id": _T, "study_id": _T, "source_id": _T, "comparison": _T, "comparator": _T,
        "shared_control": _T, "shared_arm": _T, "outcome": _T, "measure": _T, "higher_is_better": _B,
        "timepoint_months": _F, "n_ps": _I, "mean_ps": _F, "sd_ps": _F, "n_ctl": _I, "mean_ctl": _F,
        "sd_ctl": _F, "events_ps": _I, "events_ctl": _I, "reported_effect": _F, "reported_effect_type": _T,
        "reported_ci_low": _F, "reported_ci_high": _F, "reported_sign": _T, "score_type": _T,
        "derived": _B, "derivation": _T, "derivation_kind": _FL, "risk_of_bias": _T, "verification": _T, "verification_note": _T,
        "measure_note": _T, "duplicate_group": _T, "disagreement": _T, "flags": _FL,
    },
    "reviews": {
        "review_id": _T, "first_author": _T, "year": _I, "title": _T, "journal": _T, "doi": _T,
        "review_type": _T, "n_primary_studies": _I, "n_participants": _I, "population": _T, "ps_format": _T,
        "ps_mode": _T, "amstar2": _T, "source_url": _T, "source_location": _T, "raw_file": _T,
    },
    "review_results": {
        "result_id": _T, "review_id": _T, "outcome": _T, "outcome_label": _T, "subgroup": _T,
        "population": _T, "ps_format": _T, "timepoint": _T, "k_studies": _I, "n_participants": _I,
        "effect_type": _T, "estimate": _F, "ci_low": _F, "ci_high": _F, "reported_sign": _T, "p_value": _T,
        "i2": _F, "q": _F, "q_p": _F, "comparator": _T, "source_url": _T, "source_location": _T,
        "source_quote": _T, "raw_file": _T, "raw_row": _I, "note": _T,
    },
    "risk_of_bias": {
        "rob_id": _T, "study_id": _T, "review_id": _T, "tool": _T, "domain": _T, "judgement": _T,
        "source_url": _T, "source_location": _T, "source_quote": _T, "raw_row": _I,
    },
}
PRIMARY_KEYS = {
    "studies": "study_id", "sources": "source_id", "effects": "effect_id",
    "reviews": "review_id", "review_results": "result_id", "risk_of_bias": "rob_id",
}
REQUIRED = {
    "studies": ("study_id", "peer_deliverer", "in_white2020"),
    "sources": ("source_id", "study_id", "raw_file", "raw_row"),
    "effects": ("effect_id", "study_id", "source_id", "comparison", "outcome", "derived", "verification"),
    "reviews": ("review_id", "review_type", "raw_file"),
    "review_results": ("result_id", "review_id", "outcome_label", "raw_file", "raw_row"),
    "risk_of_bias": ("rob_id", "study_id", "review_id", "domain", "judgement", "raw_row"),
}
# (table, column) -> (referenced table, its key)
FOREIGN_KEYS = {
    ("sources", "study_id"): ("studies", "study_id"),
    ("effects", "study_id"): ("studies", "study_id"),
    ("effects", "source_id"): ("sources", "source_id"),
    ("review_results", "review_id"): ("reviews", "review_id"),
    ("risk_of_bias", "study_id"): ("studies", "study_id"),
}
LOAD_ORDER = ("studies", "sources", "effects", "reviews", "review_results", "risk_of_bias")
# Tables added after 1.2.0: a data folder without their CSV builds them empty (older exports stay valid).
OPTIONAL_TABLES = frozenset({"risk_of_bias"})
HASHED_FILES_GLOB = "*.csv"
CHANGELOG = "CHANGELOG.md"
_VERSION_RE = re.compile(r"^##\s+\[?(\d+\.\d+\.\d+)\]?", re.MULTILINE)
_BOOL = {"yes": True, "no": False}


@dataclass(frozen=True)
class Problem:
    """One reason the data cannot be built: where (file, CSV line, column) and what."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class DataValidationError(ValueError):
    """The CSVs are invalid; ``.problems`` lists every problem found (file, line, column, message)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        files = sorted({p.file for p in self.problems})
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Refusing to build: {len(self.problems)} problem(s) in {', '.join(files)}:\n{lines}"
        )


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote: path, dataset version, content hash, row counts and time taken."""

    db_path: Path
    dataset_version: str
    content_hash: str
    built_at: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------------
# Reading and hashing


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
        problems.append(Problem(name, None, None, "file is missing"))
        return None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            rows = list(reader)
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, None, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"))
        return None
    except csv.Error as exc:
        problems.append(Problem(name, None, None, f"malformed CSV: {exc}"))
        return None
    if not rows:
        problems.append(Problem(name, None, None, "file is empty (a header row is required)"))
        return None
    header = rows[0]
    records = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(
                Problem(name, i, None, f"has {len(row)} cells but the header has {len(header)}")
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
        problems.append(Problem("vocab.csv", 1, ", ".join(missing), "required column(s) missing"))
        return None
    seen: set[tuple[str, str]] = set()
    good = []
    for r in rows:
        line = int(r["__line__"])
        ok = True
        for col in ("field", "value", "label", "sort_order"):
            if not r[col].strip():
                problems.append(Problem("vocab.csv", line, col, "must not be empty"))
                ok = False
        if r["field"] and not re.fullmatch(r"[a-z][a-z0-9_]*", r["field"]):
            problems.append(Problem("vocab.csv", line, "field",
                                    f"{r['field']!r} must be lower-case letters, digits and '_'"))
            ok = False
        if "," in r["value"] or ";" in r["value"]:
            problems.append(Problem("vocab.csv", line, "value",
                                    f"{r['value']!r} must not contain ',' or ';' (list separators in URLs and flags)"))
            ok = False
        if r["value"] != r["value"].strip():
            problems.append(Problem("vocab.csv", line, "value", f"{r['value']!r} has leading/trailing spaces"))
            ok = False
        try:
            int(r["sort_order"])
        except ValueError:
            if r["sort_order"].strip():
                problems.append(Problem("vocab.csv", line, "sort_order", f"{r['sort_order']!r} is not an integer"))
            ok = False
        key = (r["field"], r["value"])
        if key in seen:
            problems.append(Problem("vocab.csv", line, "value", f"duplicate value {r['value']!r} of field {r['field']!r}"))
            ok = False
        seen.add(key)
        if ok:
            good.append(r)
    vocabulary = _vocab.vocabulary_from_rows(good, source=str(data_dir / "vocab.csv"))
    needed = sorted({f for cols in _vocab.COLUMN_FIELDS.values() for f in cols.values()})
    for f in needed:
        if f not in vocabulary.fields():
            problems.append(Problem("vocab.csv", None, "field", f"field {f!r} has no values (needed by the schema)"))
    return vocabulary


def _parse_cell(kind: str, text: str) -> tuple[object, str | None]:
    """Parse one CSV cell; return (value, error message or None). Empty -> None."""
    text = text.strip()
    if text == "":
        return None, None
    if kind == _I:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text), None
        return None, f"{text!r} is not a whole number"
    if kind == _F:
        try:
            value = float(text)
        except ValueError:
            return None, f"{text!r} is not a number (use '.' as decimal point, no thousands separators)"
        if not math.isfinite(value):
            return None, f"{text!r} is not a finite number"
        return value, None
    if kind == _B:
        if text in _BOOL:
            return _BOOL[text], None
        return None, f"{text!r} must be 'yes' or 'no'"
    if kind == _FL:
        return tuple(f.strip() for f in text.split(";") if f.strip()), None
    return text, None


def _check_row_rules(table: str, rec: dict, line: int, name: str, problems: list[Problem]) -> None:
    """The CHECK constraints of schema.sql, repeated in Python so every violation is reported."""

    def bad(column: str, message: str) -> None:
        problems.append(Problem(name, line, column, message))

    this_year = _dt.date.today().year
    if "year" in rec and rec["year"] is not None and not (MIN_YEAR <= rec["year"] <= this_year + 1):
        bad("year", f"{rec['year']} is outside {MIN_YEAR}-{this_year + 1}")
    if table == "sources" and rec.get("raw_row") is not None and rec["raw_row"] < 1:
        bad("raw_row", f"must be >= 1, got {rec['raw_row']}")
    if table == "effects":
        for arm in ("ps", "ctl"):
            n, sd, ev = rec[f"n_{arm}"], rec[f"sd_{arm}"], rec[f"events_{arm}"]
            if n is not None and n < 1:
                bad(f"n_{arm}", f"must be >= 1, got {n}")
            if sd is not None and sd <= 0:
                bad(f"sd_{arm}", f"must be > 0, got {sd:g}")
            if ev is not None and ev < 0:
                bad(f"events_{arm}", f"must be >= 0, got {ev}")
            if ev is not None and n is not None and ev > n:
                bad(f"events_{arm}", f"{ev} events is more than n_{arm} = {n}")
        if rec["timepoint_months"] is not None and rec["timepoint_months"] < 0:
            bad("timepoint_months", f"must be >= 0, got {rec['timepoint_months']:g}")
        _check_estimate_ci(rec, "reported_effect", "reported_ci_low", "reported_ci_high",
                           rec["reported_effect_type"], bad)
        if rec["derived"] and not (rec["derivation"] or "").strip():
            bad("derivation", "a derived row must say how it was derived")
        if rec["derived"] and not rec["derivation_kind"]:
            bad("derivation_kind", "a derived row must name the kind of derivation")
        if rec["reported_effect_type"] and not rec["reported_sign"]:
            bad("reported_sign", "required when reported_effect_type is given")
        if rec["shared_control"] and not rec["shared_arm"]:
            bad("shared_arm", "required when shared_control is given")
    if table == "review_results":
        _check_estimate_ci(rec, "estimate", "ci_low", "ci_high", rec["effect_type"], bad)
        if rec["i2"] is not None and not 0 <= rec["i2"] <= 100:
            bad("i2", f"must be a percentage 0-100, got {rec['i2']:g}")
        if rec["q"] is not None and rec["q"] < 0:
            bad("q", f"must be >= 0, got {rec['q']:g}")
        if rec["q_p"] is not None and not 0 <= rec["q_p"] <= 1:
            bad("q_p", f"must be between 0 and 1, got {rec['q_p']:g}")
    for col in ("k_studies", "n_participants", "n_primary_studies"):
        if rec.get(col) is not None and rec[col] < 1:
            bad(col, f"must be >= 1, got {rec[col]}")


def _check_estimate_ci(rec, est_col, lo_col, hi_col, effect_type, bad) -> None:
    est, lo, hi = rec[est_col], rec[lo_col], rec[hi_col]
    if lo is not None and hi is not None and lo > hi:
        bad(lo_col, f"CI lower bound {lo:g} is above the upper bound {hi:g}")
    if est is not None and lo is not None and est < lo:
        bad(est_col, f"estimate {est:g} is below its CI lower bound {lo:g}")
    if est is not None and hi is not None and est > hi:
        bad(est_col, f"estimate {est:g} is above its CI upper bound {hi:g}")
    if effect_type in RATIO_TYPES:
        for col, value in ((est_col, est), (lo_col, lo), (hi_col, hi)):
            if value is not None and value <= 0:
                bad(col, f"a {effect_type} and its CI must be > 0, got {value:g}")


def _validate_table(table: str, data_dir: Path, vocabulary: _vocab.Vocabulary | None,
                    problems: list[Problem]) -> list[dict] | None:
    name = f"{table}.csv"
    if table in OPTIONAL_TABLES and not (data_dir / name).is_file():
        return []
    read = _read_csv(data_dir / name, problems)
    if read is None:
        return None
    header, rows = read
    spec = TABLE_COLUMNS[table]
    missing = [c for c in spec if c not in header]
    if missing:
        problems.append(Problem(name, 1, ", ".join(missing), "required column(s) missing"))
        return None
    unknown = [c for c in header if c not in spec]
    if unknown:
        problems.append(Problem(name, 1, ", ".join(unknown),
                                "unknown column(s); add them to evidence/store/build.py and schema.sql first"))
    categorical = _vocab.COLUMN_FIELDS.get(table, {})
    pk = PRIMARY_KEYS[table]
    seen_keys: dict[str, int] = {}
    records = []
    for raw in rows:
        line = int(raw["__line__"])
        rec: dict[str, object] = {"__line__": line}
        for col, kind in spec.items():
            value, error = _parse_cell(kind, raw[col])
            if error:
                problems.append(Problem(name, line, col, error))
            rec[col] = value
        for col in REQUIRED[table]:
            if rec[col] is None and not raw[col].strip():
                problems.append(Problem(name, line, col, "must not be empty"))
        if vocabulary is not None:
            for col, vfield in categorical.items():
                if spec[col] == _B or rec[col] is None or vfield not in vocabulary.fields():
                    continue
                values = rec[col] if spec[col] == _FL else (rec[col],)
                for value in values:
                    if not vocabulary.is_valid(vfield, value):
                        hint = vocabulary.suggest(vfield, value)
                        extra = f" Did you mean {hint!r}?" if hint else ""
                        problems.append(Problem(
                            name, line, col,
                            f"{value!r} is not an allowed {vfield} value; must be one of "
                            f"{list(vocabulary.values(vfield))}.{extra}"))
        key = rec[pk]
        if key is not None:
            if key in seen_keys:
                problems.append(Problem(name, line, pk, f"duplicate key {key!r} (first on line {seen_keys[key]})"))
            else:
                seen_keys[key] = line
        _check_row_rules(table, rec, line, name, problems)
        records.append(rec)
    return records


def validate_data_dir(data_dir: str | Path) -> tuple[list[Problem], dict[str, list[dict]], _vocab.Vocabulary | None]:
    """Check every CSV of ``data_dir``; return (problems, parsed tables, vocabulary).

    Nothing is written. An empty problem list means the directory can be built.
    """
    data_dir = Path(data_dir)
    problems: list[Problem] = []
    if dataset_version(data_dir) is None:
        problems.append(Problem(CHANGELOG, None, None, "missing, or has no '## x.y.z' version heading"))
    vocabulary = _validate_vocab(data_dir, problems)
    tables: dict[str, list[dict]] = {}
    for table in LOAD_ORDER:
        recs = _validate_table(table, data_dir, vocabulary, problems)
        if recs is not None:
            tables[table] = recs
    for (table, col), (ref_table, ref_col) in FOREIGN_KEYS.items():
        if table not in tables or ref_table not in tables:
            continue
        keys = {r[ref_col] for r in tables[ref_table]}
        for rec in tables[table]:
            if rec[col] is not None and rec[col] not in keys:
                problems.append(Problem(f"{table}.csv", rec["__line__"], col,
                                        f"{rec[col]!r} is not a {ref_col} in {ref_table}.csv"))
    if "effects" in tables and "sources" in tables:
        source_study = {r["source_id"]: r["study_id"] for r in tables["sources"]}
        for rec in tables["effects"]:
            sid = source_study.get(rec["source_id"])
            if sid is not None and sid != rec["study_id"]:
                problems.append(Problem("effects.csv", rec["__line__"], "source_id",
                                        f"source {rec['source_id']!r} belongs to study {sid!r}, not {rec['study_id']!r}"))
    return problems, tables, vocabulary


# --------------------------------------------------------------------------------------------------
# Loading


_PANDAS_DTYPES = {_T: "string", _I: "Int64", _F: "Float64", _B: "boolean", _FL: "string"}


def _frame(table: str, records: list[dict]) -> pd.DataFrame:
    spec = TABLE_COLUMNS[table]
    data = {}
    for col, kind in spec.items():
        values = [r[col] for r in records]
        if kind == _FL:
            values = [";".join(v) if v else None for v in values]
        data[col] = pd.array(values, dtype=_PANDAS_DTYPES[kind])
    return pd.DataFrame(data)


def _schema_sql(vocabulary: _vocab.Vocabulary) -> str:
    blocks = []
    for f in vocabulary.fields():
        blocks.append(
            f"CREATE TABLE vocab_{f} (value VARCHAR PRIMARY KEY, label VARCHAR NOT NULL, "
            f"description VARCHAR, sort_order INTEGER NOT NULL);"
        )
    return SCHEMA_PATH.read_text(encoding="utf-8").replace("\n-- @vocab_tables\n", "\n" + "\n".join(blocks) + "\n")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    cols = ", ".join(frame.columns)
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    finally:
        con.unregister("_incoming")


def _load(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict]], vocabulary: _vocab.Vocabulary,
          metadata: dict[str, str]) -> None:
    con.execute(_schema_sql(vocabulary))
    vocab_frame = pd.DataFrame(
        {
            "field": pd.array([t.field for t in vocabulary.terms], dtype="string"),
            "value": pd.array([t.value for t in vocabulary.terms], dtype="string"),
            "label": pd.array([t.label for t in vocabulary.terms], dtype="string"),
            "description": pd.array([t.description for t in vocabulary.terms], dtype="string"),
            "sort_order": pd.array([t.sort_order for t in vocabulary.terms], dtype="Int64"),
        }
    )
    _insert(con, "vocab", vocab_frame)
    for f in vocabulary.fields():
        # Table names come from vocab field names, which validation restricts to [a-z0-9_].
        con.execute(
            f"INSERT INTO vocab_{f} SELECT value, label, description, sort_order FROM vocab WHERE field = ?", [f]
        )
    for table in LOAD_ORDER:
        _insert(con, table, _frame(table, tables[table]))
        if table in ("studies", "effects"):
            key = PRIMARY_KEYS[table]
            pairs = [(r[key], flag) for r in tables[table] for flag in dict.fromkeys(r["flags"] or ())]
            link = pd.DataFrame({
                key: pd.array([p[0] for p in pairs], dtype="string"),
                "flag": pd.array([p[1] for p in pairs], dtype="string"),
            })
            _insert(con, "study_flags" if table == "studies" else "effect_flags", link)
    meta = pd.DataFrame({"key": pd.array(list(metadata), dtype="string"),
                         "value": pd.array(list(metadata.values()), dtype="string")})
    _insert(con, "metadata", meta)


def build_database(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> BuildResult:
    """Validate ``data_dir/*.csv`` and write the DuckDB store atomically.

    Parameters
    ----------
    data_dir : path
        Folder holding vocab.csv, studies.csv, sources.csv, effects.csv, reviews.csv,
        review_results.csv and CHANGELOG.md.
    db_path : path, optional
        Target database (default ``data_dir/evidence.duckdb``). Its folder must exist.

    Returns
    -------
    BuildResult

    Raises
    ------
    DataValidationError
        When any CSV is invalid; ``.problems`` lists every offending file, line and column.
        The existing database is left untouched.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    db_path = Path(db_path) if db_path is not None else data_dir / "evidence.duckdb"
    digest = content_hash(data_dir)
    problems, tables, vocabulary = validate_data_dir(data_dir)
    if problems:
        raise DataValidationError(problems)
    assert vocabulary is not None
    version = dataset_version(data_dir) or ""
    built_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    counts = {t: len(tables[t]) for t in LOAD_ORDER}
    metadata = {
        "dataset_version": version,
        "content_hash": digest,
        "built_at": built_at,
        "schema_version": SCHEMA_VERSION,
        "duckdb_version": duckdb.__version__,
        **{f"n_{t}": str(n) for t, n in counts.items()},
    }
    tmp = db_path.with_name(f"{db_path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("BEGIN TRANSACTION")
            _load(con, tables, vocabulary, metadata)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, db_path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return BuildResult(db_path=db_path, dataset_version=version, content_hash=digest, built_at=built_at,
                       counts=counts, seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------
# Staleness


def read_metadata(db_path: str | Path) -> dict[str, str]:
    """The metadata table of a built database as a dict (read-only open)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return dict(con.cursor().execute("SELECT key, value FROM metadata").fetchall())
    finally:
        con.close()


def database_is_stale(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> bool:
    """True when the database is missing, unreadable, or was built from different CSV content.

    The comparison uses the content hash recorded at build time, not file times alone, so touching a
    CSV without changing it does not force a rebuild, while an edit always does (even one that keeps
    the modification time, e.g. a checkout).
    """
    data_dir = Path(data_dir)
    db_path = Path(db_path) if db_path is not None else data_dir / "evidence.duckdb"
    if not db_path.is_file():
        return True
    try:
        recorded = read_metadata(db_path).get("content_hash")
    except duckdb.Error:
        return True
    return recorded != content_hash(data_dir)


def ensure_database(data_dir: str | Path = DEFAULT_DATA_DIR, db_path: str | Path | None = None) -> BuildResult | None:
    """Build the database if it is stale (see :func:`database_is_stale`); return the build or None."""
    if database_is_stale(data_dir, db_path):
        return build_database(data_dir, db_path)
    return None
