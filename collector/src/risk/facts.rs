//! What the engine assesses: the device's latest report plus facts from elsewhere.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ward_shared::Report;

/// One device, as the risk engine sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceFacts {
    /// Stable device id (the store's device id); the last ranking tie-break.
    pub device_id: String,
    /// The device's latest report.
    pub report: Report,
    /// When the collector last heard from the device (or an import last saw it).
    pub last_seen: DateTime<Utc>,
    /// Facts from outside the agent: network scans, imports.
    #[serde(default)]
    pub evidence: Vec<ExtraEvidence>,
    /// Known enrolment in a paid extension (Windows ESU, Ubuntu Pro ESM, RHEL ELS). `None`:
    /// unknown; the label `esu` / `esm` = `true` in the report's tags counts too.
    #[serde(default)]
    pub esu_enrolled: Option<bool>,
    /// The installed-update list is complete (`wmic qfe`, Get-HotFix, WUA history), so a KB that
    /// is absent is really absent. `None`/`false`: it may be cut (systeminfo prints ~220-250 of
    /// several hundred entries without saying so).
    #[serde(default)]
    pub hotfix_list_complete: Option<bool>,
    /// Where the facts come from (`agent`, `probe`, `systeminfo`, `qfe`, `ad`, `nmap`), for a
    /// device merged from several. Empty: an agent report alone. A device seen only by `ad`
    /// and `nmap` is known from outside only and is never scored as safe.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// A fact from another tool. New kinds may be added; each says where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExtraEvidence {
    /// `nmap --script smb-protocols`: whether the host offered the NT LM 0.12 (SMBv1) dialect.
    Smb1Offered {
        offered: bool,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        observed_at: Option<DateTime<Utc>>,
    },
    /// `nmap --script smb-vuln-ms17-010` reported `State: VULNERABLE`. Record only a VULNERABLE
    /// result: "could not connect to IPC$" means untested, not safe.
    Ms17010Vulnerable {
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        observed_at: Option<DateTime<Utc>>,
    },
    /// Reachable from the internet (from a firewall export or an external scan).
    InternetFacing {
        #[serde(default)]
        source: Option<String>,
    },
}

/// An entry of the exceptions register: a device that cannot be changed (e.g. a
/// vendor-certified medical device) and how its risk is contained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    pub reason: String,
    /// Compensating controls: "isolated VLAN", "SMBv1 blocked at the network", "no internet".
    #[serde(default)]
    pub controls: Vec<String>,
    pub owner: String,
    /// After this day the exception no longer holds and the device ranks on its own risk.
    pub review_date: NaiveDate,
}

impl DeviceFacts {
    pub fn new(device_id: impl Into<String>, report: Report, last_seen: DateTime<Utc>) -> Self {
        Self {
            device_id: device_id.into(),
            report,
            last_seen,
            evidence: Vec::new(),
            esu_enrolled: None,
            hotfix_list_complete: None,
            sources: Vec::new(),
        }
    }

    /// Known only from outside the machine (AD, nmap): nothing the machine said itself.
    pub fn outside_only(&self) -> bool {
        !self.sources.is_empty()
            && self
                .sources
                .iter()
                .all(|s| matches!(s.as_str(), "ad" | "nmap"))
    }

    /// What an outside-only device lacks, for the finding and the remedy.
    pub fn missing_direct_data(&self) -> Vec<&'static str> {
        let r = &self.report;
        let mut missing = Vec::new();
        if r.patches.installed.is_empty() {
            missing.push("installed updates");
        }
        if r.os.build.is_none() && r.os.service_pack.is_none() {
            missing.push("OS build and service pack");
        }
        if r.security.smb1_server_enabled.is_none() {
            missing.push("SMBv1 setting");
        }
        if r.hardware.cpu.brand.is_none() && r.hardware.ram_bytes.is_none() {
            missing.push("hardware");
        }
        if r.security.firewall_enabled.is_none() {
            missing.push("firewall");
        }
        missing
    }

    /// A label from the report's tags read as a yes/no.
    pub fn label_flag(&self, keys: &[&str]) -> Option<bool> {
        let labels = &self.report.tags.labels;
        keys.iter().find_map(|k| labels.get(*k)).map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "1" | "on" | "internet"
            )
        })
    }
}
