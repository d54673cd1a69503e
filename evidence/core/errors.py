"""Domain errors raised by :mod:`evidence`.

Pages turn these into plain messages; nothing in ``evidence`` renders them.
Every error carries the facts a page needs to explain it (which filter emptied
the set, which rows and columns of a sheet are wrong, which names are valid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

__all__ = [
    "EvidenceError",
    "NoMatchingStudies",
    "InvalidSheet",
    "Problem",
    "UnknownDataset",
    "InvalidDatasetName",
    "OutcomeRequired",
    "InvalidChoice",
    "TooFewStudies",
    "IncomparableAnalyses",
    "LimitExceeded",
]


class EvidenceError(Exception):
    """Base class of every domain error raised by :mod:`evidence`."""


class NoMatchingStudies(EvidenceError):
    """No study with usable numbers is left after filtering.

    Attributes
    ----------
    culprit : str or None
        The filter (a :class:`~evidence.core.filters.FilterSpec` field name, or
        ``"usable numbers"`` when rows match but none can be pooled) that took
        the number of studies to zero when the filters are applied one at a time
        in the order of :data:`evidence.core.filters.FILTER_ORDER`.
    counts : tuple of (str, int)
        Studies left after each filter was applied, in that order.
    description : str
        Human description of the whole filter.
    """

    def __init__(self, culprit: str | None, counts: Sequence[tuple[str, int]] = (),
                 description: str = "") -> None:
        self.culprit = culprit
        self.counts = tuple((str(a), int(b)) for a, b in counts)
        self.description = description
        if culprit is None:
            msg = "No studies match the chosen filters."
        elif culprit == "usable numbers":
            msg = ("Studies match the chosen filters, but none reports numbers that can be pooled "
                   "for this outcome.")
        else:
            before = [n for name, n in self.counts if name != culprit]
            left = before[-1] if before else None
            msg = (f"No studies match: the '{culprit}' filter removed the last "
                   + (f"{left} " if left else "")
                   + "studies.")
        super().__init__(msg)


@dataclass(frozen=True)
class Problem:
    """One problem found in data: a user's sheet or a shipped CSV.

    ``row`` is the spreadsheet row (or CSV line) number: the header is row 1, the first data row is
    row 2, and 0 means the whole file. ``column`` is the column name (empty when the problem concerns
    the whole row or file). ``file`` names the CSV for problems of the build (empty for a user's
    sheet). ``kind`` groups problems for counting (for example ``"not a number"``, ``"SD > 0"``); it
    is not part of equality, so a test can pin a problem by where and what.
    """

    row: int
    column: str
    message: str
    file: str = ""
    kind: str = field(default="", compare=False)

    @property
    def line(self) -> int | None:
        """The CSV line (None for a problem of the whole file)."""
        return self.row or None

    def __str__(self) -> str:
        if self.file:
            where = self.file + (f" line {self.row}" if self.row else "")
            return f"{where}{f', column {self.column}' if self.column else ''}: {self.message}"
        where = "file" if self.row == 0 else f"row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


class InvalidSheet(EvidenceError):
    """A user's sheet failed validation; nothing was stored.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, each ``(row, column, message)``.
    warnings : list of Problem
        Non-blocking findings (for example formula-like text kept as inert text).
    """

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings)
        n = len(self.problems)
        first = "; ".join(str(p) for p in self.problems[:3])
        more = f" (and {n - 3} more)" if n > 3 else ""
        super().__init__(f"The sheet has {n} problem{'s' if n != 1 else ''}: {first}{more}")


class UnknownDataset(EvidenceError, ValueError):
    """A dataset name that is neither ``"shipped"``, ``"all"`` nor an imported dataset."""

    def __init__(self, name: str, valid: Sequence[str]) -> None:
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"Unknown dataset {name!r}; must be one of {list(self.valid)}")


class InvalidDatasetName(EvidenceError, ValueError):
    """A name that cannot be used for an imported dataset."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"Invalid dataset name {name[:60]!r}: {reason}")


class OutcomeRequired(EvidenceError, ValueError):
    """Effects are computed for one outcome at a time; none was chosen."""

    def __init__(self, valid: Sequence[str]) -> None:
        self.valid = tuple(valid)
        super().__init__(f"Choose an outcome; must be one of {list(self.valid)}")


class InvalidChoice(EvidenceError, ValueError):
    """An argument outside its closed list of choices."""

    def __init__(self, argument: str, value: object, valid: Sequence[object]) -> None:
        self.argument = argument
        self.value = value
        self.valid = tuple(valid)
        super().__init__(f"Invalid {argument} {value!r}; must be one of {list(self.valid)}")


class TooFewStudies(EvidenceError, ValueError):
    """A diagnostic needs more studies than the analysis has."""

    def __init__(self, what: str, k: int, needed: int) -> None:
        self.what = what
        self.k = int(k)
        self.needed = int(needed)
        super().__init__(f"{what} needs at least {needed} studies; this analysis has {k}.")


class IncomparableAnalyses(EvidenceError, ValueError):
    """Two analyses on different effect measures cannot be compared."""

    def __init__(self, a: str, b: str) -> None:
        self.a, self.b = a, b
        super().__init__(f"Cannot compare an analysis on {a} with one on {b}; both must use the same effect measure.")


class LimitExceeded(EvidenceError):
    """A request would pass one of the limits of :mod:`evidence.store.limits`; nothing was done.

    Attributes
    ----------
    limit : str
        The limit in words (e.g. "imported datasets per browser session").
    value : str
        Its value as a person reads it (e.g. "5" or "200 MB").
    detail : str
        What the request would have needed.
    """

    def __init__(self, limit: str, value: str, detail: str = "") -> None:
        self.limit, self.value, self.detail = limit, value, detail
        super().__init__(f"Limit reached: {limit} is {value}" + (f"; {detail}" if detail else "") + ".")
