//! The Imports page (admin): upload systeminfo, wmic qfe, nmap XML, Active Directory CSV and
//! probe files; see each file's result and the files imported before.
//!
//! Uploads go through the same intake as `POST /api/v1/imports`
//! ([`crate::api::imports::import_files`]): format detected from the content, each file stored
//! whole or not at all, every result audited. The form's CSRF field comes before its files, and
//! a file part arriving before a valid token is refused unread, so a forged upload changes
//! nothing and costs no parsing.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::{PageError, PageUser, csrf_field, page};
use crate::api::imports::{MAX_UPLOAD_BYTES, import_files};
use crate::api::{AppState, blocking};
use crate::auth::Permission;
use crate::import::MAX_IMPORT_BYTES;
use crate::intake::{FileOutcome, FileResult};
use crate::store::ImportFile;

/// Imported files listed on the page, newest first.
const RECENT: usize = 50;

/// Most files in one upload.
pub const MAX_FILES: usize = 100;

fn mib(bytes: usize) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

/// A format key in words.
pub fn format_words(format: &str) -> &str {
    match format {
        "systeminfo" => "Windows systeminfo",
        "qfe" => "installed updates (wmic qfe / Get-HotFix)",
        "nmap" => "nmap scan, XML",
        "ad" => "Active Directory export, CSV",
        "probe" => "legacy probe report",
        other => other,
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.0} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// One file's result in words: (tag words, tag class, sentence).
fn outcome_words(r: &FileResult) -> (&'static str, &'static str, String) {
    match &r.outcome {
        FileOutcome::Imported {
            format, devices, ..
        } => {
            let noun = if *devices == 1 { "device" } else { "devices" };
            (
                "Imported",
                "ok",
                format!("{devices} {noun} ({}).", format_words(format)),
            )
        }
        FileOutcome::Duplicate { imported_as, .. } => (
            "Duplicate",
            "warn",
            format!("The same file was imported before (as {imported_as}); nothing changed."),
        ),
        FileOutcome::Rejected { reason } => (
            "Rejected",
            "bad",
            format!(
                "{}. Nothing from this file was stored.",
                reason.trim_end_matches('.')
            ),
        ),
        // The store's own error stays in the log.
        FileOutcome::Failed { .. } => (
            "Not stored",
            "bad",
            "The collector could not save this file just now; nothing from it was stored. Try again in a minute."
                .to_owned(),
        ),
    }
}

fn imports_page(user: &PageUser, results: &[FileResult], recent: &[ImportFile]) -> Markup {
    let body = html! {
        h1 { "Imports" }
        p.lede { "Add what the Ward agent cannot report: systeminfo and wmic qfe outputs from old Windows PCs, nmap scans (XML), Active Directory computer exports (CSV) and legacy probe reports. Ward recognises each file's kind from its content." }
        @if !results.is_empty() {
            section.notice role="status" aria-labelledby="results-h" {
                h2 id="results-h" { "Result of this upload" }
                @let imported = results.iter().filter(|r| matches!(r.outcome, FileOutcome::Imported { .. })).count();
                @let duplicates = results.iter().filter(|r| matches!(r.outcome, FileOutcome::Duplicate { .. })).count();
                @let devices: u32 = results.iter().map(|r| match r.outcome { FileOutcome::Imported { devices, .. } => devices, _ => 0 }).sum();
                p.summary { (results.len()) " files: " strong { (imported) " imported (" (devices) " device records)" } ", " (duplicates) " already imported before, " (results.len() - imported - duplicates) " not imported." }
                table.compact {
                    thead { tr { th scope="col" { "File" } th scope="col" { "Result" } th scope="col" { "Detail" } } }
                    tbody { @for r in results {
                        @let (tag, class, sentence) = outcome_words(r);
                        tr {
                            td { (r.name) }
                            td { span class={"tag " (class)} { (tag) } }
                            td {
                                (sentence)
                                @if let FileOutcome::Imported { warnings, .. } = &r.outcome {
                                    @if !warnings.is_empty() {
                                        ul.warnings { @for w in warnings { li { "Note: " (w) } } }
                                    }
                                }
                            }
                        }
                    } }
                }
            }
        }
        section {
            h2 { "Upload files" }
            form.stack method="post" action="/imports" enctype="multipart/form-data" {
                (csrf_field(&user.csrf))
                label for="i-files" { "Files (choose several at once if you like)" }
                input id="i-files" name="files" type="file" multiple required aria-describedby="i-limits";
                p id="i-limits" class="hint" {
                    "Up to " (mib(MAX_IMPORT_BYTES)) " per file, " (mib(MAX_UPLOAD_BYTES)) " and " (MAX_FILES) " files per upload. "
                    "A file is stored whole or not at all; a file with errors changes nothing. The same file imported twice is recognised and counted once."
                }
                button type="submit" { "Import" }
            }
        }
        section {
            h2 { "Recent imports" }
            @if recent.is_empty() {
                p { "No files imported yet." }
            } @else {
                table.compact {
                    caption { "The last " (recent.len()) " files imported, newest first. Every import is also in the audit log." }
                    thead { tr {
                        th scope="col" { "Imported (UTC)" } th scope="col" { "File" } th scope="col" { "Kind" }
                        th scope="col" class="num" { "Devices" } th scope="col" class="num" { "Size" } th scope="col" { "Notes" }
                    } }
                    tbody { @for f in recent { tr {
                        td { (f.imported_at.format("%d %b %Y %H:%M")) }
                        td { (f.name) }
                        td { (format_words(&f.format)) }
                        td.num { (f.records) }
                        td.num { (size(f.size_bytes)) }
                        td { @if f.warnings.is_empty() { "–" } @else { (f.warnings.len()) " (" (f.warnings.first().map(String::as_str).unwrap_or("")) ")" } }
                    } } }
                }
            }
        }
    };
    page(user, "Imports", body)
}

async fn recent(state: Arc<AppState>) -> Result<Vec<ImportFile>, PageError> {
    Ok(blocking(move || {
        let mut files = state.store.import_files()?;
        files.reverse();
        files.truncate(RECENT);
        Ok(files)
    })
    .await?)
}

pub async fn imports(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::ManageImports)?;
    let recent = recent(state).await?;
    Ok(imports_page(&user, &[], &recent))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> PageError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::TooLarge(format!(
            "The upload is larger than {} in all. Send fewer files at once, each under {}.",
            mib(MAX_UPLOAD_BYTES),
            mib(MAX_IMPORT_BYTES)
        ))
    } else {
        PageError::BadInput(
            "The upload could not be read. Choose the files again and press Import.".into(),
        )
    }
}

pub async fn upload(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageImports)?;
    let Ok(mut form) = form else {
        // Not multipart at all: nothing to check the token in.
        return Err(PageError::Csrf);
    };
    let mut token_ok = false;
    let mut files: Vec<(String, axum::body::Bytes)> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        if field.name() == Some("csrf") {
            let sent = field.text().await.map_err(|e| multipart_error(&e))?;
            user.check_csrf(&sent)?;
            token_ok = true;
            continue;
        }
        if !token_ok {
            // A file before the token (or no token at all): refused before it is read.
            user.check_csrf("")?;
        }
        let name = field.file_name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
        // A browser sends an empty, nameless part when no file was chosen.
        if name.is_empty() && bytes.is_empty() {
            continue;
        }
        if files.len() == MAX_FILES {
            return Err(PageError::BadInput(format!(
                "At most {MAX_FILES} files per upload; nothing was imported. Send them in smaller groups."
            )));
        }
        files.push((
            if name.is_empty() {
                "upload".into()
            } else {
                name
            },
            bytes,
        ));
    }
    if !token_ok {
        user.check_csrf("")?;
    }
    if files.is_empty() {
        return Err(PageError::BadInput(
            "No file was chosen. Choose one or more files, then press Import.".into(),
        ));
    }
    let results = import_files(&state, user.who.actor(), files).await?;
    let recent = recent(state).await?;
    let status = if results.iter().all(FileResult::ok) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, imports_page(&user, &results, &recent)).into_response())
}
