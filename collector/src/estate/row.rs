//! One device as the estate keeps it: a compact row with what every estate view reads (the
//! ranking, the summary, coverage, the plan, the exports), derived from the merged device and its
//! assessment. Text that many devices share (operating system names, sites, finding sentences,
//! evidence values) is interned, so the estate costs little per device. The device page does not
//! read rows: it derives its one device afresh from the store, with every fact and its source.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::class::{DeviceClass, Liveness, classify};
use crate::devices::Device;
use crate::devices::identity::{Source, is_direct};
use crate::plan::{FormFactor, PlanDevice, RemedyKind, RemedyOption, UnitCosts};
use crate::risk::{Assessment, LifecycleState, Ms17State, ReadinessVerdict, RemedyClass};

/// Interned text.
pub type Sym = Arc<str>;

/// One copy of each text the rows hold.
#[derive(Debug, Default)]
pub struct Interner {
    set: HashSet<Sym>,
}

impl Interner {
    pub fn sym(&mut self, s: &str) -> Sym {
        if let Some(x) = self.set.get(s) {
            return x.clone();
        }
        let x: Sym = Arc::from(s);
        self.set.insert(x.clone());
        x
    }

    pub fn opt(&mut self, s: Option<&str>) -> Option<Sym> {
        s.map(|s| self.sym(s))
    }

    /// Forgets texts no row holds any more.
    pub fn sweep(&mut self) {
        self.set.retain(|s| Arc::strong_count(s) > 1);
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// One observation that is part of a device: where the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Member {
    /// An agent device: its newest report.
    Agent { id: Uuid },
    /// An import record: the file and the position in it.
    Record { file: Uuid, index: u32 },
}

/// A set of sources, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Sources(u8);

impl Sources {
    pub const ALL: [Source; 6] = [
        Source::Agent,
        Source::Probe,
        Source::Systeminfo,
        Source::Qfe,
        Source::Ad,
        Source::Nmap,
    ];

    fn bit(s: Source) -> u8 {
        1 << Self::ALL.iter().position(|x| *x == s).unwrap_or(0)
    }

    pub fn insert(&mut self, s: Source) {
        self.0 |= Self::bit(s);
    }

    pub fn contains(self, s: Source) -> bool {
        self.0 & Self::bit(s) != 0
    }

    /// Most direct first.
    pub fn iter(self) -> impl Iterator<Item = Source> {
        Self::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Source> for Sources {
    fn from_iter<T: IntoIterator<Item = Source>>(iter: T) -> Self {
        let mut s = Sources::default();
        for x in iter {
            s.insert(x);
        }
        s
    }
}

/// How Ward sees an active device (see `devices::coverage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// An agent or probe reported within the stale window.
    Managed,
    /// No agent or probe, but a systeminfo or qfe file from the machine.
    Imported,
    /// Seen only by AD or nmap.
    Unmanaged,
}

/// The ranking order as a key (`risk::rank`): score, WannaCry, uncapped total, biggest finding
/// and days past end of support, each higher first, then the device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey {
    score: Reverse<u32>,
    wannacry: Reverse<bool>,
    total: Reverse<u32>,
    top: Reverse<u32>,
    past: Reverse<i64>,
    pub id: Uuid,
}

impl RankKey {
    pub fn of(a: &Assessment, id: Uuid) -> RankKey {
        RankKey {
            score: Reverse(a.score),
            wannacry: Reverse(a.wannacry_exposed),
            total: Reverse(a.total),
            top: Reverse(a.findings.first().map_or(0, |f| f.points)),
            past: Reverse(a.lifecycle.days_past_end.unwrap_or(0)),
            id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowEvidence {
    pub field: Sym,
    pub value: Sym,
    pub catalog: Option<Sym>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFinding {
    pub rule: Sym,
    pub points: u32,
    pub sentence: Sym,
    pub evidence: Box<[RowEvidence]>,
}

/// What nmap's SMB scripts said about a device (its newest scan that ran each script).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSmb {
    pub ms17_010: Option<crate::import::Ms17Verdict>,
    pub smb1_offered: Option<bool>,
}

/// What the planner needs of a device (priced per plan, as unit costs may differ per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSeed {
    /// The main remedy and whether an OS upgrade comes with it (firmware fix, then upgrade).
    pub main: Option<(RemedyKind, bool)>,
    /// End-of-support points a year of a paid extension (ESU) would remove.
    pub esu_points: Option<u32>,
}

/// What a row needs besides the merged device and its assessment.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The observations the device is merged from.
    pub members: Vec<Member>,
    /// The replacement's price class (`estate::form_factor`).
    pub form_factor: FormFactor,
    /// The device is on the exceptions register.
    pub exception: bool,
    pub scan: ScanSmb,
    pub liveness: Liveness,
}

/// One device of the estate.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: Uuid,
    /// Other ids that name the device.
    pub aliases: Box<[Uuid]>,
    /// The observations it is merged from.
    pub members: Box<[Member]>,
    pub key: RankKey,
    pub score: u32,
    pub total: u32,

    pub hostname: Option<Sym>,
    pub fqdn: Option<Sym>,
    pub domain: Option<Sym>,
    pub ips: Box<[Sym]>,
    pub macs: Box<[Sym]>,
    pub manufacturer: Option<Sym>,
    pub model: Option<Sym>,
    pub serial: Option<Sym>,
    /// Make, model and serial (or an opaque label): how roles without network details name it.
    pub asset_label: Sym,

    pub site: Option<Sym>,
    pub department: Option<Sym>,
    pub clinical: Option<bool>,

    pub os_family: &'static str,
    pub os_name: Option<Sym>,
    /// Display version (22H2) or version.
    pub os_version: Option<Sym>,
    /// Build, with the revision when known (`19045.6456`).
    pub os_build: Option<Sym>,

    pub lifecycle: LifecycleState,
    pub support_ends: Option<NaiveDate>,
    pub days_past_end: Option<i64>,
    pub extension: Option<Sym>,
    pub ms17: Ms17State,
    pub smb1: Option<bool>,
    pub wannacry: bool,
    pub readiness: Option<ReadinessVerdict>,
    pub form_factor: FormFactor,
    pub remedy: RemedyClass,
    pub remedy_reason: Sym,
    /// Highest points first.
    pub findings: Box<[RowFinding]>,
    pub exception: bool,

    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Sources whose newest observation takes part.
    pub sources: Sources,
    /// Sources seen within the stale window.
    pub fresh_sources: Sources,
    pub reach: Reach,
    /// Seen within the stale window.
    pub active: bool,
    /// Every sighting is from AD or nmap.
    pub outside_only: bool,
    /// Agent reports stored since first seen.
    pub report_count: u64,
    /// Import records of the device.
    pub record_count: u64,
    /// The newest agent report's id, else the newest record's.
    pub last_report_id: Uuid,

    pub plan: PlanSeed,
    pub scan: ScanSmb,
    pub class: DeviceClass,
    pub liveness: Liveness,
    /// Each source's newest sighting, most direct source first.
    pub last_seen_by: Box<[(Source, DateTime<Utc>)]>,
}

impl Row {
    /// The top finding's sentence, or the remedy's reason when there is none.
    pub fn reason(&self) -> &Sym {
        self.findings
            .first()
            .map_or(&self.remedy_reason, |f| &f.sentence)
    }

    pub fn is_named(&self, id: Uuid) -> bool {
        self.id == id || self.aliases.contains(&id)
    }

    /// Whether the row has a finding of this rule.
    pub fn has(&self, rule: &str) -> bool {
        self.findings.iter().any(|f| &*f.rule == rule)
    }

    /// The planner's view of the device, priced with `costs` (see `estate::plan_device`).
    pub fn plan_device(&self, costs: &UnitCosts) -> PlanDevice {
        let mut options = Vec::new();
        if let Some((kind, with_upgrade)) = self.plan.main {
            let mut option = RemedyOption::priced(kind, self.score, costs);
            if with_upgrade {
                option.cost += costs.price(&RemedyKind::UpgradeOs);
            }
            options.push(option);
        }
        if let Some(points) = self.plan.esu_points {
            options.push(RemedyOption::priced(RemedyKind::Esu, points, costs));
        }
        PlanDevice {
            id: self.id,
            label: self
                .hostname
                .as_deref()
                .map_or_else(|| self.id.to_string(), str::to_owned),
            risk: self.score,
            options,
        }
    }

    /// Builds the row of a merged, assessed device.
    pub fn build(device: &Device, a: &Assessment, more: Facts, strings: &mut Interner) -> Row {
        let Facts {
            members,
            form_factor,
            exception,
            scan,
            liveness,
        } = more;
        let r = &device.merged;
        let mut syms = |v: &[String]| -> Box<[Sym]> { v.iter().map(|s| strings.sym(s)).collect() };
        let ips = syms(&r.host.ip_addresses);
        let macs = syms(&r.host.mac_addresses);
        let findings = a
            .findings
            .iter()
            .map(|f| RowFinding {
                rule: strings.sym(&f.rule),
                points: f.points,
                sentence: strings.sym(&f.sentence),
                evidence: f
                    .evidence
                    .iter()
                    .map(|e| RowEvidence {
                        field: strings.sym(&e.field),
                        value: strings.sym(&e.value),
                        catalog: strings.opt(e.catalog.as_deref()),
                    })
                    .collect(),
            })
            .collect();
        let plan = plan_seed(a, form_factor);
        let os = &r.os;
        let os_build = match (&os.build, os.revision) {
            (Some(b), Some(rev)) => Some(strings.sym(&format!("{b}.{rev}"))),
            (Some(b), None) => Some(strings.sym(b)),
            _ => None,
        };
        let fresh_sources: Sources = device
            .sightings
            .iter()
            .filter(|s| !s.stale)
            .map(|s| s.source)
            .collect();
        let reach = if device.managed {
            Reach::Managed
        } else if device
            .sightings
            .iter()
            .any(|s| !s.stale && is_direct(s.source))
        {
            Reach::Imported
        } else {
            Reach::Unmanaged
        };
        let agents = device
            .sightings
            .iter()
            .filter(|s| s.source == Source::Agent)
            .count() as u64;
        let records = device.sightings.len() as u64 - agents;
        let newest = device
            .sightings
            .iter()
            .find(|s| s.source == Source::Agent)
            .or_else(|| device.sightings.first());
        let last_report_id = newest.map_or(device.id, |s| {
            if s.source == Source::Agent {
                r.report_id
            } else {
                s.id
            }
        });
        Row {
            id: device.id,
            aliases: device.aliases.clone().into_boxed_slice(),
            members: members.into_boxed_slice(),
            key: RankKey::of(a, device.id),
            score: a.score,
            total: a.total,
            hostname: strings.opt(a.hostname.as_deref()),
            fqdn: strings.opt(r.host.fqdn.as_deref()),
            domain: strings.opt(r.host.domain.as_deref()),
            ips,
            macs,
            manufacturer: strings.opt(r.hardware.manufacturer.as_deref()),
            model: strings.opt(r.hardware.model.as_deref()),
            serial: strings.opt(r.hardware.serial.as_deref()),
            asset_label: strings.sym(&crate::api::redact::asset_label(r, device.id)),
            site: strings.opt(a.site.as_deref()),
            department: strings.opt(r.tags.department.as_deref()),
            clinical: r.tags.clinical,
            os_family: a.os_family,
            os_name: strings.opt(os.name.as_deref()),
            os_version: strings.opt(os.display_version.as_deref().or(os.version.as_deref())),
            os_build,
            lifecycle: a.lifecycle.state,
            support_ends: a.lifecycle.end,
            days_past_end: a.lifecycle.days_past_end,
            extension: strings.opt(a.lifecycle.extension.as_ref().map(|e| e.name.as_str())),
            ms17: a.ms17_010.state,
            smb1: a.smb1_enabled,
            wannacry: a.wannacry_exposed,
            readiness: a.readiness.as_ref().map(|x| x.verdict),
            form_factor,
            remedy: a.remedy.class,
            remedy_reason: strings.sym(&a.remedy.reason),
            findings,
            exception,
            first_seen: device.first_seen,
            last_seen: device.last_seen,
            sources: device.current_sources().into_iter().collect(),
            fresh_sources,
            reach,
            active: device.active,
            outside_only: device.sightings.iter().all(|s| !is_direct(s.source)),
            report_count: device.observation_count.saturating_sub(records),
            record_count: records,
            last_report_id,
            plan,
            scan,
            class: classify(r, exception),
            liveness,
            last_seen_by: last_seen_by(device),
        }
    }
}

/// Each source's newest sighting of the device, most direct source first.
pub fn last_seen_by(device: &Device) -> Box<[(Source, DateTime<Utc>)]> {
    Sources::ALL
        .into_iter()
        .filter_map(|s| {
            device
                .sightings
                .iter()
                .filter(|x| x.source == s)
                .map(|x| x.observed_at)
                .max()
                .map(|at| (s, at))
        })
        .collect()
}

/// The planner's options for an assessed device, as `estate::plan_device` prices them.
fn plan_seed(a: &Assessment, form_factor: FormFactor) -> PlanSeed {
    let main = match a.remedy.class {
        RemedyClass::ReplaceHardware => Some((RemedyKind::ReplaceHardware { form_factor }, false)),
        RemedyClass::UpgradeOs => Some((RemedyKind::UpgradeOs, false)),
        RemedyClass::FixFirmware => Some((
            RemedyKind::FixFirmware,
            a.remedy.then == Some(RemedyClass::UpgradeOs),
        )),
        RemedyClass::Patch => Some((RemedyKind::Patch, false)),
        RemedyClass::Isolate | RemedyClass::NoAction | RemedyClass::Unknown => None,
    };
    let esu_available = a.lifecycle.state == LifecycleState::EndOfSupport
        && a.lifecycle.extension.as_ref().is_some_and(|e| e.paid);
    let esu_points = esu_available
        .then(|| {
            a.findings
                .iter()
                .filter(|f| f.rule == "os_end_of_support")
                .map(|f| f.points)
                .sum::<u32>()
                .min(a.score)
        })
        .filter(|p| *p > 0);
    PlanSeed { main, esu_points }
}
