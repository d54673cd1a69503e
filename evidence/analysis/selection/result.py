"""The result of a selection, :class:`EffectSet`, and one made over a frame assembled by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.analysis.data import EffectData
from evidence.core.measures import Favours
from evidence.analysis.selection.rules import _EXCLUDED_COLUMNS, DEFAULT_TARGET_MONTHS


class EffectSet:
    """Analysis-ready effects with everything needed to explain them (immutable).

    Attributes
    ----------
    data : EffectData
        The typed container handed to :mod:`stats`: ``yi``, ``vi``, study ids and sizes, in the
        frame's row order (built first; most analyses need nothing else).
    effects : DataFrame
        One row per study (per comparison with ``multi_arm="split"``); columns
        :data:`~evidence.analysis.selection.EFFECT_COLUMNS`. Built on first access, from the same rows
        as ``data``.
    excluded : DataFrame
        ``study_id, effect_id, reason, kind`` for every matching row not used; ``kind`` is
        ``"unusable"`` (no poolable numbers on this scale) or ``"not selected"`` (another row of
        the same trial was used). Computed on first access.
    effect_measure : str
        ``"SMD"``, ``"logRR"``, ``"logOR"``, ``"logIRR"`` or ``"logHR"``.
    favours : evidence.core.measures.Favours
        Which side favours peer support (``.side``; ``str()`` gives the sentence).
    scale_note : str
        How results were put on one scale ('' when nothing was converted).
    notes : tuple of str
        Other facts a reader needs (multi-arm choices, shared-arm splits, inverted odds ratios).
    target_months : float
        The follow-up the selection aimed at.
    n_candidates : int
        Number of matching effect rows before selection.
    """

    __slots__ = ("data", "effect_measure", "favours", "scale_note", "notes", "target_months",
                 "n_candidates", "_effects_fn", "_effects", "_excluded_fn", "_excluded")

    def __init__(self, data, effects_fn, excluded_fn, effect_measure, favours, scale_note, notes=(),
                 target_months=DEFAULT_TARGET_MONTHS, n_candidates=0):
        for name, value in (("data", data), ("effect_measure", effect_measure), ("favours", favours),
                            ("scale_note", scale_note), ("notes", tuple(notes)),
                            ("target_months", float(target_months)), ("n_candidates", int(n_candidates)),
                            ("_effects_fn", effects_fn), ("_effects", None),
                            ("_excluded_fn", excluded_fn), ("_excluded", None)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("EffectSet is immutable")

    @property
    def effects(self) -> pd.DataFrame:
        if self._effects is None:  # a race builds the same frame twice; either copy is kept whole
            object.__setattr__(self, "_effects", self._effects_fn())
        return self._effects

    @property
    def excluded(self) -> pd.DataFrame:
        if self._excluded is None:
            object.__setattr__(self, "_excluded", self._excluded_fn().reset_index(drop=True))
        return self._excluded


class _FrameColumns:
    """A frame's columns as object arrays (None where missing): the column reader of an EffectData made
    from a frame."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __call__(self, name: str) -> np.ndarray:
        return self.frame[name].astype(object).where(self.frame[name].notna(), None).to_numpy(dtype=object)


def effect_set_from_frame(effects: pd.DataFrame, excluded: pd.DataFrame | None = None, *, effect_measure: str,
                          favours: Favours, scale_note: str = "", notes=()) -> EffectSet:
    """An EffectSet over a frame with at least ``study_id, yi, vi`` (``n_total`` if known): for analyses
    assembled by hand (tests, imported results), read the same way as a selection's."""
    n_total = (effects["n_total"].to_numpy(dtype=float, na_value=np.nan) if "n_total" in effects
               else np.full(len(effects), np.nan))
    data = EffectData(yi=effects["yi"].to_numpy(dtype=float), vi=effects["vi"].to_numpy(dtype=float),
                      study_id=effects["study_id"].astype(str).to_numpy(dtype=object), n_total=n_total,
                      effect_measure=effect_measure, columns=_FrameColumns(effects))
    excluded = excluded if excluded is not None else pd.DataFrame(columns=_EXCLUDED_COLUMNS)
    return EffectSet(data, lambda: effects, lambda: excluded, effect_measure, favours, scale_note, notes)
