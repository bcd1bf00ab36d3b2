//! `POST /api/v1/imports` (admin): files to import, as a raw body (`?name=FILE`) or as
//! `multipart/form-data` with one part per file. Answers the per-file results; 200 when every
//! file was imported (or had been before), 422 when any was rejected, 503 when the store failed
//! (nothing of that file stored; retry).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, Principal, blocking, ingest};
use crate::auth::Permission;
use crate::import::MAX_IMPORT_BYTES;
use crate::intake::{self, FileOutcome, FileResult};

/// Most bytes of one multipart request (several files).
pub const MAX_UPLOAD_BYTES: usize = 4 * MAX_IMPORT_BYTES;

#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    /// The file's name (raw bodies).
    name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ImportAnswer {
    pub results: Vec<FileResult>,
    /// Files imported now or before.
    pub imported: usize,
    pub rejected: usize,
}

pub async fn post_imports(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Query(query): Query<ImportQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ImportAnswer>), ApiError> {
    who.require(Permission::ManageImports)?;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut files: Vec<(String, axum::body::Bytes)> = Vec::new();
    if multipart {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("not a valid multipart body: {e}")))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| multipart_error(&e.to_string()))?
        {
            let name = field
                .file_name()
                .or(field.name())
                .unwrap_or("upload")
                .to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| multipart_error(&e.to_string()))?;
            files.push((name, bytes));
        }
        if files.is_empty() {
            return Err(ApiError::BadRequest("the form holds no file".into()));
        }
    } else {
        let name = query.name.unwrap_or_else(|| "upload".to_owned());
        let bytes = ingest::read_body(request.into_body(), MAX_IMPORT_BYTES).await?;
        files.push((name, bytes));
    }
    let results = import_files(&state, who.actor(), files).await?;
    let failed = results
        .iter()
        .any(|r| matches!(r.outcome, FileOutcome::Failed { .. }));
    let imported = results.iter().filter(|r| r.ok()).count();
    let rejected = results.len() - imported;
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else if rejected > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ImportAnswer {
            results,
            imported,
            rejected,
        }),
    ))
}

/// Imports each file through the intake and audits each result as `actor`: what the API and
/// the dashboard's Imports page both do. A file over [`MAX_IMPORT_BYTES`] is rejected unread.
pub async fn import_files(
    state: &Arc<AppState>,
    actor: String,
    files: Vec<(String, axum::body::Bytes)>,
) -> Result<Vec<FileResult>, ApiError> {
    let store = state.store.clone();
    let results = blocking(move || {
        Ok(files
            .iter()
            .map(|(name, bytes)| {
                if bytes.len() > MAX_IMPORT_BYTES {
                    FileResult::rejected(
                        &intake::clean_name(name),
                        format!(
                            "the file is {} bytes; imports are limited to {MAX_IMPORT_BYTES} bytes",
                            bytes.len()
                        ),
                    )
                } else {
                    intake::import_bytes(store.as_ref(), name, bytes, Utc::now())
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    if results.iter().any(FileResult::ok) {
        state.estate.imports_stored();
        let state = state.clone();
        blocking(move || {
            state.estate();
            Ok(())
        })
        .await?;
    }
    let store = state.store.clone();
    let lines: Vec<String> = results.iter().map(FileResult::line).collect();
    blocking(move || {
        for detail in &lines {
            crate::auth::audit(store.as_ref(), &actor, "import", "imports", detail)?;
        }
        Ok(())
    })
    .await?;
    Ok(results)
}

fn multipart_error(detail: &str) -> ApiError {
    if detail.contains("limit") {
        ApiError::PayloadTooLarge(format!(
            "the upload is larger than {MAX_UPLOAD_BYTES} bytes: {detail}"
        ))
    } else {
        ApiError::BadRequest(format!("not a valid multipart body: {detail}"))
    }
}
