"""Helpers shared by the result dataclasses."""

from __future__ import annotations

from dataclasses import fields

import numpy as np


def plain(value):
    """Convert a result field to plain Python (lists, floats, dicts) for ``to_dict()``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [plain(x) for x in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def result_dict(obj) -> dict:
    """Every field of a result dataclass, converted with :func:`plain`."""
    return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
