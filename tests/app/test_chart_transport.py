"""Chart data sent as Arrow straight from pyarrow must reach the browser as Streamlit's own route sends it."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
import streamlit as st
from streamlit import dataframe_util

from pages import _cache, _render
from tests.app.app_helpers import PAGES, run_app


def _decoded(data: bytes) -> list[dict]:
    """Rows as the frontend reads them: columns by name (pandas' index bookkeeping left aside), NaN as null."""
    table = pa.ipc.open_stream(data).read_all()
    keep = [n for n in table.column_names if not n.startswith("__index_level_")]
    rows = table.select(keep).to_pylist()
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]


@pytest.fixture()
def sent(monkeypatch):
    """Every chart data set the pages hand to the Arrow conversion during the test, and the real conversion."""
    seen: list[list[dict]] = []
    convert = _render.records_to_arrow_bytes

    def record(records):
        seen.append(records)
        return convert(records)

    _cache.forget_results()  # chart specs are cached: build them again, through the recorder
    monkeypatch.setattr(_render, "records_to_arrow_bytes", record)
    return seen, convert


@pytest.mark.parametrize("page,params", [
    ("Explore", {"outcome": "depression"}),
    ("Explore", {"outcome": "hospitalised"}),
    ("Sensitivity", {"outcome": "depression"}),
    ("Small-study effects", {"outcome": "depression"}),
    ("Subgroups & moderators", {"outcome": "quality of life"}),
])
def test_chart_data_equal_streamlit_own_arrow_route(sent, page, params):
    seen, convert = sent
    at = run_app(params, page=PAGES[page])
    assert not at.exception
    assert seen, "the page drew no chart with data"
    for records in list(seen):
        ours = _decoded(convert(records))
        theirs = _decoded(dataframe_util.convert_anything_to_arrow_bytes(records))
        assert ours == theirs


def test_rows_pyarrow_cannot_type_take_streamlit_route():
    mixed = [{"x": 1.5, "label": "a"}, {"x": "n/a", "label": "b"}]
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        pa.Table.from_pylist(mixed)
    ours = pa.ipc.open_stream(_render.records_to_arrow_bytes(mixed)).read_all().to_pylist()
    streamlit_route = pa.ipc.open_stream(dataframe_util.convert_anything_to_arrow_bytes(mixed)).read_all()
    assert ours == [{"x": "1.5", "label": "a"}, {"x": "n/a", "label": "b"}]
    assert [{k: row[k] for k in ("x", "label")} for row in streamlit_route.to_pylist()] == ours
