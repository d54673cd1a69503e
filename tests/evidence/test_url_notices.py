"""The URL codec's notices (issue #14): one per parameter, repeated keys handled explicitly, values shortened."""

from __future__ import annotations

from evidence import FilterSpec
from evidence.core.filters import collapse_query_params

VOCAB = {"outcome": ("depression", "anxiety"), "population": ("depression", "bipolar")}


def test_five_thousand_bad_study_ids_make_one_notice_with_a_count_and_examples():
    bad = ",".join(f"bad id {i}" for i in range(5_000))
    spec, notices = FilterSpec.from_query_params({"exclude_studies": "A2001," + bad}, VOCAB)
    assert spec.exclude_studies == ("A2001",)
    assert len(notices) == 1
    assert notices[0] == ("Ignored 5,000 study ids in exclude_studies, e.g. 'bad id 0', 'bad id 1', 'bad id 2': "
                          "not a study identifier")


def test_many_bad_values_of_one_field_make_one_notice():
    spec, notices = FilterSpec.from_query_params({"population": ",".join(["martians"] * 50 + ["bipolar"])}, VOCAB)
    assert spec.population == ("bipolar",)
    assert len(notices) == 1 and notices[0].startswith("Ignored 50 population values, e.g. 'martians': not one of")


def test_a_repeated_single_value_key_keeps_the_first_and_says_so():
    spec, notices = FilterSpec.from_query_params({"outcome": ["anxiety", "depression"]}, VOCAB)
    assert spec.outcome == "anxiety"
    assert notices == ["Parameter 'outcome' was given 2 times; the first value, 'anxiety', is used"]


def test_a_repeated_list_key_adds_its_values():
    spec, notices = FilterSpec.from_query_params({"population": ["depression", "bipolar"]}, VOCAB)
    assert spec.population == ("depression", "bipolar") and notices == []


def test_echoed_values_are_shortened():
    huge = "x" * 10_000
    _, notices = FilterSpec.from_query_params({"outcome": huge, "year": huge, huge: "1", "dataset": huge}, VOCAB)
    assert len(notices) == 4 and all(len(n) < 200 for n in notices)
    flat, notices = collapse_query_params({"version": [huge, "1.0.0"]})
    assert flat["version"] == huge and len(notices[0]) < 200
