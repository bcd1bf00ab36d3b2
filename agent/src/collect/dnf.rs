//! RHEL/Fedora package state: `dnf check-update`, `dnf updateinfo list --security`,
//! `/var/log/dnf.rpm.log` and the EL7 `/var/log/yum.log`.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use ward_shared::PendingUpdate;

/// `-C` (cache only): like `apt-get -s`, answer from the metadata the system timer last fetched,
/// never from the network; `-q` drops the "Last metadata expiration check" chatter.
pub const CHECK_UPDATE_ARGS: &[&str] = &["-q", "-C", "check-update"];
pub const SECURITY_ARGS: &[&str] = &["-q", "-C", "updateinfo", "list", "--security"];

/// What `dnf check-update`'s exit code means: 100 updates available, 0 none, anything else failed.
pub fn check_update_status(code: Option<i32>) -> Option<bool> {
    match code {
        Some(100) => Some(true),
        Some(0) => Some(false),
        _ => None,
    }
}

/// The update lines of `dnf/yum check-update`: `name.arch  [epoch:]version-release  repo`. A long
/// name is printed alone with the rest on the next line. The "Obsoleting Packages" section and
/// anything after it is not a list of updates.
pub fn parse_check_update(output: &str) -> Vec<PendingUpdate> {
    let mut updates: Vec<PendingUpdate> = Vec::new();
    let mut seen = HashSet::new();
    let mut carried: Option<String> = None;
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Obsoleting Packages") || trimmed.starts_with("Security:") {
            break;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let entry = match (carried.take(), words.as_slice()) {
            (Some(name_arch), [version, _repo]) if is_package_line(&name_arch, version) => {
                Some((name_arch, (*version).to_owned()))
            }
            (_, [name_arch]) if name_arch.rsplit_once('.').is_some_and(|(_, a)| is_arch(a)) => {
                carried = Some((*name_arch).to_owned());
                None
            }
            (_, [name_arch, version, _repo]) if is_package_line(name_arch, version) => {
                Some(((*name_arch).to_owned(), (*version).to_owned()))
            }
            _ => None,
        };
        if let Some((name_arch, version)) = entry {
            let name = strip_arch(&name_arch).to_owned();
            if seen.insert((name.clone(), version.clone())) {
                updates.push(PendingUpdate {
                    name,
                    version: Some(version),
                    security: false,
                });
            }
        }
    }
    updates
}

fn is_package_line(name_arch: &str, version: &str) -> bool {
    name_arch
        .rsplit_once('.')
        .is_some_and(|(_, arch)| is_arch(arch))
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.contains('-')
}

const ARCHES: &[&str] = &[
    "x86_64", "noarch", "i686", "i386", "aarch64", "ppc64le", "ppc64", "s390x", "armv7hl", "src",
];

fn is_arch(s: &str) -> bool {
    ARCHES.contains(&s)
}

fn strip_arch(name_arch: &str) -> &str {
    match name_arch.rsplit_once('.') {
        Some((name, arch)) if is_arch(arch) => name,
        _ => name_arch,
    }
}

/// Package names in `dnf updateinfo list --security` (dnf4: `ID Severity/Sec. NEVRA`) or dnf5's
/// `advisory list --security` table (`Name Type Severity Package Issued`): the column that is a
/// NEVRA ending in a known architecture.
pub fn parse_security_names(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| {
            line.split_whitespace()
                .find(|w| w.rsplit_once('.').is_some_and(|(_, a)| is_arch(a)))
                .and_then(nevra_name)
        })
        .collect()
}

/// `openssl-libs-1:3.0.7-25.el9_3.x86_64` -> `openssl-libs`: drop the arch, then release and version.
fn nevra_name(nevra: &str) -> Option<String> {
    let nevr = strip_arch(nevra);
    let (nv, _release) = nevr.rsplit_once('-')?;
    let (name, _version) = nv.rsplit_once('-')?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// Marks the pending updates whose package has a security advisory; returns how many there are.
pub fn mark_security(pending: &mut [PendingUpdate], security: &BTreeSet<String>) -> u32 {
    let mut count = 0;
    for p in pending.iter_mut() {
        p.security = security.contains(&p.name);
        count += u32::from(p.security);
    }
    count
}

/// The last install/upgrade in `/var/log/dnf.rpm.log`:
/// `2024-03-05T14:30:11+0000 SUBDEBUG Installed: htop-3.3.0-1.el9.x86_64` (timestamps carry an offset).
pub fn rpm_log_last_install(text: &str) -> Option<DateTime<Utc>> {
    text.lines()
        .filter(|l| {
            [
                " Upgrade: ",
                " Upgraded: ",
                " Install: ",
                " Installed: ",
                " Reinstall: ",
                " Downgrade: ",
            ]
            .iter()
            .any(|a| l.contains(a))
        })
        .filter_map(|l| parse_offset_time(l.split_whitespace().next()?))
        .max()
}

fn parse_offset_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The last install/update in an EL7 `/var/log/yum.log`: `Jan 03 10:20:30 Updated: pkg`. The lines
/// carry no year: `written` (the file's mtime, local) supplies it, and a month after the mtime's
/// month belongs to the year before. Local time.
pub fn yum_log_last_install(text: &str, written: NaiveDate) -> Option<NaiveDateTime> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (month, day, time, action) =
                (words.next()?, words.next()?, words.next()?, words.next()?);
            if !matches!(action, "Installed:" | "Updated:") {
                return None;
            }
            let month = NaiveDate::parse_from_str(&format!("{month} 1 2000"), "%b %d %Y")
                .ok()?
                .month();
            let year = if month > written.month() {
                written.year() - 1
            } else {
                written.year()
            };
            let date = NaiveDate::from_ymd_opt(year, month, day.parse().ok()?)?;
            Some(date.and_time(NaiveTime::parse_from_str(time, "%H:%M:%S").ok()?))
        })
        .max()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn check_update_lists_updates_and_stops_at_obsoletes() {
        let pending = parse_check_update(include_str!("testdata/dnf-check-update-rhel9.txt"));
        let names: Vec<&str> = pending.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "NetworkManager",
                "NetworkManager-libnm",
                "kernel",
                "kernel-core",
                "openssl",
                "openssl-libs",
                "python3-setuptools-wheel",
                "tzdata",
                "xorg-x11-server-Xwayland-debuginfo-common",
            ]
        );
        assert_eq!(pending[0].version.as_deref(), Some("1:1.44.0-4.el9_3"));
        assert_eq!(pending[8].version.as_deref(), Some("21.1.3-8.el9_3"));
        assert_eq!(check_update_status(Some(100)), Some(true));
        assert_eq!(check_update_status(Some(0)), Some(false));
        assert_eq!(check_update_status(Some(1)), None);
    }

    #[test]
    fn security_advisories_mark_pending_packages() {
        let mut pending = parse_check_update(include_str!("testdata/dnf-check-update-rhel9.txt"));
        let names =
            parse_security_names(include_str!("testdata/dnf-updateinfo-security-rhel9.txt"));
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["kernel", "kernel-core", "openssl", "openssl-libs"]
        );
        assert_eq!(mark_security(&mut pending, &names), 4);
        assert!(
            pending
                .iter()
                .find(|p| p.name == "openssl")
                .is_some_and(|p| p.security)
        );
        assert!(
            !pending
                .iter()
                .find(|p| p.name == "tzdata")
                .is_some_and(|p| p.security)
        );
    }

    #[test]
    fn dnf5_advisory_table() {
        let names =
            parse_security_names(include_str!("testdata/dnf5-advisory-security-fedora40.txt"));
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["curl", "glibc", "libcurl"]
        );
    }

    #[test]
    fn rpm_log() {
        assert_eq!(
            rpm_log_last_install(include_str!("testdata/dnf.rpm.log")),
            Utc.with_ymd_and_hms(2024, 3, 5, 14, 30, 11).single()
        );
        assert_eq!(
            rpm_log_last_install("2019-10-01T12:00:00Z SUBDEBUG Installed: a-1-1.noarch\n"),
            Utc.with_ymd_and_hms(2019, 10, 1, 12, 0, 0).single()
        );
    }

    #[test]
    fn yum_log_across_new_year() {
        let written = NaiveDate::from_ymd_opt(2024, 1, 4).expect("date");
        let last = yum_log_last_install(include_str!("testdata/yum.log"), written);
        assert_eq!(
            last,
            NaiveDate::from_ymd_opt(2024, 1, 3).and_then(|d| d.and_hms_opt(10, 20, 30))
        );
        let only_december = "Dec 29 09:11:40 Installed: htop-2.2.0-3.el7.x86_64\n";
        assert_eq!(
            yum_log_last_install(only_december, written),
            NaiveDate::from_ymd_opt(2023, 12, 29).and_then(|d| d.and_hms_opt(9, 11, 40))
        );
    }
}
