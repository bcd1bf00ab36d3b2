//! [`SledStore`]: the embedded, durable [`Store`] on sled 0.34.
//!
//! # On-disk layout (format version 2)
//!
//! One sled database (a directory). Numeric key parts are big-endian so that sled's byte order is
//! numeric order and ranges sort; uuids are their 16 raw bytes. Times in keys are Unix
//! milliseconds as `i64` with the sign bit flipped (`ms as u64 ^ 1 << 63`, big-endian), so dates
//! before 1970 still sort first. Values are JSON unless noted.
//!
//! | tree         | key                                             | value                             |
//! |--------------|-------------------------------------------------|-----------------------------------|
//! | `meta`       | `format_version`                                | `u32` BE, currently 2             |
//! | `meta`       | `report_count`                                  | `u64` BE: entries in `history`    |
//! | `agents`     | agent id (16)                                   | [`AgentRecord`]                   |
//! | `agent_keys` | key hash (32)                                   | agent id (16 raw bytes)           |
//! | `report_ids` | report id (16)                                  | device id (16) ++ received ms (8) |
//! | `history`    | device id (16) ++ received ms (8) ++ report id (16) | encoding byte ++ payload      |
//! | `devices`    | device id (16)                                  | `{"summary": DeviceSummary, "history_len": n}` |
//! | `exceptions` | device id (16)                                  | [`ExceptionRecord`]               |
//!
//! A device's history is the key range prefixed by its id, oldest first, so "newest first" is a
//! reverse range scan and retention walks the range from the front. Received-at is kept to the
//! millisecond (the key's resolution), in the device row too.
//!
//! History values are one encoding byte and the payload:
//!
//! | byte   | payload                                                        | written        |
//! |--------|----------------------------------------------------------------|----------------|
//! | `0x02` | the report's JSON, gzip: the agent's request body byte for byte | gzip bodies    |
//! | `0x03` | the report's JSON, raw DEFLATE                                  | other puts     |
//! | `0x01` | a whole [`StoredReport`] JSON, raw DEFLATE                      | format 1 only  |
//! | `0x00` | a whole [`StoredReport`] JSON, plain                            | tools, tests   |
//!
//! For `0x02` and `0x03` the device id and received-at come from the key. Keeping the agent's
//! gzip body as it came costs the collector nothing per report (format 1 serialized the parsed
//! report again and deflated it, about 18% of the collector's CPU), and it keeps every field the
//! agent sent, including fields of a newer agent that this collector does not know and its
//! parsed [`Report`] drops: a later collector reads them from history. It is read back with the
//! same single-member gzip decoder that ingest validated it with, so it yields the same report.
//! Values stay compressed either way: reports are repetitive JSON (a 6 KB report is about 2 KB
//! gzipped), and sled's cost per insert grows with the value size.
//!
//! Format 2 only added `0x02` and `0x03`; opening a format 1 store upgrades its version number
//! (format 1 values stay readable). A build that knows only format 1 refuses the upgraded store
//! instead of failing on values it cannot read.
//!
//! # Upgrades
//!
//! [`MIGRATIONS`] is the upgrade path: one step per older format, each bringing the store from
//! `from` to `from + 1`. Opening a store of an older format runs the steps in order before the
//! committer starts, each made durable together with its new version number, so an interrupted
//! upgrade resumes at the step it was in. A store of a newer format is refused with a message
//! that names both versions; nothing is written to it.
//!
//! # Invariants
//!
//! - All writes of one report (the `report_ids` entry, the `history` entry, the retention
//!   deletions, the `devices` row and the `report_count` counter) are in one multi-tree sled
//!   transaction, which sled recovers whole or not at all: the transaction of the report's
//!   batch (below). So after a crash a report id is known if and only if its report was stored:
//!   the retry of an unacknowledged report is stored, or is a `Duplicate` because its first copy
//!   did reach the disk; never a `Duplicate` of nothing.
//! - Concurrent puts of one report id give exactly one `Stored`: the committer applies jobs one
//!   at a time, in queue order, each seeing the committed data and the batch's earlier jobs, so
//!   the first put of an id is `Stored` and every later one, in the same batch or a later one,
//!   a `Duplicate`. The transaction's own `report_ids` inserts confirm it: finding an id there
//!   already fails the whole batch (it would mean a write outside the committer).
//! - `report_ids` is never pruned. It is the dedup index and outlives retention, so the retry of
//!   a report that retention already dropped from `history` is still a `Duplicate`. It costs
//!   40 bytes of key and value (plus sled's overhead) per report ever received; pruning it by
//!   age would need a second, time-ordered index. [`Store::has_report`] reads it, so it answers
//!   "was this id ever stored".
//! - `meta/report_count` is the number of entries in `history` (reports kept now), updated in the
//!   same transactions that add and delete history entries. A device row's `history_len` is that
//!   count for one device; `summary.report_count` counts every report ever stored for it.
//! - `format_version` is written when the store is created, before anything else. Opening a store
//!   with a newer version fails; so does opening a non-empty database without a readable version.
//!
//! # Writes: one committer thread, one transaction and one flush per batch
//!
//! Every write of reports and agents goes through a single committer thread. (The exceptions
//! register and imports are the exceptions: rare admin writes to their own trees, which no report
//! write reads, applied directly and then made durable by a flush through the committer; a
//! multi-tree import holds `direct_writes` so that a backup copies it whole or not at all.) Callers do the parallel part (encoding the
//! history value) and queue a job; the committer takes every job queued, up to [`MAX_BATCH`] jobs
//! or [`MAX_BATCH_BYTES`] of values, and:
//!
//! 1. plans each job in queue order against the committed data plus the batch's earlier jobs:
//!    the duplicate check, the device row, retention (a scan of the device's committed history
//!    less what the batch removed, merged with what it added) and the counter. A job that fails
//!    on its own (`AgentExists`, a corrupt device row) plans no write and gets its own error;
//!    the others go on. Planning is outside the transaction because sled's range scans take the
//!    lock that a transaction holds for writing (a scan inside one would deadlock);
//! 2. writes all planned writes in ONE multi-tree transaction. sled 0.34 rolls its IO buffer
//!    (`pin_log`: a write and a `sync_file_range`) at every transaction commit, so a transaction
//!    per job cost two syscalls per report (measured: 9k puts/s with one transaction per put,
//!    27k with one per 64);
//! 3. calls `Db::flush` (write and fsync of sled's log) once, and only then answers every job.
//!
//! So `put_report`, `add_agent`, `set_agent_revoked` and `flush` return, and `submit_report`'s
//! receiver gets its answer, after the write is on disk; jobs that arrive meanwhile form the next
//! batch. If the transaction or the flush fails, every job of the batch gets that error: none of
//! them is acknowledged (a failed transaction wrote nothing; a failed flush leaves the batch
//! possibly on disk, which a retry finds as a `Duplicate`). A duplicate put is also answered
//! after the flush, as the first copy may still be in flight. The queue holds `4 × MAX_BATCH`
//! jobs; `submit_report` never blocks and answers [`StoreError::Busy`] when it is full (the
//! HTTP layer's 503 + Retry-After), the blocking methods wait for room.
//!
//! Why a thread and not a leader elected among waiting callers: sled 0.34 runs every transaction
//! under a process-wide write lock and holds that lock's read side while it flushes. With
//! callers applying their own transactions, they stall behind each flush and a new flush starts
//! after the first of them commits, so batches stay at one or two writes (measured: about 2,000
//! puts/s of 5 KB on 2 cores). With one writer, no transaction ever waits for a flush, batches
//! grow with the load, and retention needs no locking: its scan of a device's history and the
//! transaction see the same data because only the committer writes.
//!
//! Reads run on the caller's thread and never wait for the committer's queue or for a flush:
//! sled's lock is only taken for writing by the committer's transactions, which run between
//! flushes and only write what was planned before, so a read waits at most for one batch's
//! transaction (well under a millisecond for 64 reports; `MAX_BATCH` bounds it).
//!
//! If the committer thread dies (a bug), every later write fails with an I/O error naming it;
//! reads keep working.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flate2::read::{DeflateDecoder, GzDecoder};
use flate2::{Compress, Compression, FlushCompress, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{IVec, Transactional, Tree};
use tokio::sync::oneshot;
use uuid::Uuid;
use ward_shared::Report;

mod imports;

use super::backup::BackupSink;
use super::common::{DeviceRow, HistoryPos, ReportFacts, next_summary, plan_retention};
use super::{
    AgentRecord, BackupStats, DeviceSummary, ExceptionRecord, KeyHash, PutAnswer, PutOutcome,
    RawEncoding, RawReport, Retention, Store, StoreError, StoreSizes, StoredReport,
};

/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

/// One step of the store's upgrade path: brings a store at format `from` to `from + 1`.
/// Runs before the committer starts, alone on the database; must be safe to run twice.
struct Migration {
    from: u32,
    what: &'static str,
    run: fn(&Trees) -> Result<(), StoreError>,
}

/// The upgrade path, one step per older format. A new format adds its step here (and a test
/// that opens a store of the format before it).
const MIGRATIONS: &[Migration] = &[Migration {
    from: 1,
    what: "format 2 added the 0x02 and 0x03 history encodings; format 1 values stay readable",
    run: |_| Ok(()),
}];

/// Most jobs in one batch: one transaction and one flush. Bounds the batch's latency and the
/// time its transaction holds sled's write lock (which readers wait for).
pub const MAX_BATCH: usize = 256;

/// A batch stops taking jobs once their values reach this many bytes (bounds the memory of the
/// transaction, which sled keeps in memory until it commits).
pub const MAX_BATCH_BYTES: usize = 8 << 20;

pub(crate) const FORMAT_KEY: &[u8] = b"format_version";
const REPORT_COUNT_KEY: &[u8] = b"report_count";

pub struct SledStore {
    trees: Trees,
    /// Queue to the committer; `None` only while dropping.
    jobs: Option<SyncSender<Job>>,
    committer: Option<JoinHandle<()>>,
    stats: std::sync::Arc<Stats>,
    compressors: Compressors,
    /// Multi-tree writes applied on the caller's thread rather than by the committer (an import:
    /// a file, its hash and its records) hold the read side for their transaction; `backup`
    /// holds the write side while it copies, so a backup holds such a write whole or not at all.
    direct_writes: std::sync::RwLock<()>,
}

/// Counters of the committer thread, for tuning and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Batches flushed.
    pub flushes: u64,
    /// Jobs (writes, and `flush` calls) answered after a flush.
    pub jobs: u64,
    /// Time spent in transactions.
    pub applying: Duration,
    /// Time spent in `Db::flush`.
    pub flushing: Duration,
}

/// The database and its trees; cheap to clone (sled handles are reference counted).
#[derive(Clone)]
struct Trees {
    db: sled::Db,
    meta: Tree,
    agents: Tree,
    agent_keys: Tree,
    report_ids: Tree,
    history: Tree,
    devices: Tree,
    /// device id (16) -> JSON [`ExceptionRecord`]. Rare admin writes, applied directly and then
    /// flushed through the committer, which makes them durable before the call returns.
    exceptions: Tree,
}

#[derive(Debug, Default)]
struct Stats {
    /// Jobs sent to the committer and not yet taken by it.
    queued: AtomicU64,
    flushes: AtomicU64,
    jobs: AtomicU64,
    apply_nanos: AtomicU64,
    flush_nanos: AtomicU64,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// How long [`SledStore::open`] waits for a database lock to be released.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the sled database in `path`. sled releases its file lock from background threads
/// shortly after the last handle is dropped, so a store closed a moment ago in this process (a
/// restore, then a serve) can still look locked: wait for it a bounded time. A store held by
/// another running process stays locked and fails after the wait with the reason.
pub(super) fn open_db(path: &Path, lock_wait: Duration) -> Result<sled::Db, StoreError> {
    let started = Instant::now();
    loop {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < lock_wait =>
            {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                return Err(StoreError::InUse(path.display().to_string()));
            }
            other => return Ok(other?),
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in directory `path` and starts its committer thread.
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        Self::open_waiting(path, retention, LOCK_WAIT)
    }

    /// [`SledStore::open`], waiting at most `lock_wait` for the lock: zero for a caller that
    /// has another way to reach a store a running server holds.
    pub fn open_waiting(
        path: &Path,
        retention: Retention,
        lock_wait: Duration,
    ) -> Result<Self, StoreError> {
        let db = open_db(path, lock_wait)?;
        let trees = Trees {
            meta: db.open_tree("meta")?,
            agents: db.open_tree("agents")?,
            agent_keys: db.open_tree("agent_keys")?,
            report_ids: db.open_tree("report_ids")?,
            history: db.open_tree("history")?,
            devices: db.open_tree("devices")?,
            exceptions: db.open_tree("exceptions")?,
            db,
        };
        trees.check_format()?;

        let (jobs, queue) = mpsc::sync_channel(MAX_BATCH * 4);
        let stats = std::sync::Arc::new(Stats::default());
        let committer = Committer {
            trees: trees.clone(),
            retention,
            stats: stats.clone(),
        };
        let committer = std::thread::Builder::new()
            .name("ward-store-commit".to_owned())
            .spawn(move || {
                let _abort = AbortOnPanic;
                committer.run(&queue)
            })
            .map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        Ok(Self {
            trees,
            jobs: Some(jobs),
            committer: Some(committer),
            stats,
            compressors: Compressors::default(),
            direct_writes: std::sync::RwLock::new(()),
        })
    }

    /// Held for the transaction of a multi-tree write made outside the committer; see
    /// `direct_writes`.
    pub(super) fn direct_write(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.direct_writes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The caller's share of a put: the history value and the facts the device row keeps.
    fn prepare_put(
        &self,
        received_at: DateTime<Utc>,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<(DateTime<Utc>, ReportFacts, IVec), StoreError> {
        // The history key holds received-at in milliseconds, and so does everything else.
        let received_at =
            DateTime::from_timestamp_millis(received_at.timestamp_millis()).unwrap_or(received_at);
        let value = self.compressors.encode_report(report, raw)?;
        Ok((received_at, ReportFacts::of(report), value))
    }

    /// The database, for the trees of `store/auth.rs`.
    pub(super) fn db(&self) -> &sled::Db {
        &self.trees.db
    }

    /// What the committer did since the store was opened.
    pub fn commit_stats(&self) -> CommitStats {
        let nanos = |n: &AtomicU64| Duration::from_nanos(n.load(Ordering::Relaxed));
        CommitStats {
            flushes: self.stats.flushes.load(Ordering::Relaxed),
            jobs: self.stats.jobs.load(Ordering::Relaxed),
            applying: nanos(&self.stats.apply_nanos),
            flushing: nanos(&self.stats.flush_nanos),
        }
    }

    /// Queues a job for the committer and waits for its answer (sent after the flush).
    /// Blocks: not for async threads.
    fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(make(reply)).is_ok());
        if !sent {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(committer_gone());
        }
        answer
            .blocking_recv()
            .unwrap_or_else(|_| Err(committer_gone()))
    }

    /// Queues a job without blocking; a full queue is [`StoreError::Busy`].
    fn try_submit(&self, job: Job) -> Result<(), StoreError> {
        let Some(jobs) = self.jobs.as_ref() else {
            return Err(committer_gone());
        };
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = jobs.try_send(job);
        if sent.is_err() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(committer_gone()),
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Closing the queue lets the committer finish what is queued and exit.
        self.jobs = None;
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
    }
}

/// Held by the committer thread. If the committer panics, the server could go on accepting
/// reports that nothing will ever acknowledge; the process aborts instead, so the service
/// manager restarts it (`Restart=on-failure`). Nothing is lost: a report is acknowledged only
/// after its batch is flushed, and agents keep unacknowledged reports in their spools.
struct AbortOnPanic;

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "the store's committer thread panicked; aborting so the collector restarts"
            );
            std::process::abort();
        }
    }
}

fn committer_gone() -> StoreError {
    StoreError::Sled(sled::Error::Io(std::io::Error::other(
        "the store's committer thread has stopped",
    )))
}

impl Trees {
    fn check_format(&self) -> Result<(), StoreError> {
        match self.meta.get(FORMAT_KEY)? {
            Some(raw) => {
                let version = <[u8; 4]>::try_from(raw.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| {
                        StoreError::Format(format!(
                            "unreadable format_version ({} bytes)",
                            raw.len()
                        ))
                    })?;
                if version > FORMAT_VERSION {
                    return Err(StoreError::Format(format!(
                        "store format {version} is newer than this build supports \
                         ({FORMAT_VERSION}); upgrade ward-collector"
                    )));
                }
                if version == 0 {
                    return Err(StoreError::Format("unknown store format 0".to_owned()));
                }
                if version < FORMAT_VERSION {
                    self.upgrade(version, MIGRATIONS)?;
                }
                Ok(())
            }
            None => {
                let trees = [
                    &self.meta,
                    &self.agents,
                    &self.agent_keys,
                    &self.report_ids,
                    &self.history,
                    &self.devices,
                ];
                if !trees.iter().all(|t| t.is_empty()) || !self.db.is_empty() {
                    return Err(StoreError::Format(
                        "database has data but no format_version; not a ward-collector store"
                            .to_owned(),
                    ));
                }
                // The version first: a crash before the counter leaves a readable store
                // (a missing counter reads as 0), never one with data but no version.
                self.meta
                    .insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes()[..])?;
                self.meta
                    .insert(REPORT_COUNT_KEY, &0u64.to_be_bytes()[..])?;
                self.db.flush()?;
                Ok(())
            }
        }
    }

    /// Runs the migrations from `from` up to [`FORMAT_VERSION`], one step at a time, each made
    /// durable with its new version number before the next starts (so a crash mid-upgrade
    /// resumes at the step it was in; every step must be safe to run again).
    fn upgrade(&self, from: u32, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut version = from;
        while version < FORMAT_VERSION {
            let step = migrations
                .iter()
                .find(|m| m.from == version)
                .ok_or_else(|| {
                    StoreError::Format(format!(
                        "no upgrade from store format {version}; upgrade through an older \
                         ward-collector release first"
                    ))
                })?;
            tracing::info!(
                from = version,
                to = version + 1,
                what = step.what,
                "upgrading the store"
            );
            (step.run)(self)?;
            version += 1;
            self.meta.insert(FORMAT_KEY, &version.to_be_bytes()[..])?;
            self.db.flush()?;
        }
        Ok(())
    }

    fn device_row(&self, id: Uuid) -> Result<Option<DeviceRow>, StoreError> {
        self.devices
            .get(id.as_bytes())?
            .map(|raw| decode("devices", id.as_bytes(), &raw))
            .transpose()
    }

    fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>, StoreError> {
        self.agents
            .get(id.as_bytes())?
            .map(|raw| decode("agents", id.as_bytes(), &raw))
            .transpose()
    }
}

impl Store for SledStore {
    fn add_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let value = IVec::from(to_json(agent)?);
        let agent = agent.clone();
        self.submit(|reply| Job::AddAgent {
            agent,
            value,
            reply,
        })
    }

    fn agent_by_key_hash(&self, key_hash: &KeyHash) -> Result<Option<AgentRecord>, StoreError> {
        let Some(raw_id) = self.trees.agent_keys.get(key_hash)? else {
            return Ok(None);
        };
        let id = Uuid::from_slice(&raw_id)
            .map_err(|_| corrupt("agent_keys", key_hash, "agent id is not 16 bytes"))?;
        self.trees.agent(id)
    }

    fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>, StoreError> {
        self.trees.agent(id)
    }

    fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.trees
            .agents
            .iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode("agents", &key, &raw)
            })
            .collect()
    }

    fn set_agent_revoked(&self, id: Uuid, revoked: bool) -> Result<bool, StoreError> {
        self.submit(|reply| Job::SetRevoked { id, revoked, reply })
    }

    fn put_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<PutOutcome, StoreError> {
        let (received_at, facts, value) = self.prepare_put(received_at, report, raw)?;
        self.submit(|reply| Job::Put {
            device_id,
            received_at,
            facts,
            value,
            reply,
        })
    }

    fn submit_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<PutAnswer, StoreError> {
        let (received_at, facts, value) = self.prepare_put(received_at, report, raw)?;
        let (reply, answer) = oneshot::channel();
        self.try_submit(Job::Put {
            device_id,
            received_at,
            facts,
            value,
            reply,
        })?;
        Ok(answer)
    }

    fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError> {
        self.trees
            .devices
            .iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode::<DeviceRow>("devices", &key, &raw).map(|row| row.summary)
            })
            .collect()
    }

    fn device(&self, id: Uuid) -> Result<Option<DeviceSummary>, StoreError> {
        Ok(self.trees.device_row(id)?.map(|row| row.summary))
    }

    fn history(&self, id: Uuid, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        self.trees
            .history
            .scan_prefix(id.as_bytes())
            .rev()
            .take(limit)
            .map(|kv| {
                let (key, raw) = kv?;
                decode_report(&key, &raw)
            })
            .collect()
    }

    fn has_report(&self, report_id: Uuid) -> Result<bool, StoreError> {
        Ok(self.trees.report_ids.contains_key(report_id.as_bytes())?)
    }

    fn report_count(&self) -> Result<u64, StoreError> {
        match self.trees.meta.get(REPORT_COUNT_KEY)? {
            Some(raw) => decode_counter(&raw),
            None => Ok(0),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.submit(|reply| Job::Flush { reply })
    }

    fn put_exception(&self, exception: &ExceptionRecord) -> Result<(), StoreError> {
        let value = serde_json::to_vec(exception).map_err(|source| StoreError::Corrupt {
            key: "(exception being written)".into(),
            source,
        })?;
        self.trees
            .exceptions
            .insert(exception.device_id.as_bytes(), value)?;
        self.flush()
    }

    fn exceptions(&self) -> Result<Vec<ExceptionRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.exceptions.iter() {
            let (key, value) = item?;
            out.push(
                serde_json::from_slice(&value).map_err(|source| StoreError::Corrupt {
                    key: format!("exceptions/{}", hex_key(&key)),
                    source,
                })?,
            );
        }
        Ok(out)
    }

    fn delete_exception(&self, device_id: Uuid) -> Result<bool, StoreError> {
        let removed = self
            .trees
            .exceptions
            .remove(device_id.as_bytes())?
            .is_some();
        if removed {
            self.flush()?;
        }
        Ok(removed)
    }

    fn sizes(&self) -> StoreSizes {
        StoreSizes {
            on_disk_bytes: self.trees.db.size_on_disk().ok(),
            write_queue: Some(self.stats.queued.load(Ordering::Relaxed)),
        }
    }

    fn backup(&self, sink: &mut dyn BackupSink) -> Result<BackupStats, StoreError> {
        // Pause the committer after everything queued so far is durable; the pause lasts
        // until `resume` is dropped, at the end of this function (or on an error).
        let (resume, resume_rx) = mpsc::channel::<()>();
        self.submit(|reply| Job::Pause {
            reply,
            resume: resume_rx,
        })?;
        // And writes made outside the committer (imports): one in progress finishes first; the
        // next waits until the copy is done.
        let _direct = self
            .direct_writes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let io = |e: std::io::Error| StoreError::Sled(sled::Error::Io(e));
        let mut stats = BackupStats::default();
        let db = &self.trees.db;
        for name in db.tree_names() {
            let tree = db.open_tree(&name)?;
            sink.tree(&name).map_err(io)?;
            stats.trees += 1;
            for item in tree.iter() {
                let (key, value) = item?;
                sink.pair(&key, &value).map_err(io)?;
                stats.pairs += 1;
                stats.bytes += (key.len() + value.len()) as u64;
            }
        }
        drop(resume);
        Ok(stats)
    }
}

fn hex_key(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the committer sends a job's answer: a blocked caller or an awaiting task.
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write for the committer. `reply` gets the answer once the batch is flushed.
enum Job {
    Put {
        device_id: Uuid,
        received_at: DateTime<Utc>,
        facts: ReportFacts,
        /// The encoded history value.
        value: IVec,
        reply: Reply<PutOutcome>,
    },
    AddAgent {
        agent: AgentRecord,
        value: IVec,
        reply: Reply<()>,
    },
    SetRevoked {
        id: Uuid,
        revoked: bool,
        reply: Reply<bool>,
    },
    /// Nothing to write; answered after the next flush.
    Flush { reply: Reply<()> },
    /// Nothing to write; answered after the next flush, after which the committer writes
    /// nothing until `resume` is dropped: a backup's consistent point in time.
    Pause {
        reply: Reply<()>,
        resume: mpsc::Receiver<()>,
    },
}

impl Job {
    /// Bytes of value this job writes (what [`MAX_BATCH_BYTES`] counts).
    fn bytes(&self) -> usize {
        match self {
            Job::Put { value, .. } | Job::AddAgent { value, .. } => value.len(),
            Job::SetRevoked { .. } | Job::Flush { .. } | Job::Pause { .. } => 0,
        }
    }

    /// Answers the caller. A caller that went away (an HTTP request dropped mid-write: its
    /// write still happened) is ignored. A pause answered `Ok` returns what to wait on.
    fn answer(self, result: Result<Done, StoreError>) -> Option<mpsc::Receiver<()>> {
        match self {
            Job::Pause { reply, resume } => {
                let ok = result.is_ok_and(|done| done == Done::Unit);
                let sent = reply.send(if ok { Ok(()) } else { Err(mismatch()) });
                return (ok && sent.is_ok()).then_some(resume);
            }
            Job::Put { reply, .. } => {
                let _ = reply.send(result.and_then(|done| match done {
                    Done::Put(outcome) => Ok(outcome),
                    _ => Err(mismatch()),
                }));
            }
            Job::AddAgent { reply, .. } | Job::Flush { reply } => {
                let _ = reply.send(result.and_then(|done| match done {
                    Done::Unit => Ok(()),
                    _ => Err(mismatch()),
                }));
            }
            Job::SetRevoked { reply, .. } => {
                let _ = reply.send(result.and_then(|done| match done {
                    Done::Revoked(found) => Ok(found),
                    _ => Err(mismatch()),
                }));
            }
        }
        None
    }
}

/// What a job did (its answer once the batch is durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Put(PutOutcome),
    Unit,
    Revoked(bool),
}

fn mismatch() -> StoreError {
    StoreError::Sled(sled::Error::ReportableBug(
        "committer answered a job with another job's kind of result".to_owned(),
    ))
}

/// The writes of one batch, built by applying its jobs in order on top of the committed data
/// ([`Committer::plan`]); then written by one transaction. Besides the writes it holds what the
/// batch changed so far, so that a job sees the jobs before it in the same batch.
#[derive(Default)]
struct BatchWrites {
    /// New `report_ids` entries (also the batch's own dedup set).
    report_ids: HashMap<Uuid, [u8; 24]>,
    /// Net change to `history`: `Some` inserts, `None` removes a committed entry.
    history: HashMap<[u8; 40], Option<IVec>>,
    /// Device rows as they stand after the batch.
    devices: HashMap<Uuid, DeviceRow>,
    /// History positions this batch added, per device (read by later retention plans).
    added: HashMap<Uuid, BTreeSet<HistoryPos>>,
    /// Committed history positions this batch removed, per device.
    removed: HashMap<Uuid, HashSet<HistoryPos>>,
    /// `meta/report_count` after the batch, once a put changed it.
    report_count: Option<u64>,
    /// Agent records to write; `true` for a new agent (its id must not exist).
    agents: HashMap<Uuid, (AgentRecord, bool)>,
    agent_keys: Vec<(KeyHash, Uuid)>,
}

/// The only writer: applies queued jobs in batches, one transaction and one flush per batch.
struct Committer {
    trees: Trees,
    retention: Retention,
    stats: std::sync::Arc<Stats>,
}

impl Committer {
    fn run(&self, queue: &Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Blocks for the first job of a batch; ends when the store is dropped.
        while let Ok(first) = queue.recv() {
            let started = Instant::now();
            let mut bytes = first.bytes();
            batch.push(first);
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                let Ok(job) = queue.try_recv() else { break };
                bytes += job.bytes();
                batch.push(job);
            }
            // Senders count a job before sending it, so this never goes below zero; saturating
            // all the same.
            let taken = batch.len() as u64;
            let _ = self
                .stats
                .queued
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                    Some(q.saturating_sub(taken))
                });
            let results = self.apply(&batch);
            let flush_started = Instant::now();
            // Flush even when the transaction failed: `flush` jobs and the rest of the batch
            // are answered after it either way, and a failed flush must fail them all.
            let flushed = self.trees.db.flush().map_err(StoreError::Sled);
            let stats = &self.stats;
            stats.apply_nanos.fetch_add(
                nanos(flush_started.duration_since(started)),
                Ordering::Relaxed,
            );
            stats
                .flush_nanos
                .fetch_add(nanos(flush_started.elapsed()), Ordering::Relaxed);
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            match (results, flushed) {
                (Ok(results), Ok(_)) => {
                    let mut pauses = Vec::new();
                    for (job, result) in batch.drain(..).zip(results) {
                        pauses.extend(job.answer(result));
                    }
                    // A backup is reading: write nothing until it is done (or gone).
                    for resume in pauses {
                        let _ = resume.recv();
                    }
                }
                (Err(e), _) | (Ok(_), Err(e)) => {
                    for job in batch.drain(..) {
                        job.answer(Err(share(&e)));
                    }
                }
            }
        }
    }

    /// Plans every job of the batch, then writes the batch in one transaction. Returns each
    /// job's own result (a job that failed on its own, e.g. `AgentExists` or a corrupt device
    /// row, wrote nothing and does not affect the others), or the error that failed the whole
    /// batch (the transaction did not commit).
    fn apply(&self, batch: &[Job]) -> Result<Vec<Result<Done, StoreError>>, StoreError> {
        let mut w = BatchWrites::default();
        let results: Vec<Result<Done, StoreError>> =
            batch.iter().map(|job| self.plan(&mut w, job)).collect();
        let devices = w
            .devices
            .iter()
            .map(|(id, row)| Ok((*id, IVec::from(to_json(row)?))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let agents = w
            .agents
            .iter()
            .map(|(id, (agent, new))| Ok((*id, IVec::from(to_json(agent)?), *new)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let nothing_to_write = w.report_ids.is_empty()
            && w.history.is_empty()
            && devices.is_empty()
            && agents.is_empty();
        if nothing_to_write {
            return Ok(results);
        }

        let t = &self.trees;
        (
            &t.report_ids,
            &t.history,
            &t.devices,
            &t.meta,
            &t.agents,
            &t.agent_keys,
        )
            .transaction(
                |(report_ids, history, devices_tx, meta, agents_tx, agent_keys)| {
                    // The duplicate check of record: the transaction's own view, which includes
                    // this batch's earlier writes. The plan made the same check against the same
                    // data (only this thread writes), so a hit here means the store changed behind
                    // the committer's back: write nothing and fail the batch, callers retry.
                    for (report_id, index) in &w.report_ids {
                        if report_ids
                            .insert(report_id.as_bytes(), &index[..])?
                            .is_some()
                        {
                            return Err(abort(unexpected_write("report_ids", report_id)));
                        }
                    }
                    for (key, value) in &w.history {
                        match value {
                            Some(value) => history.insert(&key[..], value.clone())?,
                            None => history.remove(&key[..])?,
                        };
                    }
                    for (id, value) in &devices {
                        devices_tx.insert(id.as_bytes(), value.clone())?;
                    }
                    if let Some(count) = w.report_count {
                        meta.insert(REPORT_COUNT_KEY, &count.to_be_bytes()[..])?;
                    }
                    for (id, value, new) in &agents {
                        let old = agents_tx.insert(id.as_bytes(), value.clone())?;
                        if *new && old.is_some() {
                            return Err(abort(unexpected_write("agents", id)));
                        }
                    }
                    for (key_hash, id) in &w.agent_keys {
                        agent_keys.insert(&key_hash[..], id.as_bytes())?;
                    }
                    Ok(())
                },
            )
            .map_err(from_tx)?;
        Ok(results)
    }

    /// Applies one job to the batch's writes. A job that fails leaves `w` as it was.
    fn plan(&self, w: &mut BatchWrites, job: &Job) -> Result<Done, StoreError> {
        match job {
            Job::Put {
                device_id,
                received_at,
                facts,
                value,
                ..
            } => self
                .plan_put(w, *device_id, *received_at, facts, value)
                .map(Done::Put),
            Job::AddAgent { agent, .. } => {
                if w.agents.contains_key(&agent.id)
                    || self.trees.agents.contains_key(agent.id.as_bytes())?
                {
                    return Err(StoreError::AgentExists(agent.id));
                }
                w.agents.insert(agent.id, (agent.clone(), true));
                w.agent_keys.push((agent.key_hash, agent.id));
                Ok(Done::Unit)
            }
            Job::SetRevoked { id, revoked, .. } => {
                let (mut agent, new) = match w.agents.get(id) {
                    Some((agent, new)) => (agent.clone(), *new),
                    None => match self.trees.agent(*id)? {
                        Some(agent) => (agent, false),
                        None => return Ok(Done::Revoked(false)),
                    },
                };
                agent.revoked = *revoked;
                w.agents.insert(*id, (agent, new));
                Ok(Done::Revoked(true))
            }
            Job::Flush { .. } | Job::Pause { .. } => Ok(Done::Unit),
        }
    }

    fn plan_put(
        &self,
        w: &mut BatchWrites,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        facts: &ReportFacts,
        value: &IVec,
    ) -> Result<PutOutcome, StoreError> {
        #[cfg(test)]
        assert_ne!(
            device_id,
            tests::PANIC_DEVICE,
            "a test made the committer panic"
        );
        let t = &self.trees;
        let report_id = facts.report_id;
        if w.report_ids.contains_key(&report_id)
            || t.report_ids.contains_key(report_id.as_bytes())?
        {
            return Ok(PutOutcome::Duplicate);
        }
        let received_ms = received_at.timestamp_millis();
        let new_pos = (received_ms, report_id);

        // Reads first; every write below cannot fail, so a failed job leaves `w` untouched.
        let row = match w.devices.get(&device_id) {
            Some(row) => Some(row.clone()),
            None => t.device_row(device_id)?,
        };
        // The device's history as this batch left it: the committed entries (which only this
        // thread writes, so the scan sees what the transaction will) less the ones the batch
        // removed, merged with the ones it added.
        let removed = w.removed.get(&device_id);
        let committed = t
            .history
            .scan_prefix(device_id.as_bytes())
            .keys()
            .map(|key| {
                let key = key?;
                parse_history_key(&key).ok_or_else(|| corrupt("history", &key, "bad key length"))
            })
            .filter(
                |pos| !matches!((pos, removed), (Ok(pos), Some(removed)) if removed.contains(pos)),
            );
        let added = w.added.get(&device_id).into_iter().flatten().copied();
        let plan = plan_retention(
            merge_positions(committed, added),
            row.as_ref().map_or(0, |r| r.history_len),
            row.as_ref().map(|r| r.summary.last_seen.timestamp_millis()),
            new_pos,
            self.retention,
        )?;
        let count = match w.report_count {
            Some(count) => count,
            None => match t.meta.get(REPORT_COUNT_KEY)? {
                Some(raw) => decode_counter(&raw)?,
                None => 0,
            },
        };

        let mut removed = 0u64;
        for pos in &plan.delete {
            let key = history_key(device_id, *pos);
            let added_here = w
                .added
                .get_mut(&device_id)
                .is_some_and(|added| added.remove(pos));
            if added_here {
                w.history.remove(&key);
            } else {
                w.removed.entry(device_id).or_default().insert(*pos);
                w.history.insert(key, None);
            }
            removed += 1;
        }
        let added = u64::from(!plan.drop_new);
        if !plan.drop_new {
            w.added.entry(device_id).or_default().insert(new_pos);
            w.history
                .insert(history_key(device_id, new_pos), Some(value.clone()));
        }
        let mut index_value = [0u8; 24];
        index_value[..16].copy_from_slice(device_id.as_bytes());
        index_value[16..].copy_from_slice(&ms_key(received_ms));
        w.report_ids.insert(report_id, index_value);
        let summary = next_summary(
            row.as_ref().map(|r| &r.summary),
            device_id,
            received_at,
            facts,
        );
        let history_len =
            (row.as_ref().map_or(0, |r| r.history_len) + added).saturating_sub(removed);
        w.devices.insert(
            device_id,
            DeviceRow {
                summary,
                history_len,
            },
        );
        w.report_count = Some((count + added).saturating_sub(removed));
        Ok(PutOutcome::Stored)
    }
}

/// Merges two ascending sequences of history positions (errors of the first pass through).
fn merge_positions<E>(
    a: impl Iterator<Item = Result<HistoryPos, E>>,
    b: impl Iterator<Item = HistoryPos>,
) -> impl Iterator<Item = Result<HistoryPos, E>> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(Ok(x)), Some(y)) if y < x => b.next().map(Ok),
        (Some(_), _) => a.next(),
        (None, Some(_)) => b.next().map(Ok),
        (None, None) => None,
    })
}

/// The same error again, for every job of a failed batch.
fn share(e: &StoreError) -> StoreError {
    match e {
        StoreError::Sled(e) => StoreError::Sled(e.clone()),
        StoreError::Corrupt { key, source } => StoreError::Corrupt {
            key: key.clone(),
            source: <serde_json::Error as serde::de::Error>::custom(source),
        },
        StoreError::Format(msg) => StoreError::Format(msg.clone()),
        StoreError::AgentExists(id) => StoreError::AgentExists(*id),
        StoreError::Busy => StoreError::Busy,
        StoreError::InUse(path) => StoreError::InUse(path.clone()),
    }
}

fn unexpected_write(tree: &str, id: &Uuid) -> StoreError {
    StoreError::Sled(sled::Error::ReportableBug(format!(
        "{tree}/{id} was written outside the committer; batch not applied"
    )))
}
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ms_key(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

fn ms_from_key(raw: [u8; 8]) -> i64 {
    (u64::from_be_bytes(raw) ^ (1 << 63)) as i64
}

fn history_key(device_id: Uuid, (ms, report_id): HistoryPos) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..16].copy_from_slice(device_id.as_bytes());
    key[16..24].copy_from_slice(&ms_key(ms));
    key[24..].copy_from_slice(report_id.as_bytes());
    key
}

fn parse_history_key(key: &[u8]) -> Option<HistoryPos> {
    let key = <&[u8; 40]>::try_from(key).ok()?;
    let mut ms = [0u8; 8];
    ms.copy_from_slice(&key[16..24]);
    let report_id = Uuid::from_slice(&key[24..]).ok()?;
    Some((ms_from_key(ms), report_id))
}

fn decode_counter(raw: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(raw)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("meta", REPORT_COUNT_KEY, "report_count is not 8 bytes"))
}

/// History value encodings (the first byte of a value). `0x00` and `0x01` hold a whole
/// [`StoredReport`] (written by earlier builds; still read); `0x02` and `0x03` hold the report
/// alone, whose device id and received-at are in the key.
const PLAIN_JSON: u8 = 0;
const DEFLATE_JSON: u8 = 1;
const GZIP_REPORT: u8 = 2;
const DEFLATE_REPORT: u8 = 3;

/// Reusable DEFLATE compressors. Making one allocates and clears a few hundred KB, which cost
/// ten times the compression itself; the pool keeps a few instead of one per thread.
#[derive(Default)]
struct Compressors(Mutex<Vec<Compress>>);

const POOLED_COMPRESSORS: usize = 16;

impl Compressors {
    /// The history value of `report`: the agent's gzip body as it came (`GZIP_REPORT`), else
    /// the JSON, as it came or serialized here, compressed (`DEFLATE_REPORT`).
    fn encode_report(
        &self,
        report: &Report,
        raw: Option<RawReport<'_>>,
    ) -> Result<IVec, StoreError> {
        let serialized;
        let json = match raw {
            Some(RawReport {
                encoding: RawEncoding::Gzip,
                bytes,
            }) => {
                let mut value = Vec::with_capacity(bytes.len() + 1);
                value.push(GZIP_REPORT);
                value.extend_from_slice(bytes);
                return Ok(IVec::from(value));
            }
            Some(RawReport {
                encoding: RawEncoding::Identity,
                bytes,
            }) => bytes,
            None => {
                serialized = to_json(report)?;
                &serialized
            }
        };
        let pooled = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut compressor = pooled.unwrap_or_else(|| Compress::new(Compression::fast(), false));
        let out = deflate(&mut compressor, DEFLATE_REPORT, json);
        let mut pool = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED_COMPRESSORS {
            pool.push(compressor);
        }
        Ok(IVec::from(out?))
    }
}

/// `tag` followed by the raw DEFLATE stream of `json`.
fn deflate(compressor: &mut Compress, tag: u8, json: &[u8]) -> Result<Vec<u8>, StoreError> {
    compressor.reset();
    let mut out = Vec::with_capacity(json.len() / 3 + 64);
    out.push(tag);
    loop {
        if out.len() == out.capacity() {
            out.reserve(json.len() / 2 + 64);
        }
        let before = (compressor.total_in(), out.len());
        let consumed = usize::try_from(compressor.total_in()).unwrap_or(json.len());
        let status = compressor
            .compress_vec(
                &json[consumed.min(json.len())..],
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(|e| StoreError::Sled(sled::Error::Io(std::io::Error::other(e))))?;
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {
                let stuck = (compressor.total_in(), out.len()) == before;
                if stuck && out.len() < out.capacity() {
                    return Err(StoreError::Sled(sled::Error::Io(std::io::Error::other(
                        "DEFLATE made no progress",
                    ))));
                }
            }
        }
    }
}

fn decode_report(key: &[u8], raw: &[u8]) -> Result<StoredReport, StoreError> {
    let Some((&tag, body)) = raw.split_first() else {
        return Err(corrupt("history", key, "empty value"));
    };
    let inflate = |reader: &mut dyn std::io::Read, what: &str| {
        let mut json = Vec::with_capacity(body.len() * 6);
        reader
            .read_to_end(&mut json)
            .map_err(|e| corrupt("history", key, &format!("bad {what} data: {e}")))?;
        Ok::<_, StoreError>(json)
    };
    let report_only = |json: &[u8]| {
        let device_id = key
            .get(..16)
            .and_then(|id| Uuid::from_slice(id).ok())
            .ok_or_else(|| corrupt("history", key, "bad key length"))?;
        let received_at = parse_history_key(key)
            .and_then(|(ms, _)| DateTime::from_timestamp_millis(ms))
            .ok_or_else(|| corrupt("history", key, "bad key"))?;
        Ok(StoredReport {
            device_id,
            received_at,
            report: decode("history", key, json)?,
        })
    };
    match tag {
        PLAIN_JSON => decode("history", key, body),
        DEFLATE_JSON => decode(
            "history",
            key,
            &inflate(&mut DeflateDecoder::new(body), "DEFLATE")?,
        ),
        // The same single-member decoder as ingest, so it reads exactly what was validated.
        GZIP_REPORT => report_only(&inflate(&mut GzDecoder::new(body), "gzip")?),
        DEFLATE_REPORT => report_only(&inflate(&mut DeflateDecoder::new(body), "DEFLATE")?),
        _ => Err(corrupt(
            "history",
            key,
            &format!("unknown value encoding {tag:#04x}"),
        )),
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Corrupt {
        key: "(value being written)".to_owned(),
        source,
    })
}

fn decode<T: DeserializeOwned>(tree: &str, key: &[u8], raw: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|source| StoreError::Corrupt {
        key: key_name(tree, key),
        source,
    })
}

fn corrupt(tree: &str, key: &[u8], why: &str) -> StoreError {
    StoreError::Corrupt {
        key: key_name(tree, key),
        source: <serde_json::Error as serde::de::Error>::custom(why),
    }
}

/// `tree/hex-of-key`, or the key as text when it is printable (the `meta` keys).
fn key_name(tree: &str, key: &[u8]) -> String {
    let mut name = format!("{tree}/");
    if !key.is_empty() && key.iter().all(|b| b.is_ascii_graphic()) {
        name.push_str(&String::from_utf8_lossy(key));
    } else {
        for b in key {
            let _ = write!(name, "{b:02x}");
        }
    }
    name
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn from_tx(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read as _, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use chrono::Duration as ChronoDuration;
    use ward_shared::InstalledUpdate;

    use super::*;
    use crate::store::contract::{gzip, report, t0};

    const CRASH_DIR_ENV: &str = "WARD_STORE_CRASH_DIR";
    const ABORT_DIR_ENV: &str = "WARD_STORE_ABORT_DIR";
    /// A put for this device makes the committer panic (test builds only).
    pub(super) const PANIC_DEVICE: Uuid =
        Uuid::from_u128(0xdead_0000_0000_4000_8000_0000_0000_0001);

    /// If the committer thread panics, the whole process aborts (so the service manager starts
    /// it again) instead of living on as a server that never acknowledges a write; what was
    /// acknowledged before is on disk.
    #[test]
    fn a_panicking_committer_aborts_the_process() {
        use std::os::unix::process::ExitStatusExt;

        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::sled_store::tests::abort_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ABORT_DIR_ENV, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.signal(),
            Some(6),
            "not aborted: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("acknowledged "), "{stdout}");
        assert!(!stdout.contains("still running"), "{stdout}");
        // The harness may print the test's name on the same line first.
        let id: Uuid = stdout
            .split("acknowledged ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        assert!(store.has_report(id).unwrap());
    }

    #[test]
    #[ignore = "child process of a_panicking_committer_aborts_the_process"]
    fn abort_child() {
        let Some(dir) = std::env::var_os(ABORT_DIR_ENV) else {
            return;
        };
        let store = SledStore::open(Path::new(&dir), Retention::default()).unwrap();
        let r = report("ws", t0());
        store.put_report(Uuid::new_v4(), t0(), &r, None).unwrap();
        println!("acknowledged {}", r.report_id);
        let doomed = report("ws", t0());
        let outcome = store.put_report(PANIC_DEVICE, t0(), &doomed, None);
        std::thread::sleep(Duration::from_secs(5));
        println!("still running after {outcome:?}");
    }

    fn unlimited() -> Retention {
        Retention {
            max_reports_per_device: usize::MAX,
            max_age_days: None,
        }
    }

    #[test]
    fn ms_keys_sort_numerically() {
        let values = [i64::MIN, -86_400_000, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for pair in values.windows(2) {
            assert!(ms_key(pair[0]) < ms_key(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(ms_from_key(ms_key(v)), v);
        }
    }

    #[test]
    fn deflate_round_trips_any_size() {
        let mut compressor = Compress::new(Compression::fast(), false);
        let mut noise = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.push(x as u8);
        }
        for input in [&b""[..], b"{}", &[b'a'; 100_000][..], &noise[..]] {
            // Twice: a reused compressor starts clean.
            for _ in 0..2 {
                let out = deflate(&mut compressor, DEFLATE_JSON, input).unwrap();
                assert_eq!(out[0], DEFLATE_JSON);
                let mut back = Vec::new();
                DeflateDecoder::new(&out[1..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, input);
            }
        }
    }

    #[test]
    fn reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let device = Uuid::new_v4();
        let agent = AgentRecord {
            id: Uuid::new_v4(),
            key_hash: [3; 32],
            hostname: None,
            agent_version: None,
            enrolled_at: t0(),
            revoked: false,
        };
        let r1 = report("ws", t0());
        let r2 = report("ws", t0() + ChronoDuration::hours(1));
        let (devices, history) = {
            let store = SledStore::open(dir.path(), Retention::default()).unwrap();
            store.add_agent(&agent).unwrap();
            store.set_agent_revoked(agent.id, true).unwrap();
            store.put_report(device, t0(), &r1, None).unwrap();
            store
                .put_report(device, t0() + ChronoDuration::hours(1), &r2, None)
                .unwrap();
            (store.devices().unwrap(), store.history(device, 10).unwrap())
        };
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let revoked = AgentRecord {
            revoked: true,
            ..agent
        };
        assert_eq!(store.agent_by_key_hash(&[3; 32]).unwrap(), Some(revoked));
        assert_eq!(store.devices().unwrap(), devices);
        assert_eq!(store.history(device, 10).unwrap(), history);
        assert_eq!(store.report_count().unwrap(), 2);
        assert_eq!(
            store.put_report(device, t0(), &r1, None).unwrap(),
            PutOutcome::Duplicate
        );
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path(), Retention::default()).unwrap());
        {
            let db = sled::open(dir.path()).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(FORMAT_KEY, &3u32.to_be_bytes()[..]).unwrap();
            db.flush().unwrap();
        }
        match SledStore::open(dir.path(), Retention::default()) {
            Err(StoreError::Format(msg)) => assert_eq!(
                msg,
                "store format 3 is newer than this build supports (2); upgrade ward-collector"
            ),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    /// A format 1 store (a `0x01` history value) opens, reads, and is marked format 2.
    #[test]
    fn format_1_store_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let device = Uuid::new_v4();
        let r = report("ws", t0());
        {
            let store = SledStore::open(dir.path(), Retention::default()).unwrap();
            store.put_report(device, t0(), &r, None).unwrap();
            let stored = StoredReport {
                device_id: device,
                received_at: t0(),
                report: r.clone(),
            };
            let mut compressor = Compress::new(Compression::fast(), false);
            let old = deflate(&mut compressor, DEFLATE_JSON, &to_json(&stored).unwrap()).unwrap();
            let key = store.trees.history.iter().keys().next().unwrap().unwrap();
            store.trees.history.insert(key, old).unwrap();
            store
                .trees
                .meta
                .insert(FORMAT_KEY, &1u32.to_be_bytes()[..])
                .unwrap();
        }
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let version = store.trees.meta.get(FORMAT_KEY).unwrap().unwrap();
        assert_eq!(version.as_ref(), &2u32.to_be_bytes()[..]);
        assert_eq!(store.history(device, 1).unwrap()[0].report, r);
    }

    #[test]
    fn every_older_format_has_one_upgrade_step() {
        for v in 1..FORMAT_VERSION {
            assert_eq!(
                MIGRATIONS.iter().filter(|m| m.from == v).count(),
                1,
                "format {v} needs exactly one migration"
            );
        }
        assert!(
            MIGRATIONS
                .iter()
                .all(|m| m.from >= 1 && m.from < FORMAT_VERSION)
        );
    }

    /// The upgrade runs every step in order from the recorded version, each made durable with
    /// its version; a missing step is a clear error that changes nothing.
    #[test]
    fn upgrade_runs_the_steps_in_order() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path(), Retention::default()).unwrap());
        let db = sled::open(dir.path()).unwrap();
        let trees = Trees {
            meta: db.open_tree("meta").unwrap(),
            agents: db.open_tree("agents").unwrap(),
            agent_keys: db.open_tree("agent_keys").unwrap(),
            report_ids: db.open_tree("report_ids").unwrap(),
            history: db.open_tree("history").unwrap(),
            devices: db.open_tree("devices").unwrap(),
            exceptions: db.open_tree("exceptions").unwrap(),
            db,
        };
        trees
            .meta
            .insert(FORMAT_KEY, &1u32.to_be_bytes()[..])
            .unwrap();
        let steps = [Migration {
            from: 1,
            what: "test step",
            run: |t| {
                t.meta.insert(b"step-1-ran", &b"yes"[..])?;
                Ok(())
            },
        }];
        trees.upgrade(1, &steps).unwrap();
        assert_eq!(
            trees.meta.get(FORMAT_KEY).unwrap().unwrap().as_ref(),
            &FORMAT_VERSION.to_be_bytes()[..]
        );
        assert!(trees.meta.get(b"step-1-ran").unwrap().is_some());

        trees
            .meta
            .insert(FORMAT_KEY, &1u32.to_be_bytes()[..])
            .unwrap();
        let err = trees.upgrade(1, &[]).unwrap_err().to_string();
        assert!(err.contains("no upgrade from store format 1"), "{err}");
        assert_eq!(
            trees.meta.get(FORMAT_KEY).unwrap().unwrap().as_ref(),
            &1u32.to_be_bytes()[..]
        );
    }

    /// A backup taken while writers run holds every put acknowledged before it started, and
    /// restores into a store that opens and reads back the same.
    #[test]
    fn backup_under_writes_holds_everything_acknowledged_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(
            SledStore::open(&dir.path().join("store"), Retention::default()).unwrap(),
        );
        let device = Uuid::new_v4();
        let mut acked = Vec::new();
        for i in 0..50 {
            let r = report(&format!("ws{i}"), t0());
            store.put_report(device, t0(), &r, None).unwrap();
            acked.push(r.report_id);
        }
        // The writer publishes each acknowledged id; the backup starts only once some have been
        // acknowledged, and the writer keeps going through it and after it.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let during_ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let (store, stop, done, ids) = (
                store.clone(),
                stop.clone(),
                done.clone(),
                during_ids.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let r = report("during", t0());
                    store.put_report(Uuid::new_v4(), t0(), &r, None).unwrap();
                    ids.lock().unwrap().push(r.report_id);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        while done.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let acked_during: Vec<Uuid> = during_ids.lock().unwrap().clone();
        assert!(!acked_during.is_empty());
        let mut w = crate::store::backup::RecordWriter::new(Vec::new());
        let stats = store.backup(&mut w).unwrap();
        // The committer resumed: the writer gets further acknowledgements after the backup.
        let after_backup = done.load(Ordering::SeqCst);
        while done.load(Ordering::SeqCst) <= after_backup {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        assert!(stats.trees >= 7 && stats.pairs > 0, "{stats:?}");
        let bytes = w.finish().unwrap();

        // Write it as a backup file and restore it into an empty directory.
        let file = dir.path().join("b.wardbak");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&file).unwrap(),
            Compression::fast(),
        );
        gz.write_all(crate::store::backup::MAGIC).unwrap();
        // The store section carries its own end record; re-wrap it as the file's records.
        let mut out = crate::store::backup::RecordWriter::new(&mut gz);
        out.file("config.toml", 0o600, b"x = 1\n").unwrap();
        let mut section = crate::store::backup::RecordReader::new(&bytes[..]);
        while let Some(record) = section.next_record().unwrap() {
            out.write(&record).unwrap();
        }
        out.finish().unwrap();
        gz.finish().unwrap();

        let target = dir.path().join("restored");
        let summary = crate::store::backup::restore(&file, &target, "store").unwrap();
        assert_eq!(summary.store_format, Some(FORMAT_VERSION));
        assert_eq!(
            std::fs::read(target.join("config.toml")).unwrap(),
            b"x = 1\n"
        );
        let restored = SledStore::open(&target.join("store"), Retention::default()).unwrap();
        for id in acked.iter().chain(&acked_during) {
            assert!(restored.has_report(*id).unwrap(), "{id} lost");
        }
        assert_eq!(restored.history(device, 100).unwrap().len(), 50);
        // Consistent: the counter equals the history entries the backup holds.
        let entries = restored.trees.history.len() as u64;
        assert_eq!(restored.report_count().unwrap(), entries);
        drop(restored);

        // Not into a non-empty directory; nothing there is touched.
        let err = crate::store::backup::restore(&file, &target, "store").unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }

    /// A store another handle still holds is refused with the reason after the bounded wait; once
    /// that handle is dropped the store opens again at once, even though sled releases its lock
    /// from background threads.
    #[test]
    fn a_store_in_use_is_refused_and_a_closed_one_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let first = SledStore::open(&path, Retention::default()).unwrap();
        match SledStore::open(&path, Retention::default()) {
            Err(e @ StoreError::InUse(_)) => assert!(e.to_string().contains("in use"), "{e}"),
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("opened a store that is in use"),
        }
        drop(first);
        for _ in 0..20 {
            drop(SledStore::open(&path, Retention::default()).unwrap());
        }
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree("something")
                .unwrap()
                .insert(b"k", b"v")
                .unwrap();
            db.insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        match SledStore::open(dir.path(), Retention::default()) {
            Err(StoreError::Format(msg)) => assert!(msg.contains("no format_version"), "{msg}"),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn corrupt_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let device = Uuid::new_v4();
        store
            .put_report(device, t0(), &report("ws", t0()), None)
            .unwrap();
        store
            .trees
            .devices
            .insert(device.as_bytes(), &b"{not json"[..])
            .unwrap();
        assert!(matches!(store.devices(), Err(StoreError::Corrupt { .. })));
        assert!(matches!(
            store.device(device),
            Err(StoreError::Corrupt { .. })
        ));
        let next = report("ws", t0() + ChronoDuration::hours(1));
        assert!(matches!(
            store.put_report(device, t0() + ChronoDuration::hours(1), &next, None),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(!store.has_report(next.report_id).unwrap());

        let key = store.trees.history.iter().keys().next().unwrap().unwrap();
        // Plain JSON is a valid encoding too.
        let mut plain = vec![PLAIN_JSON];
        plain.extend(serde_json::to_vec(&store.history(device, 1).unwrap()[0]).unwrap());
        store.trees.history.insert(&key, plain).unwrap();
        assert_eq!(store.history(device, 1).unwrap().len(), 1);
        for tag in [DEFLATE_JSON, GZIP_REPORT, DEFLATE_REPORT, 0x7f] {
            store
                .trees
                .history
                .insert(&key, &[tag, 1, 2, 3][..])
                .unwrap();
            assert!(matches!(
                store.history(device, 10),
                Err(StoreError::Corrupt { .. })
            ));
        }
        store.trees.history.insert(key, &b"[]"[..]).unwrap();
        assert!(matches!(
            store.history(device, 10),
            Err(StoreError::Corrupt { .. })
        ));
        store
            .trees
            .meta
            .insert(REPORT_COUNT_KEY, &b"xyz"[..])
            .unwrap();
        match store.report_count() {
            Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "meta/report_count"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        store
            .trees
            .agent_keys
            .insert(&[1u8; 32][..], &b"short"[..])
            .unwrap();
        assert!(matches!(
            store.agent_by_key_hash(&[1; 32]),
            Err(StoreError::Corrupt { .. })
        ));
    }

    /// A gzip body is kept byte for byte, with the fields this build does not know.
    #[test]
    fn raw_gzip_is_stored_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let device = Uuid::new_v4();
        let at = t0() + ChronoDuration::milliseconds(1_234);
        let r = report("ws", at);
        let mut json = serde_json::to_value(&r).unwrap();
        json["from_a_newer_agent"] = serde_json::json!({"bitlocker": {"escrowed": true}});
        let body = gzip(&serde_json::to_vec(&json).unwrap());
        let raw = RawReport {
            encoding: RawEncoding::Gzip,
            bytes: &body,
        };
        store.put_report(device, at, &r, Some(raw)).unwrap();

        let (key, value) = store.trees.history.iter().next().unwrap().unwrap();
        assert_eq!(value[0], GZIP_REPORT);
        assert_eq!(&value[1..], &body[..]);
        let mut kept = Vec::new();
        GzDecoder::new(&value[1..]).read_to_end(&mut kept).unwrap();
        let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap();
        assert_eq!(kept["from_a_newer_agent"]["bitlocker"]["escrowed"], true);

        let stored = &store.history(device, 1).unwrap()[0];
        assert_eq!(stored.report, r);
        assert_eq!((stored.device_id, stored.received_at), (device, at));
        assert_eq!(decode_report(&key, &value).unwrap(), *stored);
    }

    /// Sub-millisecond received-at is cut to what the history key holds, everywhere.
    #[test]
    fn received_at_is_kept_to_the_millisecond() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let device = Uuid::new_v4();
        let at = t0() + ChronoDuration::nanoseconds(1_234_567);
        let ms = t0() + ChronoDuration::milliseconds(1);
        store
            .put_report(device, at, &report("ws", at), None)
            .unwrap();
        assert_eq!(store.history(device, 1).unwrap()[0].received_at, ms);
        let summary = store.device(device).unwrap().unwrap();
        assert_eq!((summary.first_seen, summary.last_seen), (ms, ms));
    }

    fn put_job(device_id: Uuid, r: &Report) -> Job {
        let at = r.collected_at;
        Job::Put {
            device_id,
            received_at: at,
            facts: ReportFacts::of(r),
            value: IVec::from(vec![PLAIN_JSON]),
            reply: reply(),
        }
    }

    fn reply<T>() -> Reply<T> {
        oneshot::channel().0
    }

    /// One batch with jobs that depend on each other: a duplicate of an earlier job, retention
    /// dropping an entry the same batch added, a failing job among good ones.
    #[test]
    fn one_batch_sees_its_own_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let retention = Retention {
            max_reports_per_device: 2,
            max_age_days: None,
        };
        let store = SledStore::open(dir.path(), retention).unwrap();
        let device = Uuid::new_v4();
        let committed = report("ws", t0());
        store.put_report(device, t0(), &committed, None).unwrap();
        let agent = AgentRecord {
            id: Uuid::new_v4(),
            key_hash: [4; 32],
            hostname: None,
            agent_version: None,
            enrolled_at: t0(),
            revoked: false,
        };
        let broken = Uuid::new_v4();
        store
            .trees
            .devices
            .insert(broken.as_bytes(), &b"{not json"[..])
            .unwrap();

        let [a, b, c] = [1, 2, 3].map(|m| report("ws", t0() + ChronoDuration::minutes(m)));
        let batch = vec![
            put_job(device, &a),
            put_job(Uuid::new_v4(), &a),
            put_job(device, &committed),
            put_job(broken, &report("ws", t0())),
            put_job(device, &b),
            put_job(device, &c),
            Job::AddAgent {
                agent: agent.clone(),
                value: IVec::default(),
                reply: reply(),
            },
            Job::SetRevoked {
                id: agent.id,
                revoked: true,
                reply: reply(),
            },
            Job::AddAgent {
                agent: agent.clone(),
                value: IVec::default(),
                reply: reply(),
            },
            Job::SetRevoked {
                id: Uuid::new_v4(),
                revoked: true,
                reply: reply(),
            },
            Job::Flush { reply: reply() },
        ];
        let committer = Committer {
            trees: store.trees.clone(),
            retention,
            stats: std::sync::Arc::default(),
        };
        let results = committer.apply(&batch).unwrap();
        let summary: Vec<String> = results
            .iter()
            .map(|r| match r {
                Ok(done) => format!("{done:?}"),
                Err(StoreError::Corrupt { .. }) => "Corrupt".to_owned(),
                Err(StoreError::AgentExists(_)) => "AgentExists".to_owned(),
                Err(e) => panic!("{e}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "Put(Stored)",
                "Put(Duplicate)",
                "Put(Duplicate)",
                "Corrupt",
                "Put(Stored)",
                "Put(Stored)",
                "Unit",
                "Revoked(true)",
                "AgentExists",
                "Revoked(false)",
                "Unit",
            ]
        );

        // Retention (2 per device) dropped the committed report and `a`, added in this batch.
        let ids: Vec<Uuid> = store
            .trees
            .history
            .scan_prefix(device.as_bytes())
            .keys()
            .map(|k| parse_history_key(&k.unwrap()).unwrap().1)
            .collect();
        assert_eq!(ids, [b.report_id, c.report_id]);
        assert_eq!(store.report_count().unwrap(), 2);
        let row = store.trees.device_row(device).unwrap().unwrap();
        assert_eq!((row.history_len, row.summary.report_count), (2, 4));
        assert_eq!(row.summary.last_report_id, c.report_id);
        for r in [&committed, &a, &b, &c] {
            assert!(store.has_report(r.report_id).unwrap());
        }
        assert_eq!(store.trees.report_ids.len(), 4);
        let stored_agent = store.agent_by_key_hash(&[4; 32]).unwrap().unwrap();
        assert!(stored_agent.revoked);
        assert_eq!(store.agents().unwrap().len(), 1);
    }

    /// The child half of [`crash_keeps_acknowledged_reports`]: puts reports from several
    /// threads and prints each acknowledged id until it is killed. Does nothing unless started
    /// by that test.
    #[test]
    #[ignore = "child process of crash_keeps_acknowledged_reports"]
    fn crash_child() {
        let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
            return;
        };
        let store = SledStore::open(Path::new(&dir), unlimited()).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let store = &store;
                s.spawn(move || {
                    let device = Uuid::new_v4();
                    for i in 0..1_000_000 {
                        let at = t0() + ChronoDuration::seconds(i);
                        let r = report("ws", at);
                        // The body as an agent sends it, as the collector passes it on.
                        let body = gzip(&serde_json::to_vec(&r).unwrap());
                        let raw = RawReport {
                            encoding: RawEncoding::Gzip,
                            bytes: &body,
                        };
                        assert_eq!(
                            store.put_report(device, at, &r, Some(raw)).unwrap(),
                            PutOutcome::Stored
                        );
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {device} {}", r.report_id).unwrap();
                        out.flush().unwrap();
                    }
                });
            }
        });
    }

    /// Kills a writer process with SIGKILL mid-stream; every report it acknowledged must be
    /// there after reopening.
    #[test]
    fn crash_keeps_acknowledged_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::sled_store::tests::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in lines.by_ref() {
            if let Some(ack) = parse_ack(&line.unwrap()) {
                acked.push(ack);
            }
            if acked.len() >= 400 || Instant::now() > deadline {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines written before the kill are acknowledgements too.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(ack) = parse_ack(&line) {
                acked.push(ack);
            }
        }
        assert!(
            acked.len() >= 400,
            "child acknowledged only {}",
            acked.len()
        );

        let store = SledStore::open(dir.path(), unlimited()).unwrap();
        let mut by_device: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
        for (device, id) in &acked {
            assert!(store.has_report(*id).unwrap(), "acknowledged {id} lost");
            by_device.entry(*device).or_default().push(*id);
        }
        let mut total = 0;
        for (device, ids) in by_device {
            let kept: std::collections::HashSet<Uuid> = store
                .history(device, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| r.report.report_id)
                .collect();
            assert!(ids.iter().all(|id| kept.contains(id)));
            let summary = store.device(device).unwrap().unwrap();
            assert_eq!(summary.report_count, kept.len() as u64);
            total += kept.len() as u64;
        }
        // Unacknowledged writes may have survived too, but the counter matches what is there.
        assert!(store.report_count().unwrap() >= total);
        println!(
            "crash test: {} acknowledged, {} stored after restart",
            acked.len(),
            store.report_count().unwrap()
        );
    }

    fn parse_ack(line: &str) -> Option<(Uuid, Uuid)> {
        let mut parts = line.strip_prefix("ack ")?.split(' ');
        let device = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        Some((device, id))
    }

    fn big_report(at: DateTime<Utc>) -> Report {
        let mut r = report("ws-bench", at);
        r.patches.installed = (0..60)
            .map(|i| InstalledUpdate {
                id: format!("KB50{i:05}"),
                kind: Some("Security Update".to_owned()),
                installed_on: None,
            })
            .collect();
        r
    }

    /// Sanity measurement, not a benchmark: `cargo test -p ward-collector --release --lib
    /// put_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement; run by hand"]
    fn put_throughput() {
        // WARD_BENCH_THREADS=64 models many agents uploading at once.
        let threads: usize = std::env::var("WARD_BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        let per_thread = 16_000 / threads;
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let agent = AgentRecord {
            id: Uuid::new_v4(),
            key_hash: [5; 32],
            hostname: None,
            agent_version: None,
            enrolled_at: t0(),
            revoked: false,
        };
        store.add_agent(&agent).unwrap();
        let size = serde_json::to_vec(&big_report(t0())).unwrap().len();
        let done = std::sync::atomic::AtomicBool::new(false);
        let start = Instant::now();
        let read_latencies = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut latencies = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    store.agent_by_key_hash(&[5; 32]).unwrap();
                    latencies.push(t.elapsed());
                    std::thread::sleep(Duration::from_micros(200));
                }
                latencies
            });
            let writers: Vec<_> = (0..threads)
                .map(|t| {
                    let store = &store;
                    s.spawn(move || {
                        for i in 0..per_thread {
                            // 200 devices, ~80 reports each.
                            let device = Uuid::from_u128(((t * per_thread + i) % 200) as u128);
                            let at = t0() + ChronoDuration::seconds((t * per_thread + i) as i64);
                            store.put_report(device, at, &big_report(at), None).unwrap();
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            reader.join().unwrap()
        });
        let elapsed = start.elapsed();
        let total = threads * per_thread;
        let mut lat = read_latencies;
        lat.sort();
        println!(
            "{total} puts of {size} bytes from {threads} threads in {elapsed:?}: {:.0} puts/s; \
             agent_by_key_hash during load: p50 {:?}, p99 {:?}, max {:?} ({} reads)",
            total as f64 / elapsed.as_secs_f64(),
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100],
            lat[lat.len() - 1],
            lat.len()
        );
        println!("{:?}", store.commit_stats());
        // CPU time, which other load on the machine distorts less than wall time.
        let process_cpu = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
                let ticks: u64 =
                    fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
                Some(Duration::from_millis(ticks * 10))
            });
        let committer_cpu = std::fs::read_dir("/proc/self/task").ok().and_then(|tasks| {
            tasks.flatten().find_map(|task| {
                let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
                if comm.trim() != "ward-store-comm" {
                    return None;
                }
                let sched = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
                Some(Duration::from_nanos(
                    sched.split_whitespace().next()?.parse().ok()?,
                ))
            })
        });
        println!(
            "cpu: process {:?} ({:?} per put), committer thread {:?} ({:?} per put)",
            process_cpu,
            process_cpu.map(|c| c / total as u32),
            committer_cpu,
            committer_cpu.map(|c| c / total as u32)
        );
        assert_eq!(store.report_count().unwrap(), total as u64);
    }
}
