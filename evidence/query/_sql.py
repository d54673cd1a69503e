"""Running a statement on a cursor of its own (a DuckDB connection is not thread-safe)."""

from __future__ import annotations

from typing import Iterable

import duckdb
import pandas as pd

def _query(con: duckdb.DuckDBPyConnection, sql: str, params: Iterable = ()) -> pd.DataFrame:
    cur = con.cursor()
    try:
        return cur.execute(sql, list(params)).df()
    finally:
        cur.close()


def _fetchall(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[tuple]:
    cur = con.cursor()
    try:
        return cur.execute(sql, params).fetchall()
    finally:
        cur.close()


def _fetchnumpy(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict:
    """The result as column name -> numpy array (text as object arrays, NULL as None or masked)."""
    cur = con.cursor()
    try:
        return cur.execute(sql, params).fetchnumpy()
    finally:
        cur.close()
