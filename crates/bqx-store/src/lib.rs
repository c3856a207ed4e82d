//! The BQX ML data directory.
//!
//! A store is a directory holding
//! - `bqx.duckdb`: the DuckDB feature store (bars, source files, quarantine; later features),
//! - `registry.sqlite`: the SQLite run registry (runs, stages, ingest reports; later models and
//!   alerts),
//! - `bqx.lock`: an advisory lock held by the one process that has the store open, with a line
//!   naming that process so that a second one gets a clear "store in use" error at once.
//!
//! Numbered SQL files in `migrations/` are applied on open (see [`migrations`]). Every write is
//! one transaction: a failed or killed write leaves the store as it was.

mod bars;
mod eval;
mod features;
pub mod migrations;
mod online;
mod registry;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use bars::{
    BarsWrite, BarsWriter, FileOutcome, FileWrite, ParquetBars, QuarantineRow, SeriesKey,
    SeriesSummary, SeriesWrite, StoredConflict,
};
pub use eval::{EvalUnit, EvalUnitKey, Prediction};
pub use features::{
    ExportedTable, FEATURE_CHUNK_ROWS, FEATURES_DIR, FeatureFile, FeatureFileWriter, FeatureState,
    FeatureWrite, StoredFeatures, feature_table_name,
};
pub use online::{AlertRow, OnlineCheckpoint, OnlineMaturedRow, OnlineSessionRow, OnlineSignalRow};
pub use registry::{
    ArtifactRow, CurveRow, IngestReportRow, LogLevel, LogRow, MetricRow, RegistryReader, RunRow,
    RunStatus, StageRow,
};

/// File names inside a store directory.
pub const DUCKDB_FILE: &str = "bqx.duckdb";
pub const REGISTRY_FILE: &str = "registry.sqlite";
pub const LOCK_FILE: &str = "bqx.lock";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "store {dir} is in use by {holder}; wait for it to finish or stop it (only one bqx process can use a store at a time)"
    )]
    InUse { dir: PathBuf, holder: String },
    #[error(
        "{db} was written by a newer version of bqx (schema version {found}; this build supports up to {supported}); upgrade bqx to open it"
    )]
    NewerSchema {
        db: String,
        found: u32,
        supported: u32,
    },
    #[error("{db}: migration {version}: {detail}")]
    MigrationMismatch {
        db: String,
        version: u32,
        detail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("DuckDB store: {0}")]
    Duck(#[from] duckdb::Error),
    #[error("run registry: {0}")]
    Registry(#[from] rusqlite::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open store. Dropping it releases the lock.
pub struct Store {
    dir: PathBuf,
    duck: duckdb::Connection,
    registry: rusqlite::Connection,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// DuckDB's buffer pool limit: `$BQX_DUCKDB_MEMORY` (DuckDB's syntax, e.g. `8GB`), else 4 GB.
///
/// DuckDB's own default is 80 % of RAM, and it keeps every block it wrote in its pool until
/// that limit: computing a year of 28-pair M1 features grew the process past 13 GB. Written
/// blocks are on disk, so a smaller pool only evicts clean pages.
pub fn duckdb_memory_limit() -> String {
    std::env::var("BQX_DUCKDB_MEMORY")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "4GB".to_string())
}

impl Store {
    /// Opens (creating if needed) the store in `dir`. `holder` describes this process for the
    /// "store in use" message another process would get (e.g. `bqx ingest`).
    pub fn open(dir: &Path, holder: &str) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = take_lock(dir, holder)?;
        let duck_path = dir.join(DUCKDB_FILE);
        let duck = duckdb::Connection::open(&duck_path)?;
        duck.execute_batch(&format!(
            "SET memory_limit = '{}'",
            duckdb_memory_limit().replace('\'', "")
        ))?;
        let registry = rusqlite::Connection::open(dir.join(REGISTRY_FILE))?;
        registry.pragma_update(None, "journal_mode", "WAL")?;
        registry.pragma_update(None, "foreign_keys", "ON")?;
        registry.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            duck,
            registry,
            _lock: lock,
        };
        store.migrate()?;
        store.close_interrupted_runs()?;
        store.sweep_features()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Schema versions applied to (store, registry).
    pub fn schema_versions(&self) -> Result<(u32, u32)> {
        let duck: i64 = self.duck.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        let reg: i64 = self.registry.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        Ok((duck as u32, reg as u32))
    }

    fn migrate(&mut self) -> Result<()> {
        let now = now_rfc3339();
        // DuckDB store.
        self.duck.execute_batch(migrations::VERSION_TABLE)?;
        let applied = {
            let mut st = self
                .duck
                .prepare("SELECT version, name, sha256 FROM schema_version ORDER BY version")?;
            st.query_map([], |r| {
                Ok(migrations::Applied {
                    version: r.get::<_, i64>(0)? as u32,
                    name: r.get(1)?,
                    sha256: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let todo = migrations::pending(DUCKDB_FILE, migrations::STORE, &applied)?;
        for m in todo {
            let tx = self.duck.transaction()?;
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?, ?)",
                duckdb::params![m.version, m.name, m.sha256(), now],
            )?;
            tx.commit()?;
        }
        // SQLite registry.
        self.registry.execute_batch(migrations::VERSION_TABLE)?;
        let applied = {
            let mut st = self
                .registry
                .prepare("SELECT version, name, sha256 FROM schema_version ORDER BY version")?;
            st.query_map([], |r| {
                Ok(migrations::Applied {
                    version: r.get::<_, i64>(0)? as u32,
                    name: r.get(1)?,
                    sha256: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let todo = migrations::pending(REGISTRY_FILE, migrations::REGISTRY, &applied)?;
        for m in todo {
            let tx = self.registry.transaction()?;
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_version VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![m.version, m.name, m.sha256(), now],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Direct read access to the DuckDB connection for callers in this crate's tests and for
    /// ad-hoc diagnostics. Writes go through the typed functions.
    pub fn duck(&self) -> &duckdb::Connection {
        &self.duck
    }

    /// The registry connection, for read-only diagnostics.
    pub fn registry(&self) -> &rusqlite::Connection {
        &self.registry
    }
}

/// Takes the store's advisory lock without waiting; on contention reads who holds it.
fn take_lock(dir: &Path, holder: &str) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let text = text.trim();
            let holder = if text.is_empty() {
                "another process".to_string()
            } else {
                text.to_string()
            };
            return Err(StoreError::InUse {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    write!(
        file,
        "pid {} ({holder}, since {})",
        std::process::id(),
        now_rfc3339()
    )
    .map_err(io)?;
    file.flush().map_err(io)?;
    Ok(file)
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_applies_migrations_once_and_seeds_the_pairs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), "test").unwrap();
            assert_eq!(
                s.schema_versions().unwrap(),
                (
                    migrations::STORE.len() as u32,
                    migrations::REGISTRY.len() as u32
                )
            );
            let mut st = s
                .duck()
                .prepare("SELECT pair_id, pair, pip FROM pairs ORDER BY pair_id")
                .unwrap();
            let rows: Vec<(u8, String, f64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(rows.len(), 28);
            for (i, p) in bqx_domain::Pair::ALL.iter().enumerate() {
                assert_eq!(rows[i].0 as usize, p.index());
                assert_eq!(rows[i].1, p.name());
                assert_eq!(rows[i].2, p.pip());
            }
        }
        // Reopening applies nothing twice.
        let s = Store::open(dir.path(), "test").unwrap();
        let n: i64 = s
            .duck()
            .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, migrations::STORE.len());
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), "test").unwrap());
        {
            let c = rusqlite::Connection::open(dir.path().join(REGISTRY_FILE)).unwrap();
            c.execute(
                "INSERT INTO schema_version VALUES (999, '0999_future.sql', 'x', 'now')",
                [],
            )
            .unwrap();
        }
        let err = Store::open(dir.path(), "test").unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 999, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("registry.sqlite") && msg.contains("newer"),
            "{msg}"
        );
    }

    #[test]
    fn a_second_opener_is_told_who_holds_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), "bqx ingest big.csv").unwrap();
        let err = Store::open(dir.path(), "bqx status").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::InUse { .. }));
        assert!(msg.contains("in use"), "{msg}");
        assert!(msg.contains("bqx ingest big.csv"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
    }
}
