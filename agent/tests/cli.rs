//! The command line as a user meets it. (Having an integration test here also makes
//! `cargo test --workspace` build the `ward-agent` binary that the end-to-end tests run.)

use std::process::Command;

fn ward_agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ward-agent"))
        .args(args)
        .output()
        .expect("run ward-agent")
}

#[test]
fn help_names_every_command() {
    let out = ward_agent(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["collect", "enroll", "run"] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2_and_run_needs_an_enrollment() {
    let out = ward_agent(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = std::env::temp_dir().join(format!("ward-agent-cli-{}", std::process::id()));
    let out = ward_agent(&["run", "--once", "--state", &dir.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ward-agent enroll"), "{err}");
}
