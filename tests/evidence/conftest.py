"""Fixture stores built from code (the datasette pattern): small, readable, every case named.

The rows are invented test cases, not evidence: they live only in temporary folders and exercise
selection, orientation, conversions and filters. Their effect sizes are never asserted as literals
from memory; tests recompute them with ``stats`` from the same inputs.
"""

from __future__ import annotations

import duckdb
import pytest

from evidence.store.write import write_store


STUDY_DEFAULTS = dict(country="Nowhere", citation="Fixture study", doi_or_pmid=None, design="RCT", pilot="no",
                      population=None, setting=None, ps_format=None, ps_mode=None, ps_role=None,
                      peer_paid=None, org_support=None, peer_deliverer="unclear", peer_deliverer_basis=None,
                      risk_of_bias=None, in_white2020="no", white2020_ref=None, id_aliases=None,
                      outcomes_no_data=None, flags=None, notes=None)

STUDIES = [
    dict(study_id="A2001", first_author="Alpha", year=2001, population="depression", setting="primary care",
         ps_format="group", ps_mode="face-to-face", ps_role="adjunctive", peer_paid="paid",
         org_support="higher", peer_deliverer="paid peer", risk_of_bias="low"),
    dict(study_id="B2005", first_author="Beta", year=2005, population="perinatal depression",
         setting="maternity/perinatal services", ps_format="one-to-one", ps_mode="telephone",
         ps_role="adjunctive", peer_paid="volunteer", org_support="lower", peer_deliverer="volunteer peer",
         risk_of_bias="some concerns"),
    dict(study_id="C2010", first_author="Gamma", year=2010, population="depression", setting="online",
         ps_format="group", ps_mode="online", ps_role="substitute", peer_paid="unclear",
         peer_deliverer="peer (pay not reported)", risk_of_bias="high", flags="borderline-peer"),
    dict(study_id="D2015", first_author="Delta", year=2015, population="SMI/psychosis",
         setting="community mental health", ps_format="one-to-one", ps_mode="face-to-face",
         ps_role="adjunctive", peer_paid="paid", org_support="higher", peer_deliverer="paid peer",
         risk_of_bias="low"),
    dict(study_id="E2020", first_author="Epsilon", year=2020, population="perinatal depression",
         setting="primary care", ps_format="mixed", ps_mode="mixed", ps_role="adjunctive", peer_paid="paid",
         org_support="higher", peer_deliverer="paid peer", risk_of_bias="low"),
    dict(study_id="F2018", first_author="Zeta", year=2018, population="diabetes", setting="primary care",
         ps_format="one-to-one", ps_mode="telephone", peer_paid="volunteer", peer_deliverer="volunteer peer",
         risk_of_bias="some concerns"),
    dict(study_id="G2012", first_author="Eta", year=2012, population="SMI/psychosis",
         setting="inpatient/discharge", ps_format="one-to-one", ps_mode="face-to-face", peer_paid="paid",
         peer_deliverer="paid peer", risk_of_bias="high"),
    dict(study_id="H2019", first_author="Theta", year=2019, population="depression", setting="community (non-health)",
         ps_format="one-to-one", ps_mode="face-to-face", peer_paid="unclear", peer_deliverer="unclear",
         risk_of_bias="unclear"),
    dict(study_id="I2022", first_author="Iota", year=2022, population="depression", setting="primary care",
         ps_format="group", peer_deliverer="paid peer", flags="characteristics-only"),
]

EFFECT_DEFAULTS = dict(comparison="peer support vs usual care", comparator="usual care", shared_control=None,
                       shared_arm=None, outcome="depression", measure=None, higher_is_better="no",
                       timepoint_months=None, n_ps=None, mean_ps=None, sd_ps=None, n_ctl=None, mean_ctl=None,
                       sd_ctl=None, events_ps=None, events_ctl=None, reported_effect=None,
                       reported_effect_type=None, reported_ci_low=None, reported_ci_high=None,
                       reported_sign=None, score_type=None, derived="no", derivation=None, risk_of_bias=None,
                       verification="verified", verification_note=None, measure_note=None,
                       duplicate_group=None, disagreement=None, flags=None)

ARM = dict(score_type="post")
EFFECTS = [
    # A2001: BDI-II at 3 and 6 months, PHQ-9 at 6 months; the 6-month BDI-II row also prints a d
    # that agrees with its arm data (the computed-vs-reported check).
    dict(effect_id="A-1", study_id="A2001", measure="BDI-II", timepoint_months=3, n_ps=50, mean_ps=14.0,
         sd_ps=8.0, n_ctl=50, mean_ctl=17.0, sd_ctl=8.5, **ARM),
    dict(effect_id="A-2", study_id="A2001", measure="BDI-II", timepoint_months=6, n_ps=48, mean_ps=13.0,
         sd_ps=8.0, n_ctl=47, mean_ctl=16.0, sd_ctl=8.0, reported_effect=-0.375, reported_effect_type="d",
         reported_ci_low=-0.78, reported_ci_high=0.03, reported_sign="ps_minus_ctl", **ARM),
    dict(effect_id="A-3", study_id="A2001", measure="PHQ-9", timepoint_months=6, n_ps=48, mean_ps=9.0,
         sd_ps=5.0, n_ctl=47, mean_ctl=10.0, sd_ctl=5.0, source_review="Some review 2015", **ARM),
    dict(effect_id="A-4", study_id="A2001", outcome="quality of life", measure="WHOQOL", higher_is_better="yes",
         timepoint_months=6, n_ps=48, mean_ps=60.0, sd_ps=12.0, n_ctl=47, mean_ctl=55.0, sd_ctl=12.0, **ARM),
    # B2005: EPDS at 3 and 12 months (the 3-month one is nearer a 6-month target).
    dict(effect_id="B-1", study_id="B2005", measure="EPDS", timepoint_months=3, n_ps=30, mean_ps=9.0,
         sd_ps=4.0, n_ctl=32, mean_ctl=11.0, sd_ctl=4.5, **ARM),
    dict(effect_id="B-2", study_id="B2005", measure="EPDS", timepoint_months=12, n_ps=28, mean_ps=8.0,
         sd_ps=4.0, n_ctl=30, mean_ctl=8.5, sd_ctl=4.0, **ARM),
    # C2010: BDI-II vs waitlist, with a printed d that does NOT agree with its arm data.
    dict(effect_id="C-1", study_id="C2010", comparison="peer support vs waitlist", comparator="waitlist",
         measure="BDI-II", timepoint_months=6, n_ps=40, mean_ps=15.0, sd_ps=9.0, n_ctl=41, mean_ctl=16.0,
         sd_ctl=9.0, reported_effect=-0.60, reported_effect_type="d", reported_ci_low=-1.05,
         reported_ci_high=-0.15, reported_sign="ps_minus_ctl", **ARM),
    # D2015: two peer arms share one control arm (N split when both are pooled).
    dict(effect_id="D-1", study_id="D2015", comparison="peer arm 1 vs usual care", shared_control="D2015-ctl",
         shared_arm="control", measure="BDI-II", timepoint_months=6, n_ps=40, mean_ps=20.0, sd_ps=10.0,
         n_ctl=60, mean_ctl=23.0, sd_ctl=10.0, **ARM),
    dict(effect_id="D-2", study_id="D2015", comparison="peer arm 2 vs usual care", shared_control="D2015-ctl",
         shared_arm="control", measure="BDI-II", timepoint_months=6, n_ps=42, mean_ps=21.0, sd_ps=10.0,
         n_ctl=60, mean_ctl=23.0, sd_ctl=10.0, **ARM),
    dict(effect_id="D-3", study_id="D2015", outcome="hospitalised", measure="admitted", timepoint_months=12,
         n_ps=40, events_ps=8, n_ctl=60, events_ctl=18, score_type="events"),
    # E2020: binary only (caseness) in the depression outcome -> Chinn conversion.
    dict(effect_id="E-1", study_id="E2020", measure="EPDS >12", timepoint_months=6, n_ps=100, events_ps=20,
         n_ctl=100, events_ctl=32, score_type="events"),
    # F2018: diabetes; hospitalised events.
    dict(effect_id="F-1", study_id="F2018", outcome="hospitalised", measure="admitted", timepoint_months=12,
         n_ps=70, events_ps=10, n_ctl=72, events_ctl=15, score_type="events"),
    dict(effect_id="F-2", study_id="F2018", outcome="glycaemic control (HbA1c)", measure="HbA1c (%)",
         timepoint_months=6, n_ps=70, mean_ps=7.9, sd_ps=1.2, n_ctl=72, mean_ctl=8.2, sd_ctl=1.3, **ARM),
    # G2012: a reported RR with CI (hospitalised) and a bare MD (depression; unusable).
    dict(effect_id="G-1", study_id="G2012", outcome="hospitalised", measure="admitted", timepoint_months=12,
         reported_effect=0.8, reported_effect_type="RR", reported_ci_low=0.6, reported_ci_high=1.07,
         reported_sign="ps_minus_ctl", score_type="adjusted"),
    dict(effect_id="G-2", study_id="G2012", measure="HAM-D", timepoint_months=6, reported_effect=-1.5,
         reported_effect_type="MD", reported_ci_low=-3.0, reported_ci_high=0.0, reported_sign="ps_minus_ctl",
         score_type="post"),
    # H2019: an effect oriented by its source (Metapsy-style g) and a mean without SDs.
    dict(effect_id="H-1", study_id="H2019", measure="HAM-D", timepoint_months=2, reported_effect=0.30,
         reported_effect_type="g", reported_ci_low=0.05, reported_ci_high=0.55,
         reported_sign="positive_favours_ps", score_type="post", derived="yes",
         derivation="CI from a printed SE (test fixture)", derivation_kind="back-calculated"),
    dict(effect_id="H-2", study_id="H2019", measure="HAM-D", timepoint_months=6, n_ps=20, mean_ps=12.0,
         n_ctl=20, mean_ctl=14.0, score_type="post"),
]


def fixture_tables() -> dict[str, list[dict]]:
    studies = [{**STUDY_DEFAULTS, **s} for s in STUDIES]
    effects, sources = [], []
    for i, e in enumerate(EFFECTS, start=1):
        row = {**EFFECT_DEFAULTS, **{k: v for k, v in e.items() if k != "source_review"}}
        row["source_id"] = f"S-{e['effect_id']}"
        effects.append(row)
        sources.append({"source_id": row["source_id"], "study_id": e["study_id"],
                        "source_review": e.get("source_review", "primary paper"),
                        "source_url": f"https://example.org/{e['study_id']}",
                        "source_location": "Table 2", "source_quote": f"quote {e['effect_id']}",
                        "raw_file": "fixture.csv", "raw_row": i})
    return {"studies": studies, "sources": sources, "effects": effects}


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "fixture.duckdb"
    write_store(fixture_tables(), path)
    return path


@pytest.fixture(scope="session")
def con(store_path):
    c = duckdb.connect(str(store_path), read_only=True)
    yield c
    c.close()


@pytest.fixture()
def uploads(tmp_path):
    d = tmp_path / "uploads"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def shipped_con():
    """The real shipped store (built from data/*.csv when stale), read-only."""
    from evidence.store import connection

    c = connection.connect()
    yield c
    c.close()
