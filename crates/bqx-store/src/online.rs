//! The online loop's persistence: signals and matured labels in DuckDB, checkpoints and alerts
//! in the registry (`migrations/*/0006_online.sql`, `0004_online.sql`).
//!
//! A checkpoint writes the rows produced since the previous one to DuckDB (one transaction),
//! then the loop state and the alerts to SQLite (one transaction). A kill between the two
//! leaves DuckDB rows after the recorded state; [`Store::online_truncate`] deletes them when the
//! loop resumes, so every bar's rows are stored exactly once.

use std::sync::Arc;

use bqx_domain::Pair;
use duckdb::arrow::array::{
    ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray, UInt8Array,
};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::types::{TimeUnit, Value};
use serde::Serialize;

use crate::{RegistryReader, Result, Store, StoreError, now_rfc3339};

/// One bar's predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineSignalRow {
    pub pair: Pair,
    pub ts: i64,
    pub frozen: f64,
    pub rls: f64,
    pub tree: f64,
    pub ensemble: f64,
    pub w_frozen: f64,
    pub w_rls: f64,
    pub w_tree: f64,
}

/// One matured label and the errors of the predictions made h bars earlier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineMaturedRow {
    pub pair: Pair,
    pub made_ts: i64,
    pub ts: i64,
    pub label: f64,
    pub e_frozen: f64,
    pub e_rls: f64,
    pub e_tree: f64,
    pub e_ensemble: f64,
}

/// A drift alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    /// Assigned by the registry (0 before it is stored).
    pub id: i64,
    pub session: String,
    pub run_id: String,
    pub ts: i64,
    pub pair: String,
    pub severity: String,
    pub detector: String,
    pub subject: String,
    pub reason: String,
    /// JSON.
    pub evidence: String,
    pub playbook: String,
    pub created_at: String,
}

/// A session's checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineSessionRow {
    pub session: String,
    /// JSON.
    pub request: String,
    /// The loop's state as its writer encoded it: MessagePack (a BLOB) since the state grew
    /// to megabytes, JSON text in sessions written before; the reader tells them apart
    /// (a JSON state starts with `{`).
    pub state: Vec<u8>,
    pub live_bars: u64,
    pub run_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What one checkpoint writes.
#[derive(Debug, Clone, Copy)]
pub struct OnlineCheckpoint<'a> {
    pub session: &'a str,
    pub run_id: &'a str,
    pub request: &'a str,
    /// The encoded state (see [`OnlineSessionRow::state`]), stored as a BLOB.
    pub state: &'a [u8],
    pub live_bars: u64,
    pub signals: &'a [OnlineSignalRow],
    pub matured: &'a [OnlineMaturedRow],
    pub alerts: &'a [AlertRow],
}

fn ts(v: i64) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, v)
}

fn session_column(session: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        session, n,
    )))
}

fn ts_column(v: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(v))
}

/// A record batch whose schema follows the arrays' own types.
fn batch(names: &[&str], cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    let fields: Vec<Field> = names
        .iter()
        .zip(&cols)
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), false))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| StoreError::Invalid(format!("building an online batch: {e}")))
}

impl Store {
    /// Writes a checkpoint: DuckDB rows first, then the state and alerts.
    pub fn online_checkpoint(&mut self, c: OnlineCheckpoint<'_>) -> Result<()> {
        let tx = self.duck.transaction()?;
        // Arrow batches: a checkpoint of a fast replay carries tens of thousands of rows.
        if !c.signals.is_empty() {
            let f = |get: fn(&OnlineSignalRow) -> f64| -> ArrayRef {
                Arc::new(Float64Array::from_iter_values(c.signals.iter().map(get)))
            };
            let cols: Vec<ArrayRef> = vec![
                session_column(c.session, c.signals.len()),
                Arc::new(UInt8Array::from_iter_values(
                    c.signals.iter().map(|s| s.pair.index() as u8),
                )),
                ts_column(c.signals.iter().map(|s| s.ts)),
                f(|s| s.frozen),
                f(|s| s.rls),
                f(|s| s.tree),
                f(|s| s.ensemble),
                f(|s| s.w_frozen),
                f(|s| s.w_rls),
                f(|s| s.w_tree),
            ];
            let names = [
                "session", "pair_id", "ts", "frozen", "rls", "tree", "ensemble", "w_frozen",
                "w_rls", "w_tree",
            ];
            tx.appender("online_signals")?
                .append_record_batch(batch(&names, cols)?)?;
        }
        if !c.matured.is_empty() {
            let f = |get: fn(&OnlineMaturedRow) -> f64| -> ArrayRef {
                Arc::new(Float64Array::from_iter_values(c.matured.iter().map(get)))
            };
            let cols: Vec<ArrayRef> = vec![
                session_column(c.session, c.matured.len()),
                Arc::new(UInt8Array::from_iter_values(
                    c.matured.iter().map(|m| m.pair.index() as u8),
                )),
                ts_column(c.matured.iter().map(|m| m.made_ts)),
                ts_column(c.matured.iter().map(|m| m.ts)),
                f(|m| m.label),
                f(|m| m.e_frozen),
                f(|m| m.e_rls),
                f(|m| m.e_tree),
                f(|m| m.e_ensemble),
            ];
            let names = [
                "session",
                "pair_id",
                "made_ts",
                "ts",
                "label",
                "e_frozen",
                "e_rls",
                "e_tree",
                "e_ensemble",
            ];
            tx.appender("online_matured")?
                .append_record_batch(batch(&names, cols)?)?;
        }
        tx.commit()?;
        let now = now_rfc3339();
        let tx = self.registry.transaction()?;
        tx.execute(
            "INSERT INTO online_sessions (session, request, state, live_bars, run_id, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(session) DO UPDATE SET \
             request = ?2, state = ?3, live_bars = ?4, run_id = ?5, updated_at = ?6",
            rusqlite::params![
                c.session,
                c.request,
                c.state,
                c.live_bars as i64,
                c.run_id,
                now
            ],
        )?;
        {
            let mut st = tx.prepare(
                "INSERT INTO alerts (session, run_id, ts, pair, severity, detector, subject, \
                 reason, evidence, playbook, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for a in c.alerts {
                st.execute(rusqlite::params![
                    c.session, c.run_id, a.ts, a.pair, a.severity, a.detector, a.subject, a.reason,
                    a.evidence, a.playbook, now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The checkpoint of `session`, if any.
    pub fn online_session(&self, session: &str) -> Result<Option<OnlineSessionRow>> {
        read_session(&self.registry, session)
    }

    /// Deletes a session's DuckDB rows after each pair's checkpointed last bar (`None`: all of
    /// the pair's rows); returns the number of rows deleted.
    pub fn online_truncate(&mut self, session: &str, last: &[(Pair, Option<i64>)]) -> Result<u64> {
        let tx = self.duck.transaction()?;
        let mut n = 0;
        for &(pair, last_ts) in last {
            for table in ["online_signals", "online_matured"] {
                let p = pair.index() as u8;
                n += match last_ts {
                    Some(t) => tx.execute(
                        &format!(
                            "DELETE FROM {table} WHERE session = ? AND pair_id = ? AND ts > ?"
                        ),
                        duckdb::params![session, p, ts(t)],
                    )?,
                    None => tx.execute(
                        &format!("DELETE FROM {table} WHERE session = ? AND pair_id = ?"),
                        duckdb::params![session, p],
                    )?,
                } as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Forgets a session: its rows, checkpoint and alerts.
    pub fn online_forget(&mut self, session: &str) -> Result<()> {
        let tx = self.duck.transaction()?;
        for table in ["online_signals", "online_matured"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE session = ?"),
                duckdb::params![session],
            )?;
        }
        tx.commit()?;
        let tx = self.registry.transaction()?;
        tx.execute("DELETE FROM alerts WHERE session = ?1", [session])?;
        tx.execute("DELETE FROM online_sessions WHERE session = ?1", [session])?;
        tx.commit()?;
        Ok(())
    }

    /// A session's stored signals of one pair, by time.
    pub fn online_signals(&self, session: &str, pair: Pair) -> Result<Vec<OnlineSignalRow>> {
        let mut st = self.duck.prepare(
            "SELECT epoch_us(ts), frozen, rls, tree, ensemble, w_frozen, w_rls, w_tree \
             FROM online_signals \
             WHERE session = ? AND pair_id = ? ORDER BY ts",
        )?;
        let rows = st.query_map(duckdb::params![session, pair.index() as u8], |r| {
            Ok(OnlineSignalRow {
                pair,
                ts: r.get(0)?,
                frozen: r.get(1)?,
                rls: r.get(2)?,
                tree: r.get(3)?,
                ensemble: r.get(4)?,
                w_frozen: r.get(5)?,
                w_rls: r.get(6)?,
                w_tree: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A session's matured labels of one pair, by time.
    pub fn online_matured(&self, session: &str, pair: Pair) -> Result<Vec<OnlineMaturedRow>> {
        let mut st = self.duck.prepare(
            "SELECT epoch_us(made_ts), epoch_us(ts), label, e_frozen, e_rls, e_tree, e_ensemble \
             FROM online_matured WHERE session = ? AND pair_id = ? ORDER BY ts",
        )?;
        let rows = st.query_map(duckdb::params![session, pair.index() as u8], |r| {
            Ok(OnlineMaturedRow {
                pair,
                made_ts: r.get(0)?,
                ts: r.get(1)?,
                label: r.get(2)?,
                e_frozen: r.get(3)?,
                e_rls: r.get(4)?,
                e_tree: r.get(5)?,
                e_ensemble: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

impl RegistryReader {
    /// Alerts of one session (all sessions with `None`), newest first, at most `limit`.
    pub fn alerts(&self, session: Option<&str>, limit: usize) -> Result<Vec<AlertRow>> {
        read_alerts(&self.conn, session, limit)
    }

    /// Every session's checkpoint, most recently updated first.
    pub fn online_sessions(&self) -> Result<Vec<OnlineSessionRow>> {
        let mut st = self.conn.prepare(
            "SELECT session, request, state, live_bars, run_id, created_at, updated_at \
             FROM online_sessions ORDER BY updated_at DESC, session",
        )?;
        let rows = st.query_map([], session_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn online_session(&self, session: &str) -> Result<Option<OnlineSessionRow>> {
        read_session(&self.conn, session)
    }
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OnlineSessionRow> {
    Ok(OnlineSessionRow {
        session: r.get(0)?,
        request: r.get(1)?,
        state: match r.get::<_, rusqlite::types::Value>(2)? {
            rusqlite::types::Value::Blob(b) => b,
            rusqlite::types::Value::Text(t) => t.into_bytes(),
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    2,
                    format!("state of type {:?}", other.data_type()),
                    other.data_type(),
                ));
            }
        },
        live_bars: r.get::<_, i64>(3)? as u64,
        run_id: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

fn read_session(conn: &rusqlite::Connection, session: &str) -> Result<Option<OnlineSessionRow>> {
    let mut st = conn.prepare(
        "SELECT session, request, state, live_bars, run_id, created_at, updated_at \
         FROM online_sessions WHERE session = ?1",
    )?;
    let mut rows = st.query_map([session], session_row)?;
    Ok(rows.next().transpose()?)
}

fn read_alerts(
    conn: &rusqlite::Connection,
    session: Option<&str>,
    limit: usize,
) -> Result<Vec<AlertRow>> {
    let mut st = conn.prepare(
        "SELECT id, session, run_id, ts, pair, severity, detector, subject, reason, evidence, \
         playbook, created_at FROM alerts WHERE (?1 IS NULL OR session = ?1) \
         ORDER BY ts DESC, id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(rusqlite::params![session, limit as i64], |r| {
        Ok(AlertRow {
            id: r.get(0)?,
            session: r.get(1)?,
            run_id: r.get(2)?,
            ts: r.get(3)?,
            pair: r.get(4)?,
            severity: r.get(5)?,
            detector: r.get(6)?,
            subject: r.get(7)?,
            reason: r.get(8)?,
            evidence: r.get(9)?,
            playbook: r.get(10)?,
            created_at: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}
