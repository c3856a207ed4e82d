-- The online loop (stage 2.19): each session's checkpoint and its drift alerts. A checkpoint
-- and the alerts raised since the previous one are written in one transaction, so a killed
-- loop resumes with exactly the alerts of the bars it had consumed.

CREATE TABLE online_sessions (
    session    TEXT    PRIMARY KEY,
    request    TEXT    NOT NULL,    -- JSON: what started it (source, pairs, configuration)
    state      TEXT    NOT NULL,    -- JSON: the loop's state at the last checkpoint
    live_bars  INTEGER NOT NULL,
    run_id     TEXT    NOT NULL REFERENCES runs(run_id),   -- the run that wrote the checkpoint
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

CREATE TABLE alerts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    session   TEXT    NOT NULL,
    run_id    TEXT    NOT NULL REFERENCES runs(run_id),
    ts        INTEGER NOT NULL,     -- bar time, UTC microseconds
    pair      TEXT    NOT NULL,
    severity  TEXT    NOT NULL,     -- info, warning, critical
    detector  TEXT    NOT NULL,     -- adwin, adwin_warning, page_hinkley, psi
    subject   TEXT    NOT NULL,     -- the member or feature
    reason    TEXT    NOT NULL,
    evidence  TEXT    NOT NULL,     -- JSON
    playbook  TEXT    NOT NULL,     -- anchor in docs/playbook.md
    created_at TEXT   NOT NULL
);
CREATE INDEX alerts_session ON alerts (session, ts);
