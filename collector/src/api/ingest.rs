//! Turning a request body into a validated [`Report`], refusing anything too big, malformed or
//! of the wrong schema before it reaches the store.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use ward_shared::{Limits, Report, SCHEMA_VERSION, ValidationError};

use super::ApiError;
use crate::store::RawEncoding;

#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Body as sent.
    pub max_body: usize,
    /// Body after gzip inflation.
    pub max_inflated: usize,
    pub report: Limits,
}

/// Reads at most `max` bytes of body; more is a 413, a body slower than the edge's minimum
/// rate a 408 (the client may retry).
pub async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|e| {
        if let Some(slow) = crate::edge::BodyTooSlow::in_chain(&e) {
            ApiError::RequestTimeout(slow.to_string())
        } else if std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit")
        {
            ApiError::PayloadTooLarge(format!("the request body is larger than {max} bytes"))
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })
}

/// Inflates gzip into at most `max` bytes. Reads one gzip member, like the store does when it
/// reads back a body it kept verbatim.
pub fn gunzip(bytes: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(max));
    let mut decoder = flate2::read::GzDecoder::new(bytes).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid gzip: {e}")))?;
    if out.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the report inflates to more than {max} bytes"
        )));
    }
    Ok(out)
}

/// The report route takes JSON only: `Content-Type: application/json` (parameters such as
/// `charset=utf-8` allowed), else 415. The agent always sends it.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers.get(header::CONTENT_TYPE);
    let media_type = value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim());
    match media_type {
        Some(t) if t.eq_ignore_ascii_case("application/json") => Ok(()),
        Some(t) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {t:?} is not accepted here; send application/json"
        ))),
        None if value.is_some() => Err(ApiError::UnsupportedMediaType(
            "the Content-Type header is not readable; send application/json".into(),
        )),
        None => Err(ApiError::UnsupportedMediaType(
            "a report needs Content-Type: application/json".into(),
        )),
    }
}

/// Checks the content type, decodes (by Content-Encoding), parses and validates a report.
/// Returns it with the body's encoding: the body is the report as the agent sent it, which the
/// store keeps verbatim.
pub fn decode_report(
    headers: &HeaderMap,
    bytes: &[u8],
    limits: &BodyLimits,
    now: DateTime<Utc>,
) -> Result<(Report, RawEncoding), ApiError> {
    require_json(headers)?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let inflated;
    let (json, raw_encoding): (&[u8], RawEncoding) = match encoding.as_deref() {
        None | Some("identity") => {
            if bytes.len() > limits.max_inflated {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the report is larger than {} bytes",
                    limits.max_inflated
                )));
            }
            (bytes, RawEncoding::Identity)
        }
        Some("gzip") => {
            inflated = gunzip(bytes, limits.max_inflated)?;
            (&inflated, RawEncoding::Gzip)
        }
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Encoding {other:?} is not supported; send gzip or identity"
            )));
        }
    };
    let report: Report = match serde_json::from_slice(json) {
        Ok(report) => report,
        Err(e) => return Err(explain_parse_failure(json, e)),
    };
    report.validate(&limits.report, now).map_err(|e| match e {
        ValidationError::SchemaVersion { .. } => ApiError::UnsupportedSchema(e.to_string()),
        other => ApiError::Invalid(other.to_string()),
    })?;
    Ok((report, raw_encoding))
}

/// A failed parse is either not JSON at all (400), a schema this collector does not read (422),
/// or JSON of the wrong shape (422 with serde's path and reason).
fn explain_parse_failure(json: &[u8], err: serde_json::Error) -> ApiError {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return ApiError::BadRequest(format!("the report is not valid JSON: {err}"));
    };
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v != u64::from(SCHEMA_VERSION) => ApiError::UnsupportedSchema(format!(
            "schema_version {v} is not supported (this collector reads up to {SCHEMA_VERSION})"
        )),
        None => ApiError::UnsupportedSchema("the report has no numeric schema_version".into()),
        Some(_) => ApiError::Invalid(format!(
            "the report does not match schema {SCHEMA_VERSION}: {err}"
        )),
    }
}
