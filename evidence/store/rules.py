"""The one rule table for a row of data: column types, required cells, bounds, controlled values and
cross-field checks, used by the build of the shipped CSVs and by the check of a user's sheet.

Every rule is checked on a whole column at once (pandas), so the cost grows with the number of cells,
and a problem is made only for a cell that breaks a rule. A rule with ``sql`` is also a CHECK of
``schema.sql`` (``tests/evidence/test_rules.py`` compares the two), so the store refuses what the
Python check would have reported; a rule without ``sql`` cannot be a CHECK (it reads today's date, or
it is import policy for a user's sheet, stricter than what curated data need).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from evidence.core.errors import Problem
from evidence.core.params import short  # noqa: F401  (a cell quoted in a message; used by ingest too)

TEXT, INT, FLOAT, BOOL, FLAGS = "text", "int", "float", "bool", "flags"

TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "studies": {
        "study_id": TEXT, "first_author": TEXT, "year": INT, "country": TEXT, "citation": TEXT,
        "doi_or_pmid": TEXT, "design": TEXT, "pilot": BOOL, "population": TEXT, "setting": TEXT,
        "ps_format": TEXT, "ps_mode": TEXT, "ps_role": TEXT, "peer_paid": TEXT, "org_support": TEXT,
        "peer_deliverer": TEXT, "peer_deliverer_basis": TEXT, "risk_of_bias": TEXT, "rob_status": TEXT, "rob_assessed_by": TEXT,
        "rob_tool": TEXT, "rob_domains": TEXT, "in_white2020": BOOL,
        "white2020_ref": TEXT, "id_aliases": TEXT, "outcomes_no_data": TEXT, "flags": FLAGS, "notes": TEXT,
    },
    "sources": {
        "source_id": TEXT, "study_id": TEXT, "source_review": TEXT, "source_url": TEXT, "source_location": TEXT,
        "second_source_url": TEXT, "source_quote": TEXT, "raw_file": TEXT, "raw_row": INT,
    },
    "effects": {
        "effect_id": TEXT, "study_id": TEXT, "source_id": TEXT, "comparison": TEXT, "comparator": TEXT,
        "shared_control": TEXT, "shared_arm": TEXT, "outcome": TEXT, "measure": TEXT, "higher_is_better": BOOL,
        "timepoint_months": FLOAT, "n_ps": INT, "mean_ps": FLOAT, "sd_ps": FLOAT, "n_ctl": INT, "mean_ctl": FLOAT,
        "sd_ctl": FLOAT, "events_ps": INT, "events_ctl": INT, "reported_effect": FLOAT,
        "reported_effect_type": TEXT, "reported_ci_low": FLOAT, "reported_ci_high": FLOAT, "reported_sign": TEXT,
        "score_type": TEXT, "derived": BOOL, "derivation": TEXT, "derivation_kind": FLAGS, "risk_of_bias": TEXT,
        "verification": TEXT, "verification_note": TEXT, "measure_note": TEXT, "duplicate_group": TEXT,
        "disagreement": TEXT, "flags": FLAGS,
    },
    "reviews": {
        "review_id": TEXT, "first_author": TEXT, "year": INT, "title": TEXT, "journal": TEXT, "doi": TEXT,
        "review_type": TEXT, "n_primary_studies": INT, "n_participants": INT, "population": TEXT,
        "ps_format": TEXT, "ps_mode": TEXT, "amstar2": TEXT, "source_url": TEXT, "source_location": TEXT,
        "raw_file": TEXT,
    },
    "review_results": {
        "result_id": TEXT, "review_id": TEXT, "outcome": TEXT, "outcome_label": TEXT, "subgroup": TEXT,
        "population": TEXT, "ps_format": TEXT, "timepoint": TEXT, "k_studies": INT, "n_participants": INT,
        "effect_type": TEXT, "estimate": FLOAT, "ci_low": FLOAT, "ci_high": FLOAT, "reported_sign": TEXT,
        "p_value": TEXT, "i2": FLOAT, "q": FLOAT, "q_p": FLOAT, "comparator": TEXT, "source_url": TEXT,
        "source_location": TEXT, "source_quote": TEXT, "raw_file": TEXT, "raw_row": INT, "note": TEXT,
    },
    "risk_of_bias": {
        "rob_id": TEXT, "study_id": TEXT, "review_id": TEXT, "tool": TEXT, "domain": TEXT, "judgement": TEXT,
        "source_url": TEXT, "source_location": TEXT, "source_quote": TEXT, "raw_row": INT,
    },
    "review_trials": {
        "membership_id": TEXT, "review_id": TEXT, "trial_id": TEXT, "study_id": TEXT, "review_label": TEXT,
        "analysis": TEXT, "source_url": TEXT, "source_location": TEXT, "source_quote": TEXT, "raw_file": TEXT,
        "raw_row": INT,
    },
}
#: Cells that must not be empty (NOT NULL in schema.sql).
REQUIRED: dict[str, tuple[str, ...]] = {
    "studies": ("study_id", "peer_deliverer", "in_white2020"),
    "sources": ("source_id", "study_id", "raw_file", "raw_row"),
    "effects": ("effect_id", "study_id", "source_id", "comparison", "outcome", "derived", "verification"),
    "reviews": ("review_id", "review_type", "raw_file"),
    "review_results": ("result_id", "review_id", "outcome_label", "raw_file", "raw_row"),
    "review_trials": ("membership_id", "review_id", "trial_id", "raw_file", "raw_row"),
    "risk_of_bias": ("rob_id", "study_id", "review_id", "domain", "judgement", "raw_row"),
}
MIN_YEAR = 1950
#: The CHECK's fixed upper year; the Python rule tightens it to next year (a CHECK cannot read the clock).
MAX_YEAR_CHECK = 2100
RATIO_TYPES = ("RR", "OR", "IRR", "HR")  # risk, odds, rate and hazard ratios

_RATIO_SQL = ", ".join(f"'{t}'" for t in RATIO_TYPES)

_WHOLE = re.compile(r"[+-]?\d+,\d+")


def fmt(value: float) -> str:
    """A number as a person would type it (whole numbers without '.0')."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Cells: text -> typed value, one column at a time

def texts(column: pd.Series) -> pd.Series:
    """Stripped text of every cell; ``None`` for an empty cell (a non-text value is written as text)."""
    s = pd.Series(column, dtype=object)
    try:
        stripped = s.str.strip()
    except AttributeError:  # no text at all: a column of numbers given in memory
        stripped = pd.Series([None] * len(s), index=s.index, dtype=object)
    other = s.notna() & stripped.isna()
    if other.any():
        s = s.copy()
        s[other] = s[other].map(str)
        stripped = s.str.strip()
    keep = stripped.notna() & (stripped != "")
    out = pd.Series([None] * len(s), index=s.index, dtype=object)
    out[keep] = stripped[keep]
    return out


def _number_message(text: str, integer: bool) -> str:
    if text.startswith(("=", "@")):
        return (f"text where a number belongs: {short(text)} looks like a spreadsheet formula "
                "(formulas are never evaluated; type the number itself)")
    if _WHOLE.fullmatch(text):
        return f"text where a number belongs: {short(text)} (use '.' as the decimal point)"
    try:
        value = float(text)
    except ValueError:
        return f"text where a number belongs: {short(text)}"
    if not math.isfinite(value):
        return f"{short(text)} is not a finite number"
    return f"{short(text)} must be a whole number" if integer else f"text where a number belongs: {short(text)}"


def parse_column(kind: str, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Typed values of a column of :func:`texts` and the message for each cell that cannot be parsed.

    Numbers become float (NaN when empty or wrong), ``yes``/``no`` become True/False, ``flags`` a
    tuple of the ``;``-separated items; the second series holds ``None`` where the cell is fine.
    """
    present = text.notna()
    errors = pd.Series([None] * len(text), index=text.index, dtype=object)
    if kind in (INT, FLOAT):
        values = pd.to_numeric(text, errors="coerce").astype(float)
        values = values.where(np.isfinite(values))
        bad = present & values.isna()
        if kind == INT:
            bad |= present & values.notna() & (values != np.floor(values))
            values = values.where(~bad)
        errors[bad] = [_number_message(t, kind == INT) for t in text[bad]]
        return values, errors
    if kind == BOOL:
        low = text.str.lower()
        values = low.map({"yes": True, "no": False}).astype(object)
        bad = present & values.isna()
        errors[bad] = [f"{short(t)} must be 'yes' or 'no'" for t in text[bad]]
        return values, errors
    if kind == FLAGS:
        values = text.map(lambda t: tuple(x.strip() for x in t.split(";") if x.strip()) or None, na_action="ignore")
        return values, errors
    return text, errors


@functools.lru_cache(maxsize=4096)
def _nearest(value: str, valid: tuple[str, ...]) -> str | None:
    lowered = {v.lower(): v for v in valid}
    if value.strip().lower() in lowered:
        return lowered[value.strip().lower()]
    m = difflib.get_close_matches(value.strip().lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[m[0]] if m else None


def nearest(value: str, valid: Sequence[str]) -> str | None:
    """The allowed value a misspelt ``value`` most likely means (case-insensitive), or None."""
    return _nearest(value, tuple(valid))


@functools.lru_cache(maxsize=4096)
def _vocab_message(value: str, column: str, valid: tuple[str, ...]) -> str:
    hint = nearest(value, valid)
    extra = f"; did you mean {hint!r}?" if hint else ""
    return f"{short(value)} is not an allowed {column} value{extra} Valid values: {list(valid)}"


def vocab_message(value: str, column: str, valid: Sequence[str]) -> str:
    """Why ``value`` is not allowed in ``column``, with the nearest allowed value when there is one."""
    return _vocab_message(value, column, tuple(valid))


def check_vocab(column: str, values: pd.Series, valid: Sequence[str], rows: np.ndarray,
                problems: list[Problem], file: str = "", *, label: str = "") -> pd.Series:
    """Problems for values (or ``flags`` items) outside ``valid``; returns the mask of bad cells.

    ``label`` names the controlled list in the message (default: the column).
    """
    valid = tuple(valid)
    label = label or column
    present = values.notna()
    array = values.to_numpy()
    if any(isinstance(v, tuple) for v in array[present.to_numpy()][:1]):
        bad = present & values.map(lambda items: any(x not in valid for x in items), na_action="ignore") \
            .astype(object).fillna(False).astype(bool)
        for i in np.flatnonzero(bad.to_numpy()):
            for x in array[i]:
                if x not in valid:
                    problems.append(Problem(int(rows[i]), column, vocab_message(x, label, valid), file,
                                            "not an allowed value"))
        return bad
    bad = present & ~values.isin(valid)
    problems.extend(Problem(int(rows[i]), column, vocab_message(array[i], label, valid), file, "not an allowed value")
                    for i in np.flatnonzero(bad.to_numpy()))
    return bad


# ---------------------------------------------------------------------------------------------
# Row rules

@dataclass(frozen=True)
class Rule:
    """One rule on a row: which tables, which column a problem names, and how to find and say it.

    ``violated(frame)`` gives a boolean mask (missing values never violate a rule); ``message(row)``
    says it for one violating row. ``scope`` is ``"store"`` (build and sheet) or ``"sheet"`` (a user's
    sheet only). ``sql`` is the CHECK in ``schema.sql`` that enforces the same rule in the store.
    """

    kind: str
    tables: tuple[str, ...]
    column: str
    violated: Callable[[pd.DataFrame], pd.Series]
    message: Callable[[Mapping], str]
    sql: str | None = None
    scope: str = "store"


def _bound(column: str, tables: tuple[str, ...], *, low: float, strict: bool = False, label: str = "",
           sql: str) -> Rule:
    lead = f"{label} " if label else ""
    if strict:
        return Rule(f"{column} > {fmt(low)}", tables, column, lambda f: f[column] <= low,
                    lambda r: f"{lead}must be greater than {fmt(low)}, got {fmt(r[column])}", sql)
    word = "0 or more" if low == 0 else f"at least {fmt(low)}"
    return Rule(f"{column} >= {fmt(low)}", tables, column, lambda f: f[column] < low,
                lambda r: f"{lead}must be {word}, got {fmt(r[column])}", sql)


def _between(column: str, tables: tuple[str, ...], low: float, high: float, say: str, sql: str) -> Rule:
    return Rule(f"{column} in {fmt(low)}–{fmt(high)}", tables, column,
                lambda f: (f[column] < low) | (f[column] > high), lambda r: f"{say}, got {fmt(r[column])}", sql)


def _next_year() -> int:
    return _year_of_day(int(time.time() // 86400)) + 1


@functools.lru_cache(maxsize=2)
def _year_of_day(day: int) -> int:
    # Keyed on the day so a server running past New Year moves on (date.today() per message costs 10 µs).
    return _dt.date.today().year


def _ratio_rule(est: str, col: str, type_col: str, tables: tuple[str, ...]) -> Rule:
    return Rule("ratio > 0", tables, col,
                lambda f: f[type_col].isin(RATIO_TYPES) & (f[col] <= 0),
                lambda r: f"a {r[type_col]} and its CI must be greater than 0, got {fmt(r[col])}",
                f"{type_col} IS NULL OR {type_col} NOT IN ({_RATIO_SQL}) OR {col} IS NULL OR {col} > 0")


def _ci_rules(est: str, lo: str, hi: str, type_col: str, tables: tuple[str, ...]) -> list[Rule]:
    return [
        Rule("CI low <= high", tables, lo, lambda f: f[lo] > f[hi],
             lambda r: f"CI lower bound {fmt(r[lo])} is above the upper bound {fmt(r[hi])}",
             f"{lo} IS NULL OR {hi} IS NULL OR {lo} <= {hi}"),
        Rule("estimate >= CI low", tables, est, lambda f: f[est] < f[lo],
             lambda r: f"estimate {fmt(r[est])} is below its CI lower bound {fmt(r[lo])}",
             f"{est} IS NULL OR {lo} IS NULL OR {lo} <= {est}"),
        Rule("estimate <= CI high", tables, est, lambda f: f[est] > f[hi],
             lambda r: f"estimate {fmt(r[est])} is above its CI upper bound {fmt(r[hi])}",
             f"{est} IS NULL OR {hi} IS NULL OR {est} <= {hi}"),
        *(_ratio_rule(est, c, type_col, tables) for c in (est, lo, hi)),
    ]


def _arm_rules(arm: str) -> list[Rule]:
    n, sd, ev, mean = f"n_{arm}", f"sd_{arm}", f"events_{arm}", f"mean_{arm}"
    eff = ("effects",)
    return [
        _bound(n, eff, low=1, label="n", sql=f"{n} >= 1"),
        _bound(sd, eff, low=0, strict=True, label="SD", sql=f"{sd} > 0"),
        _bound(ev, eff, low=0, label="events", sql=f"{ev} >= 0"),
        Rule("events <= n", eff, ev, lambda f: f[ev] > f[n],
             lambda r: f"{fmt(r[ev])} events is more than {n} = {fmt(r[n])}",
             f"{n} IS NULL OR {ev} IS NULL OR {ev} <= {n}"),
        Rule("n needed", eff, n, lambda f: (f[ev].notna() | f[mean].notna()) & f[n].isna(),
             lambda r: f"{n} is needed with the arm's {'events' if not _missing(r[ev]) else 'mean'}",
             scope="sheet"),
    ]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text_missing(f: pd.DataFrame, column: str) -> pd.Series:
    return f[column].isna() | (f[column].astype(object).map(lambda v: isinstance(v, str) and not v.strip()))


_EFFECTS = ("effects",)
RULES: tuple[Rule, ...] = (
    Rule("year in range", ("studies", "reviews"), "year",
         lambda f: (f["year"] < MIN_YEAR) | (f["year"] > _next_year()),
         lambda r: f"{fmt(r['year'])} is outside {MIN_YEAR}–{_next_year()}",
         f"year BETWEEN {MIN_YEAR} AND {MAX_YEAR_CHECK}"),
    _bound("raw_row", ("sources", "review_results", "review_trials", "risk_of_bias"), low=1, sql="raw_row >= 1"),
    Rule("membership names its trial", ("review_trials",), "study_id",
         lambda f: f["study_id"].notna() & (f["study_id"] != f["trial_id"]),
         lambda r: f"must equal trial_id ({r['trial_id']}) when given, got {r['study_id']}",
         "study_id IS NULL OR study_id = trial_id"),
    _bound("timepoint_months", _EFFECTS, low=0, sql="timepoint_months >= 0"),
    *_arm_rules("ps"), *_arm_rules("ctl"),
    *_ci_rules("reported_effect", "reported_ci_low", "reported_ci_high", "reported_effect_type", _EFFECTS),
    Rule("CI needs both bounds", _EFFECTS, "reported_ci_high",
         lambda f: f["reported_ci_low"].notna() & f["reported_ci_high"].isna(),
         lambda r: "give both CI bounds or neither", scope="sheet"),
    Rule("CI needs both bounds", _EFFECTS, "reported_ci_low",
         lambda f: f["reported_ci_low"].isna() & f["reported_ci_high"].notna(),
         lambda r: "give both CI bounds or neither", scope="sheet"),
    Rule("effect type needed", _EFFECTS, "reported_effect_type",
         lambda f: f["reported_effect"].notna() & f["reported_effect_type"].isna(),
         lambda r: "required when reported_effect is given (SMD, g, d, MD, RR, OR, IRR or HR)", scope="sheet"),
    Rule("sign needed", _EFFECTS, "reported_sign",
         lambda f: f["reported_effect_type"].notna() & f["reported_sign"].isna(),
         lambda r: "required when reported_effect_type is given",
         "reported_effect_type IS NULL OR reported_sign IS NOT NULL"),
    Rule("direction needed", _EFFECTS, "higher_is_better",
         lambda f: f["higher_is_better"].isna() & (
             f[["mean_ps", "mean_ctl", "events_ps", "events_ctl"]].notna().any(axis=1)
             | (f["reported_effect"].notna()
                & ~f["reported_sign"].isin(("positive_favours_ps", "negative_favours_ps")))),
         lambda r: "needed to orient the numbers: 'yes' if higher scores (or the event) are good, else 'no'",
         scope="sheet"),
    Rule("derivation needed", _EFFECTS, "derivation",
         lambda f: (f["derived"] == True) & _text_missing(f, "derivation"),  # noqa: E712 (object column)
         lambda r: "a derived row must say how it was derived",
         "NOT derived OR (derivation IS NOT NULL AND length(trim(derivation)) > 0)"),
    Rule("derivation kind needed", _EFFECTS, "derivation_kind",
         lambda f: (f["derived"] == True) & f["derivation_kind"].isna(),  # noqa: E712
         lambda r: "a derived row must name the kind of derivation (e.g. back-calculated)",
         "NOT derived OR derivation_kind IS NOT NULL"),
    Rule("shared arm needed", _EFFECTS, "shared_arm",
         lambda f: f["shared_control"].notna() & f["shared_arm"].isna(),
         lambda r: "required when shared_control is given ('control' or 'peer support')",
         "shared_control IS NULL OR shared_arm IS NOT NULL"),
    *_ci_rules("estimate", "ci_low", "ci_high", "effect_type", ("review_results",)),
    _between("i2", ("review_results",), 0, 100, "must be a percentage 0-100", "i2 >= 0 AND i2 <= 100"),
    _bound("q", ("review_results",), low=0, sql="q >= 0"),
    _between("q_p", ("review_results",), 0, 1, "must be between 0 and 1", "q_p >= 0 AND q_p <= 1"),
    _bound("k_studies", ("review_results",), low=1, sql="k_studies >= 1"),
    _bound("n_participants", ("reviews", "review_results"), low=1, sql="n_participants >= 1"),
    _bound("n_primary_studies", ("reviews",), low=1, sql="n_primary_studies >= 1"),
)


def rules_for(tables: Sequence[str], *, sheet: bool = False) -> tuple[Rule, ...]:
    """The rules of ``tables``; those of scope ``"sheet"`` only when checking a user's sheet."""
    return tuple(r for r in RULES if set(r.tables) & set(tables) and (sheet or r.scope == "store"))


def check_rules(frame: pd.DataFrame, rules: Sequence[Rule], rows: np.ndarray, problems: list[Problem],
                *, file: str = "", already: Mapping[str, pd.Series] | None = None) -> None:
    """Append a problem for every row that breaks one of ``rules``.

    ``frame`` holds typed values (:func:`parse_column`); ``rows`` the row number of each frame row.
    A cell that already has a problem (``already[column]``, updated here) gets no second one.
    """
    flagged = dict(already) if already is not None else {}
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    for rule in rules:
        mask = rule.violated(frame).astype(object).fillna(False).astype(bool)
        prior = flagged.get(rule.column)
        if prior is not None:
            mask &= ~prior
        hits = np.flatnonzero(mask.to_numpy())
        if not len(hits):
            continue
        problems.extend(Problem(int(rows[i]), rule.column, rule.message(_Row(columns, i)), file, rule.kind)
                        for i in hits)
        flagged[rule.column] = mask if prior is None else (prior | mask)
    if already is not None and isinstance(already, dict):
        already.update(flagged)


class _Row(Mapping):
    """One row of a frame's columns, read lazily (a message reads two or three cells of a wide row)."""

    __slots__ = ("_columns", "_i")

    def __init__(self, columns: Mapping[str, np.ndarray], i: int) -> None:
        self._columns, self._i = columns, i

    def __getitem__(self, key: str) -> object:
        return self._columns[key][self._i]

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)
