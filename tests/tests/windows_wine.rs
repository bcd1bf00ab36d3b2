//! The cross-built Windows agent under Wine, end to end: `ward-agent.exe collect` in a fresh
//! WINEPREFIX (checked against what `wine reg query` says), again after Wine is told to be
//! Windows 10, then `enroll` and `run --once` against the real Linux collector on 127.0.0.1
//! over TLS, and the device is read back from the API as Windows.
//!
//! Needs the artifacts of `scripts/artifacts.d/10-windows.sh` (the exe, the MSI and the
//! test-only ProcessPrng shim) and `wine`; skips with a message when they are missing, except
//! under CI=true, where that is a failure. The prefix, its wineserver and the per-step timeouts
//! are `ward_tests::wine`'s. Nothing here asserts on time; the timeouts only stop a hung Wine
//! from hanging the suite.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use ward_shared::{Limits, OsFamily, Report};
use ward_tests::wine::{Wine, skip_or_fail, windows_artifacts};
use ward_tests::{Collector, init_collector};

fn collect(wine: &Wine, step: &str) -> Report {
    let out = wine.agent(step, &["collect"]).expect_success(step);
    serde_json::from_slice(&out.stdout_bytes)
        .unwrap_or_else(|e| panic!("{step} printed no report ({e}): {}", out.stdout))
}

/// A value of `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` as `wine reg query` prints it.
fn current_version(wine: &Wine, name: &str) -> Option<String> {
    wine.reg_value(r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", name)
}

/// The build of the running system as `cmd /c ver` prints it ("Microsoft Windows
/// 10.0.18362" under Wine, "... [Version 10.0.19045.3636]" on Windows): the version API,
/// which follows `HKCU\Software\Wine` Version.
fn ver_build(wine: &Wine) -> Option<String> {
    let out = wine.run("cmd /c ver", "wine", &["cmd", "/c", "ver"]);
    let version = out
        .stdout
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
        .find(|w| w.split('.').count() >= 3 && w.split('.').all(|p| p.parse::<u32>().is_ok()))?;
    version.split('.').nth(2).map(str::to_owned)
}

fn check_common(report: &Report) {
    report
        .validate(&Limits::V1, chrono::Utc::now())
        .expect("the report passes the collector's validation");
    assert_eq!(report.os.family, OsFamily::Windows);
    assert_eq!(report.os.id.as_deref(), Some("windows"));
    let linux_host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = report.host.hostname.as_deref().expect("host name");
    assert!(
        linux_host.trim().eq_ignore_ascii_case(host),
        "Wine reports the Linux host name {linux_host:?}, the agent said {host:?}"
    );
    assert!(report.hardware.cpu.brand.is_some(), "CPU brand");
    assert!(
        report.hardware.cpu.threads.is_some_and(|n| n > 0),
        "CPU threads"
    );
    assert!(report.hardware.ram_bytes.is_some_and(|b| b > 0), "RAM");
    // Wine has no Windows Update Agent: that is an error entry, and the report still went out.
    assert!(
        report.errors.iter().any(
            |e| e.field == "patches.pending_count" && e.reason.contains("Windows Update Agent")
        ),
        "{:?}",
        report.errors
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn windows_agent_under_wine_collects_enrolls_and_reports() {
    let artifacts = match windows_artifacts() {
        Ok(a) => a,
        Err(why) => return skip_or_fail(&why),
    };
    let wine = Wine::new(&artifacts);

    // 1. Wine's default: the build the registry holds, which the version API agrees with.
    let default_build = current_version(&wine, "CurrentBuildNumber").expect("reg query");
    assert_eq!(ver_build(&wine).as_deref(), Some(default_build.as_str()));
    let report = collect(&wine, "collect (Wine's default version)");
    check_common(&report);
    assert_eq!(report.os.build.as_deref(), Some(default_build.as_str()));

    // 2. Wine told to be Windows 10: the version API (and Wine's WMI) follow at once, the
    //    registry's CurrentVersion key does not; the agent reports the running system's build.
    wine.ok(
        "reg add HKCU\\Software\\Wine Version win10",
        "wine",
        &[
            "reg",
            "add",
            r"HKCU\Software\Wine",
            "/v",
            "Version",
            "/d",
            "win10",
            "/f",
        ],
    );
    let win10_build = ver_build(&wine).expect("cmd /c ver");
    assert_ne!(
        win10_build, default_build,
        "Wine changed the build it reports"
    );
    let report = collect(&wine, "collect (Windows 10)");
    check_common(&report);
    assert_eq!(report.os.build.as_deref(), Some(win10_build.as_str()));
    assert!(win10_build.parse::<u32>().unwrap() >= 10240);
    assert_eq!(report.os.version.as_deref(), Some("10.0"));
    assert!(
        report
            .os
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("Windows 10")),
        "{:?}",
        report.os.name
    );

    // 3. Enroll and report once to the real collector over TLS on 127.0.0.1.
    let data = wine.dir().join("collector");
    init_collector(&data, None).unwrap();
    let collector = Collector::start(&data, 0).unwrap();
    let state = wine.dir().join("agent-state");
    wine.agent(
        "enroll",
        &[
            "enroll",
            "--server",
            &collector.url,
            "--ca",
            &Wine::win_path(&collector.ca()),
            "--secret-file",
            &Wine::win_path(&collector.secret_file()),
            "--state",
            &Wine::win_path(&state),
        ],
    )
    .expect_success("enroll");
    wine.agent(
        "run --once",
        &["run", "--once", "--state", &Wine::win_path(&state)],
    )
    .expect_success("run --once");

    let (status, devices) = collector.admin_get("/api/v1/devices").await.unwrap();
    assert_eq!(status, 200, "{devices}");
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    let id = devices[0]["id"].as_str().unwrap();
    let (status, view): (u16, Value) = collector
        .admin_get(&format!("/api/v1/devices/{id}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{view}");
    let latest: Report = serde_json::from_value(view["latest"].clone()).unwrap();
    assert_eq!(latest.os.family, OsFamily::Windows);
    assert_eq!(latest.os.build.as_deref(), Some(win10_build.as_str()));
    assert!(
        latest.agent.id.is_some(),
        "the report carries the enrolled id"
    );
    collector.stop().unwrap();
}
