//! The one error type at the HTTP edge: logs what went wrong inside, answers
//! `{"error": code, "detail": sentence}` with the right status, and never leaks internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ward_shared::api::ErrorBody;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedSchema(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body fell behind the minimum rate (`crate::edge`); the client may retry.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("missing or malformed Authorization header; expected `Bearer <token>`")]
    MissingToken,
    #[error("the agent key is not known to this collector; enroll the agent again")]
    UnknownAgentKey,
    #[error(
        "this agent's key was revoked by an administrator; enroll the agent again if it should report"
    )]
    AgentRevoked,
    #[error("the token is wrong or was revoked")]
    BadAdminToken,
    #[error("the enrollment secret is wrong")]
    BadEnrollSecret,
    #[error("too many enrollment attempts from this address; wait a minute")]
    RateLimited,
    #[error("{0}")]
    NotFound(String),
    /// Authenticated, but the role does not allow it (or a CSRF token is missing).
    #[error("{0}")]
    Forbidden(String),
    #[error("storage is unavailable; retry later")]
    Store(#[from] StoreError),
    #[error("internal error; retry later")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedSchema(_) | ApiError::Invalid(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::MissingToken
            | ApiError::UnknownAgentKey
            | ApiError::BadAdminToken
            | ApiError::BadEnrollSecret => StatusCode::UNAUTHORIZED,
            ApiError::AgentRevoked | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Stable machine-readable code for the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedSchema(_) => "unsupported_schema_version",
            ApiError::Invalid(_) => "invalid_report",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::MissingToken => "missing_token",
            ApiError::UnknownAgentKey => "unknown_agent_key",
            ApiError::AgentRevoked => "agent_revoked",
            ApiError::BadAdminToken => "bad_token",
            ApiError::BadEnrollSecret => "bad_enrollment_secret",
            ApiError::RateLimited => "rate_limited",
            ApiError::NotFound(_) => "not_found",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Store(_) => "storage_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Store(e) => tracing::error!(error = %e, "store failure"),
            ApiError::Internal(e) => tracing::error!(error = %e, "internal failure"),
            other => tracing::debug!(code = other.code(), detail = %other, "request refused"),
        }
        let body = ErrorBody {
            error: self.code().to_owned(),
            detail: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        // For the metrics middleware: rejections by reason.
        response
            .extensions_mut()
            .insert(crate::metrics::ErrorCode(self.code()));
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        response
    }
}
