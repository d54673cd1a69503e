"""The selection run in order: :func:`effect_set` takes the matching rows (a store's prepared rows, or
merged datasets' rows read now), chooses the scale, picks one row per trial, computes and orients the
effects, and states what was left out and why; :func:`effects` gives its frame."""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

from evidence import query
from evidence.store import connection
from evidence.core.errors import InvalidChoice, OutcomeRequired
from evidence.core.measures import Favours
from evidence.core.filters import FilterSpec, followup_target, vocabulary
from evidence.analysis.selection.choose import _reasons, _select_positions
from evidence.analysis.selection.classify import _classify_arrays
from evidence.analysis.selection.columns import _as_objects, _Cols, _isin
from evidence.analysis.selection.compute import _compute, _join_notes, _split_arrays
from evidence.analysis.selection.frame import _build_frame, _effect_data, _frame_order
from evidence.analysis.selection.prepared import _prepared_store
from evidence.analysis.selection.result import EffectSet
from evidence.analysis.selection.rules import (_EXCLUDED_COLUMNS, _OFF_SCALE, ENGINES, MAX_LISTED_NOTES,
                                               MULTI_ARM_CHOICES, REASONS, SCALE_ROUTES)
from evidence.analysis.selection.scale import _SCALE_WORDS, _choose_scale, _majority, _summary_from_cols


def _excluded_frame(classified, in_analysis: np.ndarray, scale: str, keep: bool | None) -> pd.DataFrame:
    """Reasons for every matching row that is not in the analysis (``in_analysis``: a mask of the rows).

    ``classified``: the rows' ``study_id``, ``effect_id``, ``route``, ``kind``, ``reason_code`` and
    ``higher_is_better`` (a frame or a mapping of arrays), read as plain arrays.
    """
    out = ~np.asarray(in_analysis, dtype=bool)
    route = _as_objects(classified["route"])[out]
    code = np.array([c if c is not None else "no_numbers" for c in _as_objects(classified["reason_code"])[out]],
                    dtype=object)
    allowed = set(SCALE_ROUTES[scale])
    usable = np.array([r is not None and r in allowed for r in route], dtype=bool)
    off = np.array([r is not None and r not in allowed for r in route], dtype=bool)
    code[off] = [_OFF_SCALE.get((scale, r), "no_numbers") for r in route[off]]
    if keep is not None and scale == "logRR":
        hib = _as_objects(classified["higher_is_better"])[out]
        kind = _as_objects(classified["kind"])[out]
        minority = usable & (kind == "binary") & np.array([h is not None and bool(h) != keep for h in hib], dtype=bool)
        code[minority] = "direction_minority"
        usable &= ~minority
    code[usable] = "not_selected"
    return pd.DataFrame({"study_id": _as_objects(classified["study_id"])[out],
                         "effect_id": _as_objects(classified["effect_id"])[out],
                         "reason": [REASONS[c] for c in code],
                         "kind": np.where(code == "not_selected", "not selected", "unusable")})


def effect_set(spec: FilterSpec, con=None, *, target_months: float | None = None,
               multi_arm: str = "one", uploads_dir=None, level: float = 0.95,
               engine: str = "auto", effect_ids: np.ndarray | None = None) -> EffectSet:
    """Analysis-ready effects for ``spec.outcome`` with exclusions and notes.

    Parameters
    ----------
    spec : FilterSpec
        Must name an outcome.
    con : duckdb connection, optional
        The shipped store; defaults to the shared read-only connection.
    target_months : float, optional
        Follow-up to aim at; defaults to the centre of ``spec.timepoint_months``, else
        :data:`~evidence.analysis.selection.DEFAULT_TARGET_MONTHS`.
    multi_arm : {"one", "split"}
        One comparison per trial (default), or every comparison with shared arms split.
    uploads_dir : path, optional
        Folder of imported datasets (default ``data/uploads``).
    level : float
        Level of the per-study confidence intervals.
    engine : {"auto", "fresh"}
        Where the candidate rows come from; the selection is the same code either way. ``"auto"``: for
        one dataset, the store's rows converted and classified once per connection (stores are
        read-only), of which the filter keeps the ids one short query returns; for merged datasets,
        the matching rows read now. ``"fresh"`` always reads the matching rows now (tests compare the two).
    effect_ids : array of str, optional
        The ids of the rows that pass ``spec`` when the caller already has them (one query for every
        outcome: :func:`evidence.query.matching_effect_ids_by_outcome`); used by the ``"auto"`` engine for
        one dataset only, ignored otherwise.

    Returns
    -------
    EffectSet

    Raises
    ------
    OutcomeRequired
        When ``spec.outcome`` is None.
    InvalidChoice
        For an unknown ``multi_arm`` or ``engine``.
    """
    if spec.outcome is None:
        raise OutcomeRequired(vocabulary().get("outcome", ()))
    if multi_arm not in MULTI_ARM_CHOICES:
        raise InvalidChoice("multi_arm", multi_arm, MULTI_ARM_CHOICES)
    if engine not in ENGINES:
        raise InvalidChoice("engine", engine, ENGINES)
    target = float(target_months) if target_months is not None else followup_target(spec.followup)
    conns = connection.dataset_connections(spec.dataset, con, uploads_dir)
    if len(conns) == 1 and engine != "fresh":
        name, c = conns[0]
        store = _prepared_store(c)
        if effect_ids is not None:  # the caller has the ids already (one query for every outcome)
            cand = store.cols.take(store.positions(np.asarray(effect_ids, dtype=str)), copy=True)
        else:
            cand = store.cols.take(store.positions_of_rowids(query.matching_effect_rowids(spec, c)), copy=True)
        cand.add(dataset=np.full(cand.n, name, dtype=object))
    else:  # merged datasets (or asked for): read the matching rows now and classify them
        cand = _Cols(query.candidate_rows(spec, con, uploads_dir=uploads_dir))
        cand.add(**_classify_arrays(cand))
    route, kind = cand.obj("route"), cand.obj("kind")
    summary = _summary_from_cols(cand)
    scale, scale_choice, left_for_scale = _choose_scale(cand, summary, spec.scale)
    keep = _majority(summary, scale)
    usable = _isin(route, SCALE_ROUTES[scale])
    if keep is not None and scale == "logRR":
        same = (cand.boolean("higher_is_better") == keep).fillna(False).to_numpy(dtype=bool)
        usable &= (kind != "binary") | same
    narrow_pos = np.flatnonzero(usable)
    narrow = cand.take(narrow_pos)
    picked, extra, _ = _select_positions(narrow, scale, target, multi_arm)
    chosen = narrow.take(picked, copy=True).add(**extra)
    in_analysis = np.zeros(cand.n, dtype=bool)
    in_analysis[narrow_pos[picked]] = True

    def classified_fn() -> dict[str, np.ndarray]:
        return {"study_id": cand.obj("study_id"), "effect_id": cand.obj("effect_id"), "route": route, "kind": kind,
                "reason_code": cand.obj("reason_code"), "higher_is_better": cand.obj("higher_is_better")}
    notes: list[str] = []
    if multi_arm == "one" and chosen.n:
        multi = chosen.num("n_comparisons") > 1
        if multi.sum() > MAX_LISTED_NOTES:
            # the first few ids in sorted order (as np.sort of Series.to_numpy(dtype=str) lists them)
            sids = chosen.text("study_id") if chosen.isna("study_id").any() else chosen.plain("study_id")
            ids = heapq.nsmallest(MAX_LISTED_NOTES, [str(x) for x in sids[multi]])
            notes.append(f"{int(multi.sum())} trials have several comparisons; one per trial is used (least active "
                         f"control first), e.g. {', '.join(ids[:MAX_LISTED_NOTES])}.")
        elif multi.any():
            idx = np.flatnonzero(multi)
            idx = idx[np.argsort(chosen.text("study_id")[idx], kind="stable")]
            notes += [f"{s} has {int(k)} comparisons; one is used ({c})."
                      for s, k, c in zip(chosen.plain("study_id")[idx], chosen.num("n_comparisons")[idx],
                                         chosen.plain("comparison")[idx])]
    chosen.add(selection_reason=_reasons(chosen, target))
    used, split_notes = _split_arrays(chosen, multi_arm == "split")
    chosen.add(**used)
    notes += split_notes
    yi, vi, conv, why = _compute(chosen, scale)
    ratio_direction = None if keep is None else (1.0 if keep else -1.0)
    if scale == "logOR" and keep is not None:
        hib = chosen.boolean("higher_is_better")
        inv = ((hib != keep) & (chosen.obj("kind") == "binary")).fillna(False).to_numpy(dtype=bool)
        yi = np.where(inv, -yi, yi)
        conv = _join_notes(conv, np.where(inv, "odds ratio inverted (odds of not having the event)", "").astype(object))
        if inv.any():
            notes.append(f"{int(inv.sum())} odds ratio(s) inverted so that every row counts the same kind of event.")
    conv = _join_notes(conv, used["split_note"])
    chosen.add(yi=yi, vi=vi, conversion=conv)
    failed = np.isnan(yi) | np.isnan(vi)
    sid_all = chosen.raw("study_id")
    eid_all = chosen.raw("effect_id")
    sid_all = sid_all if isinstance(sid_all, np.ndarray) else sid_all.to_numpy()
    eid_all = eid_all if isinstance(eid_all, np.ndarray) else eid_all.to_numpy()
    failed_frame = pd.DataFrame({
        "study_id": sid_all[failed], "effect_id": eid_all[failed],
        "reason": [why[i] or "effect could not be computed" for i in np.flatnonzero(failed)], "kind": "unusable"})
    final = chosen.take(np.flatnonzero(~failed))
    final = final.take(_frame_order(final, multi_arm))
    data = _effect_data(final, scale)

    def excluded() -> pd.DataFrame:
        parts = [_excluded_frame(classified_fn(), in_analysis, scale, keep), failed_frame]
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_EXCLUDED_COLUMNS)

    kept = conv[~failed]
    n_chinn = sum(1 for x in kept[kept != ""] if "Chinn" in x)
    scale_note = ""
    if n_chinn:
        lead = "This outcome mixes continuous and binary results: " if summary["n_continuous"] else "On the SMD scale, "
        scale_note = (f"{lead}{n_chinn} binary result(s) were converted from log odds ratios to SMDs by Chinn's "
                      "method (×√3/π; Cochrane Handbook 10.6).")
    elif scale != "SMD":
        pooled_as = {"logRR": "Binary results pooled as risk", "logOR": "Binary results pooled as odds",
                     "logIRR": "Rate ratios (events per person-time) pooled as rate",
                     "logHR": "Hazard ratios pooled as hazard"}[scale]
        scale_note = f"{pooled_as} ratios on the log scale."
    if left_for_scale:
        scale_choice += (f" {len(left_for_scale)} trial(s) left out for their scale (no result on "
                         f"{_SCALE_WORDS[scale]}): {', '.join(left_for_scale)}; the reasons are in the not-pooled list.")
    scale_note = " ".join(x for x in (scale_note, scale_choice.strip()) if x)
    return EffectSet(data, lambda: _build_frame(final, scale, level, multi_arm), excluded, scale,
                     Favours.for_scale(scale, ratio_direction), scale_note, notes, target, summary["n_rows"])


def effects(spec: FilterSpec, con=None, **kwargs) -> pd.DataFrame:
    """One row per study for ``spec.outcome``, oriented and on one scale (see :func:`effect_set`).

    Returns
    -------
    DataFrame
        Columns :data:`~evidence.analysis.selection.EFFECT_COLUMNS`. SMD rows: positive favours peer
        support. Ratio rows: ``yi`` is the log of peer / control; ``display_*`` columns hold the ratio
        itself.
    """
    return effect_set(spec, con, **kwargs).effects
