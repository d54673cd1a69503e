"""The filter fields: which fields a :class:`~evidence.core.filters.FilterSpec` has, their SQL columns and labels.

The registry the spec, its SQL, its words and its URL codec read: the
categorical fields (their values from the controlled lists, :func:`vocabulary`),
the order filters are applied in, the whitelisted column expression of each
filter, the query keys the app reserves or reads as lists, and the patterns of
dataset names and study ids. Import these from :mod:`evidence.core.filters`.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "CATEGORICAL_FIELDS",
    "FILTER_ORDER",
    "COLUMNS",
    "RESERVED_QUERY_KEYS",
    "LIST_QUERY_KEYS",
    "DATASET_NAME_PATTERN",
    "STUDY_ID_PATTERN",
    "vocabulary",
]

#: Fields holding a tuple of allowed values from the controlled lists (vocab.csv field = same name).
CATEGORICAL_FIELDS: tuple[str, ...] = (
    "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
    "org_support", "peer_deliverer", "comparator", "risk_of_bias",
)

#: Order in which filters are applied when looking for the one that emptied the set.
FILTER_ORDER: tuple[str, ...] = (
    "outcome", "review", "population", "setting", "ps_format", "ps_mode", "ps_role", "peer_paid",
    "org_support", "peer_deliverer", "comparator", "risk_of_bias", "timepoint_months",
    "year", "exclude_studies", "include_flagged",
)

#: Whitelisted SQL expression for each filter (aliases: ``s`` = studies, ``e`` = effects).
#: Risk of bias is judged per result where the source gives it, else per trial.
COLUMNS: dict[str, str] = {
    "outcome": "e.outcome",
    "population": "s.population",
    "setting": "s.setting",
    "ps_format": "s.ps_format",
    "ps_mode": "s.ps_mode",
    "ps_role": "s.ps_role",
    "peer_paid": "s.peer_paid",
    "org_support": "s.org_support",
    "peer_deliverer": "s.peer_deliverer",
    "comparator": "e.comparator",
    "risk_of_bias": "COALESCE(e.risk_of_bias, s.risk_of_bias)",
    "timepoint_months": "e.timepoint_months",
    "year": "s.year",
    "exclude_studies": "s.study_id",
    "review": "s.study_id",
}

#: Query keys the app uses beside the filter (never reported as unknown).
RESERVED_QUERY_KEYS: frozenset[str] = frozenset({"method", "hk", "version", "level", "page", "moderator", "prior",
                                                  "prior_scale", "mid", "screen"})

#: Imported dataset names: lower-case letters, digits, ``_`` and ``-``; 1–40 characters.
DATASET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: Study identifiers (``FirstAuthorYear`` plus suffixes).
STUDY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

_LABELS = {
    "outcome": "outcome", "population": "population", "setting": "setting",
    "ps_format": "format", "ps_mode": "mode", "ps_role": "role", "peer_paid": "peers paid",
    "org_support": "organisational support", "peer_deliverer": "deliverer",
    "comparator": "comparator", "risk_of_bias": "risk of bias",
}

#: Query keys whose value is a list: a repeated key adds its values (``?population=a&population=b``).
LIST_QUERY_KEYS: frozenset[str] = frozenset(CATEGORICAL_FIELDS) | {"exclude_studies"}


def vocabulary(data_dir: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Allowed values per categorical field, from the controlled lists (``data/vocab.csv``).

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder holding ``vocab.csv``; defaults to the shipped ``data/``.

    Returns
    -------
    dict
        ``field -> tuple of values`` in display order; empty when vocab.csv is missing.
    """
    from evidence.store.vocab import load_vocab  # the one reader of vocab.csv (cached until the file changes)

    try:
        v = load_vocab(data_dir)
    except FileNotFoundError:
        return {}
    return {f: v.values(f) for f in v.fields()}
