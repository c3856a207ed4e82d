//! The crate's error type.

/// Why an evaluation function refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Two inputs that must be aligned row by row have different lengths.
    #[error("{what}: length mismatch ({left} vs {right})")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// Not enough usable (finite) observations for the statistic.
    #[error("{what}: need at least {needed} usable observations, got {got}")]
    TooFewObservations {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// A configuration value is out of its domain.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// Timestamps must be strictly increasing.
    #[error("timestamps must be strictly increasing (row {row})")]
    UnsortedTimestamps { row: usize },
    /// A calendar computation left the supported range (years 1..=9999).
    #[error("timestamp {0} µs is outside the supported calendar range")]
    TimeOutOfRange(i64),
    /// The series is too short for even one fold with this configuration.
    #[error("no fold fits: {0}")]
    NoFolds(String),
    /// A report could not be serialized.
    #[error("serialization failed: {0}")]
    Serialization(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EvalError>;

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> EvalError {
    EvalError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}

pub(crate) fn same_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(EvalError::LengthMismatch { what, left, right })
    }
}
