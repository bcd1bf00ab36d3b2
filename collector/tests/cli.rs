//! The command line as a user meets it. (Having an integration test here also makes
//! `cargo test --workspace` build the `ward-collector` binary that the end-to-end tests run.)

use std::process::Command;

fn ward_collector(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ward-collector"))
        .args(args)
        .output()
        .expect("run ward-collector")
}

#[test]
fn help_names_every_command() {
    let out = ward_collector(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["init", "serve", "quickstart"] {
        assert!(text.contains(cmd), "--help lacks {cmd}:\n{text}");
    }
}

#[test]
fn serve_without_init_says_what_to_do() {
    let dir = std::env::temp_dir().join(format!("ward-collector-cli-{}", std::process::id()));
    let out = ward_collector(&[
        "serve",
        "--data",
        &dir.to_string_lossy(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ward-collector init"), "{err}");
}

/// `ward-collector config default | head -1` and the like: output into a pipe that is already
/// closed ends the command quietly, without a panic.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_ward-collector"))
        .args(["config", "default"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run ward-collector");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}
