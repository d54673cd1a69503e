"""Small-study effects of a pooled result: Egger's test and trim-and-fill (weak below ten studies)."""

from __future__ import annotations

from dataclasses import dataclass


import stats

from evidence.analysis.analyse import Analysis, _quiet_stats, _same_settings

__all__ = ["SmallStudy", "SMALL_STUDY_MIN_K", "small_study"]


@dataclass(frozen=True, eq=False)
class SmallStudy:
    """Small-study effects: Egger's test and trim-and-fill, with the caveats that apply."""

    egger: object | None        # stats.EggerTest
    trim_and_fill: object | None  # stats.TrimAndFill
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        out: dict = {"notes": list(self.notes)}
        if self.egger is not None:
            e = self.egger
            out["egger"] = {"intercept": e.intercept, "se": e.se, "t": e.t, "df": e.df, "p_value": e.p_value}
        if self.trim_and_fill is not None:
            t = self.trim_and_fill
            out["trim_and_fill"] = {"k0": t.k0, "side": t.side, "adjusted": t.adjusted.to_dict()}
        return out


#: Below this many studies, tests for funnel-plot asymmetry have too little power
#: (Cochrane Handbook 13.3.5.4).
SMALL_STUDY_MIN_K = 10


def small_study(a: Analysis) -> SmallStudy:
    """Egger's regression test and trim-and-fill (``stats.egger_test``, ``stats.trim_and_fill``)."""
    notes = []
    if a.k < 3:
        return SmallStudy(None, None, (f"Small-study tests need at least 3 studies; this analysis has {a.k}.",))
    if a.k < SMALL_STUDY_MIN_K:
        notes.append(f"Only {a.k} studies: tests for funnel-plot asymmetry have little power with fewer than "
                     f"{SMALL_STUDY_MIN_K} studies (Cochrane Handbook 13.3.5.4); read them with caution.")
    y, v = a.data.yi, a.data.vi
    egger = _quiet_stats(stats.egger_test, y, v, level=a.level)
    tf = _quiet_stats(stats.trim_and_fill, y, v, **_same_settings(a))
    return SmallStudy(egger, tf, tuple(notes))
