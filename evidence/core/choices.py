"""The analysis choices a :class:`evidence.core.filters.FilterSpec` carries beside its filters: the scale, the
follow-up rule, and the review whose trials an include-only filter keeps (their values, parsing and words)."""

from __future__ import annotations

import math
import re

__all__ = ["SCALES", "FOLLOWUP_RULES", "REVIEW_ID_PATTERN", "CHOICE_KEYS", "followup_rule", "followup_target",
           "review_name", "parse_choice", "choice_words"]

#: Analysis scale choices: automatic (the scale that keeps the most trials), SMD, or the ratio (binary only).
SCALES: tuple[str, ...] = ("auto", "SMD", "ratio")
#: Follow-up rules by name; any other value is a number of months to aim at (the nearest follow-up).
FOLLOWUP_RULES: tuple[str, ...] = ("longest", "shortest")

#: Review identifiers (``FirstAuthorYear`` and the like, as in data/reviews.csv).
REVIEW_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")


def _months(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def followup_rule(value: object) -> str:
    """Canonical follow-up rule: a rule name, or a number of months as the URL writes it (12, not 12.0)."""
    text = str(value).strip().lower()
    if text in FOLLOWUP_RULES:
        return text
    months = float(text)  # ValueError for anything else
    if not math.isfinite(months) or months < 0 or len(text) > 16:
        raise ValueError(f"follow-up must be 'longest', 'shortest' or months >= 0, got {value!r}")
    return _months(months)


def followup_target(rule: str) -> float:
    """The selection's target for a rule: +inf for the longest, -inf for the shortest, else the months."""
    return {"longest": math.inf, "shortest": -math.inf}.get(rule, float(rule) if rule not in FOLLOWUP_RULES else 0)


def review_name(review_id: str) -> str:
    """A review id in words: ``Chien2019`` -> ``Chien 2019`` (author and year split where the id ends in a year)."""
    m = re.match(r"^(.*?[A-Za-z])(\d{4}[a-z]?)$", review_id)
    return f"{m.group(1)} {m.group(2)}" if m else review_id


#: URL keys of the choices (decoded by :func:`parse_choice`).
CHOICE_KEYS = ("scale", "followup", "review")


def parse_choice(key: str, values: list[str], reviews=None) -> tuple[str | None, str | None]:
    """One choice from its URL values: ``(value, None)``, or ``(None, notice)`` when it is not valid
    (``reviews``: the review ids allowed, None for any well-formed id); never raises."""
    text = ",".join(values)
    shown = repr(text if len(text) <= 40 else text[:40] + "…")
    if not values:
        return None, None
    if key == "scale":
        return (text, None) if text in SCALES else (None, f"Ignored scale {shown}: not one of {list(SCALES)}")
    if key == "followup":
        try:
            return followup_rule(text), None
        except ValueError:
            return None, f"Ignored followup {shown}: 'longest', 'shortest' or a number of months"
    if len(values) == 1 and REVIEW_ID_PATTERN.match(text) and (reviews is None or text in reviews):
        return text, None
    return None, f"Ignored review {shown}: not a review we hold" + (f" (one of {list(reviews)})" if reviews else "")


def choice_words(scale: str, followup: str) -> list[str]:
    """The scale and follow-up choices in words, for a filter's description (nothing for the defaults)."""
    out = []
    if scale != "auto":
        out.append("on the SMD scale" if scale == "SMD" else "on the ratio scale (binary results only)")
    if followup != "longest":
        out.append("the shortest follow-up of each trial" if followup == "shortest"
                   else f"each trial's follow-up nearest {followup} months")
    return out
