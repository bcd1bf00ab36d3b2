//! Debian/Ubuntu package state: `apt-get -s dist-upgrade` simulation output, `/var/log/apt/history.log`
//! and `/var/log/dpkg.log`.

use chrono::NaiveDateTime;
use ward_shared::PendingUpdate;

/// The arguments of the simulation. `Debug::NoLocking` lets it run beside a running apt and as a
/// non-root user; it reads the local package lists only (no network).
pub const SIMULATE_ARGS: &[&str] = &["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"];

/// The `Inst` lines of an `apt-get -s` run, one per package that would be installed or upgraded:
///
/// ```text
/// Inst libssl3 [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []
/// Inst linux-image-5.15.0-105-generic (5.15.0-105.115 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
/// ```
///
/// The parenthesised part is the candidate version and every release that carries it
/// (`Label:Version/Archive`, comma-separated). A package is a security update when any of them is a
/// security archive (`*-security`, or Debian's `Debian-Security` label, whose archive on Debian 10
/// and older was plain `oldstable`).
pub fn parse_simulation(output: &str) -> Vec<PendingUpdate> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let open = rest.find('(')?;
            let close = open + rest[open..].find(')')?;
            let candidate = &rest[open + 1..close];
            let (version, releases) = candidate.split_once(' ').unwrap_or((candidate, ""));
            let releases = match releases.rfind(" [") {
                Some(arch) => &releases[..arch],
                None => releases,
            };
            let security = releases.split(", ").any(is_security_release);
            Some(PendingUpdate {
                name: name.to_owned(),
                version: (!version.is_empty()).then(|| version.to_owned()),
                security,
            })
        })
        .collect()
}

fn is_security_release(release: &str) -> bool {
    let release = release.trim().to_ascii_lowercase();
    let (label, archive) = match release.split_once(':') {
        Some((label, rest)) => (label, rest.rsplit('/').next().unwrap_or(rest)),
        None => ("", release.as_str()),
    };
    archive.ends_with("-security") || label == "debian-security"
}

/// The `End-Date` of the last completed history.log block that installed or upgraded something.
/// Blocks are separated by blank lines; dates are local time, `YYYY-MM-DD  HH:MM:SS`.
pub fn history_last_install(text: &str) -> Option<NaiveDateTime> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut changed = false;
            let mut end = None;
            for line in block.lines() {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                match key.trim() {
                    "Install" | "Upgrade" | "Reinstall" | "Downgrade" => changed = true,
                    "End-Date" => end = local_datetime(value),
                    _ => {}
                }
            }
            end.filter(|_| changed)
        })
        .max()
}

/// The last `status installed` (or `install`/`upgrade`) line of a dpkg.log:
/// `2024-03-01 10:22:33 status installed openssl:amd64 3.0.2-0ubuntu1.15`. Local time.
pub fn dpkg_last_install(text: &str) -> Option<NaiveDateTime> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (date, time, action) = (words.next()?, words.next()?, words.next()?);
            let installed = match action {
                "install" | "upgrade" => true,
                "status" => words.next() == Some("installed"),
                _ => false,
            };
            installed.then(|| local_datetime(&format!("{date} {time}")))?
        })
        .max()
}

fn local_datetime(value: &str) -> Option<NaiveDateTime> {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&value, "%Y-%m-%d %H:%M:%S").ok()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid")
    }

    #[test]
    fn debian_12_simulation() {
        let pending = parse_simulation(include_str!("testdata/apt-get-s-debian-12.txt"));
        assert_eq!(pending.len(), 10);
        let security: Vec<&str> = pending
            .iter()
            .filter(|p| p.security)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            security,
            [
                "libgcrypt20-dev",
                "libgcrypt20",
                "liblzma-dev",
                "liblzma5",
                "libssl-dev",
                "libssl3",
                "unzip"
            ]
        );
        assert_eq!(pending[0].name, "base-files");
        assert_eq!(pending[0].version.as_deref(), Some("12.4+deb12u15"));
        assert!(!pending[0].security);
    }

    #[test]
    fn ubuntu_simulation_with_new_packages_and_esm() {
        let pending = parse_simulation(include_str!("testdata/apt-get-s-ubuntu-22.04.txt"));
        let names: Vec<(&str, bool)> = pending
            .iter()
            .map(|p| (p.name.as_str(), p.security))
            .collect();
        assert_eq!(
            names,
            [
                ("libc6", true),
                ("libc-bin", true),
                ("linux-modules-5.15.0-105-generic", true),
                ("linux-image-5.15.0-105-generic", true),
                ("linux-image-generic", true),
                ("openssh-client", false),
                ("snapd", false),
                ("tzdata", true),
            ]
        );
        assert_eq!(pending[5].version.as_deref(), Some("1:8.9p1-3ubuntu0.7"));
    }

    #[test]
    fn debian_10_security_label() {
        let out = "Inst libx [1.0] (1.1 Debian-Security:10/oldoldstable [amd64])\n\
                   Inst liby [1.0] (1.1 Debian:10.13/oldoldstable [amd64])\n";
        let pending = parse_simulation(out);
        assert!(pending[0].security);
        assert!(!pending[1].security);
    }

    #[test]
    fn nothing_to_do() {
        let out = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                   Calculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
        assert!(parse_simulation(out).is_empty());
    }

    #[test]
    fn history_log_last_completed_install() {
        assert_eq!(
            history_last_install(include_str!("testdata/apt-history.log")),
            Some(at(2024, 3, 1, 10, 22, 33))
        );
        assert_eq!(history_last_install(""), None);
    }

    #[test]
    fn dpkg_log_last_install() {
        assert_eq!(
            dpkg_last_install(include_str!("testdata/dpkg.log")),
            Some(at(2024, 3, 1, 10, 22, 33))
        );
    }
}
