//! The reliability campaign's short forms: each program of `tests/src/bin/` with small bounds
//! (seconds each). docs/campaign.md has the long runs and their commands.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};

fn program(name: &str, args: &[&str]) -> Output {
    let path = ward_tests::bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first",
        path.display()
    );
    let out = Command::new(path)
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// SIGKILL under load: every acknowledged report is stored, once.
#[test]
fn kill_loop_loses_nothing_acknowledged() {
    let out = program(
        "ward-killloop",
        &[
            "--kills",
            "5",
            "--agents",
            "8",
            "--concurrency",
            "4",
            "--per-agent",
            "300",
            "--max-seconds",
            "60",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kills          5 "), "{stdout}");
    assert!(stdout.contains("lost           0"), "{stdout}");
}

/// The agent spools while the collector is down (past its bound), then delivers once, in order.
#[test]
fn offline_agent_drains_once_and_in_order() {
    let out = program("ward-drain", &["--runs", "4", "--spool-max", "3"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("in order       true"), "{stdout}");
    assert!(stdout.contains("dropped over the bound of 3"), "{stdout}");
}

/// Issue 16, item 3: slow bodies were never timed out. Hundreds of trickling connections are cut
/// off, the ones over the per-address cap are refused, and /healthz and reports keep working.
#[test]
fn slow_body_flood_is_cut_off_while_health_and_reports_work() {
    let out = program(
        "ward-slowflood",
        &[
            "--connections",
            "160",
            "--sources",
            "2",
            "--per-address",
            "40",
            "--body-timeout",
            "2",
            "--byte-every",
            "1",
            "--seconds",
            "12",
            "--margin",
            "8",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("still open       0"), "{stdout}");
}

/// Mutated real captures through the parser and the HTTP intake: no panic, hang or 5xx.
#[test]
fn mutated_imports_never_panic_hang_or_5xx() {
    if ward_tests::realdata().is_none() {
        ward_tests::skip("../shared/realdata is absent");
        return;
    }
    let out = program(
        "ward-mutate",
        &[
            "--iterations",
            "500",
            "--http-every",
            "25",
            "--seed",
            "16",
            "--seconds",
            "120",
        ],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("failures       0"), "{stdout}");
}
