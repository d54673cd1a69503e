"""The evidence map: trials in each cell of two characteristics (e.g. population × peer-support format) under
the current filters, with the pooled effect of the chosen outcome where a cell has at least two trials.

Counts come from :func:`evidence.query.trial_counts_by_pair` (the axis fields' own filters are ignored, so a
chosen cell stays among its neighbours); every value of the controlled lists gets a cell, so gaps stay
visible. The colour value is the pooled effect oriented so that positive favours peer support: the SMD as
pooled, and a log odds ratio on the SMD scale by Chinn's factor (√3/π; Chinn 2000) so one scale serves every
cell. Risk ratios have no SMD equivalent: on a map of one risk-ratio outcome the colour is the oriented log risk
ratio (``colour_scale`` says so); on a map with outcomes as an axis their cells are counted, not coloured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from evidence import query
from evidence.analysis.analyse import CATCH_ALL_OUTCOMES, analyse
from evidence.core.errors import EvidenceError, InvalidChoice, OutcomeRequired
from evidence.core.filters import FilterSpec, vocabulary
from evidence.core.measures import measure

__all__ = ["EvidenceMap", "evidence_map", "MAP_FIELDS", "MIN_K_COLOUR", "NOT_REPORTED"]

MAP_FIELDS = query.MAP_FIELDS
#: A cell is coloured by its pooled effect from this many trials.
MIN_K_COLOUR = 2
#: Label of a missing characteristic.
NOT_REPORTED = "not reported"
_CHINN = math.sqrt(3.0) / math.pi


@dataclass(frozen=True, eq=False)
class EvidenceMap:
    """One map: its axes, every cell (``cells``), the outcome coloured, and the axis orders.

    ``cells`` columns: ``row_value, col_value`` (None for not reported), ``n_studies``, ``k`` (trials pooled,
    0 when not analysed), ``effect`` (colour value: oriented SMD, NaN when not coloured), ``effect_text``
    (the pooled result in words, '' when none), ``outcome`` (the outcome behind the colour).
    """

    spec: FilterSpec
    row_field: str
    col_field: str
    cells: pd.DataFrame
    rows: tuple
    cols: tuple
    colour_scale: str = "SMD"

    @property
    def n_gaps(self) -> int:
        known = self.cells["row_value"].notna() & self.cells["col_value"].notna()
        return int(((self.cells["n_studies"] == 0) & known).sum())


def _values(field: str, observed: pd.Series) -> list:
    listed = list(vocabulary().get(field, ()))
    extra = sorted({v for v in observed.dropna() if v not in listed})
    out = [v for v in listed if field != "outcome" or v not in CATCH_ALL_OUTCOMES] + extra
    return out + ([None] if observed.isna().any() else [])


def _cell_effect(spec: FilterSpec, row_field: str, rv, col_field: str, cv, settings: dict
                 ) -> tuple[int, float, str, str]:
    cell = spec
    for field, value in ((row_field, rv), (col_field, cv)):
        cell = replace(cell, outcome=value) if field == "outcome" else replace(cell, **{field: (value,)})
    if cell.outcome is None or cell.outcome in CATCH_ALL_OUTCOMES:
        return 0, float("nan"), "", ""
    try:
        a = analyse(cell, **settings)
    except EvidenceError:
        return 0, float("nan"), "", ""
    if a.k < MIN_K_COLOUR:
        return a.k, float("nan"), "", a.effect_measure
    p, m = a.pooled, measure(a.effect_measure)
    name = {"logRR": "RR", "logOR": "OR"}.get(a.effect_measure, "SMD")
    text = (f"{name} {m.to_display(p.estimate):.2f} ({m.to_display(p.ci_low):.2f} to {m.to_display(p.ci_high):.2f}),"
            f" {a.k} trials")
    oriented = p.estimate * a.favours.benefit_sign * (_CHINN if a.effect_measure == "logOR" else 1.0)
    return a.k, float(oriented), text, a.effect_measure


def evidence_map(spec: FilterSpec, row_field: str = "population", col_field: str = "ps_format", con=None, *,
                 method: str = "REML", hartung_knapp: bool = False, level: float = 0.95) -> EvidenceMap:
    """Counts for every cell and, where a cell has at least :data:`MIN_K_COLOUR` trials of the outcome
    (``spec.outcome``, or the cell's own when ``outcome`` is an axis), its oriented pooled effect."""
    if "outcome" not in (row_field, col_field) and spec.outcome is None:
        raise OutcomeRequired(vocabulary().get("outcome", ()))
    for field in (row_field, col_field):
        if field not in MAP_FIELDS:
            raise InvalidChoice("evidence-map axis", field, MAP_FIELDS)
    counts = query.trial_counts_by_pair(spec, row_field, col_field, con)
    rows = _values(row_field, counts["row_value"])
    cols = _values(col_field, counts["col_value"])
    found = {(r, c): n for r, c, n in zip(counts["row_value"], counts["col_value"], counts["n_studies"])}
    settings = {"method": method, "hartung_knapp": hartung_knapp, "level": level, "con": con}
    recs = []
    for rv in rows:
        for cv in cols:
            n = int(found.get((rv, cv), 0))
            k, effect, text, scale = 0, float("nan"), "", ""
            if n >= MIN_K_COLOUR and rv is not None and cv is not None:
                k, effect, text, scale = _cell_effect(spec, row_field, rv, col_field, cv, settings)
            outcome = rv if row_field == "outcome" else cv if col_field == "outcome" else spec.outcome
            recs.append({"row_value": rv, "col_value": cv, "n_studies": n, "k": k, "effect": effect,
                         "effect_text": text, "outcome": outcome, "scale": scale})
    cells = pd.DataFrame.from_records(recs, columns=["row_value", "col_value", "n_studies", "k", "effect",
                                                     "effect_text", "outcome", "scale"])
    scales = set(cells.loc[cells["effect"].notna(), "scale"])
    colour_scale = "logRR" if scales == {"logRR"} else "SMD"
    if colour_scale == "SMD":  # risk ratios cannot share the SMD scale: counted, not coloured
        cells.loc[cells["scale"] == "logRR", "effect"] = float("nan")
    return EvidenceMap(spec, row_field, col_field, cells.drop(columns=["scale"]), tuple(rows), tuple(cols),
                       colour_scale)
