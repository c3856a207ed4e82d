-- Bars, their source files and the quarantine of rejected rows.
-- Timestamps are UTC, stored as TIMESTAMP (microseconds), at bar open.

CREATE TABLE pairs (
    pair_id UTINYINT PRIMARY KEY,  -- canonical index 0..27 (EURGBP … CHFJPY)
    pair    VARCHAR NOT NULL UNIQUE,
    base    VARCHAR NOT NULL,
    quote   VARCHAR NOT NULL,
    pip     DOUBLE  NOT NULL
);

CREATE TABLE sides (
    side_id UTINYINT PRIMARY KEY,  -- 0 bid, 1 ask, 2 mid, 3 fix
    side    VARCHAR NOT NULL UNIQUE
);

CREATE SEQUENCE source_file_id START 1;

-- One row per ingested file (or zip member) and call: where the data came from, in which
-- format, source time zone and price side.
CREATE TABLE source_files (
    file_id     INTEGER PRIMARY KEY DEFAULT nextval('source_file_id'),
    source      VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    bytes       BIGINT  NOT NULL,
    format      VARCHAR NOT NULL,
    source_tz   VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    read        BIGINT NOT NULL,
    accepted    BIGINT NOT NULL,
    rejected    BIGINT NOT NULL,
    skipped     BIGINT NOT NULL
);

-- The bars of every series (pair, side, timeframe). Unique on (pair_id, side_id, tf_secs, ts):
-- enforced by ingest, which merges against what is stored instead of an index (an ART index
-- would slow bulk appends several-fold).
CREATE TABLE bars (
    pair_id UTINYINT  NOT NULL,
    side_id UTINYINT  NOT NULL,
    tf_secs UINTEGER  NOT NULL,
    ts      TIMESTAMP NOT NULL,
    open    DOUBLE    NOT NULL,
    high    DOUBLE    NOT NULL,
    low     DOUBLE    NOT NULL,
    close   DOUBLE    NOT NULL,
    volume  DOUBLE,            -- NULL when the source has no volume
    spread  DOUBLE,            -- ask − bid in price units; NULL when unknown
    file_id INTEGER   NOT NULL
);

-- Every rejected row, with its file, line, raw text and reason.
CREATE TABLE quarantine (
    file_id INTEGER NOT NULL,
    line    BIGINT  NOT NULL,
    kind    VARCHAR NOT NULL,
    reason  VARCHAR NOT NULL,
    raw     VARCHAR NOT NULL
);

CREATE VIEW bars_v AS
SELECT p.pair, s.side, b.tf_secs, b.ts, b.open, b.high, b.low, b.close, b.volume, b.spread, b.file_id
FROM bars b JOIN pairs p USING (pair_id) JOIN sides s USING (side_id);

INSERT INTO pairs VALUES
    (0, 'EURGBP', 'EUR', 'GBP', 0.0001),
    (1, 'EURAUD', 'EUR', 'AUD', 0.0001),
    (2, 'EURNZD', 'EUR', 'NZD', 0.0001),
    (3, 'EURUSD', 'EUR', 'USD', 0.0001),
    (4, 'EURCAD', 'EUR', 'CAD', 0.0001),
    (5, 'EURCHF', 'EUR', 'CHF', 0.0001),
    (6, 'EURJPY', 'EUR', 'JPY', 0.01),
    (7, 'GBPAUD', 'GBP', 'AUD', 0.0001),
    (8, 'GBPNZD', 'GBP', 'NZD', 0.0001),
    (9, 'GBPUSD', 'GBP', 'USD', 0.0001),
    (10, 'GBPCAD', 'GBP', 'CAD', 0.0001),
    (11, 'GBPCHF', 'GBP', 'CHF', 0.0001),
    (12, 'GBPJPY', 'GBP', 'JPY', 0.01),
    (13, 'AUDNZD', 'AUD', 'NZD', 0.0001),
    (14, 'AUDUSD', 'AUD', 'USD', 0.0001),
    (15, 'AUDCAD', 'AUD', 'CAD', 0.0001),
    (16, 'AUDCHF', 'AUD', 'CHF', 0.0001),
    (17, 'AUDJPY', 'AUD', 'JPY', 0.01),
    (18, 'NZDUSD', 'NZD', 'USD', 0.0001),
    (19, 'NZDCAD', 'NZD', 'CAD', 0.0001),
    (20, 'NZDCHF', 'NZD', 'CHF', 0.0001),
    (21, 'NZDJPY', 'NZD', 'JPY', 0.01),
    (22, 'USDCAD', 'USD', 'CAD', 0.0001),
    (23, 'USDCHF', 'USD', 'CHF', 0.0001),
    (24, 'USDJPY', 'USD', 'JPY', 0.01),
    (25, 'CADCHF', 'CAD', 'CHF', 0.0001),
    (26, 'CADJPY', 'CAD', 'JPY', 0.01),
    (27, 'CHFJPY', 'CHF', 'JPY', 0.01);

INSERT INTO sides VALUES (0, 'bid'), (1, 'ask'), (2, 'mid'), (3, 'fix');
