-- Out-of-sample predictions of the walk-forward backtest, one row per (unit, row), and the
-- units that are complete. A unit is one (model, fold, series) fit; `eval_key` hashes
-- everything its result depends on (configuration, feature schema, bars fingerprints, seed),
-- so a re-run, or a run resumed after a kill, reuses complete units instead of refitting them.
-- A unit's predictions and its row in `eval_units` are written in one transaction.

CREATE TABLE eval_units (
    eval_key   VARCHAR   NOT NULL,
    model      VARCHAR   NOT NULL,
    fold       INTEGER   NOT NULL,
    pair_id    UTINYINT  NOT NULL,
    side_id    UTINYINT  NOT NULL,
    tf_secs    UINTEGER  NOT NULL,
    rows       BIGINT    NOT NULL,
    fit        VARCHAR   NOT NULL,  -- JSON: the fit report (threshold, epochs, validation loss, …)
    done_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (eval_key, model, fold, pair_id, side_id, tf_secs)
);

CREATE TABLE predictions (
    eval_key VARCHAR   NOT NULL,
    model    VARCHAR   NOT NULL,
    fold     INTEGER   NOT NULL,
    pair_id  UTINYINT  NOT NULL,
    side_id  UTINYINT  NOT NULL,
    tf_secs  UINTEGER  NOT NULL,
    ts       TIMESTAMP NOT NULL,
    actual   DOUBLE,              -- the target, NULL where it is not yet known
    predicted DOUBLE NOT NULL
);
