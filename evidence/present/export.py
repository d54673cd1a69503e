"""Downloads: charts as PNG/SVG bytes (rendered by vl-convert, no browser) and tables as CSV bytes."""

from __future__ import annotations

import json
import re

import altair as alt
import pandas as pd
import vl_convert as vlc

__all__ = ["chart_png", "chart_svg", "table_csv", "neutralise_formulas", "PNG_SCALE"]

#: PNG pixel density: 2x keeps lines and text sharp on slides and high-DPI screens.
PNG_SCALE = 2.0

# Spreadsheet programs run a cell that starts with one of these as a formula (OWASP "CSV injection").
# A cell also starts after a separator the program may choose (',' or ';' by locale, tab) or a line
# break inside a quoted cell, so "note;=1+1" opened where ';' separates runs "=1+1". Every such start
# of a text cell gets an apostrophe (shown by no spreadsheet as content), so a study name or quote can
# never execute when a user opens the download.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AFTER_SEPARATOR = re.compile(r"(^|[,;\t\r\n])(?=[=+\-@\t\r])")


def _spec(chart: alt.TopLevelMixin | dict) -> str:
    if isinstance(chart, dict):  # an already serialised Vega-Lite spec (e.g. from a cache)
        return json.dumps(chart)
    return chart.to_json(validate=True)


def chart_png(chart: alt.TopLevelMixin | dict, *, scale: float = PNG_SCALE) -> bytes:
    """Render an Altair chart (or its Vega-Lite dict) to PNG bytes (white background)."""
    return bytes(vlc.vegalite_to_png(_spec(chart), scale=scale, config={"background": "white"}))


def chart_svg(chart: alt.TopLevelMixin | dict) -> bytes:
    """Render an Altair chart (or its Vega-Lite dict) to standalone SVG bytes (UTF-8)."""
    return vlc.vegalite_to_svg(_spec(chart), config={"background": "white"}).encode("utf-8")


def neutralise_formulas(value: object) -> object:
    """Text with an apostrophe before every place a spreadsheet could start a formula; other values unchanged."""
    if not isinstance(value, str):
        return value
    return _FORMULA_AFTER_SEPARATOR.sub(lambda m: m.group(1) + "'", value)


def table_csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes, without the index; no text cell can start a spreadsheet formula.

    Column names are text cells too and are treated the same way.
    """
    out = table.rename(columns=lambda c: neutralise_formulas(str(c)))
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_formulas)
    return out.to_csv(index=False).encode("utf-8")
