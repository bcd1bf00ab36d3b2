//! What kind of machine a device is, and whether it is still there: the two facts the ranking,
//! the plan and the regional bundle share.
//!
//! **Device class** decides which remedies apply: a virtual machine is rebuilt or upgraded (a
//! virtual TPM where Windows 11 needs one), never "replace the hardware"; a server's workload is
//! migrated to a supported server (Server 2003 and 2008 have no in-place upgrade); a medical
//! device (labelled so, or on the exceptions register) is isolated and follows the vendor's
//! route; desktops, laptops and thin clients are priced as such.
//!
//! **Liveness** says whether the device is still there, from when each source last saw it: active
//! (some source saw it within that source's expected interval), quiet (seen within the source's
//! stale window, but later than expected), stale (past every source's window), or retired (the
//! directory says the account is disabled and nothing saw the machine since).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ward_shared::Report;

use crate::import::Source;

/// What kind of machine a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Desktop,
    Laptop,
    ThinClient,
    VirtualMachine,
    Server,
    /// A medical or vendor-locked device: labelled `medical`, or on the exceptions register.
    Medical,
}

impl DeviceClass {
    pub const ALL: [DeviceClass; 6] = [
        DeviceClass::Desktop,
        DeviceClass::Laptop,
        DeviceClass::ThinClient,
        DeviceClass::VirtualMachine,
        DeviceClass::Server,
        DeviceClass::Medical,
    ];

    pub fn words(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "Desktop",
            DeviceClass::Laptop => "Laptop",
            DeviceClass::ThinClient => "Thin client",
            DeviceClass::VirtualMachine => "Virtual machine",
            DeviceClass::Server => "Server",
            DeviceClass::Medical => "Medical device",
        }
    }
}

/// Hypervisors as the DMI manufacturer and product name show them (lower case). Sources:
/// systemd's `detect-virt` DMI vendor table and the vendors' own documentation of the SMBIOS
/// strings their virtual hardware reports.
const VIRTUAL: &[&str] = &[
    "vmware",
    "virtualbox",
    "innotek",
    "qemu",
    "kvm",
    "xen",
    "hvm domu",
    "bochs",
    "parallels",
    "bhyve",
    "openstack",
    "amazon ec2",
    "google compute engine",
    "virtual machine",
    "hyper-v",
    "nutanix ahv",
];

fn lower(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("").to_ascii_lowercase()
}

/// Whether the DMI strings are a hypervisor's.
pub fn is_virtual(report: &Report) -> bool {
    let hw = &report.hardware;
    let strings = [
        lower(&hw.manufacturer),
        lower(&hw.model),
        lower(&hw.bios.vendor),
        lower(&hw.chassis_type),
    ];
    strings
        .iter()
        .any(|s| VIRTUAL.iter().any(|v| s.contains(v)))
        // Hyper-V: "Microsoft Corporation" + "Virtual Machine"; matched above by the model.
        || (strings[0].contains("microsoft") && strings[1].contains("virtual"))
}

/// A server edition, or server hardware.
pub fn is_server(report: &Report) -> bool {
    let os = &report.os;
    let chassis = lower(&report.hardware.chassis_type);
    os.installation_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("server"))
        || os.name.as_deref().is_some_and(|n| n.contains("Server"))
        || ["rack", "blade", "multi-system"]
            .iter()
            .any(|k| chassis.contains(k))
}

/// The label values that mark a medical device.
fn labelled_medical(report: &Report) -> bool {
    let labels = &report.tags.labels;
    let yes = |k: &str| {
        labels.get(k).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "yes" | "1" | "on"
            )
        })
    };
    yes("medical")
        || yes("medical_device")
        || labels
            .get("device_class")
            .or_else(|| labels.get("class"))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("medical"))
}

/// The device's class from its merged report; `on_register`: it is on the exceptions register.
pub fn classify(report: &Report, on_register: bool) -> DeviceClass {
    let chassis = lower(&report.hardware.chassis_type);
    if on_register || labelled_medical(report) {
        DeviceClass::Medical
    } else if is_virtual(report) {
        DeviceClass::VirtualMachine
    } else if is_server(report) {
        DeviceClass::Server
    } else if report
        .tags
        .labels
        .get("form_factor")
        .is_some_and(|f| f == "thin_client")
    {
        DeviceClass::ThinClient
    } else if [
        "notebook",
        "laptop",
        "portable",
        "convertible",
        "detachable",
        "tablet",
        "hand held",
    ]
    .iter()
    .any(|k| chassis.contains(k))
    {
        DeviceClass::Laptop
    } else {
        DeviceClass::Desktop
    }
}

/// Whether a device is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Seen by some source within that source's expected interval.
    Active,
    /// Seen within a source's stale window, but later than that source is expected to report.
    Quiet,
    /// Not seen by any source within its stale window.
    Stale,
    /// The directory says the computer account is disabled and nothing saw the machine since.
    Retired,
}

impl Liveness {
    /// Active or quiet: the device counts in the ranking and the plan.
    pub fn is_live(self) -> bool {
        matches!(self, Liveness::Active | Liveness::Quiet)
    }

    pub fn words(self) -> &'static str {
        match self {
            Liveness::Active => "Active",
            Liveness::Quiet => "Quiet",
            Liveness::Stale => "Stale",
            Liveness::Retired => "Retired",
        }
    }
}

/// How often each source is expected to see a device, and after how long without a sighting it
/// no longer counts (days). Configurable under `[liveness]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessWindows {
    /// Agents report every few hours.
    pub agent_expected_days: u32,
    pub agent_stale_days: u32,
    /// Probe runs and hand-collected captures (systeminfo, qfe) come when someone runs them.
    pub capture_expected_days: u32,
    pub capture_stale_days: u32,
    /// AD's lastLogonTimestamp replicates up to 14 days late.
    pub directory_expected_days: u32,
    pub directory_stale_days: u32,
    /// Network scans, as often as the trust scans.
    pub scan_expected_days: u32,
    pub scan_stale_days: u32,
}

impl Default for LivenessWindows {
    fn default() -> Self {
        Self {
            agent_expected_days: 2,
            agent_stale_days: 14,
            capture_expected_days: 30,
            capture_stale_days: 90,
            directory_expected_days: 21,
            directory_stale_days: 90,
            scan_expected_days: 30,
            scan_stale_days: 90,
        }
    }
}

impl LivenessWindows {
    /// (expected, stale) for a source, in days.
    pub fn of(&self, source: Source) -> (u32, u32) {
        match source {
            Source::Agent => (self.agent_expected_days, self.agent_stale_days),
            Source::Probe | Source::Systeminfo | Source::Qfe => {
                (self.capture_expected_days, self.capture_stale_days)
            }
            Source::Ad => (self.directory_expected_days, self.directory_stale_days),
            Source::Nmap => (self.scan_expected_days, self.scan_stale_days),
        }
    }

    /// The state from each source's newest sighting; `disabled_since`: when the directory
    /// last said the account is disabled.
    pub fn liveness(
        &self,
        last_seen_by: &[(Source, DateTime<Utc>)],
        disabled_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Liveness {
        if let Some(at) = disabled_since
            && last_seen_by
                .iter()
                .all(|(s, seen)| *s == Source::Ad || *seen <= at)
        {
            return Liveness::Retired;
        }
        let within = |seen: DateTime<Utc>, days: u32| now - seen <= Duration::days(i64::from(days));
        let mut state = Liveness::Stale;
        for (source, seen) in last_seen_by {
            let (expected, stale) = self.of(*source);
            if within(*seen, expected) {
                return Liveness::Active;
            }
            if within(*seen, stale) {
                state = Liveness::Quiet;
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ward_shared::AgentInfo;

    use super::*;

    fn report(make: &str, model: &str, chassis: &str, os: &str) -> Report {
        let mut r = Report::new(AgentInfo::default(), Utc::now());
        r.hardware.manufacturer = Some(make.into());
        r.hardware.model = Some(model.into());
        r.hardware.chassis_type = Some(chassis.into());
        r.os.name = Some(os.into());
        r
    }

    #[test]
    fn classes_from_dmi_edition_chassis_and_labels() {
        let cases = [
            (
                (
                    "VMware, Inc.",
                    "VMware Virtual Platform",
                    "Other",
                    "Windows 7 Professional",
                ),
                DeviceClass::VirtualMachine,
            ),
            (
                (
                    "Microsoft Corporation",
                    "Virtual Machine",
                    "Desktop",
                    "Windows Server 2012 R2",
                ),
                DeviceClass::VirtualMachine,
            ),
            (
                ("innotek GmbH", "VirtualBox", "Other", "Windows 10 Pro"),
                DeviceClass::VirtualMachine,
            ),
            (
                ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "Other", "Debian"),
                DeviceClass::VirtualMachine,
            ),
            (
                (
                    "Dell Inc.",
                    "PowerEdge R640",
                    "Rack Mount Chassis",
                    "Windows Server 2008 R2",
                ),
                DeviceClass::Server,
            ),
            (
                ("HP", "ProLiant", "Tower", "Microsoft Windows Server 2003"),
                DeviceClass::Server,
            ),
            (
                ("LENOVO", "ThinkPad T480", "Notebook", "Windows 10 Pro"),
                DeviceClass::Laptop,
            ),
            (
                ("HP", "EliteDesk 800 G3", "Desktop", "Windows 10 Pro"),
                DeviceClass::Desktop,
            ),
        ];
        for ((make, model, chassis, os), want) in cases {
            assert_eq!(
                classify(&report(make, model, chassis, os), false),
                want,
                "{make} {model}"
            );
        }
        let mut thin = report("HP", "t630", "Desktop", "Windows 10 IoT Enterprise");
        thin.tags
            .labels
            .insert("form_factor".into(), "thin_client".into());
        assert_eq!(classify(&thin, false), DeviceClass::ThinClient);
        let mut scanner = report("Siemens", "MRI console", "Desktop", "Windows XP");
        assert_eq!(classify(&scanner, true), DeviceClass::Medical);
        scanner.tags.labels.insert("medical".into(), "yes".into());
        assert_eq!(classify(&scanner, false), DeviceClass::Medical);
    }

    #[test]
    fn liveness_by_source_window() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let w = LivenessWindows::default();
        let days = |d: i64| now - Duration::days(d);
        assert_eq!(
            w.liveness(&[(Source::Agent, days(1))], None, now),
            Liveness::Active
        );
        assert_eq!(
            w.liveness(&[(Source::Agent, days(5))], None, now),
            Liveness::Quiet
        );
        assert_eq!(
            w.liveness(&[(Source::Agent, days(20))], None, now),
            Liveness::Stale
        );
        // A scan 60 days old is quiet; with an old agent too, the scan keeps it quiet.
        assert_eq!(
            w.liveness(
                &[(Source::Agent, days(20)), (Source::Nmap, days(60))],
                None,
                now
            ),
            Liveness::Quiet
        );
        assert_eq!(
            w.liveness(&[(Source::Nmap, days(400))], None, now),
            Liveness::Stale
        );
        // Disabled in the directory and not seen since: retired; seen by an agent since: not.
        assert_eq!(
            w.liveness(&[(Source::Ad, days(3))], Some(days(3)), now),
            Liveness::Retired
        );
        assert_eq!(
            w.liveness(
                &[(Source::Ad, days(3)), (Source::Agent, days(1))],
                Some(days(3)),
                now
            ),
            Liveness::Active
        );
    }
}
