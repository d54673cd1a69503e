"""The domain layer of the peer-support evidence dashboard (no Streamlit here).

Public API (see ``docs/contracts.md``)::

    from evidence import FilterSpec, effects, analyse
    spec = FilterSpec(outcome="depression", population=("perinatal depression",))
    res = analyse(spec, method="REML", hartung_knapp=True)
    res.pooled.estimate, res.description, res.warnings

Modules: :mod:`~evidence.core.filters` (FilterSpec, SQL and URL codec), :mod:`~evidence.query` (the only
SQL), :mod:`~evidence.analysis.selection` (selection, orientation, conversions), :mod:`~evidence.analysis`
(analyses and sensitivity tables), :mod:`~evidence.ingest` (validated import of a user's sheet and of
the Metapsy standard), :mod:`~evidence.store.build` (the store), :mod:`~evidence.store.vocab` (controlled lists).
"""

from evidence.analysis import Analysis, analyse
from evidence.analysis.selection import computed_vs_reported, effect_set, effects
from evidence.core.errors import (
    EvidenceError,
    InvalidChoice,
    InvalidDatasetName,
    InvalidSheet,
    NoMatchingStudies,
    OutcomeRequired,
    Problem,
    UnknownDataset,
)
from evidence.core.filters import FilterSpec

__all__ = [
    "FilterSpec",
    "effects",
    "effect_set",
    "computed_vs_reported",
    "analyse",
    "Analysis",
    "EvidenceError",
    "NoMatchingStudies",
    "InvalidSheet",
    "Problem",
    "UnknownDataset",
    "InvalidDatasetName",
    "OutcomeRequired",
    "InvalidChoice",
]
