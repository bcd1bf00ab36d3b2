//! From the store to rows: the whole estate at start and after a catalog, weights or day
//! change; one component (`index.rs`) after a report, an import or an exception.
//!
//! The whole estate is read in one streamed pass per kind: first every import record (their
//! keys only), then every agent device's newest report. An agent that shares no key with any
//! record is a device on its own (the common case): it is merged and assessed as it streams
//! past, and its report is dropped. The rest (agents that records may join, and the records)
//! is grouped by component and read again, component by component. Memory stays at the
//! index and the rows, whatever the size of the store.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use ward_shared::Report;

use super::index::{Index, key_hashes};
use super::reads;
use super::row::{Facts, Interner, Member, Row, ScanSmb};
use super::{RiskContext, assess_merged, form_factor};
use crate::devices::merge::{self, AgentDevice, Detail, agent_identity};
use crate::import::{Source, SourceDetail};
use crate::risk::ExceptionInfo;
use crate::store::{DeviceSummary, Store, StoreError, StoredRecord};

/// What a derivation needs besides the store.
pub struct Inputs<'a> {
    pub ctx: &'a RiskContext,
    pub exceptions: &'a HashMap<Uuid, ExceptionInfo>,
    pub now: DateTime<Utc>,
}

/// One observation as read from the store.
pub enum Loaded {
    Agent(Box<AgentDevice>),
    Record(Box<StoredRecord>),
}

impl Loaded {
    pub fn member(&self) -> Member {
        match self {
            Loaded::Agent(a) => Member::Agent { id: a.summary.id },
            Loaded::Record(r) => Member::Record {
                file: r.file_id,
                index: r.index,
            },
        }
    }

    pub fn keys(&self) -> Box<[u64]> {
        match self {
            Loaded::Agent(a) => key_hashes(&agent_identity(&a.latest)),
            Loaded::Record(r) => key_hashes(&r.record.identity),
        }
    }
}

/// Reads one observation; `None` when the store no longer has it.
pub fn load(
    store: &dyn Store,
    member: Member,
    reports: &HashMap<Uuid, Arc<Report>>,
) -> Result<Option<Loaded>, StoreError> {
    Ok(match member {
        Member::Agent { id } => {
            let Some(summary) = store.device(id)? else {
                return Ok(None);
            };
            let latest = match reports.get(&id) {
                Some(r) if r.report_id == summary.last_report_id => Report::clone(r),
                _ => match reads::latest(store, id)? {
                    Some((_, r)) => r,
                    None => return Ok(None),
                },
            };
            Some(Loaded::Agent(Box::new(AgentDevice { summary, latest })))
        }
        Member::Record { file, index } => {
            reads::import_record(store, file, index)?.map(|r| Loaded::Record(Box::new(r)))
        }
    })
}

/// Merges and assesses loaded observations into rows; each row lists its members.
pub fn rows_of(loaded: Vec<Loaded>, inputs: &Inputs<'_>, strings: &mut Interner) -> Vec<Row> {
    let mut agents = Vec::new();
    let mut records = Vec::new();
    for l in loaded {
        match l {
            Loaded::Agent(a) => agents.push(*a),
            Loaded::Record(r) => records.push(*r),
        }
    }
    let scans: HashMap<Uuid, ScanSmb> = records
        .iter()
        .filter_map(|r| match &r.record.detail {
            SourceDetail::Nmap(n) => Some((
                r.id(),
                ScanSmb {
                    ms17_010: n.ms17_010.clone(),
                    smb1_offered: n.smb1_offered,
                },
            )),
            _ => None,
        })
        .collect();
    // Computer accounts the directory says are disabled.
    let disabled: HashMap<Uuid, ()> = records
        .iter()
        .filter(|r| matches!(&r.record.detail, SourceDetail::Ad(ad) if ad.enabled == Some(false)))
        .map(|r| (r.id(), ()))
        .collect();
    let record_members: HashMap<Uuid, Member> = records
        .iter()
        .map(|r| {
            (
                r.id(),
                Member::Record {
                    file: r.file_id,
                    index: r.index,
                },
            )
        })
        .collect();
    let devices = merge::merge_with(
        &agents,
        &records,
        inputs.now,
        inputs.ctx.weights.stale_after_days,
        Detail::Merged,
    );
    devices
        .into_iter()
        .map(|device| {
            let mut members: Vec<Member> = device
                .sightings
                .iter()
                .filter_map(|s| match s.source {
                    Source::Agent => Some(Member::Agent { id: s.id }),
                    _ => record_members.get(&s.id).copied(),
                })
                .collect();
            members.sort();
            members.dedup();
            let assessed = assess_merged(&device, inputs.ctx, inputs.exceptions, inputs.now);
            let exception = super::exception_for(&device, inputs.exceptions).is_some();
            // Sightings are newest first: the newest scan that ran each script decides.
            let mut scan = ScanSmb::default();
            for s in device.sightings.iter().filter(|s| s.source == Source::Nmap) {
                if let Some(f) = scans.get(&s.id) {
                    if scan.ms17_010.is_none() {
                        scan.ms17_010.clone_from(&f.ms17_010);
                    }
                    if scan.smb1_offered.is_none() {
                        scan.smb1_offered = f.smb1_offered;
                    }
                }
            }
            let disabled_since = device
                .sightings
                .iter()
                .filter(|s| s.source == Source::Ad && s.current)
                .find_map(|s| disabled.get(&s.id).map(|_| s.observed_at));
            let liveness = inputs.ctx.liveness.liveness(
                &super::row::last_seen_by(&device),
                disabled_since,
                inputs.now,
            );
            Row::build(
                &device,
                &assessed.assessment,
                Facts {
                    members,
                    form_factor: form_factor(&assessed.report),
                    exception,
                    scan,
                    liveness,
                },
                strings,
            )
        })
        .collect()
}

/// Progress of a whole derivation, for the log and the status page.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64);

/// The whole estate: the index of every observation (each with its device) and every row.
pub fn everything(
    store: &dyn Store,
    inputs: &Inputs<'_>,
    strings: &mut Interner,
    progress: Progress<'_>,
) -> Result<(Index, Vec<Row>), StoreError> {
    let mut index = Index::default();
    let mut n = 0u64;
    reads::for_each_import_record(store, &mut |r| {
        index.upsert(
            Member::Record {
                file: r.file_id,
                index: r.index,
            },
            key_hashes(&r.record.identity),
        );
        n += 1;
        if n.is_multiple_of(100_000) {
            progress("records indexed", n);
        }
    })?;
    let mut rows = Vec::new();
    let mut n = 0u64;
    reads::for_each_latest(store, &mut |summary: DeviceSummary, latest: Report| {
        let member = Member::Agent { id: summary.id };
        index.upsert(member, key_hashes(&agent_identity(&latest)));
        if index.agent_alone(&member) {
            rows.extend(rows_of(
                vec![Loaded::Agent(Box::new(AgentDevice { summary, latest }))],
                inputs,
                strings,
            ));
        }
        n += 1;
        if n.is_multiple_of(100_000) {
            progress("agent devices assessed", n);
        }
    })?;
    for row in &rows {
        for m in row.members.iter() {
            index.set_device(m, row.id);
        }
    }
    let none = HashMap::new();
    for component in index.undevised_components() {
        let mut loaded = Vec::with_capacity(component.len());
        for m in component {
            if let Some(l) = load(store, m, &none)? {
                loaded.push(l);
            }
        }
        for row in rows_of(loaded, inputs, strings) {
            for m in row.members.iter() {
                index.set_device(m, row.id);
            }
            rows.push(row);
        }
    }
    progress("devices derived", rows.len() as u64);
    Ok((index, rows))
}
