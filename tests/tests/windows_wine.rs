//! The cross-built Windows agent under Wine, end to end: `ward-agent.exe collect` in a fresh
//! WINEPREFIX (checked against what `wine reg query` says), again after Wine is told to be
//! Windows 10, then `enroll` and `run --once` against the real Linux collector on 127.0.0.1
//! over TLS, and the device is read back from the API as Windows.
//!
//! Needs the artifacts of `scripts/artifacts.d/10-windows.sh` (the exe and the test-only
//! ProcessPrng shim) and `wine`; skips with a message when they are missing, except under
//! CI=true, where that is a failure. Nothing here asserts on time; the timeouts only stop a hung
//! Wine from hanging the suite.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_shared::{Limits, OsFamily, Report};
use ward_tests::{Collector, bin_dir, init_collector};

/// Generous: the first start of a prefix takes seconds, a loaded CI machine more.
const WINE_TIMEOUT: Duration = Duration::from_secs(600);

fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and {why}: run scripts/test-all (or scripts/artifacts.d/10-windows.sh)");
    }
    println!("skipped: {why}");
}

/// The exe and the shim, from the target directory the tests were built in.
fn artifacts() -> Result<(PathBuf, PathBuf), String> {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no target directory")?;
    let exe = target.join("x86_64-pc-windows-gnu/release/ward-agent.exe");
    let shim = target.join("wine-shim/bcryptprimitives.dll");
    for p in [&exe, &shim] {
        if !p.exists() {
            return Err(format!(
                "{} is missing (built by scripts/artifacts.d/10-windows.sh)",
                p.display()
            ));
        }
    }
    if Command::new("wine")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return Err("wine is not installed (Debian package wine64)".into());
    }
    Ok((exe, shim))
}

/// A fresh Wine prefix in a temporary directory with the agent and the shim copied into it.
struct Wine {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Wine {
    fn new(exe: &Path, shim: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(exe, bin.join("ward-agent.exe")).unwrap();
        std::fs::copy(shim, bin.join("bcryptprimitives.dll")).unwrap();
        let wine = Self {
            exe: bin.join("ward-agent.exe"),
            dir,
        };
        let out = wine.run("wineboot", &["-i"]);
        assert!(out.status.success(), "wineboot: {}", text(&out.stderr));
        wine
    }

    fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// Runs `program args` in this prefix, killing it after [`WINE_TIMEOUT`].
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut child = Command::new(program)
            .args(args)
            .env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("WARD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_thread = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = stdout.read_to_end(&mut b);
            b
        });
        let err_thread = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = stderr.read_to_end(&mut b);
            b
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > WINE_TIMEOUT {
                let _ = child.kill();
                panic!("{program} {args:?} did not finish within {WINE_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Output {
            status,
            stdout: out_thread.join().unwrap(),
            stderr: err_thread.join().unwrap(),
        }
    }

    fn agent(&self, args: &[&str]) -> Output {
        let mut all = vec![self.exe.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run("wine", &all)
    }

    fn collect(&self) -> Report {
        let out = self.agent(&["collect"]);
        assert!(
            out.status.success(),
            "collect under Wine failed ({}): {}",
            out.status,
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("collect printed no report ({e}): {}", text(&out.stdout)))
    }

    /// A value of `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` as `wine reg query` prints it.
    fn current_version(&self, name: &str) -> Option<String> {
        let out = self.run(
            "wine",
            &[
                "reg",
                "query",
                r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
                "/v",
                name,
            ],
        );
        text(&out.stdout).lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(name))
                .then(|| parts.nth(1).map(str::to_owned))
                .flatten()
        })
    }

    /// The build of the running system as `cmd /c ver` prints it ("Microsoft Windows
    /// 10.0.18362" under Wine, "... [Version 10.0.19045.3636]" on Windows): the version API,
    /// which follows `HKCU\Software\Wine` Version.
    fn ver_build(&self) -> Option<String> {
        let out = self.run("wine", &["cmd", "/c", "ver"]);
        let stdout = text(&out.stdout);
        let version = stdout
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
            .find(|w| {
                w.split('.').count() >= 3 && w.split('.').all(|p| p.parse::<u32>().is_ok())
            })?;
        version.split('.').nth(2).map(str::to_owned)
    }

    /// A Linux path as the agent under Wine sees it (drive Z: is `/`).
    fn win_path(path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // The prefix's wineserver would otherwise linger a few seconds after the last client.
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
    let (exe, shim) = match artifacts() {
        Ok(a) => a,
        Err(why) => return skip_or_fail(&why),
    };
    let wine = Wine::new(&exe, &shim);

    // 1. Wine's default: the build the registry holds, which the version API agrees with.
    let default_build = wine
        .current_version("CurrentBuildNumber")
        .expect("reg query");
    assert_eq!(wine.ver_build().as_deref(), Some(default_build.as_str()));
    let report = wine.collect();
    check_common(&report);
    assert_eq!(report.os.build.as_deref(), Some(default_build.as_str()));

    // 2. Wine told to be Windows 10: the version API (and Wine's WMI) follow at once, the
    //    registry's CurrentVersion key does not; the agent reports the running system's build.
    let out = wine.run(
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
    assert!(out.status.success(), "reg add: {}", text(&out.stderr));
    let win10_build = wine.ver_build().expect("cmd /c ver");
    assert_ne!(
        win10_build, default_build,
        "Wine changed the build it reports"
    );
    let report = wine.collect();
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
    let data = wine.dir.path().join("collector");
    init_collector(&data, None).unwrap();
    let collector = Collector::start(&data, 0).unwrap();
    let state = wine.dir.path().join("agent-state");
    let out = wine.agent(&[
        "enroll",
        "--server",
        &collector.url,
        "--ca",
        &Wine::win_path(&collector.ca()),
        "--secret-file",
        &Wine::win_path(&collector.secret_file()),
        "--state",
        &Wine::win_path(&state),
    ]);
    assert!(
        out.status.success(),
        "enroll under Wine: {}",
        text(&out.stderr)
    );
    let out = wine.agent(&["run", "--once", "--state", &Wine::win_path(&state)]);
    assert!(
        out.status.success(),
        "run --once under Wine: {}",
        text(&out.stderr)
    );

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
