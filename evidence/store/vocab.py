"""Controlled lists (vocabularies) of the evidence store, read from ``data/vocab.csv``.

Every categorical column of the shipped data takes its values from one *field* of ``vocab.csv``
(columns ``field, value, label, description, sort_order``). This module gives the allowed values in
display order, their labels and descriptions, and the nearest valid value for a typo, so that the
build, the import of a user's sheet and the dashboard filters all use one list.

Examples
--------
>>> from evidence import vocab
>>> v = vocab.load_vocab()
>>> "usual care" in v.values("comparator")
True
>>> v.label("peer_deliverer", "near-peer")
'Near-peer'
"""

from __future__ import annotations

import csv
import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

VOCAB_COLUMNS: tuple[str, ...] = ("field", "value", "label", "description", "sort_order")

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"

# Which vocab field each categorical column of the shipped tables draws from.
# Columns not listed here are free text or numbers.
COLUMN_FIELDS: dict[str, dict[str, str]] = {
    "studies": {
        "design": "design",
        "pilot": "pilot",
        "population": "population",
        "setting": "setting",
        "ps_format": "ps_format",
        "ps_mode": "ps_mode",
        "ps_role": "ps_role",
        "peer_paid": "peer_paid",
        "org_support": "org_support",
        "peer_deliverer": "peer_deliverer",
        "risk_of_bias": "risk_of_bias",
        "rob_status": "rob_status",
        "flags": "flag",
    },
    "effects": {
        "comparator": "comparator",
        "shared_arm": "shared_arm",
        "outcome": "outcome",
        "reported_effect_type": "reported_effect_type",
        "reported_sign": "reported_sign",
        "score_type": "score_type",
        "risk_of_bias": "risk_of_bias",
        "verification": "verification",
        "derivation_kind": "derivation_kind",
        "flags": "flag",
    },
    "reviews": {
        "review_type": "review_type",
        "ps_format": "review_ps_format",
        "amstar2": "amstar2",
    },
    "review_results": {
        "outcome": "outcome",
        "ps_format": "review_ps_format",
        "effect_type": "reported_effect_type",
        "reported_sign": "reported_sign",
    },
    "risk_of_bias": {
        "judgement": "risk_of_bias",
    },
}


class UnknownVocabField(KeyError):
    """Raised when a field name is not in vocab.csv; the message lists the valid fields."""


@dataclass(frozen=True)
class Term:
    """One allowed value of a field."""

    field: str
    value: str
    label: str
    description: str
    sort_order: int


@dataclass(frozen=True)
class Vocabulary:
    """All controlled lists, keyed by field, each in ``sort_order``.

    Attributes
    ----------
    terms : tuple of Term
        Every (field, value) pair, sorted by field then sort_order.
    source : str
        Path of the vocab.csv it was read from (for messages).
    """

    terms: tuple[Term, ...]
    source: str = ""

    @functools.cached_property
    def _by_field(self) -> dict[str, tuple[Term, ...]]:
        out: dict[str, list[Term]] = {}
        for term in self.terms:
            out.setdefault(term.field, []).append(term)
        return {f: tuple(sorted(ts, key=lambda t: (t.sort_order, t.value))) for f, ts in out.items()}

    def fields(self) -> tuple[str, ...]:
        """Names of all fields, sorted."""
        return tuple(sorted(self._by_field))

    def _terms(self, field: str) -> tuple[Term, ...]:
        try:
            return self._by_field[field]
        except KeyError:
            raise UnknownVocabField(
                f"Unknown vocabulary field {field!r}; must be one of {list(self.fields())}"
            ) from None

    def values(self, field: str) -> tuple[str, ...]:
        """Allowed values of ``field`` in display order."""
        return tuple(t.value for t in self._terms(field))

    def labels(self, field: str) -> dict[str, str]:
        """Mapping value -> display label for ``field`` (in display order)."""
        return {t.value: t.label for t in self._terms(field)}

    def label(self, field: str, value: str) -> str:
        """Display label of ``value``; the value itself when it is not in the list."""
        return self.labels(field).get(value, value)

    def description(self, field: str, value: str) -> str:
        """Description of ``value`` ('' when unknown)."""
        for t in self._terms(field):
            if t.value == value:
                return t.description
        return ""

    def is_valid(self, field: str, value: str) -> bool:
        """True when ``value`` is an allowed value of ``field``."""
        return value in self.values(field)

    def suggest(self, field: str, value: str) -> str | None:
        """Nearest allowed value of ``field`` for a misspelt ``value`` (case-insensitive), or None."""
        allowed = self.values(field)
        lowered = {v.lower(): v for v in allowed}
        if value.strip().lower() in lowered:
            return lowered[value.strip().lower()]
        match = difflib.get_close_matches(value.strip().lower(), list(lowered), n=1, cutoff=0.6)
        return lowered[match[0]] if match else None


def read_vocab_rows(path: Path) -> list[dict[str, str]]:
    """Read vocab.csv as a list of row dicts (strings), without checking it."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def vocabulary_from_rows(rows: list[dict[str, str]], source: str = "") -> Vocabulary:
    """Build a Vocabulary from already-validated vocab.csv rows."""
    terms = tuple(
        Term(
            field=r["field"],
            value=r["value"],
            label=r["label"],
            description=r.get("description") or "",
            sort_order=int(r["sort_order"]),
        )
        for r in rows
    )
    return Vocabulary(terms=tuple(sorted(terms, key=lambda t: (t.field, t.sort_order, t.value))), source=source)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> Vocabulary:
    return vocabulary_from_rows(read_vocab_rows(Path(path)), source=path)


def load_vocab(data_dir: str | Path | None = None) -> Vocabulary:
    """Load ``<data_dir>/vocab.csv`` (default: the shipped ``data/``); cached until the file changes.

    Raises
    ------
    FileNotFoundError
        When vocab.csv does not exist in ``data_dir``.
    """
    path = Path(data_dir or DEFAULT_DATA_DIR) / "vocab.csv"
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)
