"""What each effect row can give: its route, its kind, and the reason when it gives nothing.

The rule is the store's (:mod:`evidence.store.usability`, also written into each store's ``effect_usability``
table at build): run once on a store's rows (:mod:`.prepared`) and on the rows of merged datasets as they
are read (:func:`~evidence.analysis.selection.engine.effect_set`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evidence.analysis.selection.columns import _Cols
from evidence.analysis.selection.rules import REASONS
from evidence.store import usability


def _classify_arrays(df) -> dict[str, np.ndarray]:
    """route, kind, reason_code and flags as arrays, without copying the (wide) frame: the store's one
    rule (:func:`evidence.store.usability.classify`) read through the selection's column cache."""
    return usability.classify(_Cols.wrap(df))


def classify_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``route``, ``kind``, ``reason_code``, ``unusable_reason`` and ``flags`` to candidate rows.

    ``route`` is how a row can give an effect (``arm_continuous``, ``arm_binary``,
    ``reported_smd``, ``reported_md``, ``reported_rr``, ``reported_or``) or None; ``kind`` is
    ``continuous``/``binary``. ``reported_md`` is a reported mean difference with its 95% CI and
    both arm Ns (``n_ps + n_ctl > 2``), usable on the SMD scale only. Arm data win over a reported
    effect in the same row (:mod:`evidence.store.usability`).
    """
    arrays = _classify_arrays(rows)
    out = rows.assign(**arrays)
    out["unusable_reason"] = [REASONS.get(c) if c else None for c in arrays["reason_code"]]
    return out
