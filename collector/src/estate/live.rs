//! The estate kept current: one writer thread owns the index and the rows, applies changes in
//! batches and publishes a new [`Snapshot`] after each batch; readers take the current snapshot
//! (one atomic load) and never wait for the writer.
//!
//! What changes what:
//! - an acknowledged report: its agent's component (`index.rs`) is derived again, from the
//!   report ingest hands over (no store read when it is still the newest);
//! - a stored import file: the components of its records;
//! - the exceptions register: the devices whose exception came, went or changed;
//! - a new catalog, weights or unit costs, or a new day (rules read today's date: days past end
//!   of support, stale devices): everything, while the previous snapshot is served; changes
//!   that arrive meanwhile are applied on top before the new snapshot is published.
//!
//! A failed store read leaves the last snapshot in place, logs the error, and retries the
//! batch with the next one; a whole derivation that fails is retried after a pause.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use ward_shared::Report;

use super::RiskContext;
use super::derive::{self, Inputs, Loaded};
use super::index::Index;
use super::row::{Interner, Member};
use super::snapshot::Snapshot;
use super::trend::{Trend, TrendDay};
use crate::risk::ExceptionInfo;
use crate::store::{Store, StoreError};

/// Where the estate reads the time: the clock, or a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Changes waiting for the writer.
#[derive(Default)]
struct Pending {
    /// Agent devices with a new report, with the report when ingest handed it over.
    agents: HashMap<Uuid, Option<Arc<Report>>>,
    /// Import files were stored.
    imports: bool,
    exceptions: bool,
    ctx: Option<Arc<RiskContext>>,
    everything: bool,
    stop: bool,
    /// Changes noted so far (a waiter waits until `applied` reaches the number it saw).
    noted: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && !self.imports
            && !self.exceptions
            && self.ctx.is_none()
            && !self.everything
    }
}

/// Loading progress and the last error, for the status line and the logs.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub phase: String,
    pub done: u64,
    pub last_error: Option<String>,
}

struct Shared {
    current: ArcSwap<Snapshot>,
    pending: Mutex<Pending>,
    wake: Condvar,
    applied: Mutex<u64>,
    applied_cv: Condvar,
    status: Mutex<Status>,
    trend: Mutex<Trend>,
}

/// The estate of a running collector.
pub struct Estate {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Estate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estate")
            .field("version", &self.snapshot().version)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Estate {
    /// Starts the writer: it derives the whole estate from the store, publishes it, then keeps
    /// it current. Until the first derivation is done the snapshot is empty and not `ready`.
    pub fn start(store: Arc<dyn Store>, ctx: RiskContext, clock: Clock) -> Arc<Estate> {
        let ctx = Arc::new(ctx);
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Snapshot::empty(ctx.clone(), clock())),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            applied: Mutex::new(0),
            applied_cv: Condvar::new(),
            status: Mutex::new(Status::default()),
            trend: Mutex::new(Trend::default()),
        });
        let writer = Writer {
            shared: shared.clone(),
            store,
            ctx,
            clock,
            index: Index::default(),
            strings: Interner::default(),
            exceptions: HashMap::new(),
            files: HashSet::new(),
            state: None,
            batches: 0,
        };
        let handle = std::thread::Builder::new()
            .name("ward-estate".into())
            .spawn(move || writer.run())
            .ok();
        if handle.is_none() {
            tracing::error!("could not start the estate's writer thread");
        }
        Arc::new(Estate {
            shared,
            writer: Mutex::new(handle),
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.current.load_full()
    }

    pub fn status(&self) -> Status {
        lock(&self.shared.status).clone()
    }

    /// The daily figures kept so far, oldest first (today's as they stand now).
    pub fn trend(&self) -> Vec<TrendDay> {
        lock(&self.shared.trend).days.values().cloned().collect()
    }

    fn note(&self, f: impl FnOnce(&mut Pending)) -> u64 {
        let mut p = lock(&self.shared.pending);
        f(&mut p);
        p.noted += 1;
        let n = p.noted;
        drop(p);
        self.shared.wake.notify_one();
        n
    }

    /// An agent's report was acknowledged; `report` is it (saves reading it back).
    pub fn report_stored(&self, agent: Uuid, report: Option<Report>) {
        self.note(|p| {
            p.agents.insert(agent, report.map(Arc::new));
        });
    }

    /// Import files were stored (the writer finds which).
    pub fn imports_stored(&self) {
        self.note(|p| p.imports = true);
    }

    /// The exceptions register changed.
    pub fn exceptions_changed(&self) {
        self.note(|p| p.exceptions = true);
    }

    /// A new catalog, weights or unit costs: everything is derived again in the background.
    pub fn set_context(&self, ctx: RiskContext) {
        self.note(|p| p.ctx = Some(Arc::new(ctx)));
    }

    /// Derive everything again from the store.
    pub fn rederive(&self) {
        self.note(|p| p.everything = true);
    }

    /// Waits until every change noted before this call is in the published snapshot, or the
    /// timeout passes; returns that snapshot (or the current one after the timeout).
    pub fn sync(&self, timeout: Duration) -> Arc<Snapshot> {
        let target = lock(&self.shared.pending).noted;
        let deadline = std::time::Instant::now() + timeout;
        let mut applied = lock(&self.shared.applied);
        while *applied < target || !self.snapshot().ready {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            applied = self
                .shared
                .applied_cv
                .wait_timeout(applied, left.min(Duration::from_millis(100)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(applied);
        self.snapshot()
    }

    /// Stops the writer (at the end of the batch it is in).
    pub fn stop(&self) {
        self.note(|p| p.stop = true);
        if let Some(h) = lock(&self.writer).take() {
            let _ = h.join();
        }
    }
}

impl Drop for Estate {
    fn drop(&mut self) {
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_one();
    }
}

/// The writer's side: everything it owns.
struct Writer {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    ctx: Arc<RiskContext>,
    clock: Clock,
    index: Index,
    strings: Interner,
    exceptions: HashMap<Uuid, ExceptionInfo>,
    /// Import files whose records are in the index.
    files: HashSet<Uuid>,
    /// The state being changed; published as a snapshot after each batch.
    state: Option<Snapshot>,
    batches: u64,
}

impl Writer {
    fn status(&self, phase: &str, done: u64) {
        let mut s = lock(&self.shared.status);
        s.phase = phase.to_owned();
        s.done = done;
    }

    fn failed(&self, what: &str, e: &StoreError) {
        tracing::error!(error = %e, "estate: {what} failed; the last snapshot stays in use");
        lock(&self.shared.status).last_error = Some(format!("{what}: {e}"));
    }

    fn run(mut self) {
        loop {
            match self.everything() {
                Ok(()) => break,
                Err(e) => {
                    self.failed("deriving the estate", &e);
                    if lock(&self.shared.pending).stop {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(5));
                }
            }
        }
        loop {
            let (batch, noted) = {
                let mut p = lock(&self.shared.pending);
                while p.is_empty() && !p.stop && !self.new_day() {
                    p = self
                        .shared
                        .wake
                        .wait_timeout(p, Duration::from_secs(1))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if p.stop {
                    return;
                }
                let noted = p.noted;
                let batch = std::mem::take(&mut *p);
                // The count goes on: waiters compare against it.
                p.noted = noted;
                (batch, noted)
            };
            let result = self.apply(batch);
            match result {
                Ok(()) => {
                    *lock(&self.shared.applied) = noted;
                    self.shared.applied_cv.notify_all();
                }
                Err((e, batch)) => {
                    self.failed("applying changes", &e);
                    // Keep the changes for the next round.
                    let mut p = lock(&self.shared.pending);
                    p.agents.extend(batch.agents);
                    p.imports |= batch.imports;
                    p.exceptions |= batch.exceptions;
                    p.everything |= batch.everything;
                    if p.ctx.is_none() {
                        p.ctx = batch.ctx;
                    }
                    drop(p);
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// The day changed since the rules were last judged.
    fn new_day(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.day != (self.clock)().date_naive())
    }

    /// Derives everything and publishes it.
    fn everything(&mut self) -> Result<(), StoreError> {
        let now = (self.clock)();
        self.exceptions = self
            .store
            .exceptions()?
            .into_iter()
            .map(|e| (e.device_id, e.info()))
            .collect();
        let files: HashSet<Uuid> = self.store.import_files()?.iter().map(|f| f.id).collect();
        let started = std::time::Instant::now();
        let mut strings = Interner::default();
        let shared = self.shared.clone();
        let mut progress = |phase: &str, n: u64| {
            let mut s = lock(&shared.status);
            s.phase = phase.to_owned();
            s.done = n;
            tracing::info!(n, "estate: {phase}");
        };
        let inputs = Inputs {
            ctx: &self.ctx,
            exceptions: &self.exceptions,
            now,
        };
        let (index, rows) =
            derive::everything(self.store.as_ref(), &inputs, &mut strings, &mut progress)?;
        let mut state = Snapshot::empty(self.ctx.clone(), now);
        for row in rows {
            state.insert(Arc::new(row));
        }
        state.ready = true;
        state.version = self.state.as_ref().map_or(0, |s| s.version) + 1;
        self.index = index;
        self.strings = strings;
        self.files = files;
        tracing::info!(
            devices = state.len(),
            observations = self.index.len(),
            ms = started.elapsed().as_millis() as u64,
            "estate derived"
        );
        self.status("ready", state.len() as u64);
        self.state = Some(state);
        self.publish();
        Ok(())
    }

    fn publish(&mut self) {
        if let Some(state) = &self.state {
            self.shared.current.store(Arc::new(state.clone()));
            if state.ready {
                lock(&self.shared.trend).record(TrendDay::of(state));
            }
        }
    }

    fn apply(&mut self, batch: Pending) -> Result<(), (StoreError, Pending)> {
        let everything = batch.everything || batch.ctx.is_some() || self.new_day();
        if let Some(ctx) = &batch.ctx {
            self.ctx = ctx.clone();
        }
        if everything && let Err(e) = self.everything() {
            return Err((e, batch));
        }
        if let Err(e) = self.changes(&batch) {
            return Err((e, batch));
        }
        self.batches += 1;
        if self.batches.is_multiple_of(256) {
            self.strings.sweep();
        }
        Ok(())
    }

    /// Applies reports, imports and exception changes.
    fn changes(&mut self, batch: &Pending) -> Result<(), StoreError> {
        let now = (self.clock)();
        let mut seeds: Vec<Member> = batch
            .agents
            .keys()
            .map(|id| Member::Agent { id: *id })
            .collect();
        let mut new_files = Vec::new();
        if batch.imports {
            for file in self.store.import_files()? {
                if !self.files.contains(&file.id) {
                    seeds.extend((0..file.records).map(|index| Member::Record {
                        file: file.id,
                        index,
                    }));
                    new_files.push(file.id);
                }
            }
        }
        if batch.exceptions {
            let fresh: HashMap<Uuid, ExceptionInfo> = self
                .store
                .exceptions()?
                .into_iter()
                .map(|e| (e.device_id, e.info()))
                .collect();
            let changed: BTreeSet<Uuid> = fresh
                .iter()
                .filter(|(id, e)| self.exceptions.get(id) != Some(e))
                .map(|(id, _)| *id)
                .chain(
                    self.exceptions
                        .keys()
                        .filter(|id| !fresh.contains_key(id))
                        .copied(),
                )
                .collect();
            self.exceptions = fresh;
            if let Some(state) = &self.state {
                for id in changed {
                    if let Some(row) = state.row(id) {
                        seeds.extend(row.members.iter().copied());
                    }
                }
            }
        }
        if seeds.is_empty() {
            return Ok(());
        }
        let reports: HashMap<Uuid, Arc<Report>> = batch
            .agents
            .iter()
            .filter_map(|(id, r)| r.clone().map(|r| (*id, r)))
            .collect();
        self.derive_components(seeds, &reports, now)?;
        self.files.extend(new_files);
        if let Some(state) = &mut self.state {
            state.version += 1;
            state.changed_at = now;
        }
        self.publish();
        Ok(())
    }

    /// Derives again the components of `seeds` (their keys read afresh) and swaps their rows.
    fn derive_components(
        &mut self,
        seeds: Vec<Member>,
        reports: &HashMap<Uuid, Arc<Report>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let store = self.store.clone();
        let Some(state) = self.state.as_ref() else {
            return Ok(());
        };
        let members_of = |d: Uuid| -> Vec<Member> {
            state.row(d).map(|r| r.members.to_vec()).unwrap_or_default()
        };
        // What the seeds were linked to before: their old keys and devices.
        let before = self.index.component(seeds.iter().copied(), &members_of);
        // The seeds as the store has them now, with their new keys.
        let mut loaded: HashMap<Member, Loaded> = HashMap::new();
        for m in &seeds {
            match derive::load(store.as_ref(), *m, reports)? {
                Some(l) => {
                    self.index.upsert(*m, l.keys());
                    loaded.insert(*m, l);
                }
                None => self.index.remove(m),
            }
        }
        let component = self
            .index
            .component(before.into_iter().chain(seeds), &members_of);
        let mut old_devices: BTreeSet<Uuid> = BTreeSet::new();
        let mut all = Vec::with_capacity(component.len());
        for m in component {
            if let Some(d) = self.index.device_of(&m) {
                old_devices.insert(d);
            }
            match loaded.remove(&m) {
                Some(l) => all.push(l),
                None => {
                    if let Some(l) = derive::load(store.as_ref(), m, reports)? {
                        all.push(l);
                    }
                }
            }
        }
        let inputs = Inputs {
            ctx: &self.ctx,
            exceptions: &self.exceptions,
            now,
        };
        let rows = derive::rows_of(all, &inputs, &mut self.strings);
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        for d in old_devices {
            state.remove(d);
        }
        for row in rows {
            for m in row.members.iter() {
                self.index.set_device(m, row.id);
            }
            state.remove(row.id);
            state.insert(Arc::new(row));
        }
        Ok(())
    }
}

/// The whole estate derived once, for a command that runs without a server.
pub fn derive_once(
    store: &dyn Store,
    ctx: RiskContext,
    now: DateTime<Utc>,
) -> Result<Snapshot, StoreError> {
    let exceptions: HashMap<Uuid, ExceptionInfo> = store
        .exceptions()?
        .into_iter()
        .map(|e| (e.device_id, e.info()))
        .collect();
    let ctx = Arc::new(ctx);
    let inputs = Inputs {
        ctx: &ctx,
        exceptions: &exceptions,
        now,
    };
    let mut strings = Interner::default();
    let (_, rows) = derive::everything(store, &inputs, &mut strings, &mut |_, _| {})?;
    let mut state = Snapshot::empty(ctx.clone(), now);
    for row in rows {
        state.insert(Arc::new(row));
    }
    state.ready = true;
    state.version = 1;
    Ok(state)
}
