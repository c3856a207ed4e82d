//! The one error shape of the API: `{"error": {"code": "...", "message": "..."}}` with a stable
//! code and a matching HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bqx_app::{AppError, ErrorCode};

#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<AppError> for HttpError {
    fn from(e: AppError) -> HttpError {
        let status = match e.code {
            ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::StoreInUse => StatusCode::CONFLICT,
            ErrorCode::UnusableInput => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::StoreVersion | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        HttpError::new(status, e.code.as_str(), e.message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
