use serde::Serialize;

/// A stable, machine-readable error code; surfaces map it to exit codes or HTTP statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// An input file cannot be used at all (unknown format, undecodable, truncated archive,
    /// missing columns): nothing from the call was written.
    UnusableInput,
    /// Arguments that do not make sense together or a value out of range.
    InvalidArgument,
    /// Another process has the store open.
    StoreInUse,
    /// The store was written by a newer bqx or a migration was edited.
    StoreVersion,
    /// What was asked for does not exist (a run, a model, a pair).
    NotFound,
    /// The request conflicts with work in progress (a job is already running).
    Conflict,
    /// Anything else: a bug or an environment failure (disk full, permissions).
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnusableInput => "unusable_input",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::StoreInUse => "store_in_use",
            ErrorCode::StoreVersion => "store_version",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
        }
    }

    /// Process exit code for the CLI: 2 for unusable input or bad arguments, 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::UnusableInput | ErrorCode::InvalidArgument | ErrorCode::NotFound => 2,
            _ => 1,
        }
    }
}

/// The one error type of the API boundary: a stable code and a human message.
#[derive(Clone, Debug, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Internal, message)
    }
}

impl From<bqx_store::StoreError> for AppError {
    fn from(e: bqx_store::StoreError) -> AppError {
        use bqx_store::StoreError as E;
        let code = match &e {
            E::InUse { .. } => ErrorCode::StoreInUse,
            E::NewerSchema { .. } | E::MigrationMismatch { .. } => ErrorCode::StoreVersion,
            _ => ErrorCode::Internal,
        };
        AppError::new(code, e.to_string())
    }
}

impl From<bqx_ingest::UnusableInput> for AppError {
    fn from(e: bqx_ingest::UnusableInput) -> AppError {
        AppError::new(
            ErrorCode::UnusableInput,
            format!("{e} (nothing from this call was written)"),
        )
    }
}

impl From<bqx_features::FeatureError> for AppError {
    fn from(e: bqx_features::FeatureError) -> AppError {
        AppError::new(ErrorCode::Internal, e.to_string())
    }
}
