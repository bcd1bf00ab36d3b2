//! One device per machine: agent devices and imported records grouped by identity
//! ([`identity`]), their facts merged with sources side by side ([`merge`]), and the coverage
//! view ([`coverage`]).
//!
//! Architecture invariant: the grouping and the merge are computed on request from what the
//! store holds (agent devices' newest reports and every import record); nothing derived is
//! stored, so a better matcher applies to old data at once. Device ids stay stable: an agent
//! device keeps its agent id, and an import-only device is named by its earliest record.

pub mod coverage;
pub mod identity;
pub mod merge;
pub mod typed;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use merge::{AgentDevice, Device};

use crate::store::{Store, StoreError};

/// Every device, merged, ordered by id. `stale_days`: a sighting older than this no longer
/// counts as the device being seen (it stays in the history).
pub fn load(
    store: &dyn Store,
    now: DateTime<Utc>,
    stale_days: u32,
) -> Result<Vec<Device>, StoreError> {
    let mut agents = Vec::new();
    for summary in store.devices()? {
        if let Some(latest) = store.history(summary.id, 1)?.into_iter().next() {
            agents.push(AgentDevice {
                summary,
                latest: latest.report,
            });
        }
    }
    let records = store.import_records()?;
    Ok(merge::merge(&agents, &records, now, stale_days))
}

/// Withholds the device's network details (addresses, DNS names, what scans saw) for a role
/// that may not see them, as `api::redact` does for reports.
pub fn redact(device: &mut Device) {
    use crate::api::redact::{WITHHELD, is_network_field};
    crate::api::redact::report(&mut device.merged);
    for f in &mut device.facts {
        if is_network_field(&f.field) {
            f.value = WITHHELD.into();
            for c in &mut f.disagreeing {
                c.value = WITHHELD.into();
            }
        }
        f.origin = withhold_host(&f.origin);
        for c in &mut f.disagreeing {
            c.origin = withhold_host(&c.origin);
        }
    }
    for s in &mut device.sightings {
        s.origin = withhold_host(&s.origin);
    }
}

/// `scan.xml#10.0.0.7` -> `scan.xml#(withheld for this role)`.
fn withhold_host(origin: &str) -> String {
    match origin.split_once('#') {
        Some((file, _)) => format!("{file}#{}", crate::api::redact::WITHHELD),
        None => origin.to_owned(),
    }
}

/// The device `id` names (its own id or an alias).
pub fn find(devices: &[Device], id: Uuid) -> Option<&Device> {
    devices.iter().find(|d| d.is_named(id))
}

#[cfg(test)]
mod tests;
