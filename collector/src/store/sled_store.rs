//! [`SledStore`]: the embedded, durable [`Store`] on sled 0.34.
//!
//! # On-disk layout (format version 1)
//!
//! One sled database (a directory). Numeric key parts are big-endian so that sled's byte order is
//! numeric order and ranges sort; uuids are their 16 raw bytes. Times in keys are Unix
//! milliseconds as `i64` with the sign bit flipped (`ms as u64 ^ 1 << 63`, big-endian), so dates
//! before 1970 still sort first. Values are JSON unless noted.
//!
//! | tree         | key                                             | value                             |
//! |--------------|-------------------------------------------------|-----------------------------------|
//! | `meta`       | `format_version`                                | `u32` BE, currently 1             |
//! | `meta`       | `report_count`                                  | `u64` BE: entries in `history`    |
//! | `agents`     | agent id (16)                                   | [`AgentRecord`]                   |
//! | `agent_keys` | key hash (32)                                   | agent id (16 raw bytes)           |
//! | `report_ids` | report id (16)                                  | device id (16) ++ received ms (8) |
//! | `history`    | device id (16) ++ received ms (8) ++ report id (16) | encoded [`StoredReport`]      |
//! | `devices`    | device id (16)                                  | `{"summary": DeviceSummary, "history_len": n}` |
//!
//! A device's history is the key range prefixed by its id, oldest first, so "newest first" is a
//! reverse range scan and retention walks the range from the front.
//!
//! History values are one encoding byte and the payload: `0x01` = raw DEFLATE of the JSON (what
//! this build writes), `0x00` = plain JSON (read, for tools and tests). Reports are repetitive
//! JSON: a 5 KB Windows report deflates to under 1 KB, and sled's cost per insert grows with the
//! value size (measured on 2 cores: about 120 µs of committer time for a 5 KB value, 40 µs for
//! 1 KB). Compressing on the caller's thread (about 35 µs, with a pooled compressor) keeps the
//! single committer (below) from becoming the bottleneck.
//!
//! # Invariants
//!
//! - All writes of one report (the `report_ids` entry, the `history` entry, the retention
//!   deletions, the `devices` row and the `report_count` counter) are one multi-tree sled
//!   transaction, which sled recovers whole or not at all. So after a crash a report id is known
//!   if and only if its report was stored: the retry of an unacknowledged report is stored, or
//!   is a `Duplicate` because its first copy did reach the disk; never a `Duplicate` of nothing.
//! - The duplicate check reads `report_ids` inside that transaction, and transactions run one at
//!   a time (below), so concurrent puts of one report id give exactly one `Stored`.
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
//! # Writes: one committer thread, group commit
//!
//! Every write goes through a single committer thread. Callers do the expensive, parallel part
//! (serializing the report) and queue a job; the committer takes every job queued (up to
//! [`MAX_BATCH`]), runs one transaction per job, then calls `Db::flush` (write and fsync of sled's
//! log) once for the whole batch and only then answers the callers. So `put_report`,
//! `add_agent`, `set_agent_revoked` and `flush` return after their write is on disk; jobs that
//! arrive during a flush form the next batch. A failed flush answers every job of its batch with
//! the error: none of them is acknowledged. A duplicate put is also answered after the flush, as
//! the first copy may still be in flight.
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
//! flushes, so a read waits at most for one transaction in progress (tens of microseconds).
//!
//! If the committer thread dies (a bug), every later write fails with an I/O error naming it;
//! reads keep working.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flate2::read::DeflateDecoder;
use flate2::{Compress, Compression, FlushCompress, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{IVec, Transactional, Tree};
use uuid::Uuid;
use ward_shared::Report;

use super::common::{DeviceRow, HistoryPos, ReportFacts, next_summary, plan_retention};
use super::{
    AgentRecord, DeviceSummary, KeyHash, PutOutcome, Retention, Store, StoreError, StoredReport,
};

/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Most jobs the committer applies before it flushes (bounds the latency of a batch).
pub const MAX_BATCH: usize = 1024;

const FORMAT_KEY: &[u8] = b"format_version";
const REPORT_COUNT_KEY: &[u8] = b"report_count";

pub struct SledStore {
    trees: Trees,
    /// Queue to the committer; `None` only while dropping.
    jobs: Option<SyncSender<Job>>,
    committer: Option<JoinHandle<()>>,
    stats: std::sync::Arc<Stats>,
    compressors: Compressors,
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
}

#[derive(Debug, Default)]
struct Stats {
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

impl SledStore {
    /// Opens (or creates) the store in directory `path` and starts its committer thread.
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        let trees = Trees {
            meta: db.open_tree("meta")?,
            agents: db.open_tree("agents")?,
            agent_keys: db.open_tree("agent_keys")?,
            report_ids: db.open_tree("report_ids")?,
            history: db.open_tree("history")?,
            devices: db.open_tree("devices")?,
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
            .spawn(move || committer.run(&queue))
            .map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        Ok(Self {
            trees,
            jobs: Some(jobs),
            committer: Some(committer),
            stats,
            compressors: Compressors::default(),
        })
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
    fn submit<T>(
        &self,
        make: impl FnOnce(SyncSender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(make(reply)).is_ok());
        if !sent {
            return Err(committer_gone());
        }
        answer.recv().unwrap_or_else(|_| Err(committer_gone()))
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
    ) -> Result<PutOutcome, StoreError> {
        // Retries are common (an agent that missed our answer); spare them the serialization.
        // The committer checks again inside the transaction.
        if self
            .trees
            .report_ids
            .contains_key(report.report_id.as_bytes())?
        {
            self.flush()?;
            return Ok(PutOutcome::Duplicate);
        }
        let value = self.compressors.encode_report(&StoredReportRef {
            device_id,
            received_at,
            report,
        })?;
        let facts = ReportFacts::of(report);
        self.submit(|reply| Job::Put {
            device_id,
            received_at,
            facts,
            value,
            reply,
        })
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
}

/// Serializes exactly like [`StoredReport`] without cloning the report.
#[derive(Serialize)]
struct StoredReportRef<'a> {
    device_id: Uuid,
    received_at: DateTime<Utc>,
    report: &'a Report,
}

/// A write for the committer. `reply` gets the answer once the batch is flushed.
enum Job {
    Put {
        device_id: Uuid,
        received_at: DateTime<Utc>,
        facts: ReportFacts,
        /// The [`StoredReport`] JSON.
        value: IVec,
        reply: SyncSender<Result<PutOutcome, StoreError>>,
    },
    AddAgent {
        agent: AgentRecord,
        value: IVec,
        reply: SyncSender<Result<(), StoreError>>,
    },
    SetRevoked {
        id: Uuid,
        revoked: bool,
        reply: SyncSender<Result<bool, StoreError>>,
    },
    /// Nothing to write; answered after the next flush.
    Flush {
        reply: SyncSender<Result<(), StoreError>>,
    },
}

/// A job applied and waiting for the flush of its batch.
enum Applied {
    Put(SyncSender<Result<PutOutcome, StoreError>>, PutOutcome),
    Unit(SyncSender<Result<(), StoreError>>),
    Revoked(SyncSender<Result<bool, StoreError>>, bool),
}

impl Applied {
    /// Answers the caller. A caller that went away (it cannot, it blocks) is ignored.
    fn answer(self, flushed: &Result<usize, sled::Error>) {
        let err = |e: &sled::Error| StoreError::Sled(e.clone());
        match self {
            Applied::Put(reply, outcome) => {
                let _ = reply.send(flushed.as_ref().map(|_| outcome).map_err(err));
            }
            Applied::Unit(reply) => {
                let _ = reply.send(flushed.as_ref().map(|_| ()).map_err(err));
            }
            Applied::Revoked(reply, found) => {
                let _ = reply.send(flushed.as_ref().map(|_| found).map_err(err));
            }
        }
    }
}

/// The only writer: applies queued jobs in batches and flushes once per batch.
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
            let mut next = Some(first);
            while let Some(job) = next {
                if let Some(applied) = self.apply(job) {
                    batch.push(applied);
                }
                next = if batch.len() < MAX_BATCH {
                    queue.try_recv().ok()
                } else {
                    None
                };
            }
            if batch.is_empty() {
                continue;
            }
            let flush_started = Instant::now();
            let flushed = self.trees.db.flush();
            let stats = &self.stats;
            stats.apply_nanos.fetch_add(
                nanos(flush_started.duration_since(started)),
                Ordering::Relaxed,
            );
            stats
                .flush_nanos
                .fetch_add(nanos(flush_started.elapsed()), Ordering::Relaxed);
            self.stats.flushes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .jobs
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            for applied in batch.drain(..) {
                applied.answer(&flushed);
            }
        }
    }

    /// Applies one job. Returns what to answer after the flush, or `None` if the job failed and
    /// was answered already (a failed job wrote nothing, so it needs no flush).
    fn apply(&self, job: Job) -> Option<Applied> {
        match job {
            Job::Put {
                device_id,
                received_at,
                facts,
                value,
                reply,
            } => match self.put(device_id, received_at, &facts, &value) {
                Ok(outcome) => Some(Applied::Put(reply, outcome)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Job::AddAgent {
                agent,
                value,
                reply,
            } => match self.add_agent(&agent, &value) {
                Ok(()) => Some(Applied::Unit(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Job::SetRevoked { id, revoked, reply } => match self.set_revoked(id, revoked) {
                Ok(found) => Some(Applied::Revoked(reply, found)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Job::Flush { reply } => Some(Applied::Unit(reply)),
        }
    }

    fn add_agent(&self, agent: &AgentRecord, value: &IVec) -> Result<(), StoreError> {
        let t = &self.trees;
        (&t.agents, &t.agent_keys)
            .transaction(|(agents, agent_keys)| {
                if agents.get(agent.id.as_bytes())?.is_some() {
                    return Err(abort(StoreError::AgentExists(agent.id)));
                }
                agents.insert(agent.id.as_bytes(), value.clone())?;
                agent_keys.insert(&agent.key_hash[..], agent.id.as_bytes())?;
                Ok(())
            })
            .map_err(from_tx)
    }

    fn set_revoked(&self, id: Uuid, revoked: bool) -> Result<bool, StoreError> {
        self.trees
            .agents
            .transaction(|agents| {
                let Some(raw) = agents.get(id.as_bytes())? else {
                    return Ok(false);
                };
                let mut agent: AgentRecord =
                    decode("agents", id.as_bytes(), &raw).map_err(abort)?;
                agent.revoked = revoked;
                agents.insert(id.as_bytes(), to_json(&agent).map_err(abort)?)?;
                Ok(true)
            })
            .map_err(from_tx)
    }

    fn put(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        facts: &ReportFacts,
        value: &IVec,
    ) -> Result<PutOutcome, StoreError> {
        let t = &self.trees;
        let report_id = facts.report_id;
        if t.report_ids.contains_key(report_id.as_bytes())? {
            return Ok(PutOutcome::Duplicate);
        }
        let received_ms = received_at.timestamp_millis();
        let new_pos = (received_ms, report_id);
        let new_key = history_key(device_id, new_pos);
        let mut index_value = [0u8; 24];
        index_value[..16].copy_from_slice(device_id.as_bytes());
        index_value[16..].copy_from_slice(&ms_key(received_ms));

        // Only this thread writes, so the history scanned here is the history the transaction
        // sees.
        let row = t.device_row(device_id)?;
        let positions = t
            .history
            .scan_prefix(device_id.as_bytes())
            .keys()
            .map(|key| {
                let key = key?;
                parse_history_key(&key).ok_or_else(|| corrupt("history", &key, "bad key length"))
            });
        let plan = plan_retention(
            positions,
            row.as_ref().map_or(0, |r| r.history_len),
            row.as_ref().map(|r| r.summary.last_seen.timestamp_millis()),
            new_pos,
            self.retention,
        )?;
        let delete_keys: Vec<[u8; 40]> = plan
            .delete
            .iter()
            .map(|pos| history_key(device_id, *pos))
            .collect();
        let summary = next_summary(
            row.as_ref().map(|r| &r.summary),
            device_id,
            received_at,
            facts,
        );

        (&t.report_ids, &t.history, &t.devices, &t.meta)
            .transaction(|(report_ids, history, devices, meta)| {
                if report_ids.get(report_id.as_bytes())?.is_some() {
                    return Ok(PutOutcome::Duplicate);
                }
                let mut removed = 0u64;
                for key in &delete_keys {
                    if history.remove(key.as_slice())?.is_some() {
                        removed += 1;
                    }
                }
                let added = u64::from(!plan.drop_new);
                if !plan.drop_new {
                    history.insert(new_key.as_slice(), value.clone())?;
                }
                report_ids.insert(report_id.as_bytes(), index_value.as_slice())?;

                let history_len =
                    (row.as_ref().map_or(0, |r| r.history_len) + added).saturating_sub(removed);
                let new_row = DeviceRow {
                    summary: summary.clone(),
                    history_len,
                };
                devices.insert(device_id.as_bytes(), to_json(&new_row).map_err(abort)?)?;

                let count = read_counter(meta)?;
                let count = (count + added).saturating_sub(removed);
                meta.insert(REPORT_COUNT_KEY, &count.to_be_bytes()[..])?;
                Ok(PutOutcome::Stored)
            })
            .map_err(from_tx)
    }
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

fn read_counter(meta: &TransactionalTree) -> ConflictableTransactionResult<u64, StoreError> {
    match meta.get(REPORT_COUNT_KEY)? {
        Some(raw) => decode_counter(&raw).map_err(abort),
        None => Ok(0),
    }
}

fn decode_counter(raw: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(raw)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("meta", REPORT_COUNT_KEY, "report_count is not 8 bytes"))
}

/// History value encodings (the first byte of a value).
const PLAIN_JSON: u8 = 0;
const DEFLATE_JSON: u8 = 1;

/// Reusable DEFLATE compressors. Making one allocates and clears a few hundred KB, which cost
/// ten times the compression itself; the pool keeps a few instead of one per thread.
#[derive(Default)]
struct Compressors(Mutex<Vec<Compress>>);

const POOLED_COMPRESSORS: usize = 16;

impl Compressors {
    fn encode_report(&self, report: &StoredReportRef<'_>) -> Result<IVec, StoreError> {
        let json = to_json(report)?;
        let pooled = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut compressor = pooled.unwrap_or_else(|| Compress::new(Compression::fast(), false));
        let out = deflate(&mut compressor, &json);
        let mut pool = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED_COMPRESSORS {
            pool.push(compressor);
        }
        Ok(IVec::from(out?))
    }
}

/// `DEFLATE_JSON` followed by the raw DEFLATE stream of `json`.
fn deflate(compressor: &mut Compress, json: &[u8]) -> Result<Vec<u8>, StoreError> {
    compressor.reset();
    let mut out = Vec::with_capacity(json.len() / 3 + 64);
    out.push(DEFLATE_JSON);
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
    match raw.split_first() {
        Some((&DEFLATE_JSON, body)) => {
            let mut json = Vec::with_capacity(body.len() * 6);
            DeflateDecoder::new(body)
                .read_to_end(&mut json)
                .map_err(|e| corrupt("history", key, &format!("bad DEFLATE data: {e}")))?;
            decode("history", key, &json)
        }
        Some((&PLAIN_JSON, body)) => decode("history", key, body),
        Some((tag, _)) => Err(corrupt(
            "history",
            key,
            &format!("unknown value encoding {tag:#04x}"),
        )),
        None => Err(corrupt("history", key, "empty value")),
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
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use chrono::Duration as ChronoDuration;
    use ward_shared::InstalledUpdate;

    use super::*;
    use crate::store::contract::{report, t0};

    const CRASH_DIR_ENV: &str = "WARD_STORE_CRASH_DIR";

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
                let out = deflate(&mut compressor, input).unwrap();
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
            store.put_report(device, t0(), &r1).unwrap();
            store
                .put_report(device, t0() + ChronoDuration::hours(1), &r2)
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
            store.put_report(device, t0(), &r1).unwrap(),
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
            meta.insert(FORMAT_KEY, &2u32.to_be_bytes()[..]).unwrap();
            db.flush().unwrap();
        }
        match SledStore::open(dir.path(), Retention::default()) {
            Err(StoreError::Format(msg)) => assert_eq!(
                msg,
                "store format 2 is newer than this build supports (1); upgrade ward-collector"
            ),
            other => panic!("expected a format error, got {other:?}"),
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
        store.put_report(device, t0(), &report("ws", t0())).unwrap();
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
            store.put_report(device, t0() + ChronoDuration::hours(1), &next),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(!store.has_report(next.report_id).unwrap());

        let key = store.trees.history.iter().keys().next().unwrap().unwrap();
        // Plain JSON is a valid encoding too.
        let mut plain = vec![PLAIN_JSON];
        plain.extend(serde_json::to_vec(&store.history(device, 1).unwrap()[0]).unwrap());
        store.trees.history.insert(&key, plain).unwrap();
        assert_eq!(store.history(device, 1).unwrap().len(), 1);
        store
            .trees
            .history
            .insert(&key, &[DEFLATE_JSON, 1, 2, 3][..])
            .unwrap();
        assert!(matches!(
            store.history(device, 10),
            Err(StoreError::Corrupt { .. })
        ));
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
                        assert_eq!(
                            store.put_report(device, at, &r).unwrap(),
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
                            store.put_report(device, at, &big_report(at)).unwrap();
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
