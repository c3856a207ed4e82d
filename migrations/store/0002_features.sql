-- Computed feature tables. Each feature schema (the ordered list of columns of a feature set,
-- identified by its hash) gets its own wide table `features_<stage>_<hash12>` with
-- (pair_id, side_id, tf_secs, ts) and one FLOAT column per feature (NULL = missing, e.g.
-- warm-up rows); this table records which series are in which table and from which bars.

CREATE TABLE feature_series (
    stage            VARCHAR   NOT NULL,  -- base, …
    pair_id          UTINYINT  NOT NULL,
    side_id          UTINYINT  NOT NULL,
    tf_secs          UINTEGER  NOT NULL,
    schema_hash      VARCHAR   NOT NULL,
    table_name       VARCHAR   NOT NULL,
    bars_fingerprint VARCHAR   NOT NULL,  -- count, time range and content hash of the input bars
    rows             BIGINT    NOT NULL,
    columns          INTEGER   NOT NULL,
    computed_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (stage, pair_id, side_id, tf_secs)
);
