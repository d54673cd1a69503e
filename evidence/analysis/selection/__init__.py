"""Analysis-ready effects: one row per study for one outcome, oriented, on one scale.

From the filtered effect rows (:func:`evidence.query.candidate_rows`) this package

1. classifies each row by what it can give: arm means/SDs, arm events, a
   reported effect with its 95% CI (SMD/g/d, RR or OR), or a reported mean
   difference with its 95% CI and both arm Ns (:mod:`.classify`);
2. chooses the scale of the analysis (:func:`.scale._choose_scale`);
3. picks one row per study by the stated rule (:data:`SELECTION_RULE`) and
   records why (``selection_reason``; :mod:`.choose`);
4. computes ``yi``/``vi`` with :mod:`stats` (never with formulas of its own; :mod:`.compute`);
5. orients the rows so that all point the same way and says which side favours
   peer support (:mod:`.compute`).

The rules shown to users are :data:`SELECTION_RULE` and :data:`ORIENTATION_RULE`; how each kind of row
is oriented and converted is written out in :mod:`.compute`, how the scale is chosen in :mod:`.scale`.

Modules, in the order of the flow:

* :mod:`.rules`: the stated rules and the names every stage shares (routes, scales, reasons, columns);
* :mod:`.columns`: a frame's columns as arrays, each converted once;
* :mod:`.classify`: each row's route, kind and reason (the pandas twin of the SQL in :mod:`evidence.query`);
* :mod:`.prepared`: a store's rows converted and classified once per read-only connection;
* :mod:`.scale`: the scale of an analysis;
* :mod:`.choose`: one row per trial by :data:`SELECTION_RULE`, and why;
* :mod:`.compute`: ``yi``/``vi`` through :mod:`stats`, the orientation, shared-arm splits;
* :mod:`.result`: :class:`EffectSet`, what a selection returns;
* :mod:`.frame`: the chosen rows as :class:`EffectData` and as the wide per-study frame;
* :mod:`.engine`: :func:`effect_set` and :func:`effects`, the stages in order;
* :mod:`.compare`: :func:`computed_vs_reported`, arm data beside the effect the source printed.
"""

from evidence.analysis.data import EffectData
from evidence.analysis.selection.classify import classify_rows
from evidence.analysis.selection.choose import followup_rule_words
from evidence.analysis.selection.compare import computed_vs_reported
from evidence.analysis.selection.engine import effect_set, effects
from evidence.analysis.selection.result import EffectSet, effect_set_from_frame
from evidence.analysis.selection.rules import (COMPARATOR_PREFERENCE, DEFAULT_TARGET_MONTHS, EFFECT_COLUMNS,
                                               ORIENTATION_RULE, ROUNDING_TOLERANCE, SELECTION_RULE)

__all__ = [
    "effects", "effect_set", "effect_set_from_frame", "EffectSet", "EffectData", "classify_rows",
    "computed_vs_reported", "DEFAULT_TARGET_MONTHS", "COMPARATOR_PREFERENCE",
    "SELECTION_RULE", "ORIENTATION_RULE", "followup_rule_words", "ROUNDING_TOLERANCE", "EFFECT_COLUMNS",
]
