//! OS lifecycle table: when each product stops getting security updates, and the paid or free
//! extensions after that (ESU, ESM, LTS, ELS). Dates are Microsoft's Patch Tuesdays (not the
//! UTC day after), Canonical/Debian/Red Hat dates as published.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsKind {
    Windows,
    Linux,
    Macos,
}

/// Windows servicing channel; a build can exist in several (14393: client, LTSB, server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Client,
    Ltsc,
    IotLtsc,
    Server,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRow {
    pub id: String,
    pub os: OsKind,
    pub product: String,
    /// Windows only.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Windows CurrentBuildNumber values of this product.
    #[serde(default)]
    pub builds: Vec<u32>,
    /// os-release `ID` for Linux ("ubuntu", "debian", "rhel", "centos"); "macos".
    #[serde(default)]
    pub distro: Option<String>,
    /// Version prefixes ("18.04", "12", "7"): a device version matches when equal or followed by
    /// a dot ("7.9" matches "7").
    #[serde(default)]
    pub versions: Vec<String>,
    pub release: NaiveDate,
    #[serde(default)]
    pub end_mainstream: Option<NaiveDate>,
    /// Last day of security updates: Home/Pro for Windows feature versions, the only date
    /// otherwise. `None`: the vendor announced no end (macOS, current releases).
    #[serde(default)]
    pub end: Option<NaiveDate>,
    /// Enterprise/Education/IoT Enterprise end when it differs (Windows 10/11 feature versions).
    #[serde(default)]
    pub end_enterprise: Option<NaiveDate>,
    /// Extensions after `end`, in order; each starts the day after the previous one ends.
    #[serde(default)]
    pub extended: Vec<ExtendedPeriod>,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendedPeriod {
    pub name: String,
    pub end: NaiveDate,
    /// Paid programmes need enrolment; free ones (Debian LTS) cover every device.
    pub paid: bool,
    /// Windows EditionIDs eligible (prefix match: "Professional" covers "ProfessionalN");
    /// empty means all.
    #[serde(default)]
    pub editions: Vec<String>,
    #[serde(default)]
    pub price_usd: Option<u32>,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Windows editions that get the Enterprise/Education servicing dates.
pub fn is_enterprise_edition(edition: &str) -> bool {
    let e = edition.trim();
    // LTSC editions (EnterpriseS, IoTEnterpriseS) have rows of their own.
    if e.starts_with("EnterpriseS") || e.starts_with("IoTEnterpriseS") {
        return false;
    }
    e.starts_with("Enterprise") || e.starts_with("Education") || e.starts_with("IoTEnterprise")
}

impl LifecycleRow {
    /// End of security updates for this edition (`None`: no announced end). Unknown edition gets
    /// the Home/Pro date, the earlier one.
    pub fn end_for(&self, edition: Option<&str>) -> Option<NaiveDate> {
        match (edition, self.end_enterprise) {
            (Some(e), Some(ent)) if is_enterprise_edition(e) => Some(ent),
            _ => self.end,
        }
    }

    /// The last date any extension (paid or free) runs to.
    pub fn last_extended_end(&self) -> Option<NaiveDate> {
        self.extended.last().map(|e| e.end)
    }

    pub fn version_matches(&self, version: &str) -> bool {
        let v = version.trim();
        self.versions.iter().any(|p| {
            v == p
                || v.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with(' '))
        })
    }
}

/// A product line: OS, channel, distro.
type LineKey<'a> = (OsKind, Option<Channel>, Option<&'a str>);

pub(super) fn validate(
    rows: &[LifecycleRow],
    errors: &mut Vec<String>,
    check_source: &mut dyn FnMut(&str, &str, &mut Vec<String>),
) {
    let mut ids = std::collections::BTreeSet::new();
    for r in rows {
        let what = format!("lifecycle {}", r.id);
        if !ids.insert(r.id.as_str()) {
            errors.push(format!("{what}: duplicate id"));
        }
        check_source(&what, &r.source, errors);
        for e in &r.extended {
            check_source(&format!("{what} {}", e.name), &e.source, errors);
        }
        let mut prev = r.release;
        for (name, d) in [
            ("end_mainstream", r.end_mainstream),
            ("end", r.end),
            ("end_enterprise", r.end_enterprise),
        ] {
            if let Some(d) = d
                && d < r.release
            {
                errors.push(format!("{what}: {name} {d} before release {}", r.release));
            }
        }
        if let (Some(m), Some(e)) = (r.end_mainstream, r.end)
            && m > e
        {
            errors.push(format!("{what}: end_mainstream {m} after end {e}"));
        }
        if let (Some(e), Some(ent)) = (r.end, r.end_enterprise)
            && ent < e
        {
            errors.push(format!("{what}: end_enterprise {ent} before end {e}"));
        }
        if !r.extended.is_empty() {
            match r.end_enterprise.or(r.end) {
                Some(e) => prev = e,
                None => errors.push(format!("{what}: extended periods without an end date")),
            }
        }
        for e in &r.extended {
            if e.end <= prev {
                errors.push(format!(
                    "{what}: {} ends {} not after {prev}",
                    e.name, e.end
                ));
            }
            prev = e.end;
        }
        match r.os {
            OsKind::Windows => {
                if r.builds.is_empty() || r.channel.is_none() {
                    errors.push(format!("{what}: Windows rows need builds and a channel"));
                }
                if r.end.is_none() {
                    errors.push(format!("{what}: Windows rows need an end date"));
                }
            }
            OsKind::Linux | OsKind::Macos => {
                if r.distro.is_none() || r.versions.is_empty() {
                    errors.push(format!("{what}: needs distro and versions"));
                }
            }
        }
    }
    // No overlaps: one row per (build, channel) and per (distro, version).
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let overlap = match (a.os, b.os) {
                (OsKind::Windows, OsKind::Windows) => {
                    a.channel == b.channel && a.builds.iter().any(|x| b.builds.contains(x))
                }
                (x, y) if x == y => {
                    a.distro == b.distro && a.versions.iter().any(|v| b.versions.contains(v))
                }
                _ => false,
            };
            if overlap {
                errors.push(format!("lifecycle {} overlaps {}", a.id, b.id));
            }
        }
    }
    // Within one product line the releases come in order.
    let mut lines: std::collections::BTreeMap<LineKey<'_>, Vec<&LifecycleRow>> = Default::default();
    for r in rows {
        lines
            .entry((r.os, r.channel, r.distro.as_deref()))
            .or_default()
            .push(r);
    }
    for ((os, ch, distro), rs) in lines {
        if os != OsKind::Windows {
            let mut sorted = rs.clone();
            sorted.sort_by(|a, b| cmp_versions(&a.versions[0], &b.versions[0]));
            for w in sorted.windows(2) {
                if w[0].release > w[1].release {
                    errors.push(format!(
                        "lifecycle {:?}/{:?}: {} released after {}",
                        distro, ch, w[0].id, w[1].id
                    ));
                }
            }
        }
    }
}

fn cmp_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let pa = super::parse_version(a).unwrap_or_default();
    let pb = super::parse_version(b).unwrap_or_default();
    pa.cmp(&pb)
}
