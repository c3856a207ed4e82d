-- Per-epoch training curves of the stage networks: one row per (run, model, pair, fold, seed,
-- epoch), losses per head in standardized units (cross-entropy in nats), the validation BQX
-- MAE in the target's units (the early-stopping criterion) and the learning rate in force.

CREATE TABLE training_curves (
    run_id        TEXT    NOT NULL REFERENCES runs(run_id),
    stage         TEXT    NOT NULL,       -- train, embed
    model         TEXT    NOT NULL,       -- multitask, singletask, autoencoder
    pair          TEXT,                   -- NULL for a network pooled over pairs
    fold          INTEGER NOT NULL,
    seed          INTEGER NOT NULL,
    epoch         INTEGER NOT NULL,
    learning_rate REAL,
    train_total   REAL,
    train_bqx     REAL,
    train_vol     REAL,
    train_regime  REAL,
    valid_total   REAL,
    valid_bqx     REAL,
    valid_vol     REAL,
    valid_regime  REAL,
    valid_bqx_mae REAL,
    best          INTEGER NOT NULL DEFAULT 0   -- 1 on the epoch whose weights were kept
);
CREATE INDEX training_curves_run ON training_curves (run_id, model, pair, fold);
