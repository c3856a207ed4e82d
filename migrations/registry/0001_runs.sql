-- The run registry: every command that changes or evaluates the store is a run with stages.

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,          -- e.g. 20261123T225000Z-ingest-1a2b
    kind        TEXT NOT NULL,             -- ingest, synth, demo, run, …
    args        TEXT NOT NULL,             -- JSON of the request
    started_at  TEXT NOT NULL,             -- RFC 3339 UTC
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    error       TEXT
);

CREATE TABLE stages (
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    stage       TEXT NOT NULL,             -- ingest, panel, base, …
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    fingerprint TEXT,
    summary     TEXT,                      -- JSON
    PRIMARY KEY (run_id, stage)
);

CREATE TABLE ingest_reports (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    source TEXT NOT NULL,
    report TEXT NOT NULL                   -- JSON, as printed by `bqx ingest --json`
);
