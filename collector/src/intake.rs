//! Import intake: one file's bytes -> parsed records -> stored atomically, with one result line.
//! Shared by `ward-collector import`, `POST /api/v1/imports` and the drop folder.
//!
//! A file is imported whole or not at all: the parser rejects it, or the store takes every
//! record in one write (`ImportStore::put_import`), acknowledged only once durable. The same
//! bytes imported again are recognised (SHA-256) and change nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::import::{self, MAX_IMPORT_BYTES};
use crate::store::{ImportFile, ImportOutcome, Store};

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Stored: `devices` machines (records) from a file of `format`.
    Imported {
        file_id: Uuid,
        format: String,
        devices: u32,
        #[serde(default)]
        warnings: Vec<String>,
    },
    /// These bytes were imported before (as `imported_as`); nothing changed. (Not `name`: the
    /// outcome is flattened into [`FileResult`], whose `name` is this upload's.)
    Duplicate { file_id: Uuid, imported_as: String },
    /// Nothing stored, for this reason (the file's fault: trying again gives the same).
    Rejected { reason: String },
    /// Nothing stored because the store failed; trying again later may work.
    Failed { reason: String },
}

/// One file's result, as the CLI prints it and the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    pub name: String,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

impl FileResult {
    pub fn rejected(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            outcome: FileOutcome::Rejected {
                reason: reason.into(),
            },
        }
    }

    /// Imported now or before.
    pub fn ok(&self) -> bool {
        !matches!(
            self.outcome,
            FileOutcome::Rejected { .. } | FileOutcome::Failed { .. }
        )
    }

    /// `NAME: imported 3 devices (nmap)` / `NAME: rejected: reason`.
    pub fn line(&self) -> String {
        match &self.outcome {
            FileOutcome::Imported {
                format,
                devices,
                warnings,
                ..
            } => {
                let noun = if *devices == 1 { "device" } else { "devices" };
                let mut line = format!("{}: imported {devices} {noun} ({format})", self.name);
                for w in warnings {
                    line.push_str(&format!("\n  warning: {w}"));
                }
                line
            }
            FileOutcome::Duplicate { imported_as, .. } => {
                format!(
                    "{}: imported 0 devices (already imported as {imported_as}; nothing changed)",
                    self.name
                )
            }
            FileOutcome::Rejected { reason } => format!("{}: rejected: {reason}", self.name),
            FileOutcome::Failed { reason } => {
                format!("{}: rejected: not stored, try again: {reason}", self.name)
            }
        }
    }
}

/// The name to record for a file: its last path component, without control characters, at
/// most 200 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "unnamed".to_owned()
    } else {
        cleaned
    }
}

/// Parses and stores one file. Blocking (the store waits for the disk): not on an async thread.
pub fn import_bytes(store: &dyn Store, name: &str, bytes: &[u8], now: DateTime<Utc>) -> FileResult {
    import_bytes_with_progress(store, name, bytes, now, &mut |_| {})
}

/// Where the import of one file has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Records read from the file so far.
    Reading { records: usize },
    /// Every record is read; they are being stored (one atomic write).
    Storing { records: usize },
}

/// [`import_bytes`], telling `progress` where it has got (see [`FileProgress`]).
pub fn import_bytes_with_progress(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(Stage),
) -> FileResult {
    let name = clean_name(name);
    let parsed = match import::parse_with_progress(bytes, &name, now, &mut |records| {
        progress(Stage::Reading { records });
    }) {
        Ok(p) => p,
        Err(e) => return FileResult::rejected(&name, e.to_string()),
    };
    if parsed.records.is_empty() {
        return FileResult::rejected(&name, "no machine found in the file");
    }
    let Ok(records) = u32::try_from(parsed.records.len()) else {
        return FileResult::rejected(&name, "too many records in one file");
    };
    progress(Stage::Storing {
        records: parsed.records.len(),
    });
    let file = ImportFile {
        id: Uuid::now_v7(),
        name: name.clone(),
        sha256: hex::encode(Sha256::digest(bytes)),
        format: parsed.format.as_str().to_owned(),
        imported_at: now,
        size_bytes: bytes.len() as u64,
        records,
        warnings: parsed.warnings.clone(),
    };
    match store.put_import(&file, &parsed.records) {
        Ok(ImportOutcome::Stored) => {
            tracing::info!(file = %name, format = %file.format, records, "imported");
            FileResult {
                name,
                outcome: FileOutcome::Imported {
                    file_id: file.id,
                    format: file.format,
                    devices: records,
                    warnings: parsed.warnings,
                },
            }
        }
        Ok(ImportOutcome::Duplicate(first)) => FileResult {
            name,
            outcome: FileOutcome::Duplicate {
                file_id: first.id,
                imported_as: first.name,
            },
        },
        Err(e) => {
            tracing::error!(file = %name, error = %e, "import not stored");
            FileResult {
                name,
                outcome: FileOutcome::Failed {
                    reason: e.to_string(),
                },
            }
        }
    }
}

/// Files with at least this many records always say when they are being stored.
pub const LARGE_FILE_RECORDS: usize = 1000;

/// Progress lines for one file (`progress: NAME: 12000 records read`), written to `out` (stderr
/// in the CLI) at most once per `every` while the file is read, and once when a large file
/// (or one that already printed progress) is being stored. Best effort: a failed write is
/// ignored. Time is passed in, so the rate limit is tested without waiting.
pub struct FileProgress<W> {
    name: String,
    every: Duration,
    last: std::time::Instant,
    printed: bool,
    out: W,
}

impl<W: std::io::Write> FileProgress<W> {
    pub fn new(name: &str, every: Duration, started: std::time::Instant, out: W) -> Self {
        Self {
            name: name.to_owned(),
            every,
            last: started,
            printed: false,
            out,
        }
    }

    pub fn update(&mut self, stage: Stage, now: std::time::Instant) {
        let line = match stage {
            Stage::Reading { records } => {
                if now.saturating_duration_since(self.last) < self.every {
                    return;
                }
                format!("progress: {}: {records} records read", self.name)
            }
            Stage::Storing { records } => {
                if records < LARGE_FILE_RECORDS && !self.printed {
                    return;
                }
                format!(
                    "progress: {}: {records} records read; storing them",
                    self.name
                )
            }
        };
        self.last = now;
        self.printed = true;
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a file for import, refusing one over the size limit before reading it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_IMPORT_BYTES as u64 {
        return Err(format!(
            "the file is {} bytes; imports are limited to {MAX_IMPORT_BYTES} bytes",
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// The files named on a command line: files as given, directories walked (sorted, hidden
/// entries skipped).
pub fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            out.push(dir.to_path_buf());
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// The drop folder: files put in `dir` are imported, then moved to `dir/done/` or to
/// `dir/rejected/` beside a `NAME.reason.txt` saying why.
///
/// A file is picked up once its size and modification time held still for one poll (so a
/// copy in progress is not read half-way); names starting with `.` or ending in `.tmp` or
/// `.part` are left alone, so writers can use them for the copy and rename at the end.
pub struct DropFolder {
    pub dir: PathBuf,
    pub poll: Duration,
    /// Size and mtime of files seen at the last poll.
    seen: std::collections::HashMap<PathBuf, (u64, Option<std::time::SystemTime>)>,
}

pub const DONE_DIR: &str = "done";
pub const REJECTED_DIR: &str = "rejected";

impl DropFolder {
    /// Creates `dir`, `dir/done` and `dir/rejected` if missing.
    pub fn new(dir: PathBuf, poll: Duration) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join(DONE_DIR))?;
        std::fs::create_dir_all(dir.join(REJECTED_DIR))?;
        Ok(Self {
            dir,
            poll,
            seen: std::collections::HashMap::new(),
        })
    }

    /// One poll: imports every file that held still since the last poll. Blocking.
    pub fn poll_once(&mut self, store: &dyn Store, now: DateTime<Utc>) -> Vec<FileResult> {
        let mut results = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            tracing::warn!(dir = %self.dir.display(), "drop folder unreadable");
            return results;
        };
        let mut current = std::collections::HashMap::new();
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part") {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let stamp = (meta.len(), meta.modified().ok());
            current.insert(path.clone(), stamp);
            if self.seen.get(&path) != Some(&stamp) {
                continue;
            }
            let result = match read_file(&path) {
                Ok(bytes) => import_bytes(store, &name, &bytes, now),
                Err(reason) => FileResult::rejected(&name, reason),
            };
            self.file_away(&path, &name, &result);
            current.remove(&path);
            results.push(result);
        }
        self.seen = current;
        results
    }

    fn file_away(&self, path: &Path, name: &str, result: &FileResult) {
        let (sub, reason) = match &result.outcome {
            FileOutcome::Rejected { reason } => (REJECTED_DIR, Some(reason)),
            // A store failure is not the file's fault: it stays to be tried at the next poll.
            FileOutcome::Failed { .. } => return,
            FileOutcome::Imported { .. } | FileOutcome::Duplicate { .. } => (DONE_DIR, None),
        };
        let mut target = self.dir.join(sub).join(name);
        if target.exists() {
            let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3f");
            target = self.dir.join(sub).join(format!("{stamp}-{name}"));
        }
        if let Err(e) = std::fs::rename(path, &target) {
            tracing::error!(file = %name, error = %e, "cannot move the processed file");
            return;
        }
        if let Some(reason) = reason {
            let mut note = target.clone().into_os_string();
            note.push(".reason.txt");
            if let Err(e) = std::fs::write(&note, format!("{reason}\n")) {
                tracing::error!(file = %name, error = %e, "cannot write the reason file");
            }
        }
        match &result.outcome {
            FileOutcome::Rejected { reason } => {
                tracing::warn!(file = %name, %reason, "drop folder: rejected");
            }
            _ => tracing::info!(file = %name, result = %result.line(), "drop folder: imported"),
        }
    }

    /// Polls until `stop` resolves. Runs the blocking work off the async threads; calls
    /// `imported` after a poll that stored a file.
    pub async fn run(
        mut self,
        store: std::sync::Arc<dyn Store>,
        imported: impl Fn() + Send + 'static,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tracing::info!(dir = %self.dir.display(), "watching the drop folder");
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(self.poll) => {}
            }
            let store = store.clone();
            let folder = std::mem::replace(
                &mut self,
                DropFolder {
                    dir: PathBuf::new(),
                    poll: Duration::ZERO,
                    seen: std::collections::HashMap::new(),
                },
            );
            match tokio::task::spawn_blocking(move || {
                let mut folder = folder;
                let results = folder.poll_once(store.as_ref(), Utc::now());
                (folder, results.iter().any(FileResult::ok))
            })
            .await
            {
                Ok((folder, stored)) => {
                    self = folder;
                    if stored {
                        imported();
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "drop folder poll failed; stopping the watcher");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn lines(p: FileProgress<Vec<u8>>) -> Vec<String> {
        String::from_utf8(p.into_inner())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn progress_is_printed_at_a_bounded_rate_and_when_a_large_file_is_stored() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = FileProgress::new("ad.csv", Duration::from_secs(1), t0, Vec::new());
        for (ms, records) in [
            (0, 0),
            (400, 4000),
            (900, 9000),
            (1100, 11000),
            (1500, 15000),
        ] {
            p.update(Stage::Reading { records }, at(ms));
        }
        p.update(Stage::Reading { records: 20000 }, at(2200));
        p.update(Stage::Storing { records: 20000 }, at(2300));
        assert_eq!(
            lines(p),
            [
                "progress: ad.csv: 11000 records read",
                "progress: ad.csv: 20000 records read",
                "progress: ad.csv: 20000 records read; storing them",
            ]
        );
    }

    #[test]
    fn a_small_quick_file_prints_no_progress() {
        let t0 = Instant::now();
        let mut p = FileProgress::new("pc.txt", Duration::from_secs(1), t0, Vec::new());
        p.update(Stage::Reading { records: 1 }, t0 + Duration::from_millis(5));
        p.update(Stage::Storing { records: 1 }, t0 + Duration::from_millis(6));
        assert!(lines(p).is_empty());
    }

    #[test]
    fn a_slow_small_file_says_it_is_storing_after_saying_it_reads() {
        let t0 = Instant::now();
        let mut p = FileProgress::new("scan.xml", Duration::from_secs(1), t0, Vec::new());
        p.update(Stage::Reading { records: 10 }, t0 + Duration::from_secs(3));
        p.update(Stage::Storing { records: 12 }, t0 + Duration::from_secs(3));
        assert_eq!(
            lines(p),
            [
                "progress: scan.xml: 10 records read",
                "progress: scan.xml: 12 records read; storing them",
            ]
        );
    }

    #[test]
    fn import_reports_its_stages_in_order() {
        let store = crate::store::memory::MemoryStore::new();
        let mut csv = String::from("Name,DNSHostName,OperatingSystem,Enabled\r\n");
        for i in 0..3 {
            csv.push_str(&format!("PC{i},pc{i}.corp.example,Windows 10 Pro,True\r\n"));
        }
        let mut stages = Vec::new();
        let r =
            import_bytes_with_progress(&store, "ad.csv", csv.as_bytes(), Utc::now(), &mut |s| {
                stages.push(s)
            });
        assert!(r.ok(), "{r:?}");
        assert_eq!(stages.last(), Some(&Stage::Storing { records: 3 }));
        assert!(
            stages.contains(&Stage::Reading { records: 3 }),
            "{stages:?}"
        );
        // A rejected file never reaches the store stage.
        let mut stages = Vec::new();
        let r = import_bytes_with_progress(&store, "x.txt", b"nothing", Utc::now(), &mut |s| {
            stages.push(s)
        });
        assert!(!r.ok());
        assert!(
            !stages.iter().any(|s| matches!(s, Stage::Storing { .. })),
            "{stages:?}"
        );
    }
}
