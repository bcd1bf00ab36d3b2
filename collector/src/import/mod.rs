//! Imports: files from machines no agent runs on (systeminfo, wmic qfe / Get-HotFix, nmap XML,
//! Active Directory CSV, legacy probe reports) turned into [`ImportRecord`]s.
//!
//! Architecture invariant: parsing is pure and total. [`parse`] takes bytes and the moment of
//! import, does no I/O, reads no clock, and returns records or an [`ImportError`] for any input
//! (never a panic). The format is detected from the content; the origin (a file name) is only a
//! hint and a label for people.

pub mod record;

use chrono::{DateTime, Utc};

pub use record::{
    AdDetail, Format, Identity, ImportError, ImportRecord, Ms17Verdict, Nic, NmapAddress,
    NmapDetail, NmapPort, OsMatch, Parsed, ProbeDetail, QfeDetail, SmbOsDiscovery, Source,
    SourceDetail, SysteminfoDetail,
};

/// Largest file accepted, in bytes. Larger files are refused before any parsing.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Detects the format of `bytes` and parses it. `origin` is the file name (or another label)
/// used as a hint and recorded in each record; `now` is the import time, used where the file
/// has no time of its own.
pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    let _ = (origin, now);
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    Err(ImportError::Unsupported(
        "no importer is available yet".into(),
    ))
}
