//! The storage seam. Handlers hold an `Arc<dyn Store>`; [`sled_store::SledStore`] is the
//! embedded, durable store and [`memory::MemoryStore`] the reference implementation that the
//! same contract tests run against.
//!
//! Architecture invariant: when [`Store::put_report`] or [`Store::add_agent`] returns `Ok`, or
//! the receiver of [`Store::submit_report`] yields `Ok`, the write is durable (it survives the
//! process being killed). The HTTP layer acknowledges only after that.
//!
//! Architecture invariant: a report id is stored at most once; putting it again returns
//! [`PutOutcome::Duplicate`] and changes nothing.

pub mod auth;
pub mod backup;
mod common;
#[cfg(test)]
pub(crate) mod contract;
pub mod imports;
pub mod memory;
pub mod sled_store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ward_shared::Report;

pub use imports::{ImportFile, ImportOutcome, ImportStore, StoredRecord};

/// SHA-256 of an agent key. Keys are 256-bit random values, so a plain hash is enough; the clear
/// key never reaches the store.
pub type KeyHash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: Uuid,
    pub key_hash: KeyHash,
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
    pub enrolled_at: DateTime<Utc>,
    pub revoked: bool,
}

/// A device on the exceptions register: it cannot be changed (e.g. a vendor-certified medical
/// device), so it is isolated instead, with these compensating controls, until the review date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    pub device_id: Uuid,
    pub reason: String,
    /// Compensating controls: "isolated VLAN", "SMBv1 blocked at the network", "no internet".
    pub controls: Vec<String>,
    pub owner: String,
    pub review_date: chrono::NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

impl ExceptionRecord {
    /// What the risk engine needs of it.
    pub fn info(&self) -> crate::risk::ExceptionInfo {
        crate::risk::ExceptionInfo {
            reason: self.reason.clone(),
            controls: self.controls.clone(),
            owner: self.owner.clone(),
            review_date: self.review_date,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    pub device_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub report: Report,
}

/// A report's body as the agent sent it. Stores that can keep these bytes verbatim instead of
/// serializing the parsed [`Report`] again: that saves the collector a serialization and a
/// compression per report, and keeps every field a newer agent sent, including ones this
/// collector does not know (the parsed `Report` drops them), for a later collector to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawReport<'a> {
    pub encoding: RawEncoding,
    /// The request body: the report's JSON, compressed as `encoding` says. It must decode to
    /// exactly the report passed beside it (the caller parsed that report from these bytes).
    pub bytes: &'a [u8],
}

/// How a [`RawReport`]'s bytes are encoded (the request's `Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEncoding {
    /// Plain JSON.
    Identity,
    /// A gzip member holding the JSON (read back with a single-member decoder, as ingest does).
    Gzip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The report id was stored before (for this device id); nothing changed.
    Duplicate,
}

/// One line of the device list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub hostname: Option<String>,
    pub os_name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_report_id: Uuid,
    /// Reports stored for this device since it was first seen (including ones retention removed).
    pub report_count: u64,
}

/// How much history to keep per device. The newest report of a device is always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many reports per device (at least 1).
    pub max_reports_per_device: usize,
    /// Drop reports received more than this many days before the newest one; `None` keeps all.
    pub max_age_days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_reports_per_device: 400,
            max_age_days: Some(400),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record {key} is corrupt: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("store format: {0}")]
    Format(String),
    #[error("agent {0} already exists")]
    AgentExists(Uuid),
    /// The write queue is full: the store takes writes slower than they come. Try later.
    #[error("the store is busy (its write queue is full)")]
    Busy,
    /// Another process holds the store's lock.
    #[error("store {0} is in use by another process")]
    InUse(String),
}

/// Where [`Store::submit_report`] delivers a put's answer, once the write is durable.
pub type PutAnswer = tokio::sync::oneshot::Receiver<Result<PutOutcome, StoreError>>;

/// The whole store: reports, agents and exceptions here; users, sessions, API tokens and the
/// audit log in [`auth::AuthStore`]; imports in [`ImportStore`].
pub trait Store: auth::AuthStore + ImportStore + Send + Sync + 'static {
    /// Adds an enrolled agent; durable on return. Fails if the id exists.
    fn add_agent(&self, agent: &AgentRecord) -> Result<(), StoreError>;
    fn agent_by_key_hash(&self, key_hash: &KeyHash) -> Result<Option<AgentRecord>, StoreError>;
    fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>, StoreError>;
    fn agents(&self) -> Result<Vec<AgentRecord>, StoreError>;
    /// Marks an agent revoked (or not); durable on return. `Ok(false)` if there is no such agent.
    fn set_agent_revoked(&self, id: Uuid, revoked: bool) -> Result<bool, StoreError>;

    /// Stores a report for a device, updates the device's summary and applies retention.
    /// Blocks until durable; many concurrent callers share one flush (group commit).
    ///
    /// `raw`, when given, is the body `report` was parsed from; a store may keep it instead of
    /// serializing `report` (the sled store does; the memory store ignores it). Either way
    /// [`Store::history`] returns `report`. `received_at` may be kept to the millisecond only.
    fn put_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<PutOutcome, StoreError>;
    /// [`Store::put_report`] for async callers: queues the write and returns at once, without
    /// blocking; the answer arrives on the returned receiver once the write is durable (or has
    /// failed). An `Err` here means the write was not queued ([`StoreError::Busy`] when the
    /// store is behind). Dropping the receiver does not cancel the write.
    ///
    /// The default runs `put_report` on the calling thread, which suits a store that answers
    /// at once (the memory store); a store whose puts wait for the disk overrides it.
    fn submit_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<PutAnswer, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let _ = reply.send(self.put_report(device_id, received_at, report, raw));
        Ok(answer)
    }
    /// All devices, ordered by id.
    fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError>;
    fn device(&self, id: Uuid) -> Result<Option<DeviceSummary>, StoreError>;
    /// The device's stored reports, newest first, at most `limit`.
    fn history(&self, id: Uuid, limit: usize) -> Result<Vec<StoredReport>, StoreError>;
    /// Whether this report id is stored (for any device). Stays true after retention drops the
    /// report from history: it answers "would a put of this id be a duplicate".
    fn has_report(&self, report_id: Uuid) -> Result<bool, StoreError>;
    /// Reports stored, over all devices: the history entries kept now (after retention).
    fn report_count(&self) -> Result<u64, StoreError>;
    /// Waits until everything written so far is on disk.
    fn flush(&self) -> Result<(), StoreError>;

    /// Records (or replaces) a device's exception; durable on return.
    fn put_exception(&self, exception: &ExceptionRecord) -> Result<(), StoreError>;
    /// Every exception, ordered by device id.
    fn exceptions(&self) -> Result<Vec<ExceptionRecord>, StoreError>;
    /// Removes a device's exception; durable on return. `Ok(false)` if there was none.
    fn delete_exception(&self, device_id: Uuid) -> Result<bool, StoreError>;

    /// Sizes for the metrics.
    fn sizes(&self) -> StoreSizes {
        StoreSizes::default()
    }

    /// Writes a consistent snapshot of the whole store (every tree, every key) to `sink`:
    /// everything acknowledged before the call is in it. See [`backup`] for the format. Blocks:
    /// not for async threads; writes wait while it runs, so give it a fast local sink. The
    /// default says this store cannot be backed up.
    fn backup(&self, sink: &mut dyn backup::BackupSink) -> Result<BackupStats, StoreError> {
        let _ = sink;
        Err(StoreError::Format(
            "this store keeps nothing on disk; there is nothing to back up".to_owned(),
        ))
    }
}

/// Sizes for the metrics; `None` where a store has no such thing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSizes {
    pub on_disk_bytes: Option<u64>,
    /// Writes queued and not yet answered.
    pub write_queue: Option<u64>,
}

/// What [`Store::backup`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStats {
    pub trees: u64,
    pub pairs: u64,
    pub bytes: u64,
}
