//! Imported files and their records: the store's side of `ward-collector import`.
//!
//! Architecture invariant: an import is one file, stored whole or not at all. When
//! [`ImportStore::put_import`] returns `Ok(ImportOutcome::Stored)` the file's entry and every one
//! of its records are durable; on `Err` none of them is visible. A file whose bytes were imported
//! before (same SHA-256) is an [`ImportOutcome::Duplicate`] and changes nothing, so a drop folder
//! or a retried upload never stores a file twice.
//!
//! Records are never pruned: a device's record history stays. Which records count as current is
//! decided when devices are merged (`crate::devices`), not here: nothing derived is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;
use crate::import::ImportRecord;

/// One imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFile {
    /// UUIDv7: import files sort by time.
    pub id: Uuid,
    /// The file name as given (no directories).
    pub name: String,
    /// Hex SHA-256 of the file's bytes: the duplicate check.
    pub sha256: String,
    /// The detected format (`systeminfo`, `nmap`...).
    pub format: String,
    pub imported_at: DateTime<Utc>,
    pub size_bytes: u64,
    /// Records the file gave (all stored with it).
    pub records: u32,
    /// What the parser skipped or guessed.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One record as stored, with the file it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub file_id: Uuid,
    /// Position in the file.
    pub index: u32,
    pub imported_at: DateTime<Utc>,
    pub record: ImportRecord,
}

impl StoredRecord {
    /// The record's id: its report id (stable: derived from the file's bytes and the position).
    pub fn id(&self) -> Uuid {
        self.record.report.report_id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Stored,
    /// These bytes were imported before, as this file; nothing changed.
    Duplicate(ImportFile),
}

/// The store's import section (every [`super::Store`] is one).
pub trait ImportStore {
    /// Stores a file entry and all its records atomically; durable on return. `file.records`
    /// must equal `records.len()`.
    fn put_import(
        &self,
        file: &ImportFile,
        records: &[ImportRecord],
    ) -> Result<ImportOutcome, StoreError>;
    /// Every imported file, oldest first.
    fn import_files(&self) -> Result<Vec<ImportFile>, StoreError>;
    /// Every stored record, by file (oldest file first) then position.
    fn import_records(&self) -> Result<Vec<StoredRecord>, StoreError>;
    /// One record by its file and position.
    fn import_record(&self, file_id: Uuid, index: u32) -> Result<Option<StoredRecord>, StoreError>;
}

/// Checks a file entry against its records before anything is written.
pub(crate) fn check_import(file: &ImportFile, records: &[ImportRecord]) -> Result<(), StoreError> {
    if usize::try_from(file.records).ok() != Some(records.len()) {
        return Err(StoreError::Format(format!(
            "import {} says {} records but carries {}",
            file.name,
            file.records,
            records.len()
        )));
    }
    if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Format(format!(
            "import {}: sha256 is not 64 hex digits",
            file.name
        )));
    }
    Ok(())
}

/// The stored form of a file's records, in order.
pub(crate) fn stored_records(file: &ImportFile, records: &[ImportRecord]) -> Vec<StoredRecord> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| StoredRecord {
            file_id: file.id,
            index: u32::try_from(i).unwrap_or(u32::MAX),
            imported_at: file.imported_at,
            record: r.clone(),
        })
        .collect()
}
