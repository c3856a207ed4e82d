-- The online loop's outputs (stage 2.19), one session per replay or live feed. `session` is the
-- key of the loop (its request and configuration). A session's rows are appended at each
-- checkpoint, in one transaction; a resumed loop first deletes the rows after the checkpoint it
-- resumes from, so every bar's rows are stored exactly once.

-- What every member and the ensemble predicted at a bar, with the weights in force.
CREATE TABLE online_signals (
    session  VARCHAR   NOT NULL,
    pair_id  UTINYINT  NOT NULL,
    ts       TIMESTAMP NOT NULL,
    frozen   DOUBLE    NOT NULL,
    rls      DOUBLE    NOT NULL,
    tree     DOUBLE    NOT NULL,
    ensemble DOUBLE    NOT NULL,
    w_frozen DOUBLE    NOT NULL,
    w_rls    DOUBLE    NOT NULL,
    w_tree   DOUBLE    NOT NULL
);

-- A label that matured at `ts` for the prediction made at `made_ts` (h bars earlier), and the
-- errors (label − prediction) of the members and the ensemble.
CREATE TABLE online_matured (
    session    VARCHAR   NOT NULL,
    pair_id    UTINYINT  NOT NULL,
    made_ts    TIMESTAMP NOT NULL,
    ts         TIMESTAMP NOT NULL,
    label      DOUBLE    NOT NULL,
    e_frozen   DOUBLE    NOT NULL,
    e_rls      DOUBLE    NOT NULL,
    e_tree     DOUBLE    NOT NULL,
    e_ensemble DOUBLE    NOT NULL
);
