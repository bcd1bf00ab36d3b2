//! The merged device: every observation of one machine (agent reports, probe, systeminfo, qfe,
//! AD, nmap), its facts side by side with their source and time, and the one value of each fact
//! that the risk engine reads.
//!
//! # Which value wins
//!
//! Only each source's newest observation of the device takes part (older ones stay in the
//! device's history). For every fact (a leaf of the report: `os.build`, `hardware.serial`...)
//! the candidates are ordered:
//!
//! 1. fresh before outdated: a value observed more than [`OUTDATED_DAYS`] days before the newest
//!    value of the same fact is outdated (a systeminfo from last week beats an agent that
//!    stopped reporting last year);
//! 2. then the more direct source: agent, probe, systeminfo, qfe, AD, nmap;
//! 3. then the fresher observation.
//!
//! The first wins; every candidate with another value is listed under the fact as a
//! disagreement. Lists that add up rather than compete (installed updates, MAC and IP
//! addresses) are the union of all current observations, the winner's entries first.
//!
//! Pure: no store, no clock; `now` is passed in.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use ward_shared::{AgentInfo, Report};

use super::identity::{self, Identity, Observation, Source};
use super::typed::{Candidate, merge_into};
use crate::risk::{DeviceFacts, ExtraEvidence};
use crate::store::{DeviceSummary, StoredRecord};

/// A value this many days older than the newest value of the same fact is outdated.
pub const OUTDATED_DAYS: i64 = 30;

/// Report fields that are not facts about the machine.
const NOT_FACTS: &[&str] = &[
    "schema_version",
    "report_id",
    "collected_at",
    "agent",
    "errors",
];

/// Lists merged as a union instead of competing.
const UNION_FIELDS: &[&str] = &[
    "patches.installed",
    "host.mac_addresses",
    "host.ip_addresses",
];

/// An agent device as the store has it: its summary and newest report.
#[derive(Debug, Clone)]
pub struct AgentDevice {
    pub summary: DeviceSummary,
    pub latest: Report,
}

/// One observation of the device, as listed in the device view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub source: Source,
    pub observed_at: DateTime<Utc>,
    /// The agent device id, or the record id (its report id).
    pub id: Uuid,
    /// The import file it came from (records only).
    #[serde(default)]
    pub file_id: Option<Uuid>,
    /// File name and host within it, or `agent` for agent reports.
    pub origin: String,
    /// This source's newest observation of the device: its facts take part in the merge.
    pub current: bool,
    /// Older than the stale window: kept as history, not counted as a sighting.
    pub stale: bool,
}

/// One source's value of a fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub value: Value,
    pub source: Source,
    pub observed_at: DateTime<Utc>,
    pub origin: String,
}

/// One fact of the merged device: the winning value, where it came from, which other sources
/// agree, and which say otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Dotted report path: `os.build`, `hardware.serial`.
    pub field: String,
    pub value: Value,
    pub source: Source,
    pub observed_at: DateTime<Utc>,
    pub origin: String,
    /// Other current sources with the same value.
    #[serde(default)]
    pub agreeing: Vec<Source>,
    /// Current sources with another value (the disagreement, shown, not hidden).
    #[serde(default)]
    pub disagreeing: Vec<Claim>,
}

/// One machine, merged from all its observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// The agent's device id when an agent reports for the machine (the earliest enrolled);
    /// otherwise the id of the machine's earliest imported record. Stable while those exist.
    pub id: Uuid,
    /// Other ids that name this device (other agent ids, record ids); the API and the
    /// exceptions register accept them too.
    pub aliases: Vec<Uuid>,
    pub hostname: Option<String>,
    pub os_name: Option<String>,
    pub site: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// An agent or probe reported within the stale window.
    pub managed: bool,
    /// Seen by any source within the stale window; stale devices leave the active counts.
    pub active: bool,
    /// Every observation, newest first.
    pub sightings: Vec<Sighting>,
    pub facts: Vec<Fact>,
    /// The merged facts in the agent's shape: what the risk engine assesses.
    pub merged: Report,
    pub evidence: Vec<ExtraEvidence>,
    pub hotfix_list_complete: Option<bool>,
    /// Reports and records seen for the device (agent reports counted since first seen).
    pub observation_count: u64,
}

impl Device {
    /// Sources whose newest observation takes part, most direct first.
    pub fn current_sources(&self) -> Vec<Source> {
        let set: BTreeSet<Source> = self
            .sightings
            .iter()
            .filter(|s| s.current)
            .map(|s| s.source)
            .collect();
        set.into_iter().collect()
    }

    /// Seen only from outside (AD, nmap): no agent, probe, systeminfo or qfe.
    pub fn unmanaged(&self) -> bool {
        !self.managed
    }

    /// Agent device ids among the sightings (their report history belongs to this device).
    pub fn agent_ids(&self) -> Vec<Uuid> {
        self.sightings
            .iter()
            .filter(|s| s.source == Source::Agent)
            .map(|s| s.id)
            .collect()
    }

    /// Whether `id` names this device.
    pub fn is_named(&self, id: Uuid) -> bool {
        self.id == id || self.aliases.contains(&id)
    }

    /// What the risk engine assesses.
    pub fn risk_facts(&self) -> DeviceFacts {
        let mut facts = DeviceFacts::new(self.id.to_string(), self.merged.clone(), self.last_seen);
        facts.evidence.clone_from(&self.evidence);
        facts.hotfix_list_complete = self.hotfix_list_complete;
        facts.sources = self
            .current_sources()
            .into_iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        facts
    }
}

/// One observation with what the merge needs of it.
struct Obs<'a> {
    source: Source,
    observed_at: DateTime<Utc>,
    first_seen: DateTime<Utc>,
    report: Cow<'a, Report>,
    evidence: &'a [ExtraEvidence],
    hotfix_list_complete: Option<bool>,
    id: Uuid,
    file_id: Option<Uuid>,
    origin: String,
    /// Orders candidates for the device id: agents by enrolment, records by import.
    seniority: (u8, DateTime<Utc>, Uuid, u32),
    count: u64,
}

pub(crate) fn agent_identity(r: &Report) -> Identity {
    Identity {
        hardware_uuid: r.host.hardware_uuid.clone(),
        serial: r.hardware.serial.clone(),
        macs: r.host.mac_addresses.clone(),
        fqdn: r.host.fqdn.clone(),
        host_name: r.host.hostname.clone(),
        domain: r.host.domain.clone(),
        ips: r
            .host
            .ip_addresses
            .iter()
            .filter_map(|i| i.parse().ok())
            .collect(),
    }
}

/// The record's report with the identity's keys filled in where the report lacks them, so the
/// names and addresses the matcher used are facts of the device too.
fn with_identity<'a>(report: &'a Report, id: &Identity) -> Cow<'a, Report> {
    let h = &report.host;
    let needed = (h.hostname.is_none() && id.host_name.is_some())
        || (h.fqdn.is_none() && id.fqdn.is_some())
        || (h.domain.is_none() && id.domain.is_some())
        || (h.hardware_uuid.is_none() && id.hardware_uuid.is_some())
        || (report.hardware.serial.is_none() && id.serial.is_some())
        || (h.mac_addresses.is_empty() && !id.macs.is_empty())
        || (h.ip_addresses.is_empty() && !id.ips.is_empty());
    if !needed {
        return Cow::Borrowed(report);
    }
    let mut r = report.clone();
    let fill = |slot: &mut Option<String>, v: &Option<String>| {
        if slot.is_none() {
            slot.clone_from(v);
        }
    };
    fill(&mut r.host.hostname, &id.host_name);
    fill(&mut r.host.fqdn, &id.fqdn);
    fill(&mut r.host.domain, &id.domain);
    fill(&mut r.host.hardware_uuid, &id.hardware_uuid);
    fill(&mut r.hardware.serial, &id.serial);
    if r.host.mac_addresses.is_empty() {
        r.host.mac_addresses = id
            .macs
            .iter()
            .map(|m| identity::normalize_mac(m).unwrap_or_else(|| m.clone()))
            .collect();
    }
    if r.host.ip_addresses.is_empty() {
        r.host.ip_addresses = id.ips.iter().map(ToString::to_string).collect();
    }
    Cow::Owned(r)
}

/// How much of the device [`merge`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything, with the side-by-side fact table ([`Device::facts`]): the device page.
    Facts,
    /// The merged report and the rest, without the fact table (left empty): the estate.
    Merged,
}

/// Groups and merges every observation into devices, ordered by id.
pub fn merge(
    agents: &[AgentDevice],
    records: &[StoredRecord],
    now: DateTime<Utc>,
    stale_days: u32,
) -> Vec<Device> {
    merge_with(agents, records, now, stale_days, Detail::Facts)
}

/// [`merge`], building as much of each device as `detail` says.
pub fn merge_with(
    agents: &[AgentDevice],
    records: &[StoredRecord],
    now: DateTime<Utc>,
    stale_days: u32,
    detail: Detail,
) -> Vec<Device> {
    let mut obs: Vec<Obs<'_>> = Vec::with_capacity(agents.len() + records.len());
    let mut observations = Vec::with_capacity(obs.capacity());
    for a in agents {
        observations.push(Observation {
            source: Source::Agent,
            observed_at: a.summary.last_seen,
            identity: agent_identity(&a.latest),
        });
        obs.push(Obs {
            source: Source::Agent,
            observed_at: a.summary.last_seen,
            first_seen: a.summary.first_seen,
            report: Cow::Borrowed(&a.latest),
            evidence: &[],
            hotfix_list_complete: None,
            id: a.summary.id,
            file_id: None,
            origin: "agent".to_owned(),
            seniority: (0, a.summary.first_seen, a.summary.id, 0),
            count: a.summary.report_count,
        });
    }
    for r in records {
        let rec = &r.record;
        observations.push(Observation {
            source: rec.source,
            observed_at: rec.observed_at,
            identity: rec.identity.clone(),
        });
        obs.push(Obs {
            source: rec.source,
            observed_at: rec.observed_at,
            first_seen: rec.observed_at,
            report: with_identity(&rec.report, &rec.identity),
            evidence: &rec.evidence,
            hotfix_list_complete: rec.hotfix_list_complete,
            id: r.id(),
            file_id: Some(r.file_id),
            origin: rec.origin.clone(),
            seniority: (1, r.imported_at, r.file_id, r.index),
            count: 1,
        });
    }
    let groups = identity::group(&observations);
    let mut members: BTreeMap<usize, Vec<&Obs<'_>>> = BTreeMap::new();
    for (o, g) in obs.iter().zip(groups) {
        members.entry(g).or_default().push(o);
    }
    let stale_after = Duration::days(i64::from(stale_days));
    let mut devices: Vec<Device> = members
        .into_values()
        .map(|m| build(m, now, stale_after, detail))
        .collect();
    devices.sort_by_key(|d| d.id);
    devices
}

fn build(
    mut members: Vec<&Obs<'_>>,
    now: DateTime<Utc>,
    stale_after: Duration,
    detail: Detail,
) -> Device {
    // Most direct first, newest first within a source.
    members.sort_by(|a, b| {
        a.source
            .cmp(&b.source)
            .then(b.observed_at.cmp(&a.observed_at))
            .then(a.id.cmp(&b.id))
    });
    let primary = members
        .iter()
        .min_by_key(|o| o.seniority)
        .map_or(Uuid::nil(), |o| o.id);
    let mut seen_sources = BTreeSet::new();
    let current: Vec<&Obs<'_>> = members
        .iter()
        .copied()
        .filter(|o| seen_sources.insert(o.source))
        .collect();
    let is_stale = |t: DateTime<Utc>| now - t > stale_after;

    let mut sightings: Vec<Sighting> = members
        .iter()
        .map(|o| Sighting {
            source: o.source,
            observed_at: o.observed_at,
            id: o.id,
            file_id: o.file_id,
            origin: o.origin.clone(),
            current: current.iter().any(|c| std::ptr::eq(*c, *o)),
            stale: is_stale(o.observed_at),
        })
        .collect();
    sightings.sort_by(|a, b| {
        b.observed_at
            .cmp(&a.observed_at)
            .then(a.source.cmp(&b.source))
    });
    let mut aliases: Vec<Uuid> = members
        .iter()
        .map(|o| o.id)
        .filter(|id| *id != primary)
        .collect();
    aliases.sort();
    aliases.dedup();

    let last_seen = members.iter().map(|o| o.observed_at).max().unwrap_or(now);
    let first_seen = members
        .iter()
        .map(|o| o.first_seen)
        .min()
        .unwrap_or(last_seen);
    let managed = members
        .iter()
        .any(|o| o.source.is_managed() && !is_stale(o.observed_at));

    let facts = if detail == Detail::Facts {
        merge_facts(&current)
    } else {
        Vec::new()
    };
    let merged = merged_report(&current, last_seen);
    let evidence = merge_evidence(&current);
    let hotfix_list_complete = hotfix_completeness(&current);

    Device {
        id: primary,
        aliases,
        hostname: merged.host.hostname.clone(),
        os_name: merged.os.name.clone(),
        site: merged.tags.site.clone(),
        first_seen,
        last_seen,
        managed,
        active: !is_stale(last_seen),
        sightings,
        facts,
        merged,
        evidence,
        hotfix_list_complete,
        observation_count: members.iter().map(|o| o.count).sum(),
    }
}

/// The report's facts as (dotted path, value) leaves; absent values left out.
fn flatten(report: &Report) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::Array(a) if a.is_empty() => {}
            Value::Object(m) => {
                for (k, v) in m {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if prefix.is_empty() && NOT_FACTS.contains(&k.as_str()) {
                        continue;
                    }
                    walk(&path, v, out);
                }
            }
            // The family's default says nothing.
            Value::String(s) if prefix == "os.family" && s == "other" => {}
            other => out.push((prefix.to_owned(), other.clone())),
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(report) {
        walk("", &v, &mut out);
    }
    out
}

fn merge_facts(current: &[&Obs<'_>]) -> Vec<Fact> {
    // field -> claims in `current` order (most direct first).
    let mut claims: BTreeMap<String, Vec<Claim>> = BTreeMap::new();
    for o in current {
        for (field, value) in flatten(&o.report) {
            claims.entry(field).or_default().push(Claim {
                value,
                source: o.source,
                observed_at: o.observed_at,
                origin: o.origin.clone(),
            });
        }
    }
    let outdated = Duration::days(OUTDATED_DAYS);
    claims
        .into_iter()
        .filter_map(|(field, mut cs)| {
            let newest = cs.iter().map(|c| c.observed_at).max()?;
            cs.sort_by(|a, b| {
                let old = |c: &Claim| newest - c.observed_at > outdated;
                old(a)
                    .cmp(&old(b))
                    .then(a.source.cmp(&b.source))
                    .then(b.observed_at.cmp(&a.observed_at))
            });
            let mut rest = cs.into_iter();
            let winner = rest.next()?;
            let (mut agreeing, mut disagreeing) = (Vec::new(), Vec::new());
            let union = UNION_FIELDS.contains(&field.as_str());
            let mut value = winner.value.clone();
            for c in rest {
                if union {
                    value = union_lists(&value, &c.value);
                    agreeing.push(c.source);
                } else if same_value(&c.value, &winner.value) {
                    agreeing.push(c.source);
                } else {
                    disagreeing.push(c);
                }
            }
            Some(Fact {
                field,
                value,
                source: winner.source,
                observed_at: winner.observed_at,
                origin: winner.origin,
                agreeing,
                disagreeing,
            })
        })
        .collect()
}

/// Equal, ignoring case and surrounding space for strings.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        _ => a == b,
    }
}

/// `a`'s entries, then `b`'s that `a` lacks (objects compared by their `id`).
fn union_lists(a: &Value, b: &Value) -> Value {
    let (Value::Array(a), Value::Array(b)) = (a, b) else {
        return a.clone();
    };
    let key = |v: &Value| match v {
        Value::Object(m) => m
            .get("id")
            .map(|id| id.to_string().to_ascii_uppercase())
            .unwrap_or_else(|| v.to_string()),
        Value::String(s) => s.to_ascii_lowercase(),
        other => other.to_string(),
    };
    let mut seen: BTreeSet<String> = a.iter().map(key).collect();
    let mut out = a.clone();
    for v in b {
        if seen.insert(key(v)) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

#[cfg(test)]
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = node else { return };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// The report every merged device starts from: no facts, the newest observation's report id,
/// the agent's name, errors and schema version when an agent reports for the machine.
fn base_report(current: &[&Obs<'_>], last_seen: DateTime<Utc>) -> Report {
    let newest = current.iter().max_by_key(|o| o.observed_at);
    let agent = current.iter().find(|o| o.source == Source::Agent);
    let info = agent.map_or_else(
        || AgentInfo {
            id: None,
            name: "ward-merge".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        |a| a.report.agent.clone(),
    );
    let mut base = Report::new(info, last_seen);
    if let Some(n) = newest {
        base.report_id = n.report.report_id;
    }
    if let Some(a) = agent {
        base.errors.clone_from(&a.report.errors);
        base.schema_version = a.report.schema_version;
    }
    base
}

/// The merged facts in the agent's shape (see `typed.rs`).
fn merged_report(current: &[&Obs<'_>], last_seen: DateTime<Utc>) -> Report {
    let mut out = base_report(current, last_seen);
    let candidates: Vec<Candidate<'_>> = current
        .iter()
        .map(|o| Candidate {
            report: &o.report,
            source: o.source,
            observed_at: o.observed_at,
        })
        .collect();
    merge_into(&candidates, &mut out);
    out
}

/// The merged report as the generic walk builds it from the fact table: the reference the
/// typed merge is tested against.
#[cfg(test)]
fn merged_report_generic(current: &[&Obs<'_>], facts: &[Fact], last_seen: DateTime<Utc>) -> Report {
    let base = base_report(current, last_seen);
    let fallback = base.clone();
    let Ok(mut root) = serde_json::to_value(&base) else {
        return fallback;
    };
    for f in facts {
        set_path(&mut root, &f.field, f.value.clone());
    }
    serde_json::from_value(root).unwrap_or(fallback)
}

/// Each kind of evidence once: the freshest observation's.
fn merge_evidence(current: &[&Obs<'_>]) -> Vec<ExtraEvidence> {
    let mut by_kind: HashMap<&'static str, (DateTime<Utc>, ExtraEvidence)> = HashMap::new();
    for o in current {
        for e in o.evidence {
            let kind = match e {
                ExtraEvidence::Smb1Offered { .. } => "smb1_offered",
                ExtraEvidence::Ms17010Vulnerable { .. } => "ms17_010_vulnerable",
                ExtraEvidence::InternetFacing { .. } => "internet_facing",
            };
            let at = match e {
                ExtraEvidence::Smb1Offered { observed_at, .. }
                | ExtraEvidence::Ms17010Vulnerable { observed_at, .. } => {
                    observed_at.unwrap_or(o.observed_at)
                }
                ExtraEvidence::InternetFacing { .. } => o.observed_at,
            };
            match by_kind.get(kind) {
                Some((t, _)) if *t >= at => {}
                _ => {
                    by_kind.insert(kind, (at, e.clone()));
                }
            }
        }
    }
    let mut out: Vec<(&str, ExtraEvidence)> =
        by_kind.into_iter().map(|(k, (_, e))| (k, e)).collect();
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, e)| e).collect()
}

/// Complete when a source with a complete list is as fresh as the others that list updates
/// (within [`OUTDATED_DAYS`]); otherwise what the freshest list says.
fn hotfix_completeness(current: &[&Obs<'_>]) -> Option<bool> {
    let listing: Vec<&&Obs<'_>> = current
        .iter()
        .filter(|o| !o.report.patches.installed.is_empty())
        .collect();
    let newest = listing.iter().map(|o| o.observed_at).max()?;
    let fresh = |o: &&&Obs<'_>| newest - o.observed_at <= Duration::days(OUTDATED_DAYS);
    if listing
        .iter()
        .any(|o| fresh(o) && o.hotfix_list_complete == Some(true))
    {
        return Some(true);
    }
    listing
        .iter()
        .max_by_key(|o| o.observed_at)
        .and_then(|o| o.hotfix_list_complete)
}

#[cfg(test)]
mod typed_equivalence {
    //! The typed merge (`typed.rs`) gives the report the generic walk over the fact table gives.

    use chrono::TimeZone;
    use proptest::prelude::*;
    use ward_shared::{Disk, InstalledUpdate, OsFamily};

    use super::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some(String::new())),
            Just(Some("  ".to_owned())),
            Just(Some("PC1".to_owned())),
            Just(Some("pc2".to_owned())),
            Just(Some("Windows 10 Pro".to_owned())),
        ]
    }

    fn report() -> impl Strategy<Value = Report> {
        (
            (text(), text(), text(), text(), text()),
            (
                prop::collection::vec(
                    prop_oneof![
                        Just("AA:BB:CC:00:00:01"),
                        Just("aa:bb:cc:00:00:01"),
                        Just("aa:bb:cc:00:00:02")
                    ],
                    0..3,
                ),
                prop::collection::vec(prop_oneof![Just("10.0.0.1"), Just("10.0.0.2")], 0..3),
                prop::collection::vec(
                    prop_oneof![Just("KB1"), Just("kb1"), Just("KB2"), Just("KB3")],
                    0..4,
                ),
            ),
            (
                prop_oneof![
                    Just(OsFamily::Other),
                    Just(OsFamily::Windows),
                    Just(OsFamily::Linux)
                ],
                prop::option::of(0u32..3),
                prop::option::of(any::<bool>()),
                prop::option::of(0u64..3),
                0usize..3,
            ),
            prop::collection::btree_map(
                prop_oneof![Just("a"), Just("b"), Just("form_factor")],
                prop_oneof![Just(""), Just(" "), Just("x"), Just("y")],
                0..3,
            ),
        )
            .prop_map(
                |(
                    (t1, t2, t3, t4, t5),
                    (macs, ips, kbs),
                    (family, rev, flag, ram, disks),
                    labels,
                )| {
                    let mut r = Report::new(
                        AgentInfo::default(),
                        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                    );
                    r.host.hostname = t1.clone();
                    r.host.fqdn = t2;
                    r.os.name = t3;
                    r.os.build = t4;
                    r.hardware.serial = t5;
                    r.tags.site = t1;
                    r.host.mac_addresses = macs.into_iter().map(str::to_owned).collect();
                    r.host.ip_addresses = ips.into_iter().map(str::to_owned).collect();
                    r.patches.installed = kbs
                        .into_iter()
                        .map(|k| InstalledUpdate {
                            id: k.to_owned(),
                            kind: None,
                            installed_on: None,
                        })
                        .collect();
                    r.os.family = family;
                    r.os.revision = rev;
                    r.security.smb1_server_enabled = flag;
                    r.hardware.tpm.present = flag.map(|f| !f);
                    r.hardware.ram_bytes = ram;
                    r.hardware.disks = (0..disks)
                        .map(|i| Disk {
                            name: format!("d{i}"),
                            ..Disk::default()
                        })
                        .collect();
                    r.tags.labels = labels
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    r
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn typed_merge_equals_the_generic_walk(
            obs in prop::collection::vec((report(), 0i64..90), 1..5),
        ) {
            let sources = [Source::Agent, Source::Probe, Source::Systeminfo, Source::Qfe, Source::Ad, Source::Nmap];
            let base = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
            let owned: Vec<Obs<'_>> = obs
                .into_iter()
                .enumerate()
                .map(|(i, (report, days))| Obs {
                    source: sources[i],
                    observed_at: base - Duration::days(days),
                    first_seen: base - Duration::days(days),
                    report: Cow::Owned(report),
                    evidence: &[],
                    hotfix_list_complete: None,
                    id: Uuid::from_u128(i as u128 + 1),
                    file_id: None,
                    origin: String::new(),
                    seniority: (0, base, Uuid::nil(), 0),
                    count: 1,
                })
                .collect();
            let current: Vec<&Obs<'_>> = owned.iter().collect();
            let facts = merge_facts(&current);
            let generic = merged_report_generic(&current, &facts, base);
            let typed = merged_report(&current, base);
            prop_assert_eq!(typed, generic);
        }
    }
}
