//! The SQLite run registry: runs, their stages, ingest reports.

use serde::Serialize;

use crate::{Result, Store, now_rfc3339};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    pub run_id: String,
    pub kind: String,
    pub args: serde_json::Value,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StageRow {
    pub run_id: String,
    pub stage: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub fingerprint: Option<String>,
    pub summary: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IngestReportRow {
    pub run_id: String,
    pub source: String,
    pub report: serde_json::Value,
}

impl Store {
    /// Records a new run and returns its id (`20261123T225000Z-ingest-3`).
    pub fn begin_run(&mut self, kind: &str, args: &serde_json::Value) -> Result<String> {
        let now = chrono::Utc::now();
        let n: i64 = self
            .registry
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))?;
        let run_id = format!("{}-{kind}-{}", now.format("%Y%m%dT%H%M%SZ"), n + 1);
        self.registry.execute(
            "INSERT INTO runs (run_id, kind, args, started_at, status) VALUES (?1, ?2, ?3, ?4, 'running')",
            rusqlite::params![run_id, kind, args.to_string(), now_rfc3339()],
        )?;
        Ok(run_id)
    }

    pub fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<()> {
        self.registry.execute(
            "UPDATE runs SET finished_at = ?2, status = ?3, error = ?4 WHERE run_id = ?1",
            rusqlite::params![run_id, now_rfc3339(), status.as_str(), error],
        )?;
        Ok(())
    }

    pub fn begin_stage(
        &mut self,
        run_id: &str,
        stage: &str,
        fingerprint: Option<&str>,
    ) -> Result<()> {
        self.registry.execute(
            "INSERT OR REPLACE INTO stages (run_id, stage, started_at, status, fingerprint) \
             VALUES (?1, ?2, ?3, 'running', ?4)",
            rusqlite::params![run_id, stage, now_rfc3339(), fingerprint],
        )?;
        Ok(())
    }

    pub fn finish_stage(
        &mut self,
        run_id: &str,
        stage: &str,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<()> {
        self.registry.execute(
            "UPDATE stages SET finished_at = ?3, status = ?4, summary = ?5 WHERE run_id = ?1 AND stage = ?2",
            rusqlite::params![run_id, stage, now_rfc3339(), status.as_str(), summary.to_string()],
        )?;
        Ok(())
    }

    /// Stores the per-file reports of an ingest run (one transaction).
    pub fn record_ingest_reports(
        &mut self,
        run_id: &str,
        reports: &[(String, serde_json::Value)],
    ) -> Result<()> {
        let tx = self.registry.transaction()?;
        for (source, report) in reports {
            tx.execute(
                "INSERT INTO ingest_reports (run_id, source, report) VALUES (?1, ?2, ?3)",
                rusqlite::params![run_id, source, report.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks runs and stages left `running` as failed ("interrupted"). Called on open: the
    /// caller holds the store's exclusive lock, so no other process can still be running them
    /// (their process was killed or crashed). Returns how many runs were closed.
    pub fn close_interrupted_runs(&mut self) -> Result<usize> {
        let now = now_rfc3339();
        let tx = self.registry.transaction()?;
        tx.execute(
            "UPDATE stages SET status = 'failed', finished_at = ?1, \
             summary = '{\"error\":\"interrupted: the process ended before the stage finished\"}' \
             WHERE status = 'running'",
            [&now],
        )?;
        let n = tx.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?1, \
             error = 'interrupted: the process ended before the run finished' \
             WHERE status = 'running'",
            [&now],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// The newest runs first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        read_runs(&self.registry, limit)
    }

    pub fn stages(&self, run_id: &str) -> Result<Vec<StageRow>> {
        read_stages(&self.registry, run_id)
    }

    pub fn ingest_reports(&self, run_id: &str) -> Result<Vec<IngestReportRow>> {
        read_ingest_reports(&self.registry, run_id)
    }
}

/// The registry opened read-only, without the store's lock: SQLite's WAL lets it read while
/// the process that holds the store writes. For long-lived readers (the HTTP server) that
/// must not block a run.
#[derive(Debug)]
pub struct RegistryReader {
    pub(crate) conn: rusqlite::Connection,
}

impl RegistryReader {
    /// Opens `<dir>/registry.sqlite` read-only; `Ok(None)` when there is no registry yet.
    pub fn open(dir: &std::path::Path) -> Result<Option<RegistryReader>> {
        let path = dir.join(crate::REGISTRY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Some(RegistryReader { conn }))
    }

    pub fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        read_runs(&self.conn, limit)
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunRow>> {
        read_run(&self.conn, run_id)
    }

    /// Ids of the runs that recorded an artifact of `kind`.
    pub fn runs_with_artifact(&self, kind: &str) -> Result<std::collections::HashSet<String>> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT run_id FROM artifacts WHERE kind = ?1")?;
        let ids = st.query_map([kind], |r| r.get::<_, String>(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    pub fn stages(&self, run_id: &str) -> Result<Vec<StageRow>> {
        read_stages(&self.conn, run_id)
    }

    pub fn metrics(&self, run_id: &str) -> Result<Vec<MetricRow>> {
        read_metrics(&self.conn, run_id)
    }

    /// A run's training curves, ordered by model, pair, fold, seed and epoch.
    pub fn training_curves(&self, run_id: &str) -> Result<Vec<CurveRow>> {
        read_curves(&self.conn, run_id)
    }

    pub fn artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRow>> {
        read_artifacts(&self.conn, run_id)
    }

    pub fn logs(&self, run_id: &str) -> Result<Vec<LogRow>> {
        read_logs(&self.conn, run_id)
    }

    pub fn ingest_reports(&self, run_id: &str) -> Result<Vec<IngestReportRow>> {
        read_ingest_reports(&self.conn, run_id)
    }

    /// A number that changes whenever any run, stage or metric is written (SQLite's
    /// `data_version` for other connections plus the newest run's state), for response caches.
    pub fn generation(&self) -> Result<String> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let (n, last): (i64, Option<String>) = self.conn.query_row(
            "SELECT count(*), max(coalesce(finished_at, '') || status) FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(format!("{v}-{n}-{}", last.unwrap_or_default()))
    }
}

fn read_run(conn: &rusqlite::Connection, run_id: &str) -> Result<Option<RunRow>> {
    let mut st = conn.prepare(
        "SELECT run_id, kind, args, started_at, finished_at, status, error FROM runs \
         WHERE run_id = ?1",
    )?;
    let mut rows = st.query_map([run_id], run_row)?;
    Ok(rows.next().transpose()?)
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        run_id: r.get(0)?,
        kind: r.get(1)?,
        args: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
        started_at: r.get(3)?,
        finished_at: r.get(4)?,
        status: r.get(5)?,
        error: r.get(6)?,
    })
}

fn read_runs(conn: &rusqlite::Connection, limit: usize) -> Result<Vec<RunRow>> {
    let mut st = conn.prepare(
        "SELECT run_id, kind, args, started_at, finished_at, status, error FROM runs \
         ORDER BY started_at DESC, rowid DESC LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], run_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_stages(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<StageRow>> {
    let mut st = conn.prepare(
        "SELECT run_id, stage, started_at, finished_at, status, fingerprint, summary \
         FROM stages WHERE run_id = ?1 ORDER BY started_at, rowid",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(StageRow {
            run_id: r.get(0)?,
            stage: r.get(1)?,
            started_at: r.get(2)?,
            finished_at: r.get(3)?,
            status: r.get(4)?,
            fingerprint: r.get(5)?,
            summary: r
                .get::<_, Option<String>>(6)?
                .and_then(|s| serde_json::from_str(&s).ok()),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_ingest_reports(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<IngestReportRow>> {
    let mut st = conn.prepare(
        "SELECT run_id, source, report FROM ingest_reports WHERE run_id = ?1 ORDER BY rowid",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(IngestReportRow {
            run_id: r.get(0)?,
            source: r.get(1)?,
            report: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_metrics(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<MetricRow>> {
    let mut st = conn.prepare(
        "SELECT stage, model, scope, pair, fold, metric, value, lo, hi FROM metrics \
         WHERE run_id = ?1 ORDER BY rowid",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(MetricRow {
            stage: r.get(0)?,
            model: r.get(1)?,
            scope: r.get(2)?,
            pair: r.get(3)?,
            fold: r.get(4)?,
            metric: r.get(5)?,
            value: r.get(6)?,
            lo: r.get(7)?,
            hi: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_artifacts(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<ArtifactRow>> {
    let mut st = conn.prepare(
        "SELECT stage, kind, path, sha256, bytes, created_at FROM artifacts \
         WHERE run_id = ?1 ORDER BY rowid",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(ArtifactRow {
            stage: r.get(0)?,
            kind: r.get(1)?,
            path: r.get(2)?,
            sha256: r.get(3)?,
            bytes: r.get::<_, i64>(4)? as u64,
            created_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_logs(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<LogRow>> {
    let mut st = conn
        .prepare("SELECT stage, at, level, message FROM logs WHERE run_id = ?1 ORDER BY rowid")?;
    let rows = st.query_map([run_id], |r| {
        Ok(LogRow {
            stage: r.get(0)?,
            at: r.get(1)?,
            level: r.get(2)?,
            message: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_stages_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "test").unwrap();
        let id = s
            .begin_run("ingest", &serde_json::json!({"files": ["a.csv"]}))
            .unwrap();
        s.begin_stage(&id, "ingest", Some("abc")).unwrap();
        s.finish_stage(
            &id,
            "ingest",
            RunStatus::Succeeded,
            &serde_json::json!({"bars": 3}),
        )
        .unwrap();
        s.record_ingest_reports(&id, &[("a.csv".into(), serde_json::json!({"read": 3}))])
            .unwrap();
        s.finish_run(&id, RunStatus::Succeeded, None).unwrap();
        let runs = s.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        // A run left running by a killed process is closed on the next open.
        let left = s.begin_run("ingest", &serde_json::json!({})).unwrap();
        s.begin_stage(&left, "ingest", None).unwrap();
        drop(s);
        let s = Store::open(dir.path(), "test").unwrap();
        let run = s
            .runs(10)
            .unwrap()
            .into_iter()
            .find(|r| r.run_id == left)
            .unwrap();
        assert_eq!(run.status, "failed");
        assert!(run.error.unwrap().starts_with("interrupted"));
        assert_eq!(s.stages(&left).unwrap()[0].status, "failed");
        assert_eq!(runs[0].args["files"][0], "a.csv");
        let stages = s.stages(&id).unwrap();
        assert_eq!(stages[0].summary.as_ref().unwrap()["bars"], 3);
        assert_eq!(s.ingest_reports(&id).unwrap()[0].report["read"], 3);
    }
}

/// One metric value of a run, with its 95 % interval when one was computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRow {
    pub stage: String,
    pub model: String,
    /// `pooled`, `pair` or `fold`.
    pub scope: String,
    pub pair: Option<String>,
    pub fold: Option<u32>,
    pub metric: String,
    pub value: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// One epoch of a network's training (see `migrations/registry/0003_training.sql`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurveRow {
    pub stage: String,
    pub model: String,
    pub pair: Option<String>,
    pub fold: u32,
    pub seed: u64,
    pub epoch: u32,
    pub learning_rate: Option<f64>,
    pub train_total: Option<f64>,
    pub train_bqx: Option<f64>,
    pub train_vol: Option<f64>,
    pub train_regime: Option<f64>,
    pub valid_total: Option<f64>,
    pub valid_bqx: Option<f64>,
    pub valid_vol: Option<f64>,
    pub valid_regime: Option<f64>,
    pub valid_bqx_mae: Option<f64>,
    pub best: bool,
}

fn read_curves(conn: &rusqlite::Connection, run_id: &str) -> Result<Vec<CurveRow>> {
    let mut st = conn.prepare(
        "SELECT stage, model, pair, fold, seed, epoch, learning_rate, train_total, train_bqx, \
         train_vol, train_regime, valid_total, valid_bqx, valid_vol, valid_regime, \
         valid_bqx_mae, best FROM training_curves WHERE run_id = ?1 \
         ORDER BY model, pair, fold, seed, epoch",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(CurveRow {
            stage: r.get(0)?,
            model: r.get(1)?,
            pair: r.get(2)?,
            fold: r.get(3)?,
            seed: r.get::<_, i64>(4)? as u64,
            epoch: r.get(5)?,
            learning_rate: r.get(6)?,
            train_total: r.get(7)?,
            train_bqx: r.get(8)?,
            train_vol: r.get(9)?,
            train_regime: r.get(10)?,
            valid_total: r.get(11)?,
            valid_bqx: r.get(12)?,
            valid_vol: r.get(13)?,
            valid_regime: r.get(14)?,
            valid_bqx_mae: r.get(15)?,
            best: r.get::<_, i64>(16)? != 0,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// A file a stage wrote (path relative to the store directory).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArtifactRow {
    pub stage: String,
    pub kind: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub created_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogRow {
    pub stage: String,
    pub at: String,
    pub level: String,
    pub message: String,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl Store {
    /// Stores a run's metrics (one transaction; non-finite values are stored as NULL).
    pub fn record_metrics(&mut self, run_id: &str, rows: &[MetricRow]) -> Result<()> {
        let tx = self.registry.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO metrics (run_id, stage, model, scope, pair, fold, metric, value, lo, hi) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for m in rows {
                st.execute(rusqlite::params![
                    run_id,
                    m.stage,
                    m.model,
                    m.scope,
                    m.pair,
                    m.fold,
                    m.metric,
                    finite(m.value),
                    finite(m.lo),
                    finite(m.hi)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records training curves (one transaction).
    pub fn record_training_curves(&mut self, run_id: &str, rows: &[CurveRow]) -> Result<()> {
        let tx = self.registry.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO training_curves (run_id, stage, model, pair, fold, seed, epoch, \
                 learning_rate, train_total, train_bqx, train_vol, train_regime, valid_total, \
                 valid_bqx, valid_vol, valid_regime, valid_bqx_mae, best) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            for c in rows {
                st.execute(rusqlite::params![
                    run_id,
                    c.stage,
                    c.model,
                    c.pair,
                    c.fold,
                    c.seed as i64,
                    c.epoch,
                    finite(c.learning_rate),
                    finite(c.train_total),
                    finite(c.train_bqx),
                    finite(c.train_vol),
                    finite(c.train_regime),
                    finite(c.valid_total),
                    finite(c.valid_bqx),
                    finite(c.valid_vol),
                    finite(c.valid_regime),
                    finite(c.valid_bqx_mae),
                    i64::from(c.best),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A run's training curves.
    pub fn training_curves(&self, run_id: &str) -> Result<Vec<CurveRow>> {
        read_curves(&self.registry, run_id)
    }

    /// A run's metrics, in the order they were recorded.
    pub fn metrics(&self, run_id: &str) -> Result<Vec<MetricRow>> {
        read_metrics(&self.registry, run_id)
    }

    /// Records a file written by a stage.
    pub fn record_artifact(&mut self, run_id: &str, a: &ArtifactRow) -> Result<()> {
        self.registry.execute(
            "INSERT INTO artifacts (run_id, stage, kind, path, sha256, bytes, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                run_id,
                a.stage,
                a.kind,
                a.path,
                a.sha256,
                a.bytes as i64,
                a.created_at
            ],
        )?;
        Ok(())
    }

    pub fn artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRow>> {
        read_artifacts(&self.registry, run_id)
    }

    /// Appends a line to a stage's log.
    pub fn log(&mut self, run_id: &str, stage: &str, level: LogLevel, message: &str) -> Result<()> {
        self.registry.execute(
            "INSERT INTO logs (run_id, stage, at, level, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![run_id, stage, now_rfc3339(), level.as_str(), message],
        )?;
        Ok(())
    }

    pub fn logs(&self, run_id: &str) -> Result<Vec<LogRow>> {
        read_logs(&self.registry, run_id)
    }
}
