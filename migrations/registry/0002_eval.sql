-- Evaluation records: metrics with their confidence intervals, artifacts written by a stage
-- (model checkpoints and cards, reports), and stage logs.

CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    stage  TEXT NOT NULL,                 -- backtest, …
    model  TEXT NOT NULL,                 -- zero, ridge, forest, mlp, ceiling, …
    scope  TEXT NOT NULL CHECK (scope IN ('pooled', 'pair', 'fold')),
    pair   TEXT,                          -- NULL when pooled
    fold   INTEGER,                       -- NULL unless scope = 'fold'
    metric TEXT NOT NULL,                 -- r2_zero, directional_accuracy, sharpe, …
    value  REAL,                          -- NULL when undefined (e.g. no decisions)
    lo     REAL,                          -- 95 % interval, when one is computed
    hi     REAL
);
CREATE INDEX metrics_run ON metrics (run_id, stage, model, scope);

CREATE TABLE artifacts (
    run_id     TEXT NOT NULL REFERENCES runs(run_id),
    stage      TEXT NOT NULL,
    kind       TEXT NOT NULL,             -- report, checkpoint, card, …
    path       TEXT NOT NULL,             -- relative to the store directory
    sha256     TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE logs (
    run_id  TEXT NOT NULL REFERENCES runs(run_id),
    stage   TEXT NOT NULL,
    at      TEXT NOT NULL,                -- RFC 3339 UTC
    level   TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    message TEXT NOT NULL
);
CREATE INDEX logs_run ON logs (run_id, stage);
