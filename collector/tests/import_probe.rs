//! The legacy probe (`deploy/legacy/ward-probe.vbs`) and the importer that reads its files.
//!
//! 1. A hand-written sample of what the probe writes on an XP SP3 machine imports as a probe
//!    record with every field in place.
//! 2. The real script runs under Wine's `cscript` in a fresh WINEPREFIX and its output imports.
//!    Without wine the test prints "skipped"; under CI=true a missing wine is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use ward_collector::import::{self, Format, Source};

fn now() -> DateTime<Utc> {
    "2026-12-01T00:00:00Z".parse().expect("time")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn hand_written_probe_sample_imports() {
    let path = workspace().join("collector/tests/fixtures/probe/ward-probe-xp-sp3.json");
    let bytes = std::fs::read(&path).expect("fixture");
    let p = import::parse(&bytes, "RAD-CT-02-20261130061240.json", now()).expect("imports");
    assert_eq!(p.format, Format::Probe);
    let r = &p.records[0];
    assert_eq!(r.source, Source::Probe);
    assert_eq!(r.observed_at.to_rfc3339(), "2026-11-30T06:12:40+00:00");
    assert_eq!(r.identity.host_name.as_deref(), Some("RAD-CT-02"));
    assert_eq!(r.identity.serial.as_deref(), Some("4R4FJ12"));
    assert_eq!(
        r.identity.hardware_uuid.as_deref(),
        Some("4C4C4544-0052-3410-8035-B7C04F4A3132")
    );
    assert_eq!(r.identity.macs, ["00:1a:a0:3c:11:42"]);
    assert_eq!(r.identity.ips[0].to_string(), "10.20.4.17");
    assert_eq!(r.hotfix_list_complete, Some(true));
    let rep = &r.report;
    assert_eq!(rep.os.build.as_deref(), Some("2600"));
    assert_eq!(rep.os.service_pack.as_deref(), Some("Service Pack 3"));
    assert_eq!(rep.patches.installed.len(), 3);
    assert_eq!(rep.security.smb1_server_enabled, Some(true));
    assert_eq!(
        rep.security.srv_sys_version.as_deref(),
        Some("5.1.2600.5625 (xpsp_sp3_gdr.080814-1236)")
    );
    assert_eq!(rep.tags.site.as_deref(), Some("Nord"));
    assert_eq!(p.warnings.len(), 1, "the probe's own errors are surfaced");
}

#[test]
fn probe_files_that_break_the_wire_format_are_refused() {
    let good =
        std::fs::read(workspace().join("collector/tests/fixtures/probe/ward-probe-xp-sp3.json"))
            .expect("fixture");
    let text = String::from_utf8(good).expect("utf-8");
    // Schema from the future, a cut file, a missing agent name.
    for (bad, why) in [
        (
            text.replacen("\"schema_version\":1", "\"schema_version\":99", 1),
            "schema_version",
        ),
        (text[..text.len() / 2].to_string(), "wire format"),
        (
            text.replacen("\"name\":\"ward-probe\"", "\"name\":\"\"", 1),
            "agent.name",
        ),
    ] {
        let err = import::parse(bad.as_bytes(), "bad.json", now()).expect_err("refused");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
}

fn wine() -> Option<&'static str> {
    ["wine", "wine64"].into_iter().find(|w| {
        Command::new(w)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `/tmp/x/y` -> `Z:\tmp\x\y` (Wine maps the Unix root to Z:).
fn wine_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

#[test]
fn probe_script_runs_under_wine_and_its_report_imports() {
    let Some(wine) = wine() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "wine is missing under CI=true (scripts/packages.txt lists it)"
        );
        println!("skipped: wine is not installed");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let prefix = tmp.path().join("prefix");
    let out = tmp.path().join("drop");
    std::fs::create_dir_all(&out).expect("out dir");
    let script = workspace().join("deploy/legacy/ward-probe.vbs");
    let run = Command::new(wine)
        .args(["cscript", "//nologo"])
        .arg(wine_path(&script))
        .arg(wine_path(&out))
        .arg("/site:Nord")
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        // No Mono/Gecko install prompts in a fresh prefix.
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .output()
        .expect("run wine cscript");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "cscript failed: {:?}\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .expect("read out")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one report, no temp file left: {files:?}\n{stdout}"
    );
    let file = &files[0];
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("json"));
    let bytes = std::fs::read(file).expect("read report");
    assert!(bytes.is_ascii(), "the probe writes ASCII JSON");
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("probe.json");
    let p = import::parse(&bytes, name, Utc::now()).expect("the probe's report imports");
    assert_eq!(p.format, Format::Probe);
    let r = &p.records[0];
    assert_eq!(r.source, Source::Probe);
    assert_eq!(r.report.agent.name, "ward-probe");
    // What Wine's WMI gives: an OS with version and build, a host name, a CPU, disks.
    assert_eq!(r.report.os.family, ward_shared::OsFamily::Windows);
    assert!(r.report.os.build.is_some(), "{:?}", r.report.os);
    assert!(r.report.os.version.is_some(), "{:?}", r.report.os);
    assert!(r.identity.host_name.is_some());
    assert!(!r.report.hardware.disks.is_empty());
    assert!(r.report.hardware.ram_bytes.is_some());
    assert_eq!(r.report.tags.site.as_deref(), Some("Nord"));
    assert_eq!(r.hotfix_list_complete, Some(true));
}
