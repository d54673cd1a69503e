-- Schema of data/evidence.duckdb, built by python -m evidence build from data/*.csv.
-- The CSVs are the source of truth; this file is never edited by hand at run time.
-- Every categorical column is a FOREIGN KEY to a vocab_<field> table made from data/vocab.csv.
-- The line '-- @vocab_tables' below is replaced by evidence.store.build with one CREATE TABLE per vocab field
-- (vocab_<field>(value VARCHAR PRIMARY KEY, label, description, sort_order)), because the list of fields
-- lives in vocab.csv, not here.
-- Every CHECK here is a rule of evidence/store/rules.py (RULES, with the same SQL text; tests/evidence/test_rules.py
-- compares them), which the build and the check of a user's sheet apply in Python, so every violation is
-- reported by row and column before the store ever sees it.
-- Year bounds: 1950 leaves room before the field's first trials; the CHECK's 2100 catches typos such as 20019
-- without tying the schema to today's date, and the Python rule tightens it to next year.

CREATE TABLE metadata (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- Every (field, value) pair of vocab.csv, for display and for the app's pickers.
CREATE TABLE vocab (
    field       VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    description VARCHAR,
    sort_order  INTEGER NOT NULL,
    PRIMARY KEY (field, value)
);

-- @vocab_tables

CREATE TABLE studies (
    study_id             VARCHAR PRIMARY KEY,
    first_author         VARCHAR,
    year                 INTEGER CHECK (year BETWEEN 1950 AND 2100),
    country              VARCHAR,
    citation             VARCHAR,
    doi_or_pmid          VARCHAR,
    design               VARCHAR REFERENCES vocab_design(value),
    pilot                BOOLEAN,
    population           VARCHAR REFERENCES vocab_population(value),
    setting              VARCHAR REFERENCES vocab_setting(value),
    ps_format            VARCHAR REFERENCES vocab_ps_format(value),
    ps_mode              VARCHAR REFERENCES vocab_ps_mode(value),
    ps_role              VARCHAR REFERENCES vocab_ps_role(value),
    peer_paid            VARCHAR REFERENCES vocab_peer_paid(value),
    org_support          VARCHAR REFERENCES vocab_org_support(value),
    peer_deliverer       VARCHAR NOT NULL REFERENCES vocab_peer_deliverer(value),
    peer_deliverer_basis VARCHAR,
    risk_of_bias         VARCHAR REFERENCES vocab_risk_of_bias(value),
    rob_status           VARCHAR REFERENCES vocab_rob_status(value),
    rob_assessed_by      VARCHAR,
    rob_tool             VARCHAR,
    rob_domains          VARCHAR,
    in_white2020         BOOLEAN NOT NULL,
    white2020_ref        VARCHAR,
    id_aliases           VARCHAR,
    outcomes_no_data     VARCHAR,
    flags                VARCHAR,
    notes                VARCHAR
);

-- One row per study and flag (the flags list of studies.csv, split), so flags are foreign keys too.
CREATE TABLE study_flags (
    study_id VARCHAR NOT NULL REFERENCES studies(study_id),
    flag     VARCHAR NOT NULL REFERENCES vocab_flag(value),
    PRIMARY KEY (study_id, flag)
);

CREATE TABLE sources (
    source_id       VARCHAR PRIMARY KEY,
    study_id        VARCHAR NOT NULL REFERENCES studies(study_id),
    source_review   VARCHAR,
    source_url      VARCHAR,
    source_location VARCHAR,
    second_source_url VARCHAR,
    source_quote    VARCHAR,
    raw_file        VARCHAR NOT NULL,
    raw_row         INTEGER NOT NULL CHECK (raw_row >= 1)
);

CREATE TABLE effects (
    effect_id            VARCHAR PRIMARY KEY,
    study_id             VARCHAR NOT NULL REFERENCES studies(study_id),
    source_id            VARCHAR NOT NULL REFERENCES sources(source_id),
    comparison           VARCHAR NOT NULL,
    comparator           VARCHAR REFERENCES vocab_comparator(value),
    shared_control       VARCHAR,
    shared_arm           VARCHAR REFERENCES vocab_shared_arm(value),
    outcome              VARCHAR NOT NULL REFERENCES vocab_outcome(value),
    measure              VARCHAR,
    higher_is_better     BOOLEAN,
    timepoint_months     DOUBLE CHECK (timepoint_months >= 0),
    n_ps                 INTEGER CHECK (n_ps >= 1),
    mean_ps              DOUBLE,
    sd_ps                DOUBLE CHECK (sd_ps > 0),
    n_ctl                INTEGER CHECK (n_ctl >= 1),
    mean_ctl             DOUBLE,
    sd_ctl               DOUBLE CHECK (sd_ctl > 0),
    events_ps            INTEGER CHECK (events_ps >= 0),
    events_ctl           INTEGER CHECK (events_ctl >= 0),
    reported_effect      DOUBLE,
    reported_effect_type VARCHAR REFERENCES vocab_reported_effect_type(value),
    reported_ci_low      DOUBLE,
    reported_ci_high     DOUBLE,
    reported_sign        VARCHAR REFERENCES vocab_reported_sign(value),
    score_type           VARCHAR REFERENCES vocab_score_type(value),
    derived              BOOLEAN NOT NULL,
    derivation           VARCHAR,
    derivation_kind      VARCHAR,
    risk_of_bias         VARCHAR REFERENCES vocab_risk_of_bias(value),
    verification         VARCHAR NOT NULL REFERENCES vocab_verification(value),
    verification_note    VARCHAR,
    measure_note         VARCHAR,
    duplicate_group      VARCHAR,
    disagreement         VARCHAR,
    flags                VARCHAR,
    CHECK (n_ps IS NULL OR events_ps IS NULL OR events_ps <= n_ps),
    CHECK (n_ctl IS NULL OR events_ctl IS NULL OR events_ctl <= n_ctl),
    CHECK (reported_ci_low IS NULL OR reported_ci_high IS NULL OR reported_ci_low <= reported_ci_high),
    CHECK (reported_effect IS NULL OR reported_ci_low IS NULL OR reported_ci_low <= reported_effect),
    CHECK (reported_effect IS NULL OR reported_ci_high IS NULL OR reported_effect <= reported_ci_high),
    -- Ratios live on (0, inf): a zero or negative RR/OR/IRR/HR or CI bound is a transcription error.
    CHECK (reported_effect_type IS NULL OR reported_effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR reported_effect IS NULL OR reported_effect > 0),
    CHECK (reported_effect_type IS NULL OR reported_effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR reported_ci_low IS NULL OR reported_ci_low > 0),
    CHECK (reported_effect_type IS NULL OR reported_effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR reported_ci_high IS NULL OR reported_ci_high > 0),
    -- A derived number must say how it was derived.
    CHECK (NOT derived OR (derivation IS NOT NULL AND length(trim(derivation)) > 0)),
    CHECK (NOT derived OR derivation_kind IS NOT NULL),
    -- A reported effect needs a sign convention to be oriented.
    CHECK (reported_effect_type IS NULL OR reported_sign IS NOT NULL),
    -- A shared control group says which arm is shared.
    CHECK (shared_control IS NULL OR shared_arm IS NOT NULL)
);

CREATE TABLE effect_flags (
    effect_id VARCHAR NOT NULL REFERENCES effects(effect_id),
    flag      VARCHAR NOT NULL REFERENCES vocab_flag(value),
    PRIMARY KEY (effect_id, flag)
);

CREATE TABLE reviews (
    review_id         VARCHAR PRIMARY KEY,
    first_author      VARCHAR,
    year              INTEGER CHECK (year BETWEEN 1950 AND 2100),
    title             VARCHAR,
    journal           VARCHAR,
    doi               VARCHAR,
    review_type       VARCHAR NOT NULL REFERENCES vocab_review_type(value),
    n_primary_studies INTEGER CHECK (n_primary_studies >= 1),
    n_participants    INTEGER CHECK (n_participants >= 1),
    population        VARCHAR,
    ps_format         VARCHAR REFERENCES vocab_review_ps_format(value),
    ps_mode           VARCHAR,
    amstar2           VARCHAR REFERENCES vocab_amstar2(value),
    source_url        VARCHAR,
    source_location   VARCHAR,
    raw_file          VARCHAR NOT NULL
);

CREATE TABLE review_results (
    result_id       VARCHAR PRIMARY KEY,
    review_id       VARCHAR NOT NULL REFERENCES reviews(review_id),
    outcome         VARCHAR REFERENCES vocab_outcome(value),
    outcome_label   VARCHAR NOT NULL,
    subgroup        VARCHAR,
    population      VARCHAR,
    ps_format       VARCHAR REFERENCES vocab_review_ps_format(value),
    timepoint       VARCHAR,
    k_studies       INTEGER CHECK (k_studies >= 1),
    n_participants  INTEGER CHECK (n_participants >= 1),
    effect_type     VARCHAR REFERENCES vocab_reported_effect_type(value),
    estimate        DOUBLE,
    ci_low          DOUBLE,
    ci_high         DOUBLE,
    reported_sign   VARCHAR REFERENCES vocab_reported_sign(value),
    p_value         VARCHAR,
    i2              DOUBLE CHECK (i2 >= 0 AND i2 <= 100),
    q               DOUBLE CHECK (q >= 0),
    q_p             DOUBLE CHECK (q_p >= 0 AND q_p <= 1),
    comparator      VARCHAR,
    source_url      VARCHAR,
    source_location VARCHAR,
    source_quote    VARCHAR,
    raw_file        VARCHAR NOT NULL,
    raw_row         INTEGER NOT NULL CHECK (raw_row >= 1),
    note            VARCHAR,
    CHECK (ci_low IS NULL OR ci_high IS NULL OR ci_low <= ci_high),
    CHECK (estimate IS NULL OR ci_low IS NULL OR ci_low <= estimate),
    CHECK (estimate IS NULL OR ci_high IS NULL OR estimate <= ci_high),
    CHECK (effect_type IS NULL OR effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR estimate IS NULL OR estimate > 0),
    CHECK (effect_type IS NULL OR effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR ci_low IS NULL OR ci_low > 0),
    CHECK (effect_type IS NULL OR effect_type NOT IN ('RR', 'OR', 'IRR', 'HR') OR ci_high IS NULL OR ci_high > 0)
);

-- Which trials each review included (data/raw/review_membership*.csv): trial_id is the id the trial goes by;
-- study_id repeats it when the trial is in our data and is NULL when it is not (listed, never dropped).
CREATE TABLE review_trials (
    membership_id   VARCHAR PRIMARY KEY,
    review_id       VARCHAR NOT NULL REFERENCES reviews(review_id),
    trial_id        VARCHAR NOT NULL,
    study_id        VARCHAR REFERENCES studies(study_id),
    review_label    VARCHAR,
    analysis        VARCHAR,
    source_url      VARCHAR,
    source_location VARCHAR,
    source_quote    VARCHAR,
    raw_file        VARCHAR NOT NULL,
    raw_row         INTEGER NOT NULL CHECK (raw_row >= 1),
    UNIQUE (review_id, trial_id),
    CHECK (study_id IS NULL OR study_id = trial_id)
);

-- The include-only filter review=<id> (evidence.core.filters): is the study one of the review's trials?
CREATE MACRO in_review(rid, sid) AS sid IN (SELECT rt.study_id FROM review_trials rt WHERE rt.review_id = rid);

-- One row per trial x review x risk-of-bias domain, as the review judged it (domain 'overall' for an overall
-- judgement); review_id is not a foreign key because two assessing reviews are not in reviews.csv.
CREATE TABLE risk_of_bias (
    rob_id          VARCHAR PRIMARY KEY,
    study_id        VARCHAR NOT NULL REFERENCES studies(study_id),
    review_id       VARCHAR NOT NULL,
    tool            VARCHAR,
    domain          VARCHAR NOT NULL,
    judgement       VARCHAR NOT NULL REFERENCES vocab_risk_of_bias(value),
    source_url      VARCHAR,
    source_location VARCHAR,
    source_quote    VARCHAR,
    raw_row         INTEGER NOT NULL CHECK (raw_row >= 1)
);

-- Per trial, the most severe per-domain risk-of-bias judgement any review we hold gave (risk_of_bias
-- rows), for trials without an overall judgement: a domain at high (or unclear) risk means the trial is
-- not at low risk overall (Cochrane Handbook 5.1, table 8.7.a). All domains low is not read as an
-- overall "low": the held domains may not be all the key ones.
CREATE VIEW study_rob_domains AS
SELECT study_id,
       CASE max(CASE judgement WHEN 'high' THEN 3 WHEN 'unclear' THEN 2 WHEN 'some concerns' THEN 2
                               WHEN 'low' THEN 1 END)
            WHEN 3 THEN 'high' WHEN 2 THEN 'unclear' WHEN 1 THEN 'low' END AS worst_domain,
       count(*) AS n_domains
FROM risk_of_bias
WHERE domain <> 'overall'
GROUP BY study_id;

-- How an effect row can be turned into (yi, vi), or why it cannot (unusable_reason): written by the build
-- from the one rule in evidence/store/usability.py (which the selection applies to the rows it reads), so
-- what SQL counts and what the analyses pool cannot disagree. Which usable rows share a scale, and which
-- row of a trial is chosen, are decided per analysis.
CREATE TABLE effect_usability (
    effect_id       VARCHAR PRIMARY KEY REFERENCES effects(effect_id),
    study_id        VARCHAR NOT NULL REFERENCES studies(study_id),
    outcome         VARCHAR,
    route           VARCHAR,
    kind            VARCHAR,
    computable_from VARCHAR,
    reason_code     VARCHAR,
    unusable_reason VARCHAR
);

-- Per study: does it contribute any usable effect, and for which outcomes.
CREATE VIEW study_contribution AS
SELECT
    s.study_id,
    count(u.effect_id)                                            AS n_effect_rows,
    count(u.computable_from)                                      AS n_usable_effect_rows,
    count(u.computable_from) > 0                                  AS contributes_effect,
    string_agg(DISTINCT CASE WHEN u.computable_from IS NOT NULL THEN u.outcome END, ';' ORDER BY
               CASE WHEN u.computable_from IS NOT NULL THEN u.outcome END) AS usable_outcomes
FROM studies s
LEFT JOIN effect_usability u ON u.study_id = s.study_id
GROUP BY s.study_id;
