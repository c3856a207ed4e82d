//! Backtest units and their out-of-sample predictions (`eval_units`, `predictions`).
//!
//! A unit is one (model, fold, series) fit. Its predictions and its `eval_units` row are written
//! in one transaction, so a killed run leaves either the whole unit or nothing, and a re-run
//! with the same `eval_key` reuses every complete unit.

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;

use crate::{Result, SeriesKey, Store, StoreError, now_rfc3339};

/// Identifies a unit within an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvalUnitKey {
    pub model: String,
    pub fold: u32,
    pub series: SeriesKey,
}

/// A complete unit to write: its out-of-sample predictions and its fit report.
#[derive(Debug)]
pub struct EvalUnit<'a> {
    pub eval_key: &'a str,
    pub unit: &'a EvalUnitKey,
    pub ts: &'a [i64],
    /// The target at each row (`NaN` where unknown, stored as NULL).
    pub actual: &'a [f64],
    pub predicted: &'a [f64],
    pub fit: &'a serde_json::Value,
}

/// One stored prediction row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub fold: u32,
    pub ts: i64,
    pub actual: f64,
    pub predicted: f64,
}

impl Store {
    /// The fit report recorded with a complete unit.
    pub fn eval_unit_fit(
        &self,
        eval_key: &str,
        unit: &EvalUnitKey,
    ) -> Result<Option<serde_json::Value>> {
        let (p, s, tf) = unit.series.codes();
        let mut st = self.duck.prepare(
            "SELECT fit FROM eval_units WHERE eval_key = ? AND model = ? AND fold = ? \
             AND pair_id = ? AND side_id = ? AND tf_secs = ?",
        )?;
        let mut rows = st.query(duckdb::params![
            eval_key,
            unit.model,
            unit.fold as i32,
            p,
            s,
            tf
        ])?;
        Ok(match rows.next()? {
            Some(r) => Some(
                serde_json::from_str(&r.get::<_, String>(0)?)
                    .map_err(|e| StoreError::Invalid(format!("eval unit fit JSON: {e}")))?,
            ),
            None => None,
        })
    }

    /// Writes complete units in one transaction (each replaces a previous copy of itself).
    pub fn write_eval_units(&mut self, units: &[EvalUnit<'_>]) -> Result<()> {
        for u in units {
            let n = u.ts.len();
            if u.actual.len() != n || u.predicted.len() != n {
                return Err(StoreError::Invalid(format!(
                    "eval unit {} fold {}: {} times, {} actuals, {} predictions",
                    u.unit.model,
                    u.unit.fold,
                    n,
                    u.actual.len(),
                    u.predicted.len()
                )));
            }
        }
        let tx = self.duck.transaction()?;
        let mut fields = vec![
            Field::new("eval_key", DataType::Utf8, false),
            Field::new("model", DataType::Utf8, false),
            Field::new("fold", DataType::Int32, false),
        ];
        fields.append(&mut crate::bars::key_fields());
        fields.push(Field::new("actual", DataType::Float64, true));
        fields.push(Field::new("predicted", DataType::Float64, false));
        let schema = Arc::new(Schema::new(fields));
        {
            let mut app = tx.appender("predictions")?;
            for u in units {
                let (p, s, tf) = u.unit.series.codes();
                let key = duckdb::params![u.eval_key, u.unit.model, u.unit.fold as i32, p, s, tf];
                // A unit is complete exactly when its `eval_units` row exists (both are written
                // in one transaction), so only a complete earlier copy can be present.
                let existing: i64 = tx.query_row(
                    "SELECT count(*) FROM eval_units WHERE eval_key = ? AND model = ? AND fold = ? \
                     AND pair_id = ? AND side_id = ? AND tf_secs = ?",
                    key,
                    |r| r.get(0),
                )?;
                if existing > 0 {
                    for table in ["predictions", "eval_units"] {
                        tx.execute(
                            &format!(
                                "DELETE FROM {table} WHERE eval_key = ? AND model = ? AND fold = ? \
                                 AND pair_id = ? AND side_id = ? AND tf_secs = ?"
                            ),
                            key,
                        )?;
                    }
                }
                let n = u.ts.len();
                if n > 0 {
                    let mut arrays: Vec<Arc<dyn Array>> = vec![
                        Arc::new(StringArray::from(vec![u.eval_key; n])),
                        Arc::new(StringArray::from(vec![u.unit.model.as_str(); n])),
                        Arc::new(Int32Array::from(vec![u.unit.fold as i32; n])),
                    ];
                    arrays.extend(crate::bars::key_arrays(u.unit.series, u.ts.to_vec()));
                    arrays.push(Arc::new(Float64Array::from_iter(
                        u.actual.iter().map(|&v| (!v.is_nan()).then_some(v)),
                    )));
                    arrays.push(Arc::new(Float64Array::from(u.predicted.to_vec())));
                    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| {
                        StoreError::Invalid(format!("building a prediction batch: {e}"))
                    })?;
                    app.append_record_batch(batch)?;
                }
                tx.execute(
                    "INSERT INTO eval_units VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
                    duckdb::params![
                        u.eval_key,
                        u.unit.model,
                        u.unit.fold as i32,
                        p,
                        s,
                        tf,
                        n as i64,
                        u.fit.to_string(),
                        now_rfc3339()
                    ],
                )?;
            }
            app.flush()?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored predictions of one model for one series, by fold and time.
    pub fn read_predictions(
        &self,
        eval_key: &str,
        model: &str,
        series: SeriesKey,
        fold: Option<u32>,
    ) -> Result<Vec<Prediction>> {
        let (p, s, tf) = series.codes();
        let mut st = self.duck.prepare(
            "SELECT fold, ts, actual, predicted FROM predictions WHERE eval_key = ? AND model = ? \
             AND pair_id = ? AND side_id = ? AND tf_secs = ? AND (? IS NULL OR fold = ?) \
             ORDER BY fold, ts",
        )?;
        let fold = fold.map(|f| f as i32);
        let mut out = Vec::new();
        for b in st.query_arrow(duckdb::params![eval_key, model, p, s, tf, fold, fold])? {
            let bad =
                |c: &str| StoreError::Invalid(format!("predictions.{c} has an unexpected type"));
            let fold = b
                .column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .ok_or_else(|| bad("fold"))?;
            let ts = b
                .column(1)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| bad("ts"))?;
            let actual = b
                .column(2)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| bad("actual"))?;
            let predicted = b
                .column(3)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| bad("predicted"))?;
            for i in 0..b.num_rows() {
                out.push(Prediction {
                    fold: fold.value(i) as u32,
                    ts: ts.value(i),
                    actual: if actual.is_null(i) {
                        f64::NAN
                    } else {
                        actual.value(i)
                    },
                    predicted: predicted.value(i),
                });
            }
        }
        Ok(out)
    }
}

impl Store {
    /// One complete unit: its predictions (by time) and its fit report, or `None`.
    pub fn read_eval_unit(
        &self,
        eval_key: &str,
        unit: &EvalUnitKey,
    ) -> Result<Option<(Vec<Prediction>, serde_json::Value)>> {
        let Some(fit) = self.eval_unit_fit(eval_key, unit)? else {
            return Ok(None);
        };
        let rows = self.read_predictions(eval_key, &unit.model, unit.series, Some(unit.fold))?;
        Ok(Some((rows, fit)))
    }

    /// The fitted artifact of `stage` for `fold` under `key`, if a run completed it.
    pub fn read_fitted(&self, stage: &str, key: &str, fold: u32) -> Result<Option<String>> {
        let mut st = self
            .duck
            .prepare("SELECT params FROM fitted WHERE stage = ? AND key = ? AND fold = ?")?;
        let mut rows = st.query(duckdb::params![stage, key, fold as i32])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get::<_, String>(0)?),
            None => None,
        })
    }

    /// Keeps the fitted artifact of `stage` for `fold` under `key` (replacing an earlier copy).
    pub fn write_fitted(&mut self, stage: &str, key: &str, fold: u32, params: &str) -> Result<()> {
        let tx = self.duck.transaction()?;
        tx.execute(
            "DELETE FROM fitted WHERE stage = ? AND key = ? AND fold = ?",
            duckdb::params![stage, key, fold as i32],
        )?;
        tx.execute(
            "INSERT INTO fitted VALUES (?, ?, ?, ?, now())",
            duckdb::params![stage, key, fold as i32, params],
        )?;
        tx.commit()?;
        Ok(())
    }
}
