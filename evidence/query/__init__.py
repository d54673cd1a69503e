"""The only code that writes SQL for reading the store: rows (:mod:`.rows`), counts per choice
(:mod:`.counts`) and the catalogue of studies, coverage and reviews (:mod:`.catalogue`)."""

from .counts import (MAP_FIELDS, choice_counts, choice_counts_all, count_studies, study_counts_by_filter,
                     trial_counts_by_pair)
from .rows import (TABLES, all_candidate_rows, candidate_rows, matching_effect_ids, matching_effect_ids_by_outcome,
                   metadata, table, vocab_frame)

__all__ = [
    "TABLES", "all_candidate_rows", "candidate_rows", "matching_effect_ids", "matching_effect_ids_by_outcome", "metadata", "table", "vocab_frame", "choice_counts", "choice_counts_all", "count_studies",
    "study_counts_by_filter", "MAP_FIELDS", "trial_counts_by_pair",
]
