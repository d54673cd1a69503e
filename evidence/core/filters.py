"""The dashboard's filter: a frozen :class:`FilterSpec`, its SQL, its words and its URL form.

A filter yields three things (the pattern of datasette's ``Filters``): a SQL
``WHERE`` clause with ``?`` placeholders, the list of bound parameters, and a
human description such as "12 trials where outcome = depression and follow-up
0–6 months". Values never enter the SQL text: column expressions come from the
whitelist :data:`COLUMNS` and every value is a bound parameter.

The URL codec is lossless for every spec whose values are valid: field names
are the query keys, list values are comma-separated. Decoding never raises;
unknown keys, unknown values and malformed numbers are dropped and reported as
notices.

The fields themselves (categorical fields, filter order, whitelisted columns,
reserved and list query keys, name patterns, the controlled lists) are declared
in :mod:`evidence.core.filter_fields` and re-exported here: import them from
this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Iterable, Mapping

from evidence.core.params import collapse, notice_ignored
from evidence.core.params import short as _short
from .choices import (CHOICE_KEYS, FOLLOWUP_RULES, REVIEW_ID_PATTERN, SCALES, choice_words, followup_rule,
                      followup_target, parse_choice, review_name)
from .filter_fields import (_LABELS, CATEGORICAL_FIELDS, COLUMNS, DATASET_NAME_PATTERN, FILTER_ORDER,
                            LIST_QUERY_KEYS, RESERVED_QUERY_KEYS, STUDY_ID_PATTERN, vocabulary)

__all__ = [
    "FilterSpec",
    "conditions",
    "CATEGORICAL_FIELDS",
    "FILTER_ORDER",
    "COLUMNS",
    "RESERVED_QUERY_KEYS",
    "LIST_QUERY_KEYS",
    "collapse_query_params",
    "DATASET_NAME_PATTERN",
    "STUDY_ID_PATTERN",
    "vocabulary",
    "where_clause",
    "describe",
    "review_name",
    "SCALES",
    "FOLLOWUP_RULES",
    "followup_target",
    "REVIEW_ID_PATTERN",
]


def _clean(text: str) -> str:
    # Lone surrogates (undecodable bytes smuggled into a str) cannot be bound as UTF-8; they can
    # never match a stored value either, so they become U+FFFD.
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (_clean(value),) if value else ()
    return tuple(_clean(str(v)) for v in value)


def _as_range(value: object, kind: type) -> tuple | None:
    if value is None:
        return None
    lo, hi = value  # type: ignore[misc]
    return (kind(lo), kind(hi))


@dataclass(frozen=True)
class FilterSpec:
    """Every dashboard filter, as one hashable value.

    Attributes
    ----------
    outcome : str or None
        One outcome from the controlled list ``outcome``; effects are computed per outcome.
    population, setting, ps_format, ps_mode, ps_role, peer_paid, org_support, peer_deliverer, comparator, risk_of_bias : tuple of str
        Allowed values (an empty tuple means no restriction). A trial whose value is
        not reported is kept only when the tuple is empty.
    timepoint_months : (float, float) or None
        Inclusive follow-up window in months; rows without a follow-up time are
        left out when a window is set.
    year : (int, int) or None
        Inclusive range of publication years.
    exclude_studies : tuple of str
        Study ids to leave out (e.g. from leave-one-out exploration).
    review : str or None
        Include only the trials this review included (``review_trials``; an include-only filter).
    dataset : str
        ``"shipped"``, the name of an imported dataset, or ``"all"`` (shipped plus every import).
    include_flagged : bool
        When false, leave out trials with any flag and rows whose numbers were derived.
    scale : {"auto", "SMD", "ratio"}
        The analysis scale when a set holds binary and continuous rows: ``"auto"`` keeps the most trials.
    followup : str
        Which follow-up of a trial with several: ``"longest"`` (default), ``"shortest"``, or a number of
        months (the nearest; the longer on a tie).
    """

    outcome: str | None = None
    population: tuple[str, ...] = ()
    setting: tuple[str, ...] = ()
    ps_format: tuple[str, ...] = ()
    ps_mode: tuple[str, ...] = ()
    ps_role: tuple[str, ...] = ()
    peer_paid: tuple[str, ...] = ()
    org_support: tuple[str, ...] = ()
    peer_deliverer: tuple[str, ...] = ()
    comparator: tuple[str, ...] = ()
    risk_of_bias: tuple[str, ...] = ()
    exclude_studies: tuple[str, ...] = ()
    review: str | None = None
    timepoint_months: tuple[float, float] | None = None
    year: tuple[int, int] | None = None
    dataset: str = "shipped"
    include_flagged: bool = True
    scale: str = "auto"
    followup: str = "longest"

    def __post_init__(self) -> None:
        # Accept lists/strings from callers; store canonical, hashable tuples.
        for name in CATEGORICAL_FIELDS + ("exclude_studies",):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        object.__setattr__(self, "timepoint_months", _as_range(self.timepoint_months, float))
        object.__setattr__(self, "year", _as_range(self.year, int))
        object.__setattr__(self, "include_flagged", bool(self.include_flagged))
        if self.outcome == "":
            object.__setattr__(self, "outcome", None)
        elif self.outcome is not None:
            object.__setattr__(self, "outcome", _clean(str(self.outcome)))
        object.__setattr__(self, "dataset", _clean(str(self.dataset)))
        object.__setattr__(self, "followup", followup_rule(self.followup))
        if self.scale not in SCALES:
            from .errors import InvalidChoice
            raise InvalidChoice("scale", self.scale, SCALES)
        if not self.review:
            object.__setattr__(self, "review", None)
        else:
            object.__setattr__(self, "review", _clean(str(self.review)))

    # -- SQL and words ---------------------------------------------------
    def where(self, *, skip: Iterable[str] = ()) -> tuple[str, list]:
        """SQL ``WHERE`` body and bound parameters (see :func:`where_clause`)."""
        return where_clause(self, skip=skip)

    def describe(self, n: int | None = None, unit: str = "trials") -> str:
        """Human description (see :func:`describe`)."""
        return describe(self, n, unit)

    def without(self, name: str) -> "FilterSpec":
        """The same spec with one filter reset to its default (no restriction)."""
        default = {f.name: f.default for f in fields(self)}[name]
        return replace(self, **{name: default})

    def active_filters(self) -> tuple[str, ...]:
        """Names of the filters that restrict the set, in :data:`FILTER_ORDER`."""
        out = []
        for name in FILTER_ORDER:
            value = getattr(self, name)
            if name == "include_flagged":
                if not value:
                    out.append(name)
            elif value not in (None, ()):
                out.append(name)
        return tuple(out)

    # -- URL codec -------------------------------------------------------
    def to_query_params(self) -> dict[str, str]:
        """URL query parameters: field names as keys, comma-separated values; defaults omitted."""
        out: dict[str, str] = {}
        if self.outcome is not None:
            out["outcome"] = _escape(self.outcome)
        for name in CATEGORICAL_FIELDS + ("exclude_studies",):
            values = getattr(self, name)
            if values:
                out[name] = ",".join(_escape(v) for v in values)
        if self.review is not None:
            out["review"] = _escape(self.review)
        if self.timepoint_months is not None:
            out["timepoint_months"] = ",".join(_fmt_number(v) for v in self.timepoint_months)
        if self.year is not None:
            out["year"] = ",".join(str(v) for v in self.year)
        if self.dataset != "shipped":
            out["dataset"] = self.dataset
        if not self.include_flagged:
            out["include_flagged"] = "0"
        if self.scale != "auto":
            out["scale"] = self.scale
        if self.followup != "longest":
            out["followup"] = self.followup
        return out

    @classmethod
    def from_query_params(cls, params: Mapping[str, object],
                          vocab: Mapping[str, Iterable[str]] | None = None
                          ) -> tuple["FilterSpec", list[str]]:
        """Rebuild a spec from URL query parameters; never raises.

        Parameters
        ----------
        params : mapping
            Query keys to a string (or a list of strings, as some frameworks give repeated keys).
        vocab : mapping, optional
            Allowed values per field; defaults to :func:`vocabulary`.

        Returns
        -------
        spec : FilterSpec
        notices : list of str
            One plain sentence per ignored key or value.
        """
        allowed = {k: tuple(v) for k, v in (vocab if vocab is not None else vocabulary()).items()}
        flat, notices = collapse_query_params(params)
        kwargs: dict[str, object] = {}
        for key, text in flat.items():
            if key in RESERVED_QUERY_KEYS:
                continue
            if key == "outcome":
                value = _unescape_all(text)
                if not value:
                    continue
                valid = allowed.get("outcome", ())
                if value[0] in valid and len(value) == 1:
                    kwargs["outcome"] = value[0]
                else:
                    notices.append(f"Ignored outcome {_short(text)}: not one of {list(valid)}")
            elif key in CATEGORICAL_FIELDS:
                valid = allowed.get(key, ())
                values = _unescape_all(text)
                kwargs[key] = tuple(dict.fromkeys(v for v in values if v in valid))
                notice_ignored(notices, f"{_LABELS[key]} value", [v for v in values if v not in valid],
                                f"not one of {list(valid)}")
            elif key == "exclude_studies":
                values = _unescape_all(text)
                kwargs[key] = tuple(dict.fromkeys(v for v in values if STUDY_ID_PATTERN.match(v)))
                notice_ignored(notices, "study id", [v for v in values if not STUDY_ID_PATTERN.match(v)],
                                "not a study identifier", where=" in exclude_studies")
            elif key in CHOICE_KEYS:
                value, notice = parse_choice(key, _unescape_all(text), allowed.get("review"))
                if value is not None:
                    kwargs[key] = value
                notices += [notice] if notice else []
            elif key in ("timepoint_months", "year"):
                rng = _parse_range(text, float if key == "timepoint_months" else int)
                if rng is None:
                    notices.append(f"Ignored {key} {_short(text)}: expected two numbers 'low,high' "
                                   "with low ≤ high")
                else:
                    kwargs[key] = rng
            elif key == "dataset":
                if text in ("shipped", "all") or DATASET_NAME_PATTERN.match(text):
                    kwargs["dataset"] = text
                else:
                    notices.append(f"Ignored dataset {_short(text)}: not a dataset name")
            elif key == "include_flagged":
                if text.lower() in ("0", "false", "no"):
                    kwargs["include_flagged"] = False
                elif text.lower() in ("1", "true", "yes"):
                    kwargs["include_flagged"] = True
                else:
                    notices.append(f"Ignored include_flagged {_short(text)}: must be 0 or 1")
            else:
                notices.append(f"Ignored unknown parameter {_short(key)}")
        return cls(**kwargs), notices  # type: ignore[arg-type]


# -- helpers -------------------------------------------------------------
def _escape(value: str) -> str:
    # Commas separate values; a literal comma or backslash inside a value is escaped.
    return value.replace("\\", "\\\\").replace(",", "\\,")


def _unescape_all(text: str) -> list[str]:
    out, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [v for v in out if v != ""]


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _parse_range(text: str, kind: type) -> tuple | None:
    parts = text.split(",")
    if len(parts) != 2 or len(text) > 64:
        return None
    try:
        lo, hi = (kind(float(p)) if kind is int and float(p).is_integer() else kind(p) for p in parts)
    except (ValueError, OverflowError):
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or lo < 0:
        return None
    return (lo, hi)


def collapse_query_params(params: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """One text per query key (see :func:`evidence.core.params.collapse`), list keys being :data:`LIST_QUERY_KEYS`."""
    return collapse(params, LIST_QUERY_KEYS)


def conditions(spec: FilterSpec) -> list[tuple[str, str, list]]:
    """The spec's restrictions, one ``(filter name, SQL condition, parameters)`` per active filter.

    Conditions use the aliases ``s`` (studies) and ``e`` (effects), ``?`` placeholders and only the
    whitelisted column expressions of :data:`COLUMNS`; :func:`where_clause` joins them with ``AND``.
    """
    out: list[tuple[str, str, list]] = []
    if spec.outcome is not None:
        out.append(("outcome", f"{COLUMNS['outcome']} = ?", [spec.outcome]))
    for name in CATEGORICAL_FIELDS:
        values = getattr(spec, name)
        if values:
            out.append((name, f"{COLUMNS[name]} IN ({', '.join('?' * len(values))})", list(values)))
    if spec.review is not None:
        # in_review() is a macro of the store's schema (schema.sql): the membership subquery lives there.
        out.append(("review", f"in_review(?, {COLUMNS['review']})", [spec.review]))
    if spec.exclude_studies:
        out.append(("exclude_studies", f"{COLUMNS['exclude_studies']} NOT IN "
                                       f"({', '.join('?' * len(spec.exclude_studies))})",
                    list(spec.exclude_studies)))
    if spec.timepoint_months is not None:
        out.append(("timepoint_months", f"{COLUMNS['timepoint_months']} BETWEEN ? AND ?",
                    list(spec.timepoint_months)))
    if spec.year is not None:
        out.append(("year", f"{COLUMNS['year']} BETWEEN ? AND ?", list(spec.year)))
    if not spec.include_flagged:
        out.append(("include_flagged", "(COALESCE(s.flags, '') = '' AND NOT COALESCE(e.derived, FALSE))", []))
    return out


def where_clause(spec: FilterSpec, *, skip: Iterable[str] = ()) -> tuple[str, list]:
    """Turn a spec into a SQL ``WHERE`` body with ``?`` placeholders and its parameters.

    Parameters
    ----------
    spec : FilterSpec
    skip : iterable of str
        Filters to leave out (used for "how many trials each choice would leave").

    Returns
    -------
    sql : str
        :func:`conditions` joined by ``AND``; ``"TRUE"`` when nothing restricts.
    params : list
        Values for the placeholders, in order.
    """
    skip = set(skip)
    kept = [(sql, params) for name, sql, params in conditions(spec) if name not in skip]
    if not kept:
        return "TRUE", []
    return " AND ".join(sql for sql, _ in kept), [v for _, params in kept for v in params]


def _join_values(values: tuple[str, ...]) -> str:
    if len(values) == 1:
        return f"= {values[0]}"
    return "in (" + ", ".join(values) + ")"


def describe(spec: FilterSpec, n: int | None = None, unit: str = "trials") -> str:
    """A human description of the filter, e.g. "12 trials where outcome = depression and follow-up 0–6 months".

    Parameters
    ----------
    spec : FilterSpec
    n : int, optional
        Number of trials to lead with; omitted when None.
    unit : str
        Noun for the count.
    """
    bits: list[str] = []
    if spec.outcome is not None:
        bits.append(f"outcome = {spec.outcome}")
    for name in CATEGORICAL_FIELDS:
        values = getattr(spec, name)
        if values:
            bits.append(f"{_LABELS[name]} {_join_values(values)}")
    if spec.timepoint_months is not None:
        lo, hi = spec.timepoint_months
        bits.append(f"follow-up ≤ {_fmt_number(hi)} months" if lo == 0
                    else f"follow-up {_fmt_number(lo)}–{_fmt_number(hi)} months")
    if spec.year is not None:
        bits.append(f"published {spec.year[0]}–{spec.year[1]}")
    if spec.exclude_studies:
        bits.append("excluding " + ", ".join(spec.exclude_studies))
    if not spec.include_flagged:
        bits.append("flagged trials and derived numbers left out")
    bits += choice_words(spec.scale, spec.followup)
    if spec.dataset != "shipped":
        bits.append("all datasets" if spec.dataset == "all" else f"dataset = {spec.dataset}")
    head = f"{n} {unit if n != 1 else unit.rstrip('s')}" if n is not None else unit.capitalize()
    if spec.review is not None:
        head += f" included in {review_name(spec.review)}"
    return head + (" where " + " and ".join(bits) if bits else " (no filters)")
