//! [`SledStore`]: the embedded, durable [`Store`] on sled 0.34.
//!
//! # On-disk layout (format version 1)
//!
//! One sled database (a directory). Numeric key parts are big-endian so that sled's byte order is
//! numeric order and ranges sort; uuids are their 16 raw bytes. Times in keys are Unix
//! milliseconds as `i64` with the sign bit flipped (`ms as u64 ^ 1 << 63`, written big-endian),
//! so dates before 1970 still sort first. Values are JSON unless noted.
//!
//! | tree         | key                                           | value                              |
//! |--------------|-----------------------------------------------|------------------------------------|
//! | `meta`       | `format_version`                              | `u32` BE, currently 1              |
//! | `meta`       | `report_count`                                | `u64` BE: entries in `history`     |
//! | `agents`     | agent id (16)                                 | [`AgentRecord`]                    |
//! | `agent_keys` | key hash (32)                                 | agent id (16 raw bytes)            |
//! | `report_ids` | report id (16)                                | device id (16) ++ received ms (8)  |
//! | `history`    | device id (16) ++ received ms (8) ++ report id (16) | [`StoredReport`]             |
//! | `devices`    | device id (16)                                | `{"summary": DeviceSummary, "history_len": n}` |
//!
//! A device's history is the key range prefixed by its id; oldest first in key order, so
//! "newest first" is a reverse range scan and retention walks the range from the front.
//!
//! # Invariants
//!
//! - All writes of one report (the `report_ids` entry, the `history` entry, the retention
//!   deletions, the `devices` row and the `report_count` counter) are one multi-tree sled
//!   transaction, and sled recovers a transaction whole or not at all. So after a crash a report
//!   id is known if and only if its report was stored: a retry of an unacknowledged report is
//!   stored again, never wrongly answered `Duplicate`.
//! - The duplicate check reads `report_ids` inside that transaction; sled transactions are
//!   serializable, so concurrent puts of one report id give exactly one `Stored`.
//! - `report_ids` is never pruned: it is the dedup index and stays when retention drops a report
//!   from `history`, so a retry of a pruned report is still a `Duplicate`. It costs about 40 bytes
//!   of key and value (plus sled overhead) per report ever received. [`Store::has_report`] reads
//!   it, so it answers "was this id ever stored".
//! - `report_count` in `meta` is the number of entries in `history` (reports currently kept),
//!   maintained in the same transactions that add and delete history entries. A device row's
//!   `history_len` is the same count for one device; `summary.report_count` counts every report
//!   ever stored for the device.
//! - Retention for a device is computed from a scan of its history before the transaction, under
//!   a per-device lock (striped), so the scan and the transaction see the same history.
//!   Only `put_report` writes `history`.
//! - `format_version` is written when the store is created. Opening a store with a newer version
//!   fails; opening a non-empty database without a readable version fails too (it is not ours).
//!
//! # Durability: group commit
//!
//! `put_report`, `add_agent` and `set_agent_revoked` return only after `Db::flush` (write and
//! fsync of sled's log) has completed after their write was applied. Concurrent callers share
//! flushes: each writer applies its write, then takes a ticket (a counter under the
//! [`GroupCommit`] mutex) and waits until `durable >= ticket`. If no flush is running, the
//! waiter becomes the leader: it snapshots the highest ticket issued, flushes without holding the
//! mutex, publishes `durable = snapshot` and wakes everyone. Writers that took their ticket during
//! a flush wait for the next one, which one of them leads. A failed flush is not acknowledged:
//! every ticket it was to cover gets the error. A duplicate put also waits for a flush, since
//! the first copy may not be durable yet.
//!
//! Reads never touch the group-commit mutex. They do share sled's internal lock: sled 0.34 runs
//! transactions under a process-wide write lock and holds that lock's read side while it
//! flushes, so a read that arrives while a transaction is queued behind a running flush waits
//! for that flush to finish.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{IVec, Transactional, Tree};
use uuid::Uuid;
use ward_shared::Report;

use super::common::{DeviceRow, HistoryPos, next_summary, plan_retention};
use super::{
    AgentRecord, DeviceSummary, KeyHash, PutOutcome, Retention, Store, StoreError, StoredReport,
};

/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

pub static FLUSHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static FLUSH_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const FORMAT_KEY: &[u8] = b"format_version";
const REPORT_COUNT_KEY: &[u8] = b"report_count";
/// Per-device lock stripes; a power of two.
const DEVICE_LOCKS: usize = 64;

pub struct SledStore {
    db: sled::Db,
    meta: Tree,
    agents: Tree,
    agent_keys: Tree,
    report_ids: Tree,
    history: Tree,
    devices: Tree,
    retention: Retention,
    /// Serializes puts per device (striped by id) so retention's scan matches the transaction.
    device_locks: Vec<Mutex<()>>,
    commit: GroupCommit,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in directory `path`.
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).open()?;
        let store = Self {
            meta: db.open_tree("meta")?,
            agents: db.open_tree("agents")?,
            agent_keys: db.open_tree("agent_keys")?,
            report_ids: db.open_tree("report_ids")?,
            history: db.open_tree("history")?,
            devices: db.open_tree("devices")?,
            db,
            retention,
            device_locks: (0..DEVICE_LOCKS).map(|_| Mutex::new(())).collect(),
            commit: GroupCommit::default(),
        };
        store.check_format()?;
        Ok(store)
    }

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

    fn device_lock(&self, device_id: Uuid) -> MutexGuard<'_, ()> {
        let stripe = (device_id.as_u128() % DEVICE_LOCKS as u128) as usize;
        // The guarded data is `()`: poisoning carries no meaning here.
        self.device_locks[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn durable(&self) -> Result<(), StoreError> {
        self.commit.wait_durable(&self.db)
    }

    /// Existing history positions of a device, oldest first.
    fn history_positions(
        &self,
        device_id: Uuid,
    ) -> impl Iterator<Item = Result<HistoryPos, StoreError>> + '_ {
        self.history
            .scan_prefix(device_id.as_bytes())
            .keys()
            .map(|key| {
                let key = key?;
                parse_history_key(&key).ok_or_else(|| corrupt("history", &key, "bad key length"))
            })
    }
}

impl Store for SledStore {
    fn add_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let value = IVec::from(to_json(agent)?);
        (&self.agents, &self.agent_keys)
            .transaction(|(agents, agent_keys)| {
                if agents.get(agent.id.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(
                        StoreError::AgentExists(agent.id),
                    ));
                }
                agents.insert(agent.id.as_bytes(), value.clone())?;
                agent_keys.insert(&agent.key_hash, agent.id.as_bytes())?;
                Ok(())
            })
            .map_err(from_tx)?;
        self.durable()
    }

    fn agent_by_key_hash(&self, key_hash: &KeyHash) -> Result<Option<AgentRecord>, StoreError> {
        let Some(raw_id) = self.agent_keys.get(key_hash)? else {
            return Ok(None);
        };
        let id = Uuid::from_slice(&raw_id)
            .map_err(|_| corrupt("agent_keys", key_hash, "agent id is not 16 bytes"))?;
        self.agent(id)
    }

    fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>, StoreError> {
        self.agents
            .get(id.as_bytes())?
            .map(|raw| decode("agents", id.as_bytes(), &raw))
            .transpose()
    }

    fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.agents
            .iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode("agents", &key, &raw)
            })
            .collect()
    }

    fn set_agent_revoked(&self, id: Uuid, revoked: bool) -> Result<bool, StoreError> {
        let found = self
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
            .map_err(from_tx)?;
        if found {
            self.durable()?;
        }
        Ok(found)
    }

    fn put_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
    ) -> Result<PutOutcome, StoreError> {
        let report_id = report.report_id;
        let writer = self.commit.begin();
        // Retries are common (an agent that missed our answer); answer them without the
        // serialization and the scan. The transaction checks again.
        if self.report_ids.contains_key(report_id.as_bytes())? {
            writer.wait_durable(&self.db)?;
            return Ok(PutOutcome::Duplicate);
        }

        let received_ms = received_at.timestamp_millis();
        let new_pos = (received_ms, report_id);
        let new_key = history_key(device_id, new_pos);
        let value = IVec::from(to_json(&StoredReportRef {
            device_id,
            received_at,
            report,
        })?);
        let mut index_value = [0u8; 24];
        index_value[..16].copy_from_slice(device_id.as_bytes());
        index_value[16..].copy_from_slice(&ms_key(received_ms));

        let device_guard = self.device_lock(device_id);
        let row = self.device_row(device_id)?;
        let plan = plan_retention(
            self.history_positions(device_id),
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

        let outcome = (&self.report_ids, &self.history, &self.devices, &self.meta)
            .transaction(|(report_ids, history, devices, meta)| {
                if report_ids.get(report_id.as_bytes())?.is_some() {
                    return Ok(PutOutcome::Duplicate);
                }
                let row: Option<DeviceRow> = devices
                    .get(device_id.as_bytes())?
                    .map(|raw| decode("devices", device_id.as_bytes(), &raw))
                    .transpose()
                    .map_err(abort)?;

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

                let summary = next_summary(
                    row.as_ref().map(|r| &r.summary),
                    device_id,
                    received_at,
                    report,
                );
                let history_len =
                    (row.map_or(0, |r| r.history_len) + added).saturating_sub(removed);
                let row = DeviceRow {
                    summary,
                    history_len,
                };
                devices.insert(device_id.as_bytes(), to_json(&row).map_err(abort)?)?;

                let count = read_counter(meta)?;
                let count = (count + added).saturating_sub(removed);
                meta.insert(REPORT_COUNT_KEY, &count.to_be_bytes())?;
                Ok(PutOutcome::Stored)
            })
            .map_err(from_tx)?;
        drop(device_guard);

        writer.wait_durable(&self.db)?;
        Ok(outcome)
    }

    fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError> {
        self.devices
            .iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode::<DeviceRow>("devices", &key, &raw).map(|row| row.summary)
            })
            .collect()
    }

    fn device(&self, id: Uuid) -> Result<Option<DeviceSummary>, StoreError> {
        Ok(self.device_row(id)?.map(|row| row.summary))
    }

    fn history(&self, id: Uuid, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        self.history
            .scan_prefix(id.as_bytes())
            .rev()
            .take(limit)
            .map(|kv| {
                let (key, raw) = kv?;
                decode("history", &key, &raw)
            })
            .collect()
    }

    fn has_report(&self, report_id: Uuid) -> Result<bool, StoreError> {
        Ok(self.report_ids.contains_key(report_id.as_bytes())?)
    }

    fn report_count(&self) -> Result<u64, StoreError> {
        match self.meta.get(REPORT_COUNT_KEY)? {
            Some(raw) => decode_counter(&raw),
            None => Ok(0),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.durable()
    }
}

impl SledStore {
    fn device_row(&self, id: Uuid) -> Result<Option<DeviceRow>, StoreError> {
        self.devices
            .get(id.as_bytes())?
            .map(|raw| decode("devices", id.as_bytes(), &raw))
            .transpose()
    }
}

/// Serializes exactly like [`StoredReport`] without cloning the report.
#[derive(Serialize)]
struct StoredReportRef<'a> {
    device_id: Uuid,
    received_at: DateTime<Utc>,
    report: &'a Report,
}

/// Group commit: many writers, one `Db::flush` per round. See the module documentation.
#[derive(Default)]
struct GroupCommit {
    state: Mutex<CommitState>,
    /// Signalled when a flush round ends.
    flushed: Condvar,
    /// Signalled when a writer takes its ticket while a leader gathers.
    joined: Condvar,
}

#[derive(Default)]
struct CommitState {
    /// Highest ticket handed out. A ticket is taken after its write was applied.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A leader is gathering or flushing now.
    flushing: bool,
    /// Tickets in `(after, upto]` were to be covered by a flush that failed.
    failed: Option<FailedFlush>,
    /// `put_report` calls begun, and those that took their ticket or gave up.
    writers_begun: u64,
    writers_done: u64,
}

struct FailedFlush {
    after: u64,
    upto: u64,
    error: sled::Error,
}

/// How long a leader waits for writers that are applying their write to join its flush.
/// Applying takes microseconds; this only bounds the wait if something stalls.
const GATHER_LIMIT: Duration = Duration::from_millis(2);

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, CommitState> {
        // Only counters are updated under the lock, never half-way: poisoning is harmless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Announces a writer that will call [`Writer::wait_durable`] after applying its write, so
    /// that a leader starting a flush meanwhile waits for it to join.
    fn begin(&self) -> Writer<'_> {
        self.lock().writers_begun += 1;
        Writer {
            commit: self,
            done: false,
        }
    }

    /// Waits until every write applied before this call is durable.
    fn wait_durable(&self, db: &sled::Db) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.issued += 1;
        let ticket = state.issued;
        self.wait_for(db, state, ticket)
    }

    fn wait_for<'s>(
        &'s self,
        db: &sled::Db,
        mut state: MutexGuard<'s, CommitState>,
        ticket: u64,
    ) -> Result<(), StoreError> {
        loop {
            // A failure is checked first: a ticket its flush was to cover is never acknowledged,
            // even if a later flush went through.
            if let Some(failed) = &state.failed
                && failed.after < ticket
                && ticket <= failed.upto
            {
                return Err(StoreError::Sled(failed.error.clone()));
            }
            if state.durable >= ticket {
                return Ok(());
            }
            if state.flushing {
                state = self
                    .flushed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }

            // Lead a flush round. First let the writers that are applying now take their
            // tickets: sled blocks its transactions while it flushes, so a writer that misses
            // this round would wait for it and then for another whole flush.
            state.flushing = true;
            let round = LeaderRound { commit: self };
            let begun = state.writers_begun;
            let deadline = Instant::now() + GATHER_LIMIT;
            while state.writers_done < begun {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .joined
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let upto = state.issued;
            drop(state);
            let t = std::time::Instant::now();
            let result = if std::env::var_os("NOFLUSH").is_some() { Ok(0) } else { db.flush() };
            FLUSHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            FLUSH_NS.fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
            state = round.finish();
            match result {
                Ok(_) => state.durable = state.durable.max(upto),
                Err(error) => {
                    let after = state
                        .failed
                        .as_ref()
                        .map_or(state.durable, |f| f.after.min(state.durable));
                    state.failed = Some(FailedFlush { after, upto, error });
                }
            }
        }
    }
}

/// A `put_report` in progress; see [`GroupCommit::begin`].
struct Writer<'a> {
    commit: &'a GroupCommit,
    done: bool,
}

impl Writer<'_> {
    /// Takes a ticket for the write just applied and waits until it is durable.
    fn wait_durable(mut self, db: &sled::Db) -> Result<(), StoreError> {
        self.done = true;
        let commit = self.commit;
        let mut state = commit.lock();
        state.writers_done += 1;
        state.issued += 1;
        let ticket = state.issued;
        if state.flushing {
            commit.joined.notify_all();
        }
        commit.wait_for(db, state, ticket)
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.commit.lock().writers_done += 1;
            self.commit.joined.notify_all();
        }
    }
}

/// Ends a flush round (clears `flushing`, wakes waiters), also if the flush panicked, so that
/// waiters never hang on a leader that is gone.
struct LeaderRound<'a> {
    commit: &'a GroupCommit,
}

impl<'a> LeaderRound<'a> {
    fn finish(self) -> MutexGuard<'a, CommitState> {
        let commit = self.commit;
        std::mem::forget(self);
        let mut state = commit.lock();
        state.flushing = false;
        commit.flushed.notify_all();
        state
    }
}

impl Drop for LeaderRound<'_> {
    fn drop(&mut self) {
        self.commit.lock().flushing = false;
        self.commit.flushed.notify_all();
    }
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

        let key = store.history.iter().keys().next().unwrap().unwrap();
        store.history.insert(key, &b"[]"[..]).unwrap();
        assert!(matches!(
            store.history(device, 10),
            Err(StoreError::Corrupt { .. })
        ));
        store.meta.insert(REPORT_COUNT_KEY, &b"xyz"[..]).unwrap();
        match store.report_count() {
            Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "meta/report_count"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        store
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

    /// Sanity measurement, not a benchmark: `cargo test -p ward-collector --release
    /// put_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement; run by hand"]
    fn put_throughput() {
        let threads = 8;
        let per_thread = 2_000;
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
        println!(
            "flushes {} flush time {:?}",
            FLUSHES.load(std::sync::atomic::Ordering::Relaxed),
            Duration::from_nanos(FLUSH_NS.load(std::sync::atomic::Ordering::Relaxed))
        );
        assert_eq!(store.report_count().unwrap(), total as u64);
    }
}
