-- Artifacts of the stages fitted per fold (cross-pair discovery, feature selection, later the
-- networks): one JSON document per (stage, key, fold). `key` hashes everything the artifact
-- depends on (stage version and configuration, the data's fingerprint, the fold plan, the keys
-- of the stages it reads), so a re-run with the same inputs reuses it and a run killed between
-- folds resumes with the folds it has not finished. Each row is written in its own
-- transaction, after the fold's fit is complete.

CREATE TABLE fitted (
    stage   VARCHAR   NOT NULL,
    key     VARCHAR   NOT NULL,
    fold    INTEGER   NOT NULL,
    params  VARCHAR   NOT NULL,  -- JSON
    done_at TIMESTAMP NOT NULL,
    PRIMARY KEY (stage, key, fold)
);
