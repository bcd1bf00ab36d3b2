//! The report: one machine's facts at one moment, as its agent (or an importer) saw them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One collection run on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`crate::SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Unique per collection run (UUIDv7, so ids sort by time); the collector stores a report id once.
    pub report_id: Uuid,
    pub collected_at: DateTime<Utc>,
    pub agent: AgentInfo,
    #[serde(default)]
    pub host: Host,
    #[serde(default)]
    pub os: Os,
    #[serde(default)]
    pub patches: Patches,
    #[serde(default)]
    pub hardware: Hardware,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub tags: Tags,
    /// Fields that could not be read, and why. A report with errors is still a good report.
    #[serde(default)]
    pub errors: Vec<CollectionError>,
}

/// Who produced the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The id given at enrollment; absent for `ward-agent collect` before enrollment and for imports.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// The producing program, e.g. `ward-agent` or `ward-probe`.
    pub name: String,
    pub version: String,
}

/// How the machine identifies itself on the network and in hardware.
/// The hardware serial lives in [`Hardware::serial`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub fqdn: Option<String>,
    /// DNS or Windows domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// SMBIOS system UUID.
    #[serde(default)]
    pub hardware_uuid: Option<String>,
    /// Lower-case `aa:bb:cc:dd:ee:ff`.
    #[serde(default)]
    pub mac_addresses: Vec<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Windows,
    Linux,
    Macos,
    /// Anything else, including families a newer agent knows and this build does not.
    #[default]
    #[serde(other)]
    Other,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Windows => "windows",
            OsFamily::Linux => "linux",
            OsFamily::Macos => "macos",
            OsFamily::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    #[serde(default)]
    pub family: OsFamily,
    /// Product name as a person reads it: "Ubuntu 22.04.4 LTS", "Windows 11 Enterprise".
    #[serde(default)]
    pub name: Option<String>,
    /// Machine id of the distribution or product: os-release `ID` ("ubuntu", "debian", "rhel"),
    /// "windows", "macos".
    #[serde(default)]
    pub id: Option<String>,
    /// Windows EditionID ("Enterprise", "EnterpriseS", "Professional"); Linux variant if any.
    #[serde(default)]
    pub edition: Option<String>,
    /// "22.04", "12", "10.0".
    #[serde(default)]
    pub version: Option<String>,
    /// Windows DisplayVersion/ReleaseId ("22H2"); Linux codename ("jammy").
    #[serde(default)]
    pub display_version: Option<String>,
    /// Windows CurrentBuildNumber ("19045").
    #[serde(default)]
    pub build: Option<String>,
    /// Windows UBR, the fourth part of 10.0.build.UBR.
    #[serde(default)]
    pub revision: Option<u32>,
    #[serde(default)]
    pub service_pack: Option<String>,
    /// "x86_64", "aarch64", "x86".
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub kernel: Option<String>,
    /// "Client", "Server", "Server Core" on Windows.
    #[serde(default)]
    pub installation_type: Option<String>,
    #[serde(default)]
    pub install_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub boot_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patches {
    /// Installed updates (Windows KBs); Linux agents leave this empty.
    #[serde(default)]
    pub installed: Vec<InstalledUpdate>,
    /// When an update was last installed successfully.
    #[serde(default)]
    pub last_installed_at: Option<DateTime<Utc>>,
    /// When the package lists were last refreshed (apt update, dnf makecache).
    #[serde(default)]
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// Number of updates waiting; `None` when it could not be found out.
    #[serde(default)]
    pub pending_count: Option<u32>,
    /// Of those, how many are security updates.
    #[serde(default)]
    pub pending_security_count: Option<u32>,
    /// The waiting updates themselves (may be cut to the list limit; the counts are not).
    #[serde(default)]
    pub pending: Vec<PendingUpdate>,
    #[serde(default)]
    pub reboot_pending: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledUpdate {
    /// "KB5034441".
    pub id: String,
    /// "Security Update", "Update", "Hotfix".
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub installed_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// Package name or update title.
    pub name: String,
    /// Version it would move to.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub security: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardware {
    /// System manufacturer ("Dell Inc.").
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    /// SMBIOS chassis type as words ("Desktop", "Notebook").
    #[serde(default)]
    pub chassis_type: Option<String>,
    #[serde(default)]
    pub bios: Bios,
    /// Booted through UEFI (not legacy BIOS).
    #[serde(default)]
    pub uefi: Option<bool>,
    #[serde(default)]
    pub secure_boot: Option<bool>,
    #[serde(default)]
    pub tpm: Tpm,
    #[serde(default)]
    pub cpu: Cpu,
    #[serde(default)]
    pub ram_bytes: Option<u64>,
    /// Fixed disks (volumes) only.
    #[serde(default)]
    pub disks: Vec<Disk>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bios {
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub release_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tpm {
    #[serde(default)]
    pub present: Option<bool>,
    /// Spec version, "2.0" or "1.2".
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub activated: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// Brand string ("Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz").
    #[serde(default)]
    pub brand: Option<String>,
    /// "GenuineIntel", "AuthenticAMD".
    #[serde(default)]
    pub vendor: Option<String>,
    /// CPUID identifier ("Intel64 Family 6 Model 158 Stepping 9") where known.
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub cores: Option<u32>,
    #[serde(default)]
    pub threads: Option<u32>,
    #[serde(default)]
    pub max_clock_mhz: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskKind {
    Ssd,
    Hdd,
    #[default]
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// Device or volume name ("/dev/nvme0n1p2", "C:").
    pub name: String,
    #[serde(default)]
    pub mount_point: Option<String>,
    #[serde(default)]
    pub file_system: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub free_bytes: Option<u64>,
    #[serde(default)]
    pub kind: DiskKind,
    /// Holds the running OS (`/` or the Windows system drive).
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// The SMBv1 server (Windows LanmanServer, or Samba allowing NT1) accepts connections.
    #[serde(default)]
    pub smb1_server_enabled: Option<bool>,
    /// Version of `srv.sys` (Windows), for the MS17-010 check.
    #[serde(default)]
    pub srv_sys_version: Option<String>,
    /// A host firewall is active (any profile on Windows; nftables/iptables/ufw/firewalld rules on Linux).
    #[serde(default)]
    pub firewall_enabled: Option<bool>,
    #[serde(default)]
    pub firewall_profiles: Vec<FirewallProfile>,
    /// The volume holding the OS is encrypted (BitLocker, LUKS, FileVault).
    #[serde(default)]
    pub system_disk_encrypted: Option<bool>,
    #[serde(default)]
    pub encrypted_volumes: Vec<VolumeEncryption>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallProfile {
    /// "Domain", "Private", "Public", "ufw", "firewalld", "nftables".
    pub name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeEncryption {
    pub volume: String,
    #[serde(default)]
    pub encrypted: Option<bool>,
    /// "BitLocker XTS-AES 128", "LUKS2".
    #[serde(default)]
    pub method: Option<String>,
}

/// Labels from the agent's configuration; the risk engine weighs some of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    /// Used for patient care (clinical workstation, device controller).
    #[serde(default)]
    pub clinical: Option<bool>,
    /// Any other `key = value` labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A field that could not be read: which and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionError {
    /// Dotted field path, e.g. `hardware.serial`, `patches.pending_count`.
    pub field: String,
    pub reason: String,
}

impl CollectionError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Report {
    /// An empty report for this moment, ready to be filled by a collector.
    pub fn new(agent: AgentInfo, collected_at: DateTime<Utc>) -> Self {
        Self {
            schema_version: crate::SCHEMA_VERSION,
            report_id: Uuid::now_v7(),
            collected_at,
            agent,
            host: Host::default(),
            os: Os::default(),
            patches: Patches::default(),
            hardware: Hardware::default(),
            security: Security::default(),
            tags: Tags::default(),
            errors: Vec::new(),
        }
    }
}
