//! Fitted features: parameters estimated on a training range only, persisted, and applied
//! unchanged to any range.
//!
//! A fit produces a [`FittedParams`] envelope — the feature's kind, the parameter format
//! version, the exact range it was fitted on and the parameters — that serializes to JSON
//! (floats round-trip exactly). Applying a fitted feature is a causal kernel built from the
//! envelope; it refuses parameters of another kind or version. The fit reads only the rows of
//! its range, so rows after the range (the test part of a fold) never influence it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::FeatureError;

/// The training range a feature was fitted on: panel rows `start_row .. end_row` (end
/// exclusive), their time stamps, and how many rows actually entered the fit (rows with every
/// input present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitRange {
    pub start_row: usize,
    pub end_row: usize,
    /// Time stamp of `start_row`.
    pub start_ts: i64,
    /// Time stamp of the last row of the range (`end_row − 1`).
    pub end_ts: i64,
    pub rows_used: usize,
}

/// Fitted parameters with their provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedParams<P> {
    /// Which fitted feature (e.g. `usd_factor`).
    pub kind: String,
    /// Version of the parameter format and of the fit's definition.
    pub version: u32,
    pub fit_range: FitRange,
    pub params: P,
}

impl<P: Serialize + DeserializeOwned> FittedParams<P> {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("fitted parameters serialize")
    }

    /// Parses JSON and checks that it holds parameters of `kind` at `version`.
    pub fn from_json(json: &str, kind: &str, version: u32) -> Result<Self, FeatureError> {
        let p: FittedParams<P> =
            serde_json::from_str(json).map_err(|e| FeatureError::Params(e.to_string()))?;
        p.check(kind, version)?;
        Ok(p)
    }

    /// Refuses parameters of another kind or version.
    pub fn check(&self, kind: &str, version: u32) -> Result<(), FeatureError> {
        if self.kind != kind || self.version != version {
            return Err(FeatureError::Params(format!(
                "expected {kind} v{version}, found {} v{}",
                self.kind, self.version
            )));
        }
        Ok(())
    }
}
