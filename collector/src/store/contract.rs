//! The contract every [`Store`] keeps, run against [`MemoryStore`] and [`SledStore`].
//!
//! Each check is a plain function taking a [`Factory`]; the `contract_tests!` invocation at the
//! bottom turns each into one `#[test]` per implementation.

use std::collections::BTreeSet;
use std::ops::Deref;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use uuid::Uuid;
use ward_shared::{AgentInfo, Report};

use super::memory::MemoryStore;
use super::sled_store::SledStore;
use super::{
    AgentRecord, ImportFile, ImportOutcome, PutOutcome, RawEncoding, RawReport, Retention, Store,
    StoreError,
};

/// A store under test; keeps the sled directory alive as long as the store.
pub(crate) struct TestStore {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

impl Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

pub(crate) type Factory = dyn Fn(Retention) -> TestStore;

pub(crate) fn memory(retention: Retention) -> TestStore {
    TestStore {
        store: Box::new(MemoryStore::with_retention(retention)),
        _dir: None,
    }
}

pub(crate) fn sled(retention: Retention) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), retention).unwrap();
    TestStore {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

pub(crate) fn report(hostname: &str, collected_at: DateTime<Utc>) -> Report {
    let mut report = Report::new(
        AgentInfo {
            id: None,
            name: "ward-agent".to_owned(),
            version: "0.1.0".to_owned(),
        },
        collected_at,
    );
    report.host.hostname = Some(hostname.to_owned());
    report.os.name = Some("Windows 11 Enterprise".to_owned());
    report
}

fn agent(n: u8) -> AgentRecord {
    AgentRecord {
        id: Uuid::new_v4(),
        key_hash: [n; 32],
        hostname: Some(format!("ws-{n}")),
        agent_version: Some("0.1.0".to_owned()),
        enrolled_at: t0(),
        revoked: false,
    }
}

fn unlimited() -> Retention {
    Retention {
        max_reports_per_device: usize::MAX,
        max_age_days: None,
    }
}

fn history_ids(store: &dyn Store, device: Uuid) -> Vec<Uuid> {
    store
        .history(device, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| r.report.report_id)
        .collect()
}

fn agents_add_get_and_lookup(mk: &Factory) {
    let store = mk(Retention::default());
    let a = agent(1);
    let b = agent(2);
    store.add_agent(&a).unwrap();
    store.add_agent(&b).unwrap();

    assert_eq!(store.agent(a.id).unwrap(), Some(a.clone()));
    assert_eq!(store.agent(Uuid::new_v4()).unwrap(), None);
    assert_eq!(store.agent_by_key_hash(&[2; 32]).unwrap(), Some(b.clone()));
    assert_eq!(store.agent_by_key_hash(&[9; 32]).unwrap(), None);
    let mut expected = vec![a, b];
    expected.sort_by_key(|r| r.id);
    assert_eq!(store.agents().unwrap(), expected);
}

fn agents_duplicate_id_rejected(mk: &Factory) {
    let store = mk(Retention::default());
    let a = agent(1);
    store.add_agent(&a).unwrap();
    let again = AgentRecord {
        key_hash: [7; 32],
        hostname: Some("other".to_owned()),
        ..a.clone()
    };
    match store.add_agent(&again) {
        Err(StoreError::AgentExists(id)) => assert_eq!(id, a.id),
        other => panic!("expected AgentExists, got {other:?}"),
    }
    // Nothing changed: the first record stands and the second key leads nowhere.
    assert_eq!(store.agent(a.id).unwrap(), Some(a));
    assert_eq!(store.agent_by_key_hash(&[7; 32]).unwrap(), None);
    assert_eq!(store.agents().unwrap().len(), 1);
}

fn agents_revoke_and_unrevoke(mk: &Factory) {
    let store = mk(Retention::default());
    let a = agent(1);
    store.add_agent(&a).unwrap();

    assert!(store.set_agent_revoked(a.id, true).unwrap());
    assert!(store.agent(a.id).unwrap().unwrap().revoked);
    assert!(
        store
            .agent_by_key_hash(&a.key_hash)
            .unwrap()
            .unwrap()
            .revoked
    );

    assert!(store.set_agent_revoked(a.id, false).unwrap());
    assert_eq!(store.agent(a.id).unwrap(), Some(a));

    assert!(!store.set_agent_revoked(Uuid::new_v4(), true).unwrap());
    assert_eq!(store.agents().unwrap().len(), 1);
}

fn reports_put_then_duplicate(mk: &Factory) {
    let store = mk(Retention::default());
    let device = Uuid::new_v4();
    let r = report("ws-1", t0());
    assert!(!store.has_report(r.report_id).unwrap());
    assert_eq!(store.report_count().unwrap(), 0);

    assert_eq!(
        store.put_report(device, t0(), &r, None).unwrap(),
        PutOutcome::Stored
    );
    assert!(store.has_report(r.report_id).unwrap());
    let summary = store.device(device).unwrap().unwrap();
    let history = store.history(device, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].device_id, device);
    assert_eq!(history[0].received_at, t0());
    assert_eq!(history[0].report, r);

    // Same id again, even later, with other content, or for another device: nothing changes.
    let mut changed = r.clone();
    changed.host.hostname = Some("changed".to_owned());
    let later = t0() + Duration::hours(1);
    assert_eq!(
        store.put_report(device, later, &changed, None).unwrap(),
        PutOutcome::Duplicate
    );
    assert_eq!(
        store.put_report(Uuid::new_v4(), later, &r, None).unwrap(),
        PutOutcome::Duplicate
    );
    assert_eq!(store.history(device, 10).unwrap(), history);
    assert_eq!(store.device(device).unwrap().unwrap(), summary);
    assert_eq!(store.report_count().unwrap(), 1);
    assert_eq!(store.devices().unwrap().len(), 1);
    assert!(!store.has_report(Uuid::new_v4()).unwrap());
    store.flush().unwrap();
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The body as the agent sent it comes back as the report parsed from it.
fn reports_raw_body_reads_back(mk: &Factory) {
    let store = mk(Retention::default());
    let device = Uuid::new_v4();
    let t1 = t0() + Duration::minutes(1);
    let zipped = report("ws-gzip", t0());
    let body = gzip(&serde_json::to_vec(&zipped).unwrap());
    let raw = RawReport {
        encoding: RawEncoding::Gzip,
        bytes: &body,
    };
    assert_eq!(
        store.put_report(device, t0(), &zipped, Some(raw)).unwrap(),
        PutOutcome::Stored
    );
    let plain = report("ws-plain", t1);
    let json = serde_json::to_vec(&plain).unwrap();
    let raw_plain = RawReport {
        encoding: RawEncoding::Identity,
        bytes: &json,
    };
    assert_eq!(
        store
            .put_report(device, t1, &plain, Some(raw_plain))
            .unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(
        store.put_report(device, t1, &zipped, Some(raw)).unwrap(),
        PutOutcome::Duplicate
    );
    let history = store.history(device, 10).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].device_id, history[0].received_at), (device, t1));
    assert_eq!(history[0].report, plain);
    assert_eq!(
        (history[1].device_id, history[1].received_at),
        (device, t0())
    );
    assert_eq!(history[1].report, zipped);
    assert_eq!(
        store.device(device).unwrap().unwrap().hostname.as_deref(),
        Some("ws-plain")
    );
}

fn device_summary_fields(mk: &Factory) {
    let store = mk(Retention::default());
    let device = Uuid::new_v4();
    assert_eq!(store.device(device).unwrap(), None);

    let first = report("ws-old", t0());
    store.put_report(device, t0(), &first, None).unwrap();
    let s = store.device(device).unwrap().unwrap();
    assert_eq!(s.id, device);
    assert_eq!(s.first_seen, t0());
    assert_eq!(s.last_seen, t0());
    assert_eq!(s.last_report_id, first.report_id);
    assert_eq!(s.hostname.as_deref(), Some("ws-old"));
    assert_eq!(s.os_name.as_deref(), Some("Windows 11 Enterprise"));
    assert_eq!(s.report_count, 1);

    let t1 = t0() + Duration::hours(2);
    let mut second = report("ws-new", t1);
    second.os.name = Some("Ubuntu 24.04 LTS".to_owned());
    store.put_report(device, t1, &second, None).unwrap();
    let s = store.device(device).unwrap().unwrap();
    assert_eq!(s.first_seen, t0());
    assert_eq!(s.last_seen, t1);
    assert_eq!(s.last_report_id, second.report_id);
    assert_eq!(s.hostname.as_deref(), Some("ws-new"));
    assert_eq!(s.os_name.as_deref(), Some("Ubuntu 24.04 LTS"));
    assert_eq!(s.report_count, 2);

    // A late report (received earlier than the newest) moves first_seen only.
    let early = t0() - Duration::hours(1);
    let late = report("ws-late", early);
    store.put_report(device, early, &late, None).unwrap();
    let s = store.device(device).unwrap().unwrap();
    assert_eq!(s.first_seen, early);
    assert_eq!(s.last_seen, t1);
    assert_eq!(s.last_report_id, second.report_id);
    assert_eq!(s.hostname.as_deref(), Some("ws-new"));
    assert_eq!(s.report_count, 3);

    // Devices come ordered by id.
    let other = Uuid::new_v4();
    store
        .put_report(other, t0(), &report("x", t0()), None)
        .unwrap();
    let ids: Vec<Uuid> = store.devices().unwrap().iter().map(|d| d.id).collect();
    let mut sorted = vec![device, other];
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(store.report_count().unwrap(), 4);
}

fn history_newest_first_with_limit(mk: &Factory) {
    let store = mk(Retention::default());
    let device = Uuid::new_v4();
    let other = Uuid::new_v4();
    let mut ids = Vec::new();
    // Put out of order; history orders by received-at.
    for hour in [3, 1, 4, 0, 2] {
        let at = t0() + Duration::hours(hour);
        let r = report("ws", at);
        ids.push((at, r.report_id));
        store.put_report(device, at, &r, None).unwrap();
        store.put_report(other, at, &report("x", at), None).unwrap();
    }
    ids.sort();
    let newest_first: Vec<Uuid> = ids.iter().rev().map(|(_, id)| *id).collect();

    assert_eq!(history_ids(&*store, device), newest_first);
    let two = store.history(device, 2).unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].report.report_id, newest_first[0]);
    assert_eq!(two[1].report.report_id, newest_first[1]);
    assert!(store.history(device, 0).unwrap().is_empty());
    assert!(store.history(Uuid::new_v4(), 10).unwrap().is_empty());
    assert_eq!(store.report_count().unwrap(), 10);
}

fn retention_by_count(mk: &Factory) {
    let store = mk(Retention {
        max_reports_per_device: 3,
        max_age_days: None,
    });
    let device = Uuid::new_v4();
    let mut reports = Vec::new();
    for i in 0..5 {
        let at = t0() + Duration::minutes(i);
        let r = report("ws", at);
        assert_eq!(
            store.put_report(device, at, &r, None).unwrap(),
            PutOutcome::Stored
        );
        reports.push((at, r));
    }
    let kept: Vec<Uuid> = reports[2..]
        .iter()
        .rev()
        .map(|(_, r)| r.report_id)
        .collect();
    assert_eq!(history_ids(&*store, device), kept);
    assert_eq!(store.report_count().unwrap(), 3);
    let summary = store.device(device).unwrap().unwrap();
    assert_eq!(summary.report_count, 5);
    assert_eq!(summary.first_seen, t0());

    // A retry of a pruned report is still a duplicate, and nothing changes.
    let (at, pruned) = &reports[0];
    assert!(store.has_report(pruned.report_id).unwrap());
    assert_eq!(
        store.put_report(device, *at, pruned, None).unwrap(),
        PutOutcome::Duplicate
    );
    assert_eq!(history_ids(&*store, device), kept);
    assert_eq!(store.report_count().unwrap(), 3);
    assert_eq!(store.device(device).unwrap().unwrap(), summary);

    // A new report older than everything kept is stored (counted) but not kept.
    let ancient = report("ws", t0() - Duration::days(1));
    assert_eq!(
        store
            .put_report(device, t0() - Duration::days(1), &ancient, None)
            .unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(history_ids(&*store, device), kept);
    assert_eq!(store.report_count().unwrap(), 3);
    assert_eq!(store.device(device).unwrap().unwrap().report_count, 6);
    assert!(store.has_report(ancient.report_id).unwrap());
}

fn retention_by_age(mk: &Factory) {
    let store = mk(Retention {
        max_reports_per_device: 100,
        max_age_days: Some(10),
    });
    let device = Uuid::new_v4();
    let other = Uuid::new_v4();
    let old = report("ws", t0());
    let mid = report("ws", t0() + Duration::days(5));
    store.put_report(device, t0(), &old, None).unwrap();
    store
        .put_report(other, t0(), &report("x", t0()), None)
        .unwrap();
    store
        .put_report(device, t0() + Duration::days(5), &mid, None)
        .unwrap();
    assert_eq!(store.report_count().unwrap(), 3);

    // Exactly 10 days after the oldest: still kept.
    let ten = report("ws", t0() + Duration::days(10));
    store
        .put_report(device, t0() + Duration::days(10), &ten, None)
        .unwrap();
    assert_eq!(store.history(device, 100).unwrap().len(), 3);

    let newest = report("ws", t0() + Duration::days(12));
    store
        .put_report(device, t0() + Duration::days(12), &newest, None)
        .unwrap();
    assert_eq!(
        history_ids(&*store, device),
        vec![newest.report_id, ten.report_id, mid.report_id]
    );
    // Age counts from the device's own newest report: the other device keeps its old one.
    assert_eq!(store.history(other, 100).unwrap().len(), 1);
    assert_eq!(store.report_count().unwrap(), 4);
    assert_eq!(store.device(device).unwrap().unwrap().report_count, 4);

    assert_eq!(
        store.put_report(device, t0(), &old, None).unwrap(),
        PutOutcome::Duplicate
    );
    assert_eq!(store.history(device, 100).unwrap().len(), 3);
}

fn concurrent_same_report_id(mk: &Factory) {
    let store = mk(unlimited());
    let device = Uuid::new_v4();
    for round in 0..20 {
        let at = t0() + Duration::minutes(round);
        let r = report("ws", at);
        let outcomes: Vec<PutOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let store = &*store;
                    let r = &r;
                    // Half of them claim another device: the report id decides.
                    let device = if i % 2 == 0 { device } else { Uuid::new_v4() };
                    s.spawn(move || store.put_report(device, at, r, None).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored = outcomes
            .iter()
            .filter(|o| **o == PutOutcome::Stored)
            .count();
        assert_eq!(stored, 1, "round {round}: {outcomes:?}");
    }
    assert_eq!(store.report_count().unwrap(), 20);
    let summed: u64 = store
        .devices()
        .unwrap()
        .iter()
        .map(|d| d.report_count)
        .sum();
    assert_eq!(summed, 20);
}

fn concurrent_different_ids(mk: &Factory) {
    let store = mk(unlimited());
    let threads = 8;
    let per_thread = 50;
    let devices: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let put: Vec<Vec<(Uuid, Uuid)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = &*store;
                let devices = &devices;
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let device = devices[(t + i) % devices.len()];
                            let at = t0() + Duration::seconds((t * per_thread + i) as i64);
                            let r = report("ws", at);
                            assert_eq!(
                                store.put_report(device, at, &r, None).unwrap(),
                                PutOutcome::Stored
                            );
                            (device, r.report_id)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total = (threads * per_thread) as u64;
    assert_eq!(store.report_count().unwrap(), total);
    let mut seen = BTreeSet::new();
    for device in &devices {
        let summary = store.device(*device).unwrap().unwrap();
        let ids = history_ids(&*store, *device);
        assert_eq!(summary.report_count, ids.len() as u64);
        seen.extend(ids);
    }
    let all: BTreeSet<Uuid> = put.iter().flatten().map(|(_, id)| *id).collect();
    assert_eq!(seen, all);
    for (_, id) in put.iter().flatten() {
        assert!(store.has_report(*id).unwrap());
    }
}

fn exceptions_put_replace_list_delete(mk: &Factory) {
    let store = mk(Retention::default());
    let record = |device: Uuid, owner: &str| super::ExceptionRecord {
        device_id: device,
        reason: "vendor-certified scanner".into(),
        controls: vec!["isolated VLAN".into()],
        owner: owner.into(),
        review_date: chrono::NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
        recorded_at: chrono::Utc::now(),
    };
    let (a, b) = (Uuid::from_u128(2), Uuid::from_u128(1));
    assert!(store.exceptions().unwrap().is_empty());
    store.put_exception(&record(a, "Radiology")).unwrap();
    store.put_exception(&record(b, "Pathology")).unwrap();
    store.put_exception(&record(a, "Radiology IT")).unwrap();
    let list = store.exceptions().unwrap();
    assert_eq!(
        list.iter().map(|e| e.device_id).collect::<Vec<_>>(),
        vec![b, a],
        "ordered by device id"
    );
    assert_eq!(list[1].owner, "Radiology IT", "a second put replaces");
    assert!(store.delete_exception(a).unwrap());
    assert!(!store.delete_exception(a).unwrap());
    assert_eq!(store.exceptions().unwrap().len(), 1);
}

// ---- imports ----

pub(crate) fn import_record(host: &str, at: DateTime<Utc>) -> crate::import::ImportRecord {
    let mut report = report(host, at);
    report.agent.name = "ward-import-test".to_owned();
    crate::import::ImportRecord {
        source: crate::import::Source::Systeminfo,
        observed_at: at,
        origin: format!("{host}.txt"),
        identity: crate::import::Identity {
            host_name: Some(host.to_owned()),
            ..Default::default()
        },
        report,
        evidence: Vec::new(),
        hotfix_list_complete: Some(false),
        detail: crate::import::SourceDetail::None,
    }
}

pub(crate) fn import_file(name: &str, content: &[u8], records: usize) -> ImportFile {
    use sha2::Digest;
    ImportFile {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        sha256: hex::encode(sha2::Sha256::digest(content)),
        format: "systeminfo".to_owned(),
        imported_at: t0(),
        size_bytes: content.len() as u64,
        records: u32::try_from(records).unwrap(),
        warnings: vec!["a warning".to_owned()],
    }
}

fn imports_store_whole_and_read_back(mk: &Factory) {
    let store = mk(unlimited());
    assert!(store.import_files().unwrap().is_empty());
    assert!(store.import_records().unwrap().is_empty());
    let a = import_file("a.txt", b"file a", 2);
    let ra = vec![import_record("pc1", t0()), import_record("pc2", t0())];
    assert_eq!(store.put_import(&a, &ra).unwrap(), ImportOutcome::Stored);
    let b = import_file("b.txt", b"file b", 1);
    let rb = vec![import_record("pc3", t0() + Duration::hours(1))];
    assert_eq!(store.put_import(&b, &rb).unwrap(), ImportOutcome::Stored);

    assert_eq!(store.import_files().unwrap(), vec![a.clone(), b.clone()]);
    let records = store.import_records().unwrap();
    let hosts: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.file_id,
                r.index,
                r.record.report.host.hostname.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        vec![
            (a.id, 0, "pc1".to_owned()),
            (a.id, 1, "pc2".to_owned()),
            (b.id, 0, "pc3".to_owned()),
        ]
    );
    assert_eq!(records[0].record, ra[0]);
    assert_eq!(records[2].record, rb[0]);
    assert_eq!(records[2].imported_at, b.imported_at);
    // One record by its file and position, as the estate reads them.
    assert_eq!(
        store.import_record(a.id, 1).unwrap().as_ref(),
        Some(&records[1])
    );
    assert_eq!(
        store.import_record(b.id, 0).unwrap().as_ref(),
        Some(&records[2])
    );
    assert_eq!(store.import_record(b.id, 1).unwrap(), None);
    assert_eq!(store.import_record(Uuid::nil(), 0).unwrap(), None);
    // Imports are not agent devices and not reports.
    assert!(store.devices().unwrap().is_empty());
    assert_eq!(store.report_count().unwrap(), 0);
}

fn imports_duplicate_file_changes_nothing(mk: &Factory) {
    let store = mk(unlimited());
    let first = import_file("scan.xml", b"same bytes", 1);
    store
        .put_import(&first, &[import_record("pc1", t0())])
        .unwrap();
    // The same bytes under another name and id: a duplicate of the first.
    let again = import_file("copy-of-scan.xml", b"same bytes", 2);
    let outcome = store
        .put_import(
            &again,
            &[import_record("x", t0()), import_record("y", t0())],
        )
        .unwrap();
    assert_eq!(outcome, ImportOutcome::Duplicate(first.clone()));
    assert_eq!(store.import_files().unwrap(), vec![first]);
    assert_eq!(store.import_records().unwrap().len(), 1);
}

fn imports_bad_entry_changes_nothing(mk: &Factory) {
    let store = mk(unlimited());
    // Says three records, carries two.
    let bad = import_file("bad.txt", b"bad", 3);
    let err = store
        .put_import(&bad, &[import_record("a", t0()), import_record("b", t0())])
        .unwrap_err();
    assert!(err.to_string().contains("3 records"), "{err}");
    let mut bad_hash = import_file("bad2.txt", b"bad2", 1);
    bad_hash.sha256 = "not hex".to_owned();
    assert!(
        store
            .put_import(&bad_hash, &[import_record("a", t0())])
            .is_err()
    );
    assert!(store.import_files().unwrap().is_empty());
    assert!(store.import_records().unwrap().is_empty());
    // The same bytes are not remembered as imported.
    let good = import_file("bad.txt", b"bad", 1);
    assert_eq!(
        store
            .put_import(&good, &[import_record("a", t0())])
            .unwrap(),
        ImportOutcome::Stored
    );
}

fn imports_concurrent_same_file_stored_once(mk: &Factory) {
    let store = mk(unlimited());
    let outcomes: Vec<ImportOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = &store;
                s.spawn(move || {
                    let file = import_file(&format!("f{i}"), b"one file", 1);
                    store
                        .put_import(&file, &[import_record("pc", t0())])
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stored = outcomes
        .iter()
        .filter(|o| **o == ImportOutcome::Stored)
        .count();
    assert_eq!(stored, 1, "{outcomes:?}");
    assert_eq!(store.import_files().unwrap().len(), 1);
    assert_eq!(store.import_records().unwrap().len(), 1);
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::memory);
                }
            )*
        }
        mod sled_store {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::sled);
                }
            )*
        }
    };
}

contract_tests!(
    agents_add_get_and_lookup,
    agents_duplicate_id_rejected,
    agents_revoke_and_unrevoke,
    reports_put_then_duplicate,
    reports_raw_body_reads_back,
    device_summary_fields,
    history_newest_first_with_limit,
    retention_by_count,
    retention_by_age,
    concurrent_same_report_id,
    concurrent_different_ids,
    exceptions_put_replace_list_delete,
    imports_store_whole_and_read_back,
    imports_duplicate_file_changes_nothing,
    imports_bad_entry_changes_nothing,
    imports_concurrent_same_file_stored_once,
);
