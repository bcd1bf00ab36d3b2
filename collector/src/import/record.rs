//! What every importer produces: one [`ImportRecord`] per machine found in a file.
//!
//! This is the contract between the parsers (`import::{systeminfo, qfe, nmap, ad, probe}`) and
//! the device side (storage, identity matching, merging). Parsers are pure: bytes in, records out.
//! A record carries the facts in the agent's own shape ([`Report`]) so the merger and the risk
//! engine read one structure, plus what only that source knows ([`SourceDetail`]).
//!
//! Wire rule: these types are stored, so fields are only ever added (with `#[serde(default)]`),
//! never renamed or removed.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ward_shared::Report;

use crate::risk::ExtraEvidence;

/// Where a record came from. The order is freshness/directness: when sources disagree the one
/// listed first wins (`Agent < Probe < Systeminfo < Qfe < Ad < Nmap` under `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `ward-agent` over the API (never produced by an importer; here so one order covers all).
    Agent,
    /// `deploy/legacy/ward-probe.vbs` report files (the agent's wire format, written by WMI).
    Probe,
    /// `systeminfo` output.
    Systeminfo,
    /// `wmic qfe` / `Get-HotFix` listings: hotfixes only.
    Qfe,
    /// Active Directory computer objects (Get-ADComputer / csvde CSV).
    Ad,
    /// nmap `-oX` scans: network evidence.
    Nmap,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Agent => "agent",
            Source::Probe => "probe",
            Source::Systeminfo => "systeminfo",
            Source::Qfe => "qfe",
            Source::Ad => "ad",
            Source::Nmap => "nmap",
        }
    }

    /// Sources that report from inside the machine (an agent or the probe), as opposed to
    /// imports and scans. A device seen only by the others is "unmanaged".
    pub fn is_managed(self) -> bool {
        matches!(self, Source::Agent | Source::Probe)
    }
}

/// The file format [`super::parse`] detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Systeminfo,
    Qfe,
    Nmap,
    Ad,
    Probe,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Systeminfo => "systeminfo",
            Format::Qfe => "qfe",
            Format::Nmap => "nmap",
            Format::Ad => "ad",
            Format::Probe => "probe",
        }
    }

    pub fn source(self) -> Source {
        match self {
            Format::Systeminfo => Source::Systeminfo,
            Format::Qfe => Source::Qfe,
            Format::Nmap => Source::Nmap,
            Format::Ad => Source::Ad,
            Format::Probe => Source::Probe,
        }
    }
}

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parsed {
    pub format: Format,
    /// One per machine in the file; never empty (a file with no machine is an error).
    pub records: Vec<ImportRecord>,
    /// Things skipped or guessed that a person may want to know ("host 10.0.0.7 is down").
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One machine as one source saw it at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub source: Source,
    /// Scan time (nmap), the file's own time (probe `collected_at`, AD last logon is NOT used
    /// here), or the import time when the file says nothing.
    pub observed_at: DateTime<Utc>,
    /// For people tracing a fact back: the file name given to the parser, plus the host within
    /// it when the file holds several (`scan.xml#10.0.0.7`).
    pub origin: String,
    /// What the matcher keys on. Raw as found; normalisation is the matcher's job.
    pub identity: Identity,
    /// The facts this source gives, in the agent's shape; fields it does not know stay
    /// `None`/empty. `report.agent.name` names the importer (`ward-import-systeminfo`) or the
    /// probe; `report.report_id` is derived from the file's bytes and the record's position, so
    /// importing the same file twice yields the same ids.
    pub report: Report,
    /// Facts for the risk engine from outside the machine (nmap SMBv1 offered, MS17-010).
    #[serde(default)]
    pub evidence: Vec<ExtraEvidence>,
    /// `Some(true)`: the hotfix list is complete (qfe, Get-HotFix, probe), so a missing KB is
    /// really missing. `Some(false)`: it may be cut (systeminfo). `None`: no hotfixes given.
    #[serde(default)]
    pub hotfix_list_complete: Option<bool>,
    #[serde(default)]
    pub detail: SourceDetail,
}

/// What identifies a machine, as the source gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// SMBIOS system UUID.
    #[serde(default)]
    pub hardware_uuid: Option<String>,
    /// Hardware serial number.
    #[serde(default)]
    pub serial: Option<String>,
    /// MAC addresses as found (any case or separator).
    #[serde(default)]
    pub macs: Vec<String>,
    #[serde(default)]
    pub fqdn: Option<String>,
    /// Short host or NetBIOS name.
    #[serde(default)]
    pub host_name: Option<String>,
    /// DNS or Windows domain (or workgroup, see [`SysteminfoDetail::domain`]).
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub ips: Vec<IpAddr>,
}

/// What only one kind of source knows.
// Records are few per file and each already holds a whole `Report`; boxing would only make
// building and matching them noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceDetail {
    #[default]
    None,
    Systeminfo(SysteminfoDetail),
    Qfe(QfeDetail),
    Nmap(NmapDetail),
    Ad(AdDetail),
    Probe(ProbeDetail),
}

/// systeminfo fields with no place in [`Report`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysteminfoDetail {
    /// The label language the file was written in ("en", "de", ...).
    #[serde(default)]
    pub language: Option<String>,
    /// "Domain" line: a domain, or a workgroup name on machines outside a domain.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub logon_server: Option<String>,
    #[serde(default)]
    pub registered_owner: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub system_locale: Option<String>,
    /// The count systeminfo prints ("215 Hotfix(s) Installed"); may exceed the entries listed.
    #[serde(default)]
    pub hotfix_count_reported: Option<u32>,
    #[serde(default)]
    pub nics: Vec<Nic>,
    /// "Hyper-V Requirements" / virtualisation lines, verbatim.
    #[serde(default)]
    pub hyper_v: Vec<String>,
}

/// One network card from systeminfo (or another inventory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// Adapter description ("Intel(R) PRO/1000 MT Network Connection").
    #[serde(default)]
    pub description: Option<String>,
    /// Connection name ("Local Area Connection").
    #[serde(default)]
    pub connection_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub dhcp_enabled: Option<bool>,
    #[serde(default)]
    pub dhcp_server: Option<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub mac: Option<String>,
}

/// Which tool wrote a hotfix listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QfeDetail {
    /// "wmic qfe", "Get-HotFix", "Win32_QuickFixEngineering".
    #[serde(default)]
    pub tool: Option<String>,
    /// Entries without a KB id (XP's "File 1", "Q123456" style) counted, not listed.
    #[serde(default)]
    pub entries_without_kb: u32,
}

/// An nmap host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NmapDetail {
    /// `up`, `down`, `unknown`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub addresses: Vec<NmapAddress>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Best first, as nmap lists them.
    #[serde(default)]
    pub os_matches: Vec<OsMatch>,
    /// Open (and open|filtered) ports only.
    #[serde(default)]
    pub ports: Vec<NmapPort>,
    #[serde(default)]
    pub smb_os_discovery: Option<SmbOsDiscovery>,
    /// Dialects from smb-protocols, verbatim ("NT LM 0.12 (SMBv1) [dangerous, but default]", "2.1").
    #[serde(default)]
    pub smb_dialects: Vec<String>,
    /// smb-protocols ran: whether NT LM 0.12 (SMBv1) was offered.
    #[serde(default)]
    pub smb1_offered: Option<bool>,
    #[serde(default)]
    pub ms17_010: Option<Ms17Verdict>,
    /// The nmap command line (`nmaprun@args`).
    #[serde(default)]
    pub scan_args: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NmapAddress {
    pub addr: String,
    /// `ipv4`, `ipv6`, `mac`.
    pub addr_type: String,
    /// MAC vendor from nmap's OUI table.
    #[serde(default)]
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsMatch {
    pub name: String,
    /// 0..=100.
    pub accuracy: u8,
    /// From the first osclass: "Windows", "Linux".
    #[serde(default)]
    pub family: Option<String>,
    /// "XP", "2003", "7".
    #[serde(default)]
    pub generation: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub cpe: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NmapPort {
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub port: u16,
    /// `open`, `open|filtered`.
    pub state: String,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

/// The `smb-os-discovery` script's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmbOsDiscovery {
    /// "Windows Server 2003 3790 Service Pack 2", "Windows 5.1".
    #[serde(default)]
    pub os: Option<String>,
    /// "Windows Server 2003 3790 Service Pack 2" -> "Service Pack 2" where nmap splits it.
    #[serde(default)]
    pub lanmanager: Option<String>,
    #[serde(default)]
    pub computer_name: Option<String>,
    #[serde(default)]
    pub netbios_computer_name: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub netbios_domain: Option<String>,
    #[serde(default)]
    pub workgroup: Option<String>,
    #[serde(default)]
    pub fqdn: Option<String>,
    #[serde(default)]
    pub forest: Option<String>,
    #[serde(default)]
    pub cpe: Option<String>,
}

/// `smb-vuln-ms17-010`'s verdict. "Could not test" is not "safe".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Ms17Verdict {
    Vulnerable,
    NotVulnerable,
    CouldNotTest { reason: String },
}

/// An Active Directory computer object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdDetail {
    /// `Name` / `cn`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub distinguished_name: Option<String>,
    /// `Enabled`, or from `userAccountControl` (bit 0x2 = disabled).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `LastLogonTimestamp` / `lastLogonDate` (replicated; up to 14 days behind).
    #[serde(default)]
    pub last_logon: Option<DateTime<Utc>>,
    #[serde(default)]
    pub operating_system: Option<String>,
    /// "6.1 (7601)".
    #[serde(default)]
    pub operating_system_version: Option<String>,
    #[serde(default)]
    pub operating_system_service_pack: Option<String>,
    #[serde(default)]
    pub when_created: Option<NaiveDate>,
}

/// What the probe file said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeDetail {
    /// `agent.name` / `agent.version` of the writer ("ward-probe 1").
    #[serde(default)]
    pub writer: Option<String>,
}

/// Why a file was not imported. A rejected file yields no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; imports are limited to {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("not a text file: {0}")]
    NotText(String),
    #[error("format not recognised: {0}")]
    Unsupported(String),
    #[error("not a valid {format} file: {reason}", format = format.as_str())]
    Invalid { format: Format, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_order_by_directness() {
        assert!(Source::Agent < Source::Probe);
        assert!(Source::Probe < Source::Systeminfo);
        assert!(Source::Systeminfo < Source::Ad);
        assert!(Source::Ad < Source::Nmap);
        assert!(Source::Probe.is_managed() && !Source::Nmap.is_managed());
    }

    #[test]
    fn detail_round_trips_through_json() {
        let detail = SourceDetail::Nmap(NmapDetail {
            ms17_010: Some(Ms17Verdict::CouldNotTest {
                reason: "Could not connect to 'IPC$'".into(),
            }),
            smb1_offered: Some(true),
            ..NmapDetail::default()
        });
        let json = serde_json::to_string(&detail).expect("serialise");
        assert!(json.contains(r#""kind":"nmap""#), "{json}");
        assert!(json.contains(r#""state":"could_not_test""#), "{json}");
        let back: SourceDetail = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, detail);
        let none: SourceDetail = serde_json::from_str(r#"{"kind":"none"}"#).expect("parse");
        assert_eq!(none, SourceDetail::None);
    }
}
