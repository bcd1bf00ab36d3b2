//! Merging through the real store and estate: agent reports and import records become one
//! device per machine, scored like agent devices.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;
use ward_shared::{AgentInfo, InstalledUpdate, OsFamily, Report};

use super::coverage::coverage;
use super::identity::Source;
use crate::catalog::Catalog;
use crate::estate::{self, RiskContext};
use crate::import::{Identity, ImportRecord, SourceDetail};
use crate::plan::UnitCosts;
use crate::risk::{ExtraEvidence, LifecycleState, RemedyClass, Weights};
use crate::store::memory::MemoryStore;
use crate::store::{ImportFile, Store};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

fn ctx() -> RiskContext {
    RiskContext {
        catalog: Catalog::builtin().unwrap(),
        weights: Weights::default(),
        unit_costs: UnitCosts::default(),
        liveness: crate::estate::class::LivenessWindows::default(),
    }
}

fn report(name: &str, at: DateTime<Utc>) -> Report {
    Report::new(
        AgentInfo {
            id: None,
            name: name.to_owned(),
            version: "1".to_owned(),
        },
        at,
    )
}

fn record(
    source: Source,
    at: DateTime<Utc>,
    identity: Identity,
    fill: impl FnOnce(&mut Report),
) -> ImportRecord {
    let mut r = report(&format!("ward-import-{}", source.as_str()), at);
    fill(&mut r);
    ImportRecord {
        source,
        observed_at: at,
        origin: format!("{}.txt", source.as_str()),
        identity,
        report: r,
        evidence: Vec::new(),
        hotfix_list_complete: None,
        detail: SourceDetail::None,
    }
}

fn import(store: &dyn Store, name: &str, records: Vec<ImportRecord>) {
    use sha2::Digest;
    let file = ImportFile {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        sha256: hex::encode(sha2::Sha256::digest(format!("{name}{}", Uuid::now_v7()))),
        format: "test".to_owned(),
        imported_at: now(),
        size_bytes: 1,
        records: u32::try_from(records.len()).unwrap(),
        warnings: Vec::new(),
    };
    store.put_import(&file, &records).unwrap();
}

/// An agent device for WARD3-PC07, reporting Windows 10 22H2.
fn agent_pc07(store: &dyn Store, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    let mut r = report("ward-agent", at);
    r.host.hostname = Some("WARD3-PC07".into());
    r.host.fqdn = Some("ward3-pc07.nhs.example.org".into());
    r.host.mac_addresses = vec!["00:1a:2b:3c:4d:5e".into()];
    r.host.ip_addresses = vec!["10.2.3.4".into()];
    r.hardware.serial = Some("7B5RJ42".into());
    r.os.family = OsFamily::Windows;
    r.os.name = Some("Windows 10 Enterprise".into());
    r.os.build = Some("19045".into());
    r.os.revision = Some(6575);
    r.os.display_version = Some("22H2".into());
    r.tags.site = Some("RVI".into());
    store.put_report(id, at, &r, None).unwrap();
    id
}

#[test]
fn four_sources_become_one_device_with_sources_side_by_side() {
    let store = MemoryStore::new();
    let t = now() - Duration::days(1);
    let agent = agent_pc07(&store, t);
    import(
        &store,
        "pc07-systeminfo.txt",
        vec![record(
            Source::Systeminfo,
            t - Duration::days(2),
            Identity {
                host_name: Some("WARD3-PC07".into()),
                domain: Some("nhs.example.org".into()),
                ips: vec!["10.2.3.4".parse().unwrap()],
                ..Identity::default()
            },
            |r| {
                r.os.name = Some("Microsoft Windows 10 Enterprise".into());
                r.os.build = Some("19045".into());
                r.hardware.model = Some("OptiPlex 7050".into());
                r.patches.installed = vec![InstalledUpdate {
                    id: "KB5034441".into(),
                    ..InstalledUpdate::default()
                }];
            },
        )],
    );
    import(
        &store,
        "ad.csv",
        vec![record(
            Source::Ad,
            t,
            Identity {
                host_name: Some("WARD3-PC07".into()),
                fqdn: Some("WARD3-PC07.nhs.example.org".into()),
                ..Identity::default()
            },
            |r| r.os.name = Some("Windows 10 Enterprise".into()),
        )],
    );
    import(
        &store,
        "scan.xml",
        vec![record(
            Source::Nmap,
            t,
            Identity {
                macs: vec!["00-1A-2B-3C-4D-5E".into()],
                ips: vec!["10.2.3.4".parse().unwrap()],
                ..Identity::default()
            },
            |r| r.os.name = Some("Microsoft Windows 10 1709 - 1909".into()),
        )],
    );

    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    assert_eq!(devices.len(), 1, "{devices:#?}");
    let d = &devices[0];
    // The agent's device id stays the device's id; the records are aliases.
    assert_eq!(d.id, agent);
    assert_eq!(d.aliases.len(), 3);
    assert_eq!(
        d.current_sources(),
        vec![Source::Agent, Source::Systeminfo, Source::Ad, Source::Nmap]
    );
    assert!(d.managed && d.active);

    // The agent wins the OS name; the others are shown: AD agrees (case aside), systeminfo
    // and nmap disagree.
    let os = d.facts.iter().find(|f| f.field == "os.name").unwrap();
    assert_eq!(os.value, "Windows 10 Enterprise");
    assert_eq!(os.source, Source::Agent);
    assert_eq!(os.agreeing, vec![Source::Ad]);
    let disagreeing: Vec<Source> = os.disagreeing.iter().map(|c| c.source).collect();
    assert_eq!(disagreeing, vec![Source::Systeminfo, Source::Nmap]);
    // A fact only systeminfo has comes from systeminfo.
    let model = d
        .facts
        .iter()
        .find(|f| f.field == "hardware.model")
        .unwrap();
    assert_eq!(
        (model.value.as_str(), model.source),
        (Some("OptiPlex 7050"), Source::Systeminfo)
    );
    // The merged report carries both.
    assert_eq!(d.merged.os.name.as_deref(), Some("Windows 10 Enterprise"));
    assert_eq!(d.merged.hardware.model.as_deref(), Some("OptiPlex 7050"));
    assert_eq!(d.merged.patches.installed.len(), 1);
    assert_eq!(d.merged.tags.site.as_deref(), Some("RVI"));

    // Assessed once, under the agent's id; any alias finds it.
    let all = estate::reference::assess_all(&store, &ctx(), &HashMap::new(), now()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, agent);
    let by_alias =
        estate::reference::assess_device(&store, &ctx(), d.aliases[0], &HashMap::new(), now())
            .unwrap();
    assert_eq!(by_alias.map(|a| a.id), Some(agent));
}

#[test]
fn a_fresh_import_beats_an_agent_that_stopped_reporting() {
    let store = MemoryStore::new();
    agent_pc07(&store, now() - Duration::days(200));
    import(
        &store,
        "pc07.txt",
        vec![record(
            Source::Systeminfo,
            now() - Duration::days(1),
            Identity {
                serial: Some("7b5rj42".into()),
                ..Identity::default()
            },
            |r| r.os.name = Some("Windows 11 Enterprise".into()),
        )],
    );
    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    assert_eq!(devices.len(), 1);
    let os = devices[0]
        .facts
        .iter()
        .find(|f| f.field == "os.name")
        .unwrap();
    assert_eq!(os.source, Source::Systeminfo);
    assert_eq!(os.disagreeing[0].source, Source::Agent);
    // The agent's report is older than the stale window: not managed any more.
    assert!(!devices[0].managed);
    assert!(devices[0].active);
}

#[test]
fn same_name_in_two_domains_and_reimaged_machine() {
    let store = MemoryStore::new();
    let t = now() - Duration::days(1);
    let named = |name: &str, domain: &str, serial: Option<&str>| Identity {
        host_name: Some(name.into()),
        domain: Some(domain.into()),
        serial: serial.map(str::to_owned),
        ..Identity::default()
    };
    import(
        &store,
        "north.txt",
        vec![record(
            Source::Systeminfo,
            t,
            named("PC1", "north.example.org", None),
            |_| {},
        )],
    );
    import(
        &store,
        "south.txt",
        vec![record(
            Source::Systeminfo,
            t,
            named("PC1", "south.example.org", None),
            |_| {},
        )],
    );
    // Re-imaged: new name, same serial.
    import(
        &store,
        "old.txt",
        vec![record(
            Source::Systeminfo,
            t - Duration::days(10),
            named("OLD-NAME", "north.example.org", Some("CZC1234XYZ")),
            |_| {},
        )],
    );
    import(
        &store,
        "new.txt",
        vec![record(
            Source::Probe,
            t,
            named("NEW-NAME", "north.example.org", Some("CZC1234XYZ")),
            |_| {},
        )],
    );
    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    let mut names: Vec<String> = devices
        .iter()
        .map(|d| d.hostname.clone().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(names, vec!["NEW-NAME", "PC1", "PC1"], "{devices:#?}");
    // The re-imaged machine's device is named by its earliest record and lists both.
    let reimaged = devices
        .iter()
        .find(|d| d.hostname.as_deref() == Some("NEW-NAME"))
        .unwrap();
    assert_eq!(reimaged.sightings.len(), 2);
    let host = reimaged
        .facts
        .iter()
        .find(|f| f.field == "host.hostname")
        .unwrap();
    assert_eq!(host.disagreeing[0].value, "OLD-NAME");
}

#[test]
fn outside_only_devices_are_scored_and_counted_as_unmanaged() {
    let store = MemoryStore::new();
    let t = now() - Duration::days(1);
    agent_pc07(&store, t);
    let mut xp = record(
        Source::Nmap,
        t,
        Identity {
            ips: vec!["10.9.9.9".parse().unwrap()],
            host_name: Some("xray-ctrl".into()),
            ..Identity::default()
        },
        |r| {
            r.host.hostname = Some("xray-ctrl".into());
            r.os.family = OsFamily::Windows;
            r.os.name = Some("Windows XP".into());
            r.os.version = Some("5.1".into());
            r.os.build = Some("2600".into());
        },
    );
    xp.evidence = vec![
        ExtraEvidence::Smb1Offered {
            offered: true,
            source: Some("nmap smb-protocols".into()),
            observed_at: Some(t),
        },
        ExtraEvidence::Ms17010Vulnerable {
            source: Some("nmap smb-vuln-ms17-010".into()),
            observed_at: Some(t),
        },
    ];
    let ad = record(
        Source::Ad,
        t,
        Identity {
            fqdn: Some("opd-pc22.nhs.example.org".into()),
            ..Identity::default()
        },
        |r| {
            r.host.hostname = Some("OPD-PC22".into());
            r.os.family = OsFamily::Windows;
            r.os.name = Some("Windows 11 Enterprise".into());
            r.os.build = Some("26100".into());
        },
    );
    let old_ad = record(
        Source::Ad,
        now() - Duration::days(400),
        Identity {
            fqdn: Some("gone.nhs.example.org".into()),
            ..Identity::default()
        },
        |r| r.host.hostname = Some("GONE".into()),
    );
    import(&store, "scan.xml", vec![xp]);
    import(&store, "ad.csv", vec![ad, old_ad]);

    let all = estate::reference::assess_all(&store, &ctx(), &HashMap::new(), now()).unwrap();
    assert_eq!(all.len(), 4);
    // The XP box seen only by nmap ranks first: unsupported and MS17-010 vulnerable.
    let first = &all[0].assessment;
    assert_eq!(first.hostname.as_deref(), Some("xray-ctrl"));
    assert_eq!(first.lifecycle.state, LifecycleState::EndOfSupport);
    assert!(first.wannacry_exposed, "{first:#?}");
    // The AD-only Windows 11 PC is unknown with what is missing, not a clean bill.
    let opd = all
        .iter()
        .find(|a| a.assessment.hostname.as_deref() == Some("OPD-PC22"))
        .unwrap();
    assert_eq!(opd.assessment.remedy.class, RemedyClass::Unknown);
    assert!(opd.assessment.has("insufficient_data"));
    assert!(
        opd.assessment.remedy.reason.contains("installed updates"),
        "{}",
        opd.assessment.remedy.reason
    );

    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    let c = coverage(&devices, now(), Weights::default().stale_after_days);
    assert_eq!(c.devices, 3, "the stale AD entry is left out");
    assert_eq!(c.stale, 1);
    assert_eq!((c.managed, c.unmanaged), (1, 2));
    assert!((c.managed_share - 1.0 / 3.0).abs() < 1e-9);
    let unmanaged: Vec<(Option<&str>, bool)> = c
        .unmanaged_devices
        .iter()
        .map(|u| (u.hostname.as_deref(), u.active))
        .collect();
    assert_eq!(unmanaged.len(), 3);
    assert!(unmanaged.contains(&(Some("xray-ctrl"), true)));
    assert!(unmanaged.contains(&(Some("OPD-PC22"), true)));
    assert_eq!(unmanaged[2], (Some("GONE"), false), "stale ones last");
    let rvi = c.by_site.iter().find(|s| s.site == "RVI").unwrap();
    assert_eq!((rvi.devices, rvi.managed), (1, 1));
    assert_eq!(c.by_source.get("nmap"), Some(&1));
}

#[test]
fn device_ids_are_stable_as_records_arrive() {
    let store = MemoryStore::new();
    let t = now() - Duration::days(3);
    let id = |name: &str| Identity {
        host_name: Some(name.into()),
        domain: Some("corp.example".into()),
        ..Identity::default()
    };
    import(
        &store,
        "a.txt",
        vec![record(Source::Ad, t, id("LAB-01"), |_| {})],
    );
    let first = estate::reference::merged_devices(&store, &ctx(), now()).unwrap()[0].id;
    import(
        &store,
        "b.txt",
        vec![record(
            Source::Systeminfo,
            t + Duration::days(1),
            id("lab-01"),
            |_| {},
        )],
    );
    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(
        devices[0].id, first,
        "the earliest record keeps naming the device"
    );
    // An agent arriving later takes over the id; the old one stays an alias.
    let mut r = report("ward-agent", now());
    r.host.hostname = Some("LAB-01".into());
    r.host.domain = Some("corp.example".into());
    let agent = Uuid::now_v7();
    store.put_report(agent, now(), &r, None).unwrap();
    let devices = estate::reference::merged_devices(&store, &ctx(), now()).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, agent);
    assert!(devices[0].is_named(first));
}
