//! The crate's error type.

use std::path::PathBuf;

use crate::model::ModelKind;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building inputs, fitting, predicting, saving or loading.
///
/// Backend errors (candle, smartcore, safetensors) are carried as messages so that callers do not
/// need those crates in scope: this crate is the only one that depends on them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input matrix holds NaN or ±∞. Callers drop incomplete rows before modelling.
    #[error("non-finite input value {value} at row {row}, column {col}")]
    NonFiniteInput {
        /// Row of the offending value (in the matrix being built).
        row: usize,
        /// Column of the offending value.
        col: usize,
        /// The value itself (NaN or ±∞).
        value: f64,
    },
    /// A target vector holds NaN or ±∞.
    #[error("non-finite target value {value} at index {index}")]
    NonFiniteTarget {
        /// Index of the offending value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// Dimensions do not agree (data length, rows vs targets, feature count…).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A row index or range lies outside the matrix.
    #[error("row {index} out of range for a matrix with {rows} rows")]
    RowOutOfRange {
        /// The offending index (or range end).
        index: usize,
        /// Number of rows of the matrix.
        rows: usize,
    },
    /// A configuration value is unusable (negative alpha, empty batch, dropout ≥ 1…).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Training data are unusable for this model (too few rows, no columns…).
    #[error("cannot fit {kind}: {reason}")]
    InvalidTrainingData {
        /// The model being fitted.
        kind: ModelKind,
        /// Why.
        reason: String,
    },
    /// `predict` or `save` was called before `fit`.
    #[error("{0} model is not fitted")]
    NotFitted(ModelKind),
    /// The training loss became NaN or infinite.
    #[error("training diverged at epoch {epoch}: loss {loss}")]
    Diverged {
        /// 1-based epoch at which the loss was non-finite.
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
    /// A checkpoint was written for another feature schema: its inputs would be misread.
    #[error(
        "feature schema mismatch: the checkpoint was trained on schema {found}, \
         but the caller's features have schema {expected}; retrain or use matching features"
    )]
    SchemaMismatch {
        /// Schema hash the caller expects.
        expected: String,
        /// Schema hash recorded in the checkpoint.
        found: String,
    },
    /// A checkpoint file is malformed, inconsistent or of an unsupported kind/version.
    #[error("bad checkpoint {path}: {reason}")]
    Checkpoint {
        /// The card or weights file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// This model kind has no restorable checkpoint (its card is descriptive only).
    #[error("{0} models cannot be restored from a checkpoint (their card is descriptive only)")]
    NotRestorable(ModelKind),
    /// Reading or writing a checkpoint file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// (De)serializing a model card failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The requested compute device is not compiled in or not present.
    #[error("device unavailable: {0}")]
    DeviceUnavailable(String),
    /// An error reported by candle, smartcore or safetensors.
    #[error("{backend} error: {message}")]
    Backend {
        /// `"candle"`, `"smartcore"` or `"safetensors"`.
        backend: &'static str,
        /// The backend's message.
        message: String,
    },
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Backend {
            backend: "candle",
            message: e.to_string(),
        }
    }
}

impl From<smartcore::error::Failed> for Error {
    fn from(e: smartcore::error::Failed) -> Self {
        Error::Backend {
            backend: "smartcore",
            message: e.to_string(),
        }
    }
}

impl From<safetensors::SafeTensorError> for Error {
    fn from(e: safetensors::SafeTensorError) -> Self {
        Error::Backend {
            backend: "safetensors",
            message: e.to_string(),
        }
    }
}

/// Returns an error if any target value is NaN or infinite.
pub(crate) fn check_targets(y: &[f64]) -> Result<()> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFiniteTarget {
            index,
            value: y[index],
        }),
        None => Ok(()),
    }
}
