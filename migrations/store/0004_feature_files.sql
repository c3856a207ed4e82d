-- Computed features move from wide FLOAT tables inside bqx.duckdb to one Parquet file per
-- series under the store directory (features/<stage>/<schema>/…; the measurements behind the
-- choice are in BENCHMARKS.md § Feature storage layout). `file` is the path relative to the
-- store directory. Features stored in the old layout are forgotten here and recomputed by the
-- next `bqx run --stages base`; the old tables are dropped when the store is opened.
DELETE FROM feature_series;
ALTER TABLE feature_series RENAME COLUMN table_name TO file;
