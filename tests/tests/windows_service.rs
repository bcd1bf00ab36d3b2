//! The Windows service and the silent MSI under Wine, end to end, against the real Linux
//! collector on 127.0.0.1 over TLS:
//!
//! 1. Without the MSI, the way `install-ward-agent.ps1` does it: `ward-agent.exe service install
//!    --server --enroll-secret --ca` (settings in `HKLM\SOFTWARE\Ward`, the CA as PEM text on one
//!    line as an Intune command line gives it), `sc query`, `service start` while the collector
//!    is not up yet; the service moves the secret out of the registry at once, retries, and once
//!    the collector is up it enrolls on its own, the device appears in the API as Windows, the
//!    secret is gone, state, spool and log are under `C:\ProgramData\Ward`; `service stop`,
//!    `service uninstall`, and the service manager no longer knows it.
//! 2. The MSI in a fresh prefix: `msiexec /i ward-agent.msi /qn WARD_SERVER=... WARD_ENROLL_SECRET=...
//!    WARD_CA=<path>` installs and starts the service, which enrolls and reports; a second MSI
//!    with a higher version (built here with wixl from the same .wxs) upgrades in place and the
//!    agent keeps its enrollment; `msiexec /x ... /qn` removes the service and the program.
//!
//! Needs the artifacts of `scripts/artifacts.d/10-windows.sh`, `wine` and (for the upgrade) `wixl`;
//! skips with a message when they are missing, except under CI=true, where that is a failure.
//! Every step has a timeout that fails the test with the step's name and output (see
//! `ward_tests::wine`); nothing asserts on time.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_shared::{OsFamily, Report};
use ward_tests::wine::{
    LONG_STEP_TIMEOUT, STEP_TIMEOUT, WindowsArtifacts, Wine, skip_or_fail, windows_artifacts,
};
use ward_tests::{Collector, init_collector};

const SETTINGS_KEY: &str = r"HKLM\SOFTWARE\Ward";
const SERVICE_KEY: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\WardAgent";
/// How long the service may take to enroll and deliver its first report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(300);

fn artifacts() -> Option<WindowsArtifacts> {
    match windows_artifacts() {
        Ok(a) => Some(a),
        Err(why) => {
            skip_or_fail(&why);
            None
        }
    }
}

fn program_data(wine: &Wine) -> PathBuf {
    wine.c_drive().join("ProgramData/Ward")
}

/// What `sc query WardAgent` says, for failure messages, and the service's log files.
fn diagnostics(wine: &Wine) -> String {
    let sc = wine.run(
        "sc query (diagnostics)",
        "wine",
        &["sc", "query", "WardAgent"],
    );
    let mut logs = String::new();
    if let Ok(dir) = std::fs::read_dir(program_data(wine).join("logs")) {
        for entry in dir.filter_map(Result::ok) {
            logs.push_str(&format!(
                "--- {} ---\n{}\n",
                entry.path().display(),
                std::fs::read_to_string(entry.path()).unwrap_or_default()
            ));
        }
    }
    format!("sc query WardAgent:\n{}\nservice logs:\n{logs}", sc.both())
}

/// The STATE line of `sc query WardAgent` ("RUNNING", "STOPPED"...), `None` when the service
/// manager does not know the service.
fn service_state(wine: &Wine) -> Option<String> {
    let out = wine.run("sc query WardAgent", "wine", &["sc", "query", "WardAgent"]);
    if !out.success() {
        return None;
    }
    out.stdout
        .lines()
        .find(|l| l.trim_start().starts_with("STATE"))
        .and_then(|l| l.split_whitespace().last().map(str::to_owned))
}

/// Polls `sc query` until the service is in `state`; fails with the diagnostics after a while.
fn wait_for_state(wine: &Wine, state: &str) {
    let started = Instant::now();
    loop {
        if service_state(wine).as_deref() == Some(state) {
            return;
        }
        assert!(
            started.elapsed() < STEP_TIMEOUT,
            "WardAgent did not reach {state} within {STEP_TIMEOUT:?}\n{}",
            diagnostics(wine)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Waits until the collector holds more than `after` reports of exactly one device, and
/// returns that device's id, report count and latest report.
async fn wait_for_report(collector: &Collector, wine: &Wine, after: u64) -> (String, u64, Report) {
    let started = Instant::now();
    loop {
        let (status, devices) = collector.admin_get("/api/v1/devices").await.unwrap();
        assert_eq!(status, 200, "{devices}");
        let devices = devices.as_array().cloned().unwrap_or_default();
        assert!(devices.len() <= 1, "one machine, one device: {devices:?}");
        if let Some(device) = devices.first() {
            let count = device["report_count"].as_u64().unwrap_or(0);
            if count > after {
                let id = device["id"].as_str().unwrap().to_owned();
                let (status, view): (u16, Value) = collector
                    .admin_get(&format!("/api/v1/devices/{id}"))
                    .await
                    .unwrap();
                assert_eq!(status, 200, "{view}");
                let latest: Report = serde_json::from_value(view["latest"].clone()).unwrap();
                return (id, count, latest);
            }
        }
        assert!(
            started.elapsed() < REPORT_TIMEOUT,
            "no new report from the service within {REPORT_TIMEOUT:?}\n{}\ncollector log:\n{}",
            diagnostics(wine),
            std::fs::read_to_string(&collector.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The agent id in the service's `enrollment.json`.
fn enrolled_id(wine: &Wine) -> String {
    let path = program_data(wine).join("enrollment.json");
    let enrollment: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    enrollment["agent_id"].as_str().unwrap().to_owned()
}

fn check_windows_report(report: &Report, wine: &Wine) {
    assert_eq!(report.os.family, OsFamily::Windows, "{:?}", report.os);
    assert_eq!(
        report.agent.id.map(|id| id.to_string()),
        Some(enrolled_id(wine)),
        "the report carries the id the service enrolled with"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn windows_service_installs_enrolls_reports_stops_and_uninstalls() {
    let Some(artifacts) = artifacts() else { return };
    let wine = Wine::new(&artifacts);
    let data = wine.dir().join("collector");
    init_collector(&data, None).unwrap();
    // The collector starts only after the service: its first enrollment attempt fails and it
    // retries, as on a PC installed while the collector is unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let secret = std::fs::read_to_string(data.join("enroll-secret")).unwrap();
    let secret = secret.trim();
    // The CA as PEM text on one line, as an Intune command line passes it.
    let ca_one_line = std::fs::read_to_string(data.join("tls/ca.pem"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");

    wine.agent(
        "service install",
        &[
            "service",
            "install",
            "--server",
            &url,
            "--enroll-secret",
            secret,
            // Separate, as install-ward-agent.ps1 passes it: a value that starts with dashes.
            "--ca",
            &ca_one_line,
        ],
    )
    .expect_success("service install");
    assert_eq!(
        wine.reg_value(SETTINGS_KEY, "Server").as_deref(),
        Some(url.as_str())
    );
    assert_eq!(
        wine.reg_value(SETTINGS_KEY, "EnrollSecret").as_deref(),
        Some(secret),
        "the secret waits in the registry for the first start"
    );
    assert_eq!(
        service_state(&wine).as_deref(),
        Some("STOPPED"),
        "installed, not started\n{}",
        diagnostics(&wine)
    );
    let image = wine.reg_value(SERVICE_KEY, "ImagePath").unwrap_or_default();
    assert!(
        image.contains("ward-agent.exe") && image.ends_with("service run"),
        "{image}"
    );

    wine.agent("service start", &["service", "start"])
        .expect_success("service start");
    // Its first act: the secret leaves the registry (readable by local users) for the state
    // directory (SYSTEM and Administrators only), before any enrollment attempt.
    let state = program_data(&wine);
    let moved = state.join("bootstrap-secret");
    let started = Instant::now();
    while wine.reg_value(SETTINGS_KEY, "EnrollSecret").is_some() || !moved.exists() {
        assert!(
            started.elapsed() < STEP_TIMEOUT,
            "the service did not move the secret out of the registry\n{}",
            diagnostics(&wine)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(std::fs::read_to_string(&moved).unwrap(), secret);
    let collector = Collector::start(&data, port).unwrap();
    assert_eq!(collector.url, url);
    let (_, _, latest) = wait_for_report(&collector, &wine, 0).await;
    check_windows_report(&latest, &wine);
    wait_for_state(&wine, "RUNNING");

    // Enrolled: the secret is gone from HKLM (the rest stays), and from the state directory.
    assert_eq!(wine.reg_value(SETTINGS_KEY, "EnrollSecret"), None);
    assert!(wine.reg_value(SETTINGS_KEY, "Server").is_some());
    for name in ["enrollment.json", "agent.key", "ca.pem", "spool", "logs"] {
        assert!(state.join(name).exists(), "{name} in {}", state.display());
    }
    assert!(!moved.exists(), "the secret is deleted once enrolled");

    wine.agent("service stop", &["service", "stop"])
        .expect_success("service stop");
    wait_for_state(&wine, "STOPPED");
    let log = log_text(&wine);
    for line in [
        "enrollment secret moved",
        "enrollment failed; retrying",
        "report collected",
        "stopping",
    ] {
        assert!(log.contains(line), "{line:?} in the service log:\n{log}");
    }

    wine.agent("service uninstall", &["service", "uninstall"])
        .expect_success("service uninstall");
    assert_eq!(service_state(&wine), None, "{}", diagnostics(&wine));
    assert_eq!(wine.reg_value(SERVICE_KEY, "ImagePath"), None);
    assert!(
        state.join("enrollment.json").exists(),
        "uninstall keeps the state"
    );
    collector.stop().unwrap();
}

/// The service's log files, concatenated.
fn log_text(wine: &Wine) -> String {
    let mut text = String::new();
    if let Ok(dir) = std::fs::read_dir(program_data(wine).join("logs")) {
        for entry in dir.filter_map(Result::ok) {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    text
}

/// `msiexec ARGS /qn /l*v LOG`: fails with the exit code and the log unless it succeeded.
fn msiexec(wine: &Wine, step: &str, args: &[&str]) {
    let log = wine.dir().join(format!("{}.log", step.replace(' ', "-")));
    let log_win = Wine::win_path(&log);
    let mut all = vec!["msiexec"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["/qn", "/l*v", &log_win]);
    let out = wine.run_for(step, "wine", &all, LONG_STEP_TIMEOUT);
    if !out.success() {
        panic!(
            "{step} failed with exit code {:?}\n{}\nmsiexec log:\n{}\n{}",
            out.code(),
            out.both(),
            msi_log(&log),
            diagnostics(wine)
        );
    }
}

/// msiexec writes its log in UTF-16 on Windows and in the ANSI code page under Wine.
fn msi_log(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The same MSI as the artifact, one patch version higher, for the upgrade; `None` (with the
/// reason printed, or a failure under CI=true) when wixl is missing.
fn upgrade_msi(artifacts: &WindowsArtifacts, dir: &Path) -> Option<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    assert_eq!(parts.len(), 3, "version {version}");
    parts[2] += 1;
    let next = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
    // wixl takes File sources relative to the .wxs only: both go side by side.
    let wxs = dir.join("ward-agent.wxs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/windows/ward-agent.wxs"),
        &wxs,
    )
    .unwrap();
    std::fs::copy(&artifacts.exe, dir.join("ward-agent-upgrade.exe")).unwrap();
    let msi = dir.join("ward-agent-upgrade.msi");
    let out = std::process::Command::new("wixl")
        .args(["--arch", "x64", "-D"])
        .arg(format!("Version={next}"))
        .args(["-D", "AgentExe=ward-agent-upgrade.exe"])
        .arg("-o")
        .arg(&msi)
        .arg(&wxs)
        .output();
    match out {
        Ok(out) if out.status.success() => Some(msi),
        Ok(out) => panic!(
            "wixl (upgrade MSI {next}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            skip_or_fail(&format!("wixl cannot run ({e}), so no upgrade MSI"));
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn msi_installs_starts_upgrades_and_removes_the_service() {
    let Some(artifacts) = artifacts() else { return };
    let wine = Wine::new(&artifacts);
    let data = wine.dir().join("collector");
    init_collector(&data, None).unwrap();
    let collector = Collector::start(&data, 0).unwrap();
    let secret = std::fs::read_to_string(collector.secret_file()).unwrap();
    let msi = wine.dir().join("ward-agent.msi");
    std::fs::copy(&artifacts.msi, &msi).unwrap();
    let msi_win = Wine::win_path(&msi);

    // The CA by path, as a GPO or ConfigMgr command line gives it (a share on Windows).
    msiexec(
        &wine,
        "msiexec install",
        &[
            "/i",
            &msi_win,
            &format!("WARD_SERVER={}", collector.url),
            &format!("WARD_ENROLL_SECRET={}", secret.trim()),
            &format!("WARD_CA={}", Wine::win_path(&collector.ca())),
        ],
    );
    let program = wine.c_drive().join("Program Files/Ward/ward-agent.exe");
    assert!(program.exists(), "{}", program.display());
    let (device, count, latest) = wait_for_report(&collector, &wine, 0).await;
    check_windows_report(&latest, &wine);
    wait_for_state(&wine, "RUNNING");
    assert_eq!(wine.reg_value(SETTINGS_KEY, "EnrollSecret"), None);
    let agent_id = enrolled_id(&wine);

    // Upgrade in place, without the properties: same enrollment, same device, a new report.
    if let Some(upgrade) = upgrade_msi(&artifacts, wine.dir()) {
        msiexec(&wine, "msiexec upgrade", &["/i", &Wine::win_path(&upgrade)]);
        wait_for_state(&wine, "RUNNING");
        let (same_device, _, latest) = wait_for_report(&collector, &wine, count).await;
        assert_eq!(same_device, device, "the upgrade kept the device");
        assert_eq!(
            enrolled_id(&wine),
            agent_id,
            "the upgrade kept the enrollment"
        );
        check_windows_report(&latest, &wine);
        msiexec(
            &wine,
            "msiexec uninstall",
            &["/x", &Wine::win_path(&upgrade)],
        );
    } else {
        msiexec(&wine, "msiexec uninstall", &["/x", &msi_win]);
    }

    assert_eq!(service_state(&wine), None, "{}", diagnostics(&wine));
    assert_eq!(wine.reg_value(SERVICE_KEY, "ImagePath"), None);
    assert!(!program.exists(), "{} removed", program.display());
    assert!(
        program_data(&wine).join("enrollment.json").exists(),
        "uninstall keeps the state for a reinstall"
    );
    collector.stop().unwrap();
}
