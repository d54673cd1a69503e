"""Quoting what a user typed (a URL parameter, a sheet's cell) back to them: shortened, one notice per parameter.

A value echoed in a message is cut to a short prefix, so a 10,000-character parameter or cell never
comes back in full; a parameter given more than once, or with many bad values, makes one notice.
"""

from __future__ import annotations

from typing import Collection, Mapping

__all__ = ["short", "collapse", "notice_ignored", "NOTICE_EXAMPLES"]

#: Ignored values quoted in one notice.
NOTICE_EXAMPLES = 3


def short(value: object, limit: int = 40) -> str:
    """``repr`` of a value's text, cut to ``limit`` characters (with an ellipsis), for a message."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def collapse(params: Mapping[str, object], list_keys: Collection[str]) -> tuple[dict[str, str], list[str]]:
    """One text per query key, with a notice for each key given more than once.

    A repeated key of ``list_keys`` adds its values (joined by ``,``); any other repeated key keeps its
    first value, and the notice says so (a link never silently keeps one of two meanings).
    """
    flat: dict[str, str] = {}
    notices: list[str] = []
    for key, raw in params.items():
        key = str(key)
        values = [("" if r is None else str(r)) for r in raw] if isinstance(raw, (list, tuple)) \
            else ["" if raw is None else str(raw)]
        values = values or [""]
        if len(values) > 1 and key in list_keys:
            flat[key] = ",".join(v for v in values if v)
            continue
        if len(values) > 1:
            notices.append(f"Parameter {short(key)} was given {len(values):,} times; the first value, "
                           f"{short(values[0])}, is used")
        flat[key] = values[0]
    return flat, notices


def notice_ignored(notices: list[str], what: str, ignored: list[str], reason: str, where: str = "") -> None:
    """Append one notice for all the ignored values of one parameter, quoting the first few."""
    if not ignored:
        return
    if len(ignored) == 1:
        notices.append(f"Ignored {what} {short(ignored[0])}{where}: {reason}")
        return
    examples = ", ".join(short(v) for v in list(dict.fromkeys(ignored))[:NOTICE_EXAMPLES])
    notices.append(f"Ignored {len(ignored):,} {what}s{where}, e.g. {examples}: {reason}")
