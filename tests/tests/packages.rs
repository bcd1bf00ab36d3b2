//! The Debian packages that `scripts/artifacts.d/20-debs.sh` builds into `target/debian/`:
//! installed with dpkg, their binaries run, `systemd-analyze verify` accepts the units, a
//! reinstall keeps changed config and data, and purge removes them.
//!
//! Installing packages changes the machine, so this runs only as root and only under CI=true
//! (a throwaway machine) or with WARD_TEST_DPKG=1; otherwise it says why it skipped. Under
//! CI=true a missing prerequisite is a failure, not a skip.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (prints why) or, under CI=true, fails.
fn skip(why: &str) {
    assert!(!ci(), "CI=true but {why}");
    println!("skipped: {why}");
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn debs() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debian");
    let find = |name: &str| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}_")) && n.ends_with(".deb"))
            })
    };
    Some((find("ward-agent")?, find("ward-collector")?))
}

fn installed(package: &str) -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", package])
        .stdout
        .starts_with(b"install ok installed")
}

#[test]
fn debian_packages_install_verify_and_purge() {
    if !(ci() || std::env::var_os("WARD_TEST_DPKG").is_some()) {
        println!("skipped: installs system packages; runs under CI=true or with WARD_TEST_DPKG=1");
        return;
    }
    if run("id", &["-u"]).stdout != b"0\n" {
        return skip("installing packages needs root");
    }
    for tool in ["dpkg", "systemd-analyze"] {
        if !have(tool) {
            return skip(&format!(
                "{tool} is missing (scripts/packages.txt installs it)"
            ));
        }
    }
    let Some((agent_deb, collector_deb)) = debs() else {
        return skip("target/debian has no packages (scripts/artifacts.d/20-debs.sh builds them)");
    };
    if installed("ward-agent") || installed("ward-collector") {
        return skip("ward packages are already installed on this machine; not touching them");
    }
    let data = Path::new("/var/lib/ward-collector");
    let state = Path::new("/var/lib/ward-agent");
    if data.exists() || state.exists() {
        return skip("/var/lib/ward-* exists; not touching a machine that runs Ward");
    }

    // Control fields and contents, before installing.
    for (deb, unit) in [
        (&agent_deb, "ward-agent.service"),
        (&collector_deb, "ward-collector.service"),
    ] {
        let deb = deb.to_string_lossy();
        let fields = ok("dpkg-deb", &["--field", &deb]);
        assert!(fields.contains("Depends: libc6 (>= 2."), "{fields}");
        let contents = ok("dpkg-deb", &["--contents", &deb]);
        for path in [&format!("./usr/lib/systemd/system/{unit}"), "./usr/bin/"] {
            assert!(contents.contains(path), "{path} not in {deb}:\n{contents}");
        }
    }
    let conffiles = ok(
        "dpkg-deb",
        &["--info", &agent_deb.to_string_lossy(), "conffiles"],
    );
    assert_eq!(conffiles.trim(), "/etc/ward/ward-agent.toml");

    ok(
        "dpkg",
        &[
            "--force-confold",
            "-i",
            &agent_deb.to_string_lossy(),
            &collector_deb.to_string_lossy(),
        ],
    );
    assert!(installed("ward-agent") && installed("ward-collector"));

    let version = ok("/usr/bin/ward-agent", &["--version"]);
    assert!(version.starts_with("ward-agent "), "{version}");
    let version = ok("/usr/bin/ward-collector", &["--version"]);
    assert!(version.starts_with("ward-collector "), "{version}");
    // The agent can collect from the installed binary.
    let report = ok("/usr/bin/ward-agent", &["collect"]);
    assert!(report.contains("\"report_id\""), "{report}");

    // postinst made the system user and initialised the data directory as that user.
    ok("getent", &["passwd", "ward"]);
    let owner = ok(
        "stat",
        &["-c", "%U %a", &data.join("enroll-secret").to_string_lossy()],
    );
    assert_eq!(owner.trim(), "ward 600");
    let owner = ok("stat", &["-c", "%U %a", &data.to_string_lossy()]);
    assert_eq!(owner.trim(), "ward 700");
    assert!(state.is_dir());

    // The units pass systemd's own checks.
    let out = run(
        "systemd-analyze",
        &[
            "verify",
            "/usr/lib/systemd/system/ward-agent.service",
            "/usr/lib/systemd/system/ward-collector.service",
        ],
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A reinstall (an upgrade in place) keeps local config and data.
    let agent_conf = Path::new("/etc/ward/ward-agent.toml");
    let mut edited = std::fs::read_to_string(agent_conf).unwrap();
    edited.push_str("# local edit\n");
    std::fs::write(agent_conf, &edited).unwrap();
    let collector_conf = data.join("ward-collector.toml");
    std::fs::write(&collector_conf, "listen = \"127.0.0.1:9443\"\n").unwrap();
    let secret = std::fs::read(data.join("enroll-secret")).unwrap();
    ok(
        "dpkg",
        &[
            "--force-confold",
            "-i",
            &agent_deb.to_string_lossy(),
            &collector_deb.to_string_lossy(),
        ],
    );
    assert_eq!(std::fs::read_to_string(agent_conf).unwrap(), edited);
    assert_eq!(
        std::fs::read_to_string(&collector_conf).unwrap(),
        "listen = \"127.0.0.1:9443\"\n"
    );
    assert_eq!(std::fs::read(data.join("enroll-secret")).unwrap(), secret);

    ok("dpkg", &["--purge", "ward-agent", "ward-collector"]);
    assert!(!installed("ward-agent") && !installed("ward-collector"));
    assert!(!Path::new("/usr/bin/ward-collector").exists());
    assert!(!agent_conf.exists(), "purge removes the agent's conffile");
    // Purge keeps the collector's data (the estate's history and the CA agents trust).
    assert_eq!(std::fs::read(data.join("enroll-secret")).unwrap(), secret);

    // This test created them; leave the machine as it found it.
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(state);
    let _ = run("userdel", &["ward"]);
    let _ = run("groupdel", &["ward"]);
}
