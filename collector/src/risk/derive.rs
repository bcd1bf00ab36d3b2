//! Facts derived once per assessment from the report and the catalog; the rules read these.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use ward_shared::OsFamily;

use super::facts::{DeviceFacts, ExtraEvidence};
use crate::catalog::ms17_010::{SrvVerdict, normalise_kb};
use crate::catalog::{Catalog, Channel, LifecycleRow, OsKind, PatchLevel};

/// The OS as far as the engine could pin it down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsIdentity {
    pub kind: Option<OsKind>,
    /// Windows CurrentBuildNumber.
    pub build: Option<u32>,
    /// Windows UBR.
    pub ubr: Option<u32>,
    pub server: bool,
    pub channel: Option<Channel>,
    pub edition: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    Supported,
    NearingEnd,
    /// Past the vendor's end, covered by ESU/ESM/LTS/ELS.
    ExtendedSupport,
    EndOfSupport,
    /// The OS could not be matched to a catalog row.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtendedCoverage {
    pub name: String,
    pub end: NaiveDate,
    pub paid: bool,
    pub price_usd: Option<u32>,
    /// Whether this device is covered: `None` when enrolment is unknown.
    pub covered: Option<bool>,
    /// Why covered/eligible or not, in words.
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleStatus {
    pub state: LifecycleState,
    pub row: Option<String>,
    pub product: Option<String>,
    /// The end of security updates that applies to this edition.
    pub end: Option<NaiveDate>,
    /// "Enterprise/Education date", "Home/Pro date (edition unknown)", ...
    pub end_basis: Option<String>,
    pub days_past_end: Option<i64>,
    pub days_to_end: Option<i64>,
    /// The extension period running today, if any.
    pub extension: Option<ExtendedCoverage>,
    /// The last day any extension ran or runs to.
    pub last_extension_end: Option<NaiveDate>,
    pub source: Option<String>,
    /// Why the state is Unknown.
    pub unknown_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ms17State {
    Fixed,
    Missing,
    /// Not Windows, or a build released with the fix.
    NotAffected,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ms17Status {
    pub state: Ms17State,
    /// How the verdict was reached, as a sentence.
    pub basis: String,
    /// `field = value` pairs that decided.
    pub field: Option<String>,
    pub value: Option<String>,
    /// Catalog entry id.
    pub catalog_row: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub os: OsIdentity,
    pub lifecycle: LifecycleStatus,
    pub patch_level: Option<PatchLevel>,
    pub ms17_010: Ms17Status,
    /// SMBv1 server on: from the report or a scan.
    pub smb1_enabled: Option<bool>,
    pub smb1_source: Option<String>,
    pub internet_facing: bool,
}

pub fn derive(
    facts: &DeviceFacts,
    catalog: &Catalog,
    now: DateTime<Utc>,
    nearing_days: u32,
) -> Derived {
    let os = identify(facts);
    let row = lifecycle_row(&os, facts, catalog);
    let patch_level = match (os.kind, os.build, os.ubr) {
        (Some(OsKind::Windows), Some(build), Some(ubr)) => catalog
            .windows_updates
            .iter()
            .find(|s| s.covers(build, os.server))
            .and_then(|s| s.level(ubr)),
        _ => None,
    };
    let lifecycle = lifecycle_status(
        &os,
        row,
        facts,
        patch_level.as_ref(),
        now.date_naive(),
        nearing_days,
    );
    let ms17_010 = ms17(&os, facts, catalog);
    let (smb1_enabled, smb1_source) = match facts.report.security.smb1_server_enabled {
        Some(v) => (Some(v), Some("security.smb1_server_enabled".to_string())),
        None => facts
            .evidence
            .iter()
            .find_map(|e| match e {
                ExtraEvidence::Smb1Offered {
                    offered: true,
                    source,
                    ..
                } => Some((
                    Some(true),
                    Some(format!(
                        "scan {}",
                        source.as_deref().unwrap_or("smb-protocols")
                    )),
                )),
                _ => None,
            })
            .unwrap_or((None, None)),
    };
    let internet_facing = facts.label_flag(&["internet_facing", "internet-facing", "exposure"])
        == Some(true)
        || facts
            .evidence
            .iter()
            .any(|e| matches!(e, ExtraEvidence::InternetFacing { .. }));
    Derived {
        os,
        lifecycle,
        patch_level,
        ms17_010,
        smb1_enabled,
        smb1_source,
        internet_facing,
    }
}

fn first_number(s: &str) -> Option<u32> {
    let d: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    d.parse().ok()
}

pub fn identify(facts: &DeviceFacts) -> OsIdentity {
    let os = &facts.report.os;
    let id = os.id.as_deref().unwrap_or("").to_ascii_lowercase();
    let name = os.name.as_deref().unwrap_or("");
    let kind = match os.family {
        OsFamily::Windows => Some(OsKind::Windows),
        OsFamily::Linux => Some(OsKind::Linux),
        OsFamily::Macos => Some(OsKind::Macos),
        OsFamily::Other => match id.as_str() {
            "windows" => Some(OsKind::Windows),
            "macos" => Some(OsKind::Macos),
            "" => None,
            _ => Some(OsKind::Linux),
        },
    };
    let mut ident = OsIdentity {
        kind,
        build: None,
        ubr: os.revision,
        server: false,
        channel: None,
        edition: os.edition.clone(),
        version: os.version.clone(),
    };
    if kind != Some(OsKind::Windows) {
        return ident;
    }
    // Build: CurrentBuildNumber, else the third part of "10.0.19045[.UBR]".
    ident.build = os.build.as_deref().and_then(|b| {
        let parts: Vec<&str> = b.split('.').collect();
        match parts.len() {
            1 => first_number(parts[0]),
            _ => parts.get(2).and_then(|p| first_number(p)),
        }
    });
    if ident.build.is_none()
        && let Some(v) = os.version.as_deref()
    {
        let parts: Vec<&str> = v.split('.').collect();
        ident.build = parts.get(2).and_then(|p| first_number(p));
        if ident.ubr.is_none() {
            ident.ubr = parts.get(3).and_then(|p| first_number(p));
        }
    }
    let lower_name = name.to_ascii_lowercase();
    let edition = os.edition.as_deref().unwrap_or("");
    ident.server = os
        .installation_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("server"))
        || lower_name.contains("server")
        || edition.starts_with("Server");
    if ident.edition.is_none() {
        // Fall back on the product name: "Microsoft Windows 10 Enterprise".
        for (word, ed) in [
            ("iot enterprise ltsc", "IoTEnterpriseS"),
            ("enterprise ltsc", "EnterpriseS"),
            ("enterprise 2015 ltsb", "EnterpriseS"),
            ("enterprise 2016 ltsb", "EnterpriseS"),
            ("enterprise", "Enterprise"),
            ("education", "Education"),
            ("professional", "Professional"),
            (" pro", "Professional"),
            ("home", "Core"),
        ] {
            if lower_name.contains(word) {
                ident.edition = Some(ed.to_string());
                break;
            }
        }
    }
    let ed = ident.edition.as_deref().unwrap_or("");
    ident.channel = Some(if ident.server {
        Channel::Server
    } else if ed.starts_with("IoTEnterpriseS") {
        Channel::IotLtsc
    } else if ed.starts_with("EnterpriseS") {
        Channel::Ltsc
    } else {
        Channel::Client
    });
    ident
}

fn lifecycle_row<'c>(
    os: &OsIdentity,
    facts: &DeviceFacts,
    catalog: &'c Catalog,
) -> Option<&'c LifecycleRow> {
    match os.kind? {
        OsKind::Windows => {
            let build = os.build?;
            let channel = os.channel?;
            let order: &[Channel] = match channel {
                Channel::IotLtsc => &[Channel::IotLtsc, Channel::Ltsc, Channel::Client],
                Channel::Ltsc => &[Channel::Ltsc, Channel::Client],
                Channel::Client => &[Channel::Client],
                Channel::Server => &[Channel::Server],
            };
            order.iter().find_map(|c| {
                catalog.lifecycle.iter().find(|r| {
                    r.os == OsKind::Windows && r.channel == Some(*c) && r.builds.contains(&build)
                })
            })
        }
        kind @ (OsKind::Linux | OsKind::Macos) => {
            let version = facts.report.os.version.as_deref()?;
            let distro = match kind {
                OsKind::Macos => "macos".to_string(),
                _ => facts.report.os.id.as_deref()?.to_ascii_lowercase(),
            };
            catalog.lifecycle.iter().find(|r| {
                r.os == kind
                    && r.distro.as_deref() == Some(distro.as_str())
                    && r.version_matches(version)
            })
        }
    }
}

fn edition_eligible(editions: &[String], edition: Option<&str>) -> Option<bool> {
    if editions.is_empty() {
        return Some(true);
    }
    edition.map(|e| editions.iter().any(|p| e.starts_with(p.as_str())))
}

fn lifecycle_status(
    os: &OsIdentity,
    row: Option<&LifecycleRow>,
    facts: &DeviceFacts,
    patch: Option<&PatchLevel>,
    today: NaiveDate,
    nearing_days: u32,
) -> LifecycleStatus {
    let Some(row) = row else {
        let reason = match (os.kind, os.build, facts.report.os.version.as_deref()) {
            (None, _, _) => "the operating system was not reported".to_string(),
            (Some(OsKind::Windows), None, _) => {
                "the Windows build number was not reported".to_string()
            }
            (Some(OsKind::Windows), Some(b), _) => {
                format!("Windows build {b} is not in the lifecycle catalog")
            }
            (Some(_), _, None) => "the OS version was not reported".to_string(),
            (Some(_), _, Some(v)) => format!(
                "{} {v} is not in the lifecycle catalog",
                facts.report.os.id.as_deref().unwrap_or("this OS")
            ),
        };
        return LifecycleStatus {
            state: LifecycleState::Unknown,
            row: None,
            product: None,
            end: None,
            end_basis: None,
            days_past_end: None,
            days_to_end: None,
            extension: None,
            last_extension_end: None,
            source: None,
            unknown_reason: Some(reason),
        };
    };
    let edition = os.edition.as_deref();
    let end = row.end_for(edition);
    let end_basis = match (row.end_enterprise, edition) {
        (None, _) => None,
        (Some(_), None) => {
            Some("Home/Pro date (edition not reported; the earlier date is used)".to_string())
        }
        (Some(_), Some(e)) if crate::catalog::lifecycle::is_enterprise_edition(e) => {
            Some(format!("Enterprise/Education date (edition {e})"))
        }
        (Some(_), Some(e)) => Some(format!("Home/Pro date (edition {e})")),
    };
    let mut status = LifecycleStatus {
        state: LifecycleState::Supported,
        row: Some(row.id.clone()),
        product: Some(row.product.clone()),
        end,
        end_basis,
        days_past_end: None,
        days_to_end: None,
        extension: None,
        last_extension_end: row.last_extended_end(),
        source: Some(row.source.clone()),
        unknown_reason: None,
    };
    let Some(end) = end else {
        return status;
    };
    if today <= end {
        let days = (end - today).num_days();
        status.days_to_end = Some(days);
        if days <= i64::from(nearing_days) {
            status.state = LifecycleState::NearingEnd;
        }
        return status;
    }
    status.days_past_end = Some((today - end).num_days());
    status.state = LifecycleState::EndOfSupport;
    // Which extension period runs today? Each starts the day after the previous one ends.
    let mut start = end;
    for p in &row.extended {
        if today > start && today <= p.end {
            let eligible = edition_eligible(&p.editions, edition);
            let label = facts.label_flag(&["esu", "esm", "els", "ubuntu_pro"]);
            let enrolled = facts.esu_enrolled.or(label);
            // A Windows device with updates released after the end date is receiving them.
            let receiving = patch
                .and_then(|l| l.at.as_ref())
                .is_some_and(|at| at.date > end);
            let (covered, basis) = if eligible == Some(false) {
                (
                    Some(false),
                    format!(
                        "{} is not offered for edition {}",
                        p.name,
                        edition.unwrap_or("?")
                    ),
                )
            } else if !p.paid {
                (
                    Some(true),
                    format!("{} covers every device without enrolment", p.name),
                )
            } else if enrolled == Some(true) {
                (Some(true), "enrolment recorded for this device".to_string())
            } else if receiving {
                (
                    Some(true),
                    "the device has updates released after the end of support".to_string(),
                )
            } else if enrolled == Some(false) {
                (Some(false), "recorded as not enrolled".to_string())
            } else {
                (
                    None,
                    "enrolment not known; no updates after the end date seen".to_string(),
                )
            };
            if covered == Some(true) {
                status.state = LifecycleState::ExtendedSupport;
            }
            status.extension = Some(ExtendedCoverage {
                name: p.name.clone(),
                end: p.end,
                paid: p.paid,
                price_usd: p.price_usd,
                covered,
                basis,
            });
            break;
        }
        start = p.end;
    }
    status
}

fn ms17(os: &OsIdentity, facts: &DeviceFacts, catalog: &Catalog) -> Ms17Status {
    let status =
        |state, basis: String, field: Option<&str>, value: Option<String>, row: Option<&str>| {
            Ms17Status {
                state,
                basis,
                field: field.map(str::to_string),
                value,
                catalog_row: row.map(str::to_string),
            }
        };
    let ms = &catalog.ms17_010;
    let scan_vulnerable = facts.evidence.iter().find_map(|e| match e {
        ExtraEvidence::Ms17010Vulnerable { source, .. } => Some(
            source
                .clone()
                .unwrap_or_else(|| "nmap smb-vuln-ms17-010".into()),
        ),
        _ => None,
    });
    if os.kind.is_none()
        && let Some(src) = &scan_vulnerable
    {
        // The scan's verdict is a finding of its own: it answered as an SMBv1 server with
        // the flaw, whatever the OS turns out to be (only Windows has that server).
        return status(
            Ms17State::Missing,
            format!(
                "A network scan ({src}) reported the host VULNERABLE to MS17-010; its operating system is not known."
            ),
            Some("evidence.ms17_010_vulnerable"),
            Some("true".into()),
            None,
        );
    }
    if os.kind != Some(OsKind::Windows) {
        let state = if os.kind.is_some() {
            Ms17State::NotAffected
        } else {
            Ms17State::Unknown
        };
        let basis = if os.kind.is_some() {
            "MS17-010 affects Windows only.".to_string()
        } else {
            "The operating system is not known, so MS17-010 cannot be judged.".to_string()
        };
        return status(state, basis, None, None, None);
    }
    let Some(build) = os.build else {
        if let Some(src) = scan_vulnerable {
            return status(
                Ms17State::Missing,
                format!("A network scan ({src}) reported the host VULNERABLE to MS17-010."),
                Some("evidence.ms17_010_vulnerable"),
                Some("true".into()),
                None,
            );
        }
        return status(
            Ms17State::Unknown,
            "The Windows build was not reported, so MS17-010 cannot be judged.".into(),
            Some("os.build"),
            None,
            None,
        );
    };
    if build >= ms.fixed_from_build {
        return status(
            Ms17State::NotAffected,
            format!(
                "Build {build} shipped with the MS17-010 fix (all builds from {} on).",
                ms.fixed_from_build
            ),
            Some("os.build"),
            Some(build.to_string()),
            None,
        );
    }
    let Some(entry) = ms.entry(build, Some(os.server)) else {
        return status(
            Ms17State::Unknown,
            format!("The catalog has no MS17-010 data for build {build}."),
            Some("os.build"),
            Some(build.to_string()),
            None,
        );
    };
    let row = Some(entry.id.as_str());
    if let Some(v) = facts.report.security.srv_sys_version.as_deref() {
        match entry.srv_sys(v) {
            SrvVerdict::Fixed => {
                return status(
                    Ms17State::Fixed,
                    format!(
                        "srv.sys {v} is at or above the fixed version for {}.",
                        entry.product
                    ),
                    Some("security.srv_sys_version"),
                    Some(v.into()),
                    row,
                );
            }
            SrvVerdict::Missing => {
                return status(
                    Ms17State::Missing,
                    format!(
                        "srv.sys {v} is below the fixed version for {} (KB4023262).",
                        entry.product
                    ),
                    Some("security.srv_sys_version"),
                    Some(v.into()),
                    row,
                );
            }
            SrvVerdict::NoMatch => {}
        }
    }
    if let (Some(first), Some(ubr)) = (entry.first_fixed_ubr, os.ubr) {
        let v = format!("{build}.{ubr}");
        return if ubr >= first {
            status(
                Ms17State::Fixed,
                format!("OS build {v} is at or above {build}.{first}, the first with the fix."),
                Some("os.revision"),
                Some(v),
                row,
            )
        } else {
            status(
                Ms17State::Missing,
                format!(
                    "OS build {v} is below {build}.{first}, the first cumulative update with the fix."
                ),
                Some("os.revision"),
                Some(v),
                row,
            )
        };
    }
    if let Some(src) = scan_vulnerable {
        return status(
            Ms17State::Missing,
            format!("A network scan ({src}) reported the host VULNERABLE to MS17-010."),
            Some("evidence.ms17_010_vulnerable"),
            Some("true".into()),
            row,
        );
    }
    if entry.fix_kbs.is_empty() {
        return status(
            Ms17State::Missing,
            format!(
                "No MS17-010 fix exists for {} at this service-pack level.",
                entry.product
            ),
            Some("os.build"),
            Some(build.to_string()),
            row,
        );
    }
    let installed: Vec<String> = facts
        .report
        .patches
        .installed
        .iter()
        .filter_map(|u| normalise_kb(&u.id))
        .collect();
    if let Some(kb) = installed
        .iter()
        .find(|kb| entry.fix_kbs.iter().any(|f| &f.kb == *kb))
    {
        return status(
            Ms17State::Fixed,
            format!("{kb}, which carries the MS17-010 fix, is installed."),
            Some("patches.installed"),
            Some(kb.clone()),
            row,
        );
    }
    if let Some(kb) = installed.iter().find(|kb| entry.superseded_by.contains(kb)) {
        return status(
            Ms17State::Fixed,
            format!(
                "{kb}, a later monthly rollup that includes the MS17-010 fix, is installed (supersedence)."
            ),
            Some("patches.installed"),
            Some(kb.clone()),
            row,
        );
    }
    let wanted: Vec<&str> = entry.fix_kbs.iter().map(|k| k.kb.as_str()).collect();
    if installed.is_empty() {
        return status(
            Ms17State::Unknown,
            format!(
                "No installed-update list was reported and no srv.sys version, so the fix ({}) cannot be checked.",
                wanted.join(", ")
            ),
            Some("patches.installed"),
            None,
            row,
        );
    }
    if facts.hotfix_list_complete == Some(true) {
        return status(
            Ms17State::Missing,
            format!(
                "The complete installed-update list has none of {} nor a later rollup that includes it.",
                wanted.join(", ")
            ),
            Some("patches.installed"),
            Some(format!("{} updates", installed.len())),
            row,
        );
    }
    status(
        Ms17State::Unknown,
        format!(
            "None of {} (or a known later rollup) is in the installed-update list, but that list may be cut short (systeminfo) or name a rollup newer than the catalog knows; check srv.sys.",
            wanted.join(", ")
        ),
        Some("patches.installed"),
        Some(format!("{} updates", installed.len())),
        row,
    )
}

/// "January 2023".
pub fn month_year(d: NaiveDate) -> String {
    const M: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!("{} {}", M[d.month0() as usize], d.year())
}

/// "14 January 2020".
pub fn long_date(d: NaiveDate) -> String {
    format!("{} {}", d.day(), month_year(d))
}
