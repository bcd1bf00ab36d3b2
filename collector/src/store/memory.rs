//! [`MemoryStore`]: the reference implementation of [`Store`], everything in one mutex.
//!
//! Used by tests of the layers above the store and as the yardstick the contract tests hold the
//! sled store to. "Durable on return" holds trivially: nothing outlives the process anyway.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;
use ward_shared::Report;

use super::common::{DeviceRow, HistoryPos, ReportFacts, next_summary, plan_retention};
use super::{
    AgentRecord, DeviceSummary, ExceptionRecord, KeyHash, PutOutcome, RawReport, Retention, Store,
    StoreError, StoredReport,
};

#[derive(Debug, Default)]
pub struct MemoryStore {
    retention: Retention,
    inner: Mutex<Inner>,
    /// Users, sessions, tokens, audit: see `store/auth.rs`.
    pub(super) auth: super::auth::MemoryAuth,
    /// Imported files and records (`imports.rs`).
    imports: Mutex<imports::Imports>,
}

mod imports;

#[derive(Debug, Default)]
struct Inner {
    agents: BTreeMap<Uuid, AgentRecord>,
    agent_keys: HashMap<KeyHash, Uuid>,
    /// Every report id ever stored (kept after retention drops the report, like the sled store).
    report_ids: HashMap<Uuid, Uuid>,
    devices: BTreeMap<Uuid, DeviceRow>,
    history: HashMap<Uuid, BTreeMap<HistoryPos, StoredReport>>,
    /// Entries currently in `history`, over all devices.
    stored: u64,
    exceptions: BTreeMap<Uuid, ExceptionRecord>,
}

impl MemoryStore {
    /// An empty store with the default [`Retention`].
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retention(retention: Retention) -> Self {
        Self {
            retention,
            inner: Mutex::default(),
            auth: Default::default(),
            imports: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below completes before it can panic, so a poisoned lock still guards
        // consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn add_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.agents.contains_key(&agent.id) {
            return Err(StoreError::AgentExists(agent.id));
        }
        inner.agent_keys.insert(agent.key_hash, agent.id);
        inner.agents.insert(agent.id, agent.clone());
        Ok(())
    }

    fn agent_by_key_hash(&self, key_hash: &KeyHash) -> Result<Option<AgentRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .agent_keys
            .get(key_hash)
            .and_then(|id| inner.agents.get(id))
            .cloned())
    }

    fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self.lock().agents.get(&id).cloned())
    }

    fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        Ok(self.lock().agents.values().cloned().collect())
    }

    fn set_agent_revoked(&self, id: Uuid, revoked: bool) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.agents.get_mut(&id) {
            Some(agent) => {
                agent.revoked = revoked;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put_report(
        &self,
        device_id: Uuid,
        received_at: DateTime<Utc>,
        report: &Report,
        _raw: Option<RawReport<'_>>,
    ) -> Result<PutOutcome, StoreError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.report_ids.contains_key(&report.report_id) {
            return Ok(PutOutcome::Duplicate);
        }
        let row = inner.devices.get(&device_id);
        let history = inner.history.entry(device_id).or_default();
        let new_pos = (received_at.timestamp_millis(), report.report_id);
        let plan = plan_retention(
            history.keys().map(|pos| Ok::<_, Infallible>(*pos)),
            row.map_or(0, |r| r.history_len),
            row.map(|r| r.summary.last_seen.timestamp_millis()),
            new_pos,
            self.retention,
        )
        .unwrap_or_else(|never| match never {});

        let summary = next_summary(
            row.map(|r| &r.summary),
            device_id,
            received_at,
            &ReportFacts::of(report),
        );
        for pos in &plan.delete {
            history.remove(pos);
        }
        if !plan.drop_new {
            history.insert(
                new_pos,
                StoredReport {
                    device_id,
                    received_at,
                    report: report.clone(),
                },
            );
        }
        let history_len = history.len() as u64;
        inner.stored = inner.stored + u64::from(!plan.drop_new) - plan.delete.len() as u64;
        inner.devices.insert(
            device_id,
            DeviceRow {
                summary,
                history_len,
            },
        );
        inner.report_ids.insert(report.report_id, device_id);
        Ok(PutOutcome::Stored)
    }

    fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError> {
        Ok(self
            .lock()
            .devices
            .values()
            .map(|row| row.summary.clone())
            .collect())
    }

    fn device(&self, id: Uuid) -> Result<Option<DeviceSummary>, StoreError> {
        Ok(self.lock().devices.get(&id).map(|row| row.summary.clone()))
    }

    fn history(&self, id: Uuid, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        Ok(self
            .lock()
            .history
            .get(&id)
            .map(|h| h.values().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    fn has_report(&self, report_id: Uuid) -> Result<bool, StoreError> {
        Ok(self.lock().report_ids.contains_key(&report_id))
    }

    fn report_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().stored)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn put_exception(&self, exception: &ExceptionRecord) -> Result<(), StoreError> {
        self.lock()
            .exceptions
            .insert(exception.device_id, exception.clone());
        Ok(())
    }

    fn exceptions(&self) -> Result<Vec<ExceptionRecord>, StoreError> {
        Ok(self.lock().exceptions.values().cloned().collect())
    }

    fn delete_exception(&self, device_id: Uuid) -> Result<bool, StoreError> {
        Ok(self.lock().exceptions.remove(&device_id).is_some())
    }
}
