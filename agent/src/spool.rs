//! The on-disk spool: reports waiting for the collector.
//!
//! Format: one file per report in `STATE/spool/`, named `<seq>-<report id>.json.gz` with `seq` a
//! zero-padded 20-digit counter; the contents are exactly the gzip body that is sent.
//!
//! Invariants:
//! - A spool file is only ever seen complete: it is written as `*.tmp`, fsynced, renamed, and the
//!   directory fsynced. Leftover `*.tmp` files (a crash mid-write) are removed on open.
//! - Files are delivered in `seq` order, which is the order they were collected.
//! - A file is deleted only after the collector acknowledged it, or refused it for good (a 4xx
//!   other than 401/403/408/429), or to keep the spool within its bounds, oldest first, with a
//!   warning naming the dropped report.
//! - Every report goes through the spool, so a report collected while the collector is away, or
//!   while the agent is being stopped, is never lost.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::state::{StateError, create_private_dir, sync_dir, write_atomic};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    pub max_reports: usize,
    pub max_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        Self {
            max_reports: 200,
            max_bytes: 64 << 20,
        }
    }
}

/// A spooled report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub report_id: Uuid,
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    next_seq: u64,
}

fn parse_name(name: &str) -> Option<(u64, Uuid)> {
    let stem = name.strip_suffix(".json.gz")?;
    let (seq, id) = stem.split_once('-')?;
    if seq.len() != 20 {
        return None;
    }
    Some((seq.parse().ok()?, Uuid::parse_str(id).ok()?))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Spool {
    pub fn open(dir: &Path, limits: SpoolLimits) -> Result<Self, StateError> {
        create_private_dir(dir)?;
        let mut spool = Self {
            dir: dir.to_owned(),
            limits,
            next_seq: 0,
        };
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                tracing::warn!(file = %name, "removing a spool file left half-written by a crash");
                let _ = std::fs::remove_file(item.path());
            }
        }
        spool.next_seq = spool.entries()?.last().map_or(0, |e| e.seq + 1);
        Ok(spool)
    }

    /// Spooled reports, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>, StateError> {
        let mut entries = Vec::new();
        for item in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let item = item.map_err(io(&self.dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some((seq, report_id)) = parse_name(&name) else {
                continue;
            };
            let size = item.metadata().map(|m| m.len()).unwrap_or(0);
            entries.push(Entry {
                seq,
                report_id,
                path: item.path(),
                size,
            });
        }
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    /// Adds a report (its gzip body) durably, then trims the oldest to stay within the limits.
    pub fn push(&mut self, report_id: Uuid, body: &[u8]) -> Result<Entry, StateError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = self.dir.join(format!("{seq:020}-{report_id}.json.gz"));
        write_atomic(&path, body, true)?;
        self.trim()?;
        Ok(Entry {
            seq,
            report_id,
            path,
            size: body.len() as u64,
        })
    }

    fn trim(&self) -> Result<(), StateError> {
        let entries = self.entries()?;
        let mut count = entries.len();
        let mut bytes: u64 = entries.iter().map(|e| e.size).sum();
        for e in &entries {
            // Always keep the newest report, even if it alone is over the byte cap.
            if count <= 1 || (count <= self.limits.max_reports && bytes <= self.limits.max_bytes) {
                break;
            }
            tracing::warn!(
                report = %e.report_id,
                spooled = count,
                bytes,
                "spool full: dropping the oldest report"
            );
            self.remove(e)?;
            count -= 1;
            bytes = bytes.saturating_sub(e.size);
        }
        Ok(())
    }

    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, StateError> {
        std::fs::read(&entry.path).map_err(io(&entry.path))
    }

    pub fn remove(&self, entry: &Entry) -> Result<(), StateError> {
        match std::fs::remove_file(&entry.path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&entry.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(spool: &Spool) -> Vec<Uuid> {
        spool
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.report_id)
            .collect()
    }

    #[test]
    fn keeps_order_across_reopen_and_ignores_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut spool = Spool::open(&path, SpoolLimits::default()).unwrap();
        spool.push(a, b"a").unwrap();
        spool.push(b, b"b").unwrap();
        std::fs::write(path.join("README"), b"not a report").unwrap();
        std::fs::write(path.join("00000000000000000099-x.json.gz.tmp"), b"half").unwrap();
        drop(spool);
        let mut spool = Spool::open(&path, SpoolLimits::default()).unwrap();
        assert!(!path.join("00000000000000000099-x.json.gz.tmp").exists());
        spool.push(c, b"c").unwrap();
        assert_eq!(ids(&spool), vec![a, b, c]);
        let first = &spool.entries().unwrap()[0];
        assert_eq!(spool.read(first).unwrap(), b"a");
        spool.remove(first).unwrap();
        assert_eq!(ids(&spool), vec![b, c]);
    }

    #[test]
    fn drops_oldest_past_count_and_byte_limits() {
        let dir = tempfile::tempdir().unwrap();
        let limits = SpoolLimits {
            max_reports: 3,
            max_bytes: 10,
        };
        let mut spool = Spool::open(dir.path(), limits).unwrap();
        let pushed: Vec<Uuid> = (0..5)
            .map(|_| {
                let id = Uuid::now_v7();
                spool.push(id, b"12").unwrap();
                id
            })
            .collect();
        assert_eq!(ids(&spool), pushed[2..].to_vec());
        // A 9-byte report pushes the total over 10 bytes: older ones go, the newest stays.
        let big = Uuid::now_v7();
        spool.push(big, b"123456789").unwrap();
        assert_eq!(ids(&spool), vec![big]);
        let huge = Uuid::now_v7();
        spool.push(huge, &[0u8; 64]).unwrap();
        assert_eq!(ids(&spool), vec![huge]);
    }
}
