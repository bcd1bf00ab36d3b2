//! The estate kept current equals the estate derived afresh from the store, after any sequence
//! of reports, imports, exceptions and context changes; and both equal the plain derivation
//! (`reference`) the read model replaced.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use ward_shared::{AgentInfo, InstalledUpdate, OsFamily, Report};

use super::reference;
use super::*;
use crate::import::{Identity, ImportRecord, Source, SourceDetail};
use crate::store::memory::MemoryStore;
use crate::store::{ExceptionRecord, ImportFile, Store};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

/// Small pools, so that observations share keys and merge (or collide) often.
const HOSTS: [&str; 4] = ["pc1", "PC2", "pc3.trust.example", "lab-7"];
const MACS: [&str; 3] = [
    "00:1a:2b:3c:4d:01",
    "00:1a:2b:3c:4d:02",
    "00:1a:2b:3c:4d:03",
];
const SERIALS: [&str; 3] = ["SN-A", "SN-B", "SN-C"];
const IPS: [&str; 3] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
const OSES: [(&str, &str, u32); 4] = [
    ("Microsoft Windows 10 Pro", "19045", 6456),
    ("Microsoft Windows 7 Professional", "7601", 24000),
    ("Microsoft Windows XP Professional", "2600", 0),
    ("Microsoft Windows 11 Enterprise", "26100", 4061),
];

/// Who a machine says it is, as indexes into the pools (`None`: not said).
#[derive(Debug, Clone)]
struct Who {
    host: Option<usize>,
    mac: Option<usize>,
    serial: Option<usize>,
    ip: Option<usize>,
    os: usize,
    site: Option<usize>,
    kb: bool,
}

fn who() -> impl Strategy<Value = Who> {
    (
        prop::option::of(0..HOSTS.len()),
        prop::option::of(0..MACS.len()),
        prop::option::of(0..SERIALS.len()),
        prop::option::of(0..IPS.len()),
        0..OSES.len(),
        prop::option::of(0..2usize),
        any::<bool>(),
    )
        .prop_map(|(host, mac, serial, ip, os, site, kb)| Who {
            host,
            mac,
            serial,
            ip,
            os,
            site,
            kb,
        })
}

#[derive(Debug, Clone)]
enum Op {
    /// An agent (0..3) reports, `minutes` before now.
    Report {
        agent: u128,
        who: Who,
        minutes: i64,
        hand_over: bool,
    },
    /// A file of records, each from a source, seen `days` before now.
    Import(Vec<(usize, Who, i64)>),
    /// An exception on the n-th device of the ranking.
    Except(usize),
    /// The n-th exception ends.
    Unexcept(usize),
    /// New weights: everything is derived again.
    Reweigh(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u128, who(), 0..600i64, any::<bool>())
            .prop_map(|(agent, who, minutes, hand_over)| Op::Report { agent, who, minutes, hand_over }),
        3 => prop::collection::vec((0..5usize, who(), 0..200i64), 1..4).prop_map(Op::Import),
        1 => (0..8usize).prop_map(Op::Except),
        1 => (0..4usize).prop_map(Op::Unexcept),
        1 => (1..40u32).prop_map(Op::Reweigh),
    ]
}

fn report(who: &Who, at: DateTime<Utc>) -> Report {
    let mut r = Report::new(
        AgentInfo {
            id: None,
            name: "ward-agent".into(),
            version: "1".into(),
        },
        at,
    );
    r.host.hostname = who.host.map(|i| HOSTS[i].to_owned());
    r.host.mac_addresses = who.mac.map(|i| MACS[i].to_owned()).into_iter().collect();
    r.host.ip_addresses = who.ip.map(|i| IPS[i].to_owned()).into_iter().collect();
    r.hardware.serial = who.serial.map(|i| SERIALS[i].to_owned());
    let (name, build, rev) = OSES[who.os];
    r.os.family = OsFamily::Windows;
    r.os.name = Some(name.into());
    r.os.build = Some(build.into());
    r.os.revision = Some(rev);
    r.tags.site = who.site.map(|s| ["North", "South"][s].to_owned());
    if who.kb {
        r.patches.installed = vec![InstalledUpdate {
            id: "KB4012212".into(),
            ..InstalledUpdate::default()
        }];
    }
    r
}

fn record(source: usize, who: &Who, at: DateTime<Utc>) -> ImportRecord {
    let source = [
        Source::Probe,
        Source::Systeminfo,
        Source::Qfe,
        Source::Ad,
        Source::Nmap,
    ][source];
    let report = report(who, at);
    ImportRecord {
        source,
        observed_at: at,
        origin: format!("{}.txt", source.as_str()),
        identity: Identity {
            host_name: report.host.hostname.clone(),
            serial: report.hardware.serial.clone(),
            macs: report.host.mac_addresses.clone(),
            ips: report
                .host
                .ip_addresses
                .iter()
                .filter_map(|i| i.parse().ok())
                .collect(),
            ..Identity::default()
        },
        report,
        evidence: Vec::new(),
        hotfix_list_complete: Some(who.kb),
        detail: SourceDetail::None,
    }
}

fn context(weight: u32) -> RiskContext {
    let mut ctx = reference::default_context();
    ctx.weights.stale_after_days = 30 + weight;
    ctx
}

/// Everything a snapshot shows, in order, for comparing two of them.
fn view(s: &Snapshot) -> (Vec<Row>, snapshot::Counts) {
    (s.rows().map(|r| Row::clone(r)).collect(), s.counts.clone())
}

fn apply(ops: &[Op]) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock: Clock = Arc::new(now);
    let estate = Estate::start(store.clone(), context(0), clock);
    let mut ctx = context(0);
    let mut files = 0u32;
    for op in ops {
        match op {
            Op::Report {
                agent,
                who,
                minutes,
                hand_over,
            } => {
                let at = now() - chrono::Duration::minutes(*minutes);
                let r = report(who, at);
                let id = Uuid::from_u128(agent + 1);
                store.put_report(id, at, &r, None).unwrap();
                estate.report_stored(id, hand_over.then_some(r));
            }
            Op::Import(records) => {
                files += 1;
                let records: Vec<ImportRecord> = records
                    .iter()
                    .map(|(s, who, days)| record(*s, who, now() - chrono::Duration::days(*days)))
                    .collect();
                let file = ImportFile {
                    id: Uuid::now_v7(),
                    name: format!("file-{files}"),
                    sha256: format!("{files:064}"),
                    format: "test".into(),
                    imported_at: now(),
                    size_bytes: 1,
                    records: u32::try_from(records.len()).unwrap(),
                    warnings: Vec::new(),
                };
                store.put_import(&file, &records).unwrap();
                estate.imports_stored();
            }
            Op::Except(n) => {
                let snapshot = estate.sync(Duration::from_secs(10));
                let Some(row) = snapshot.rows().nth(*n % snapshot.len().max(1)) else {
                    continue;
                };
                store
                    .put_exception(&ExceptionRecord {
                        device_id: row.aliases.first().copied().unwrap_or(row.id),
                        reason: "vendor-locked".into(),
                        controls: vec!["isolated VLAN".into()],
                        owner: "Radiology IT".into(),
                        review_date: now().date_naive() + chrono::Duration::days(90),
                        recorded_at: now(),
                    })
                    .unwrap();
                estate.exceptions_changed();
            }
            Op::Unexcept(n) => {
                let list = store.exceptions().unwrap();
                if let Some(e) = list.get(*n % list.len().max(1)) {
                    store.delete_exception(e.device_id).unwrap();
                    estate.exceptions_changed();
                }
            }
            Op::Reweigh(w) => {
                ctx = context(*w);
                estate.set_context(ctx.clone());
            }
        }
    }
    let kept = estate.sync(Duration::from_secs(30));
    estate.stop();
    let fresh = derive_once(store.as_ref(), ctx.clone(), now()).unwrap();
    assert_eq!(view(&kept), view(&fresh), "kept current vs derived afresh");

    // And the plain derivation agrees on every device, its order and its verdict.
    let exceptions = exception_map(store.as_ref()).unwrap();
    let plain = reference::assess_all(store.as_ref(), &ctx, &exceptions, now()).unwrap();
    let plain_rows = reference::ranking(&plain, &RankFilter::default());
    let kept_rows: Vec<RankRow> = kept
        .select(&RankFilter::default())
        .map(|(rank, r)| RankRow::of(rank, r))
        .collect();
    assert_eq!(
        serde_json::to_value(&kept_rows).unwrap(),
        serde_json::to_value(&plain_rows).unwrap(),
        "read model vs plain derivation"
    );
    assert_eq!(kept.summary().devices, plain.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn the_estate_kept_current_equals_a_rebuild_from_the_store(
        ops in prop::collection::vec(op(), 1..14),
    ) {
        apply(&ops);
    }
}

#[test]
fn a_report_is_in_the_ranking_once_synced_and_readers_keep_their_snapshot() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let estate = Estate::start(store.clone(), context(0), Arc::new(now));
    let before = estate.sync(Duration::from_secs(10));
    assert!(before.ready);
    assert_eq!(before.len(), 0);
    let who = Who {
        host: Some(0),
        mac: Some(0),
        serial: None,
        ip: None,
        os: 2,
        site: Some(0),
        kb: false,
    };
    let id = Uuid::from_u128(7);
    let r = report(&who, now());
    store.put_report(id, now(), &r, None).unwrap();
    estate.report_stored(id, Some(r));
    let after = estate.sync(Duration::from_secs(10));
    assert_eq!(after.len(), 1);
    assert_eq!(after.row(id).unwrap().os_name.as_deref(), Some(OSES[2].0));
    // The snapshot taken before is unchanged.
    assert_eq!(before.len(), 0);
    assert!(after.version > before.version);
    estate.stop();
}

/// A record that two agents' names made ambiguous joins the one left when the other is renamed:
/// the renamed agent's old keys are followed too.
#[test]
fn a_rename_regroups_what_the_old_name_linked() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let estate = Estate::start(store.clone(), context(0), Arc::new(now));
    let named = |host: usize, mac: usize| Who {
        host: Some(host),
        mac: Some(mac),
        serial: None,
        ip: None,
        os: 0,
        site: None,
        kb: false,
    };
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    for (id, who) in [(a, named(0, 0)), (b, named(0, 1))] {
        let r = report(&who, now());
        store.put_report(id, now(), &r, None).unwrap();
        estate.report_stored(id, Some(r));
    }
    let ad = Who {
        host: Some(0),
        mac: None,
        serial: None,
        ip: None,
        os: 0,
        site: None,
        kb: false,
    };
    let file = ImportFile {
        id: Uuid::now_v7(),
        name: "ad.csv".into(),
        sha256: "ad".repeat(32),
        format: "test".into(),
        imported_at: now(),
        size_bytes: 1,
        records: 1,
        warnings: Vec::new(),
    };
    store
        .put_import(&file, &[record(3, &ad, now() - chrono::Duration::days(1))])
        .unwrap();
    estate.imports_stored();
    let ambiguous = estate.sync(Duration::from_secs(10));
    assert_eq!(
        ambiguous.len(),
        3,
        "two agents named pc1: the record stays apart"
    );
    // Agent a is renamed: the record now names only b.
    let r = report(&named(3, 0), now());
    store.put_report(a, now(), &r, None).unwrap();
    estate.report_stored(a, Some(r));
    let kept = estate.sync(Duration::from_secs(10));
    estate.stop();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept.row(b).unwrap().record_count, 1);
    let fresh = derive_once(store.as_ref(), context(0), now()).unwrap();
    assert_eq!(view(&kept), view(&fresh));
}
