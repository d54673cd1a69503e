"""CSV downloads cannot start a spreadsheet formula anywhere a cell may start (issue #14)."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.present.export import neutralise_formulas, table_csv

_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _cells(data: bytes, delimiter: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter, strict=True))
    return [c for r in rows for c in r]


def _pieces(text: str) -> list[str]:
    """Every place a spreadsheet could start a cell inside a text: its start and after , ; tab or a line break."""
    out = [text]
    for i, ch in enumerate(text):
        if ch in ",;\t\r\n":
            out.append(text[i + 1:])
    return out


def test_formula_cells_are_defused_after_every_separator_and_the_export_parses_strictly():
    table = pd.DataFrame({"study": ["note;=1+1", "=HYPERLINK(\"http://x\")", "a,@SUM(A1)", "line\n-2+3", "plain",
                                    "tab\t+1"],
                          "=bad header": [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]})
    data = table_csv(table)
    # Strictly parsed as what it is (comma-separated), no piece of any cell may start a formula ...
    for cell in _cells(data, ","):
        for piece in _pieces(cell):
            assert not piece.startswith(_LEADS) or _is_number(piece), cell  # -2.0 is a number, not a formula
    # ... nor where a spreadsheet splitting the raw lines on ';' or tab (another locale) would start a cell.
    for line in data.decode("utf-8").splitlines():
        for delimiter in (";", "\t"):
            for piece in line.split(delimiter):
                assert not piece.lstrip('"').startswith(_LEADS) or _is_number(piece), (delimiter, line)
    back = pd.read_csv(io.BytesIO(data))
    assert back["study"].tolist()[0] == "note;'=1+1" and back["study"].tolist()[4] == "plain"
    assert back.columns[1] == "'=bad header"
    assert back.iloc[:, 1].tolist() == [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]  # numbers stay numbers


def _is_number(text: str) -> bool:
    try:
        float(text.strip('"').split(",")[0])
        return True
    except ValueError:
        return False


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab=+-@;,\t\r\n 1")), max_size=30))
def test_no_piece_of_a_neutralised_text_starts_a_formula(text):
    for piece in _pieces(neutralise_formulas(text)):
        assert not piece.startswith(_LEADS)
    assert neutralise_formulas(text).replace("'", "") == text.replace("'", "")  # only apostrophes are added
