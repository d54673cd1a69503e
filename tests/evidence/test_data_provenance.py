"""Provenance of the shipped numbers (issue 6.2): each number is printed in its verbatim quote, or the row
is marked derived with the derivation written out. The checker is ``scripts/curate_raw.py``'s own, so the
script the curators run and the test agree; its number matching is tested here first.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _load_curate():
    spec = importlib.util.spec_from_file_location("curate_raw", ROOT / "scripts" / "curate_raw.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("curate_raw", module)  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


curate = _load_curate()


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------------------------------
# Number matching

@pytest.mark.parametrize(
    "value,text",
    [
        (0.59, "SMD -0.59 vs .59 printed"),                    # plain
        (0.59, "d = .59"),                                     # leading dot
        (-0.59, "pooled SMD of −0.59 (95% CI"),                # Unicode minus U+2212
        (-0.3, "| ‐0.30 [‐0.53, ‐0.07]"),                      # Unicode hyphen U+2010 (Cochrane tables)
        (-0.53, "| ‐0.30 [‐0.53, ‐0.07]"),
        (-10.85, "(95% CI –10.85 to –3.65)"),                  # en dash used as a minus
        (1234.0, "1,234 participants"),                        # thousands separator
        (4.677, "\"ces-d\";17,27;4,677;14"),                   # Metapsy decimal comma
        (0.35, "RR 0·52 (95% CI 0·35–0·79;p = 0·0018)"),       # Lancet middle dot, en-dash range
        (0.79, "RR 0·52 (95% CI 0·35–0·79;p = 0·0018)"),
        (2.5, "(95% CI=0.3–2.5, p=0.01)"),                     # range dash after a digit is not a minus
        (2.5, "0.3-2.5"),
        (297.0, "14% (40/297) of women"),
        (0.0, "MD 0.0 (−0.11 to 0.11)"),
    ],
)
def test_number_is_found_as_printed(value, text):
    assert curate.number_in_text(value, text)


@pytest.mark.parametrize(
    "value,text",
    [
        (-2.5, "(95% CI=0.3–2.5)"),       # the dash after 0.3 separates a range: 2.5 is positive
        (-1.4, "1.4 points greater improvement"),  # a restated sign is not "printed"
        (0.59, "SMD 0.590001"),
        (5.0, "38.5% of 13"),
        (1.4, "14 weeks"),
    ],
)
def test_number_not_printed_is_not_found(value, text):
    assert not curate.number_in_text(value, text)


def test_cells_not_in_quote_names_each_missing_cell():
    row = {"n_ps": "20", "n_ctl": "22", "events_ps": "2", "events_ctl": "9", "timepoint_months": "0.92"}
    quote = "9 (40.9%) control vs 2 (10%) intervention"
    assert curate.cells_not_in_quote(row, quote) == ["n_ps", "n_ctl", "timepoint_months"]


def test_check_provenance_accepts_derived_rows_and_refuses_undocumented_ones():
    sources = [{"source_id": "S1", "source_quote": "decreased by 1.07% ... a difference of 0.77%"}]
    base = {"effect_id": "E1", "source_id": "S1", "reported_effect": "-0.77", "mean_ps": "", "derived": "no",
            "derivation": ""}
    assert curate.check_provenance([base], sources) == [
        "E1: reported_effect=-0.77 not in the quote and the row is not marked derived with a derivation"]
    vague = dict(base, derived="yes", derivation="sign restated")
    assert curate.check_provenance([vague], sources) == ["E1: derivation does not mention reported_effect (-0.77)"]
    good = dict(base, derived="yes", derivation="reported_effect -0.77: the quote prints 0.77 'in favor of coaching'")
    assert curate.check_provenance([good], sources) == []


# ---------------------------------------------------------------------------------------------
# The shipped data


def test_every_shipped_number_is_in_its_quote_or_documented_as_derived():
    problems = curate.check_provenance(_read("effects.csv"), _read("sources.csv"))
    assert problems == []


def test_derived_rows_carry_a_derivation_and_flagged_kinds_carry_the_flag():
    effects = _read("effects.csv")
    derived = [e for e in effects if e["derived"] == "yes"]
    assert derived, "the shipped data has derived rows (e.g. Dennis2003 back-calculated denominators)"
    assert all(e["derivation"].strip() for e in derived)
    dennis = [e for e in effects if e["study_id"] == "Dennis2003"]
    assert dennis and all("back-calculated" in e["derivation"] and "derived" in e["flags"].split(";")
                          for e in dennis)


def test_verification_status_is_carried_from_the_second_read():
    verification = {}
    for path in sorted((DATA / "raw").glob("verification*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            verification.update({(v["file"], int(v["row_number"])): v["status"] for v in csv.DictReader(fh)})
    sources = {s["source_id"]: s for s in _read("sources.csv")}
    checked = 0
    for e in _read("effects.csv"):
        src = sources[e["source_id"]]
        status = verification.get((src["raw_file"], int(src["raw_row"])))
        if status is None:
            assert e["verification"] == "unverified", e["effect_id"]
        else:
            assert e["verification"] == ("corrected" if status.startswith("corrected") else status)
            checked += 1
    # 134 rows of the first pass and 62 of the 2026-11 pass point at rows that carry a number.
    assert checked >= 160


def test_every_effect_and_source_points_back_to_a_raw_row():
    raw_counts = {}
    for path in (DATA / "raw").glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            raw_counts[path.name] = sum(1 for _ in csv.DictReader(fh))
    for s in _read("sources.csv"):
        assert s["raw_file"] in raw_counts, s["source_id"]
        assert 1 <= int(s["raw_row"]) <= raw_counts[s["raw_file"]], s["source_id"]
