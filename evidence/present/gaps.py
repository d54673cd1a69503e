"""The gaps of an evidence map in words: "No trial of group peer support in inpatient / discharge settings"."""

from __future__ import annotations

from evidence.analysis.evidence_map import EvidenceMap

__all__ = ["gap_sentences", "value_phrase", "PHRASES"]

#: How a value of each axis field reads inside "No trial ...".
PHRASES = {
    "population": "for {}",
    "setting": "in {} settings",
    "ps_format": "of {} peer support",
    "ps_mode": "delivered {}",
    "ps_role": "with peers in a {} role",
    "peer_paid": "with {} peers",
    "comparator": "against {}",
    "outcome": "measuring {}",
}
#: Which field's phrase comes first (the intervention before who and where).
_ORDER = ("ps_format", "ps_mode", "ps_role", "peer_paid", "population", "setting", "comparator", "outcome")


def _lower_first(label: str) -> str:
    """"Primary care" -> "primary care"; acronyms keep their capitals ("SMI", "HbA1c", "CBT")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def value_phrase(field: str, label: str) -> str:
    """One value in words, e.g. ``("setting", "Primary care") -> "in primary care settings"``."""
    return PHRASES.get(field, "with {}").format(_lower_first(label))


def gap_sentences(m: EvidenceMap, labels: dict[str, dict[str, str]] | None = None) -> list[str]:
    """One sentence per empty cell whose two values are both known (not-reported rows are not gaps)."""
    labels = labels or {}
    first, second = sorted((m.row_field, m.col_field), key=_ORDER.index)
    out = []
    empty = m.cells[(m.cells["n_studies"] == 0) & m.cells["row_value"].notna() & m.cells["col_value"].notna()]
    for rv, cv in zip(empty["row_value"], empty["col_value"]):
        value = {m.row_field: rv, m.col_field: cv}
        bits = [value_phrase(f, labels.get(f, {}).get(value[f], value[f])) for f in (first, second)]
        out.append(f"No trial {bits[0]} {bits[1]}.")
    return out
