"""One row per trial (per comparison with ``multi_arm="split"``) by
:data:`~evidence.analysis.selection.rules.SELECTION_RULE`, and why it was chosen.

The pandas twin of the SQL window in :mod:`evidence.query`. Each step of the rule is one sort key
(:func:`_selection_keys`, smaller first); the step that separated the chosen row from the runner-up
becomes its ``selection_reason`` (:func:`_reasons`). Multi-arm trials: by default one comparison per
trial is used (the first by :data:`~evidence.analysis.selection.rules.COMPARATOR_PREFERENCE`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.analysis.selection.columns import _Cols, _codes, _has_column, _isin
from evidence.analysis.selection.rules import COMPARATOR_PREFERENCE, REPORTED_ROUTES


_KEY_ORDER = ("k_comparator", "k_native", "k_time", "k_time_long", "k_measure", "k_arm",
              "k_primary", "k_dataset", "k_verified")
_NARROW = ("dataset", "study_id", "effect_id", "comparison", "comparator", "measure", "timepoint_months",
           "source_review", "verification", "route", "kind")
_COMP_RANK = {c: float(i) for i, c in enumerate(COMPARATOR_PREFERENCE)}


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct (a, b) rows of two non-negative code arrays, as ``np.unique(..., axis=0)`` gives them
    (one integer sort instead of a sort of row views, which is slow on tens of thousands of rows)."""
    if not len(a):
        return np.empty((0, 2), dtype=np.int64)
    width = np.int64(b.max()) + 1
    combined = np.unique(a.astype(np.int64) * width + b.astype(np.int64))
    return np.stack([combined // width, combined % width], axis=1)


def _row_keys(c: "_Cols") -> tuple[np.ndarray, np.ndarray]:
    """The steps of the rule that depend on the row alone: comparator rank, primary source first."""
    other = float(len(_COMP_RANK))
    k_comp = np.array([_COMP_RANK.get(x, other) if isinstance(x, str) else other for x in c.obj("comparator")],
                      dtype=float)
    k_primary = np.array([0.0 if isinstance(x, str) and "primary" in x.lower() else 1.0
                          for x in c.obj("source_review")], dtype=float)
    return k_comp, k_primary


def _selection_keys(df, scale: str, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys (one column per step of the rule, smaller first) and each row's measure use."""
    c = _Cols.wrap(df)
    n = c.n
    t = c.num("timepoint_months")
    known = ~np.isnan(t)
    term = np.nan_to_num(c.num("timepoint_term")) if _has_column(c, "timepoint_term") else np.zeros(n)
    k_comp, k_primary = (c.num("k_comparator"), c.num("k_primary")) if c.has("k_primary") else _row_keys(c)
    k_native = ((scale == "SMD") & (c.obj("kind") == "binary")).astype(float)
    # target: +inf = the longest follow-up, -inf = the shortest, else the months to aim at (longer on a tie);
    # rows without months come last, ranked by the source's words (term 1-3; 0 = none, ranked last)
    if target == np.inf:
        k_time, k_long = np.where(known, -t, np.inf), np.where(known, 0.0, -term)
    elif target == -np.inf:
        k_time, k_long = np.where(known, t, np.inf), np.where(known, 0.0, np.where(term > 0, term, np.inf))
    else:
        k_time, k_long = np.where(known, np.abs(t - target), np.inf), np.where(known, -t, -term)
    m_codes, s_codes = _codes(c, "measure"), _codes(c, "study_id")
    pairs = _unique_pairs(m_codes, s_codes)
    use = np.bincount(pairs[:, 0], minlength=m_codes.max() + 1 if n else 0).astype(float)
    measure_use = use[m_codes] if n else np.empty(0)
    k_arm = _isin(c.obj("route"), REPORTED_ROUTES).astype(float)
    k_dataset = (c.plain("dataset") != "shipped").astype(float)
    k_verified = (c.plain("verification") != "verified").astype(float)
    keys = np.stack([k_comp, k_native, k_time, k_long, -measure_use, k_arm, k_primary, k_dataset, k_verified],
                    axis=1) if n else np.empty((0, len(_KEY_ORDER)))
    return keys, measure_use


def _select_positions(c: _Cols, scale: str, target: float, multi_arm: str
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Positions of the chosen rows, their extra columns, and positions of the others."""
    n = c.n
    keys, measure_use = _selection_keys(c, scale, target)
    s_codes, c_codes = _codes(c, "study_id"), _codes(c, "comparison")
    if multi_arm == "one" or not n:
        g_codes = s_codes
    else:  # one group per (study, comparison)
        g_codes = np.unique(s_codes.astype(np.int64) * (np.int64(c_codes.max()) + 1) + c_codes,
                            return_inverse=True)[1].ravel()
    if c.has("effect_rank"):  # ranked once for the whole store (same order within any subset)
        eff_order = c.num("effect_rank")
    else:
        ids = c.text("effect_id")
        eff_order = np.argsort(np.argsort(ids, kind="stable"), kind="stable") if n else np.empty(0, dtype=int)
    order = np.lexsort((eff_order,) + tuple(keys[:, j] for j in range(keys.shape[1] - 1, -1, -1)) + (g_codes,)) \
        if n else np.empty(0, dtype=int)
    g_sorted = g_codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = g_sorted[1:] != g_sorted[:-1]
    chosen_pos = order[first]
    has_next = np.zeros(n, dtype=bool)
    has_next[:-1] = g_sorted[1:] == g_sorted[:-1]
    runner_pos = np.where(has_next, np.roll(order, -1), -1)[first]
    decisive = np.full(len(chosen_pos), None, dtype=object)
    names = np.array(list(_KEY_ORDER) + ["effect_id"], dtype=object)
    if len(chosen_pos):
        a = keys[chosen_pos]
        b = keys[np.where(runner_pos >= 0, runner_pos, chosen_pos)]
        differs = a != b
        step = np.where(differs.any(axis=1), differs.argmax(axis=1), len(_KEY_ORDER))
        decisive = np.where(runner_pos >= 0, names[step], None).astype(object)
    counts = np.bincount(g_codes, minlength=g_codes.max() + 1 if n else 0)
    sc = _unique_pairs(s_codes, c_codes)
    n_comp = np.bincount(sc[:, 0], minlength=s_codes.max() + 1 if n else 0)
    extra = {"n_candidates": counts[g_codes[chosen_pos]] if n else np.empty(0, dtype=int),
             "n_comparisons": n_comp[s_codes[chosen_pos]] if n else np.empty(0, dtype=int),
             "measure_use": measure_use[chosen_pos] if n else np.empty(0),
             "decisive": decisive}
    rest_mask = np.ones(n, dtype=bool)
    rest_mask[chosen_pos] = False
    return chosen_pos, extra, np.flatnonzero(rest_mask)


def _select(df: pd.DataFrame, scale: str, target: float, multi_arm: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick one row per study (per comparison with ``"split"``); returns (chosen, the others).

    The chosen rows carry ``n_candidates``, ``n_comparisons``, ``measure_use`` and ``decisive`` (the
    step of :data:`~evidence.analysis.selection.SELECTION_RULE` that separated the winner from the
    runner-up, None when alone).
    """
    chosen_pos, extra, rest = _select_positions(_Cols(df), scale, target, multi_arm)
    chosen = df.iloc[chosen_pos].assign(**{k: v if len(v) or k == "decisive" else [] for k, v in extra.items()})
    return chosen, df[["study_id", "effect_id"]].iloc[rest]


_TERM_WORDS = {1: "short term", 2: "medium term", 3: "long term"}


def followup_rule_words(rule: str) -> str:
    """The follow-up rule of a :class:`FilterSpec` (``spec.followup``) as a sentence for pages and exports."""
    lead = {"longest": "each trial's longest follow-up", "shortest": "each trial's shortest follow-up"}.get(
        rule, f"the follow-up nearest {rule} months (the longer on a tie)")
    return (f"When a trial reports several follow-ups, {lead} is used; follow-ups without months come after "
            "those with, ranked by the source's words (short, medium, long term).")


def _followup_words(months: float, term: float, target: float, extra: str) -> str:
    """Why a follow-up was chosen, in the words of the rule (``target``: see :func:`_selection_keys`)."""
    if np.isnan(months):
        rule = "longest" if target == np.inf else "shortest" if target == -np.inf else "longer"
        return (f"follow-up '{_TERM_WORDS.get(int(term), 'unknown')}' as the source words it (months not recorded), "
                f"the {rule} of the rows without months")
    if target == np.inf:
        return f"the longest follow-up ({months:g} months)"
    if target == -np.inf:
        return f"the shortest follow-up ({months:g} months)"
    return f"follow-up {months:g} months nearest the {target:g}-month target{extra}"


def _reasons(chosen, target: float) -> np.ndarray:
    """``selection_reason`` for every chosen row, from the deciding step of the rule."""
    c = _Cols.wrap(chosen)
    n = c.n
    out = np.full(n, "only usable row for this trial", dtype=object)
    if n == 0:
        return out
    decisive = c.obj("decisive")
    idx = np.flatnonzero(~pd.isna(decisive))
    if not len(idx):
        return out
    d = decisive[idx]
    # texts are built once per distinct value, then spread (most rows share a few values)
    k = c.num("n_candidates")[idx].astype(int)
    if len(k) and 0 <= k.min() and k.max() < 4 * len(k) + 64:  # small counts: a lookup table, no sort
        prefix = np.array([f"chosen from {i} rows: " for i in range(k.max() + 1)], dtype=object)[k]
    else:
        counts, inv = np.unique(k, return_inverse=True)
        prefix = np.array([f"chosen from {i} rows: " for i in counts], dtype=object)[inv.ravel()]
    text = np.full(len(idx), None, dtype=object)
    fixed = {
        "k_native": "a continuous result preferred over a converted binary one",
        "k_arm": "arm-level data preferred over a reported effect",
        "k_primary": "primary paper preferred over a review or database",
        "k_dataset": "shipped data preferred over an imported dataset",
        "k_verified": "verified row preferred over an unverified one",
        "effect_id": "rows otherwise equal; the row listed first in its source (lowest effect id)",
    }
    codes, steps = pd.factorize(d)
    mask = {step: codes == i for i, step in enumerate(steps)}
    none = np.zeros(len(idx), dtype=bool)
    for key, words in fixed.items():
        text[mask.get(key, none)] = words
    m = mask.get("k_comparator", none)
    if m.any():
        comparator = c.obj("comparator")[idx][m]
        words = {x: f"comparison against {x if x is not None else 'an unstated control'} preferred "
                    "(least active control first)" for x in set(comparator)}
        text[m] = [words[x] for x in comparator]
    terms = c.num("timepoint_term")[idx] if _has_column(c, "timepoint_term") else np.zeros(len(idx))
    for key, extra in (("k_time", ""), ("k_time_long", " (the longer of two equally near)")):
        m = mask.get(key, none)
        if m.any():
            pairs = list(zip(c.num("timepoint_months")[idx][m].tolist(), np.nan_to_num(terms[m]).tolist()))
            text[m] = [_followup_words(v, term, target, extra) for v, term in pairs]
    m = mask.get("k_measure", none)
    if m.any():
        pairs = list(zip(c.obj("measure")[idx][m], c.num("measure_use")[idx][m].astype(int).tolist()))
        words = {(x, u): np.nan if x is None else f"{x} is the measure most used for this outcome ({u} trials)"
                 for x, u in set(pairs)}
        text[m] = [words[p] for p in pairs]
    done = ~np.equal(text, None)
    out[idx[done]] = prefix[done] + text[done]
    return out
