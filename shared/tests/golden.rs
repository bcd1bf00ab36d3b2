//! Every golden payload parses and validates. Golden files are only ever added, never edited:
//! a failure here means the wire format broke compatibility.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::{TimeZone, Utc};
use ward_shared::{DiskKind, Limits, OsFamily, Report};

fn golden() -> Vec<(String, Report)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "golden files missing from {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read(&path).unwrap();
            let report: Report = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                report,
            )
        })
        .collect()
}

#[test]
fn every_golden_payload_parses_validates_and_round_trips() {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
    for (name, report) in golden() {
        report
            .validate(&Limits::V1, now)
            .unwrap_or_else(|e| panic!("{name} fails validation: {e}"));
        let again: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(again, report, "{name} does not round-trip");
    }
}

#[test]
fn golden_payloads_carry_the_values_written() {
    let all = golden();
    let get = |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, r)| r).unwrap();

    let linux = get("v1-linux-full.json");
    assert_eq!(linux.os.family, OsFamily::Linux);
    assert_eq!(linux.patches.pending_security_count, Some(3));
    assert_eq!(linux.hardware.disks[0].kind, DiskKind::Ssd);
    assert_eq!(linux.hardware.tpm.version.as_deref(), Some("2.0"));
    assert_eq!(linux.tags.labels["ward"], "7B");

    let windows = get("v1-windows.json");
    assert_eq!(windows.os.build.as_deref(), Some("19045"));
    assert_eq!(windows.os.revision, Some(6456));
    assert_eq!(windows.security.smb1_server_enabled, Some(true));
    assert_eq!(
        windows.patches.installed[0].installed_on,
        chrono::NaiveDate::from_ymd_opt(2025, 10, 15)
    );
    assert_eq!(windows.patches.installed[1].installed_on, None);

    let minimal = get("v1-minimal.json");
    assert_eq!(minimal.os.family, OsFamily::Other);
    assert!(minimal.patches.pending_count.is_none() && minimal.hardware.disks.is_empty());

    // A newer agent's unknown fields and enum values are read, not refused.
    let newer = get("v1-from-a-newer-agent.json");
    assert_eq!(newer.os.family, OsFamily::Other);
    assert_eq!(newer.hardware.disks[0].kind, DiskKind::Unknown);
}
