"""What an export names besides the numbers: the dataset version, the controlled lists' labels and the
citation of each included trial (read through :mod:`evidence.query`)."""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from evidence import query

__all__ = ["dataset_version", "vocab_labels", "trial_citations"]


def dataset_version(con=None) -> str:
    """The store's dataset version (``"unknown"`` when the store does not say)."""
    meta = query.metadata(con)
    return meta.get("dataset_version") or meta.get("version") or "unknown"


def vocab_labels(con=None) -> dict[str, dict[str, str]]:
    """Per controlled field: value -> display label, in list order (the value when no label is set)."""
    vt = query.vocab_frame(con)
    out: dict[str, dict[str, str]] = {}
    for field, value, label in zip(vt["field"].astype(str), vt["value"].astype(str), vt["label"]):
        out.setdefault(field, {})[value] = str(label) if isinstance(label, str) and label.strip() else value
    return out


def trial_citations(study_ids: Iterable[str], con=None) -> pd.DataFrame:
    """``study_id, citation, doi_or_pmid`` of the given trials (missing values stay empty strings)."""
    ids = list(dict.fromkeys(study_ids))
    studies = query.table("studies", con)
    found = studies[studies["study_id"].isin(ids)][["study_id", "citation", "doi_or_pmid"]]
    return found.fillna("").reset_index(drop=True)
