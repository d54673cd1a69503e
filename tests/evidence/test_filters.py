"""FilterSpec: SQL, human description, URL codec, and filters -> expected study ids (fixture store)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence import FilterSpec, effects
from evidence import query
from evidence.core.filters import CATEGORICAL_FIELDS, COLUMNS, vocabulary

VOCAB = vocabulary()

# (id, spec, expected study ids with a pooled depression effect in the fixture store)
DEPRESSION = {"A2001", "B2005", "C2010", "D2015", "E2020", "H2019"}
CASES = [
    ("no-filter", FilterSpec(outcome="depression"), DEPRESSION),
    ("population", FilterSpec(outcome="depression", population=("perinatal depression",)), {"B2005", "E2020"}),
    ("population-two", FilterSpec(outcome="depression", population=("perinatal depression", "SMI/psychosis")),
     {"B2005", "D2015", "E2020"}),
    ("setting", FilterSpec(outcome="depression", setting=("online",)), {"C2010"}),
    ("format", FilterSpec(outcome="depression", ps_format=("group",)), {"A2001", "C2010"}),
    ("mode", FilterSpec(outcome="depression", ps_mode=("telephone",)), {"B2005"}),
    ("role", FilterSpec(outcome="depression", ps_role=("substitute",)), {"C2010"}),
    ("paid", FilterSpec(outcome="depression", peer_paid=("volunteer",)), {"B2005"}),
    ("org-support", FilterSpec(outcome="depression", org_support=("higher",)), {"A2001", "D2015", "E2020"}),
    ("deliverer", FilterSpec(outcome="depression", peer_deliverer=("paid peer",)), {"A2001", "D2015", "E2020"}),
    ("comparator", FilterSpec(outcome="depression", comparator=("waitlist",)), {"C2010"}),
    ("risk-of-bias", FilterSpec(outcome="depression", risk_of_bias=("low",)), {"A2001", "D2015", "E2020"}),
    ("follow-up", FilterSpec(outcome="depression", timepoint_months=(0, 4)), {"A2001", "B2005", "H2019"}),
    ("year", FilterSpec(outcome="depression", year=(2005, 2015)), {"B2005", "C2010", "D2015"}),
    ("exclude", FilterSpec(outcome="depression", exclude_studies=("A2001", "E2020")),
     {"B2005", "C2010", "D2015", "H2019"}),
    # C2010 has a study flag; H2019's only usable row is derived.
    ("no-flagged", FilterSpec(outcome="depression", include_flagged=False), {"A2001", "B2005", "D2015", "E2020"}),
    ("combined", FilterSpec(outcome="depression", ps_format=("group", "one-to-one"), risk_of_bias=("low",),
                            year=(2000, 2016)), {"A2001", "D2015"}),
    ("other-outcome", FilterSpec(outcome="hospitalised"), {"D2015", "F2018", "G2012"}),
]


@pytest.mark.parametrize("spec, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_filter_gives_expected_studies(con, spec, expected):
    assert set(effects(spec, con)["study_id"]) == expected


def test_every_filter_field_has_a_case():
    covered = {f for _, spec, _ in CASES for f in spec.active_filters()}
    assert covered >= set(CATEGORICAL_FIELDS) | {"outcome", "timepoint_months", "year", "exclude_studies",
                                                 "include_flagged"}


def test_where_clause_binds_values_and_never_inlines_them():
    spec = FilterSpec(outcome="depression", population=("depression",), timepoint_months=(1.5, 6),
                      year=(2000, 2020), exclude_studies=("A2001",))
    sql, params = spec.where()
    assert "depression" not in sql and "A2001" not in sql and "2000" not in sql
    assert sql.count("?") == len(params) == 7
    assert params == ["depression", "depression", "A2001", 1.5, 6.0, 2000, 2020]


def test_where_clause_skip_and_empty():
    assert FilterSpec().where() == ("TRUE", [])
    sql, params = FilterSpec(outcome="hope", setting=("online",)).where(skip=("setting",))
    assert params == ["hope"] and COLUMNS["setting"] not in sql


def test_human_description():
    spec = FilterSpec(outcome="depression", timepoint_months=(0, 6), population=("perinatal depression",))
    assert spec.describe(12) == ("12 trials where outcome = depression and population = perinatal depression "
                                 "and follow-up ≤ 6 months")
    assert FilterSpec(outcome="hope", year=(2001, 2010)).describe(1) == \
        "1 trial where outcome = hope and published 2001–2010"
    assert FilterSpec().describe() == "Trials (no filters)"
    assert "ps_format" not in FilterSpec(ps_format=("group", "mixed")).describe(3)
    assert "format in (group, mixed)" in FilterSpec(ps_format=("group", "mixed")).describe(3)


def test_spec_normalises_lists_and_is_hashable():
    spec = FilterSpec(outcome="", population=["depression"], year=[2000.0, 2010], timepoint_months=[0, 6])
    assert spec.outcome is None and spec.population == ("depression",)
    assert spec.year == (2000, 2010) and spec.timepoint_months == (0.0, 6.0)
    assert hash(spec) == hash(FilterSpec(population=("depression",), year=(2000, 2010), timepoint_months=(0, 6)))


def test_to_query_params_omits_defaults():
    assert FilterSpec().to_query_params() == {}
    q = FilterSpec(outcome="depression", ps_format=("group", "mixed"), timepoint_months=(0, 6.5),
                   include_flagged=False, dataset="all").to_query_params()
    assert q == {"outcome": "depression", "ps_format": "group,mixed", "timepoint_months": "0,6.5",
                 "include_flagged": "0", "dataset": "all"}


def test_from_query_params_drops_unknown_with_notices():
    spec, notices = FilterSpec.from_query_params(
        {"outcome": "depresion", "population": "depression,martians", "year": "2010,2000",
         "timepoint_months": "x,6", "colour": "blue", "method": "REML", "hk": "1", "dataset": "../etc",
         "include_flagged": "maybe", "exclude_studies": "A2001,'; DROP"})
    assert spec == FilterSpec(population=("depression",), exclude_studies=("A2001",))
    text = " | ".join(notices)
    for fragment in ("outcome 'depresion'", "'martians'", "year '2010,2000'", "timepoint_months 'x,6'",
                     "unknown parameter 'colour'", "dataset '../etc'", "include_flagged 'maybe'",
                     "study id \"'; DROP\""):
        assert fragment in text
    assert "method" not in text and "hk" not in text  # the app's own keys are not unknown
    assert len(notices) == 8


def test_from_query_params_accepts_lists_from_frameworks():
    spec, notices = FilterSpec.from_query_params({"population": ["depression", "bipolar"]})
    assert spec.population == ("depression", "bipolar") and notices == []


def _values(field: str):
    return st.lists(st.sampled_from(VOCAB[field]), unique=True, max_size=4).map(tuple)


study_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
specs = st.builds(
    FilterSpec,
    outcome=st.none() | st.sampled_from(VOCAB["outcome"]),
    **{f: _values(f) for f in CATEGORICAL_FIELDS},
    exclude_studies=st.lists(study_ids, unique=True, max_size=4).map(tuple),
    timepoint_months=st.none() | st.tuples(st.floats(0, 60), st.floats(0, 60)).map(lambda t: tuple(sorted(t))),
    year=st.none() | st.tuples(st.integers(1950, 2100), st.integers(1950, 2100)).map(lambda t: tuple(sorted(t))),
    dataset=st.sampled_from(["shipped", "all", "my-trials", "metapsy_2"]),
    include_flagged=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(specs)
def test_url_round_trip_is_lossless(spec):
    params = spec.to_query_params()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    back, notices = FilterSpec.from_query_params(params)
    assert notices == []
    assert back == spec


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(FilterSpec)] + ["junk"]),
                       st.text(max_size=60), max_size=8))
def test_decoding_arbitrary_text_never_raises(params):
    spec, notices = FilterSpec.from_query_params(params)
    assert isinstance(spec, FilterSpec) and isinstance(notices, list)
    # whatever was kept is valid
    for f in CATEGORICAL_FIELDS:
        assert set(getattr(spec, f)) <= set(VOCAB[f])


def test_values_with_commas_survive_the_codec():
    vocab = {"population": ("a,b", "c\\d")}
    spec = FilterSpec(population=("a,b", "c\\d"))
    back, notices = FilterSpec.from_query_params(spec.to_query_params(), vocab=vocab)
    assert back == spec and notices == []


def test_choice_counts_respect_other_filters(con):
    counts = query.choice_counts(FilterSpec(outcome="depression", ps_format=("group",)), "population", con)
    got = dict(zip(counts["value"], counts["n_studies"]))
    # group format leaves A2001 and C2010 (both population depression); population's own value is ignored
    assert got == {"depression": 2}
    counts = query.choice_counts(FilterSpec(outcome="depression", population=("depression",)), "population", con)
    got = dict(zip(counts["value"], counts["n_studies"]))
    # usable rows only: G2012's MD has a CI but no per-arm N, so it cannot be pooled and does not count
    assert got == {"depression": 3, "perinatal depression": 2, "SMI/psychosis": 1}


def test_choice_counts_rejects_unknown_field(con):
    with pytest.raises(ValueError, match="must be one of"):
        query.choice_counts(FilterSpec(), "colour; DROP TABLE studies", con)


def test_counts_by_filter_name_the_step(con):
    counts = query.study_counts_by_filter(FilterSpec(outcome="depression", population=("diabetes",)), con)
    assert [name for name, _ in counts] == ["dataset", "outcome", "population"]
    assert counts[-1][1] == 0


@pytest.mark.parametrize("spec", [
    FilterSpec(), FilterSpec(outcome="depression"),
    FilterSpec(outcome="depression", population=("perinatal depression",), ps_format=("one-to-one",)),
    FilterSpec(outcome="recovery", include_flagged=False, year=(2000, 2020), timepoint_months=(0.0, 12.0)),
    FilterSpec(outcome="depression", exclude_studies=("Dennis2009",), risk_of_bias=("low", "some concerns")),
])
def test_choice_counts_for_all_filters_in_one_query_equal_a_grouped_count_per_field(spec):
    """Each field's counts equal a plain per-field count of distinct trials with a usable row."""

    _assert_counts_equal_grouped_counts(spec)


def _assert_counts_equal_grouped_counts(spec):
    from evidence import query
    from evidence.store import connection
    from evidence.core.filters import CATEGORICAL_FIELDS

    fields = ("outcome",) + CATEGORICAL_FIELDS
    together = query.choice_counts_all(spec, fields)
    con = connection.shared_connection()
    for field in fields:
        where, params = spec.where(skip=(field,))
        expected = con.cursor().execute(
            f"SELECT {COLUMNS[field]} AS value, count(DISTINCT e.study_id) AS n FROM effects e "
            "JOIN studies s ON s.study_id = e.study_id JOIN effect_usability u USING (effect_id) "
            f"WHERE {where} AND u.computable_from IS NOT NULL AND {COLUMNS[field]} IS NOT NULL "
            "GROUP BY 1 ORDER BY n DESC, value", params).fetchall()
        got = list(together[field].items())
        assert got == [(str(v), int(n)) for v, n in expected], field


@settings(max_examples=150, deadline=None)
@given(specs.map(lambda s: dataclasses.replace(s, dataset="shipped")))
def test_sidebar_counts_from_one_scan_equal_a_grouped_count_per_field_for_any_filter(spec):
    """Property: the one-scan counts (own filter as a column) equal one grouped query per field."""
    _assert_counts_equal_grouped_counts(spec)
