//! Windows 11 readiness per criterion (W11REQ, HWR; DOMAIN.md §6): CPU, TPM 2.0, UEFI with
//! Secure Boot, RAM >= 4 GB, system disk >= 64 GB, 64-bit. Graphics and display are not checked
//! (HWR does not either).

use serde::Serialize;
use ward_shared::Report;

use crate::catalog::win11_cpu::{self, CpuSupport, CpuVerdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriterionStatus {
    Pass,
    /// Present but switched off, or legacy boot on UEFI-class hardware.
    FixableInFirmware,
    /// Add RAM or a bigger disk.
    ComponentUpgrade,
    Fail,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessVerdict {
    Capable,
    FixableInFirmware,
    ComponentUpgrade,
    Replace,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Criterion {
    /// "cpu", "tpm", "secure_boot_uefi", "ram", "storage", "arch64".
    pub name: &'static str,
    pub status: CriterionStatus,
    /// The report field(s) read.
    pub field: &'static str,
    /// What was seen and what it means.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub verdict: ReadinessVerdict,
    pub criteria: Vec<Criterion>,
    pub cpu: Option<CpuVerdict>,
}

const GIB: u64 = 1 << 30;

impl Readiness {
    pub fn failing(&self, status: CriterionStatus) -> Vec<&'static str> {
        self.criteria
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.name)
            .collect()
    }
}

pub fn assess(report: &Report) -> Readiness {
    let hw = &report.hardware;
    let mut criteria = Vec::new();
    let c = |name, status, field, evidence: String| Criterion {
        name,
        status,
        field,
        evidence,
    };

    // CPU: brand string rules, then the CPUID blocks, then cores and clock.
    let cpu = hw
        .cpu
        .brand
        .as_deref()
        .map(|b| win11_cpu::classify(b, hw.model.as_deref()));
    let cpu = match cpu {
        Some(v) if v.support != CpuSupport::Unknown => Some(v),
        other => hw
            .cpu
            .identifier
            .as_deref()
            .and_then(|i| win11_cpu::cpuid_block(i, hw.cpu.vendor.as_deref()))
            .or(other),
    };
    let cpu_support = cpu
        .as_ref()
        .map(|v| v.support)
        .unwrap_or(CpuSupport::Unknown);
    let mut cpu_criterion = match &cpu {
        Some(v) => c(
            "cpu",
            match v.support {
                CpuSupport::Supported => CriterionStatus::Pass,
                CpuSupport::Unsupported => CriterionStatus::Fail,
                CpuSupport::Unknown => CriterionStatus::Unknown,
            },
            "hardware.cpu.brand",
            format!(
                "{}: {}",
                hw.cpu
                    .brand
                    .as_deref()
                    .or(hw.cpu.identifier.as_deref())
                    .unwrap_or("?"),
                v.reason
            ),
        ),
        None => c(
            "cpu",
            CriterionStatus::Unknown,
            "hardware.cpu.brand",
            "No processor brand string was reported.".into(),
        ),
    };
    if let Some(cores) = hw.cpu.cores.filter(|n| *n < 2) {
        cpu_criterion.status = CriterionStatus::Fail;
        cpu_criterion.evidence = format!(
            "{} {cores} core: Windows 11 needs at least 2.",
            cpu_criterion.evidence
        );
    }
    if let Some(mhz) = hw.cpu.max_clock_mhz.filter(|m| *m <= 1000) {
        cpu_criterion.status = CriterionStatus::Fail;
        cpu_criterion.evidence = format!(
            "{} {mhz} MHz: Windows 11 needs more than 1 GHz.",
            cpu_criterion.evidence
        );
    }
    criteria.push(cpu_criterion);
    let cpu_ok = cpu_support == CpuSupport::Supported;

    // TPM 2.0.
    let tpm = &hw.tpm;
    let major = tpm
        .version
        .as_deref()
        .and_then(|v| v.split([',', '.']).next())
        .and_then(|m| m.trim().parse::<u32>().ok());
    let off =
        tpm.present == Some(false) || tpm.enabled == Some(false) || tpm.activated == Some(false);
    criteria.push(match major {
        Some(m) if m >= 2 && off => c("tpm", CriterionStatus::FixableInFirmware, "hardware.tpm", "TPM 2.0 is present but disabled or not activated: switch it on in the firmware settings.".into()),
        Some(m) if m >= 2 => c("tpm", CriterionStatus::Pass, "hardware.tpm.version", format!("TPM {} present.", tpm.version.as_deref().unwrap_or("2.0"))),
        Some(_) => c("tpm", CriterionStatus::Fail, "hardware.tpm.version", format!("TPM {}: Windows 11 needs TPM 2.0.", tpm.version.as_deref().unwrap_or("1.2"))),
        None if off && cpu_ok => c("tpm", CriterionStatus::FixableInFirmware, "hardware.tpm.present", "No TPM visible, but this CPU has a firmware TPM (Intel PTT / AMD fTPM) that can be switched on in the firmware settings.".into()),
        None if off => c("tpm", CriterionStatus::Unknown, "hardware.tpm.present", "No TPM visible; whether the board has one that is switched off is not known.".into()),
        None => c("tpm", CriterionStatus::Unknown, "hardware.tpm", "TPM state was not reported.".into()),
    });

    // UEFI and Secure Boot (capable is enough for Microsoft; switched off is a firmware fix).
    criteria.push(match (hw.uefi, hw.secure_boot) {
        (Some(true), Some(true)) => c("secure_boot_uefi", CriterionStatus::Pass, "hardware.secure_boot", "UEFI boot with Secure Boot on.".into()),
        (Some(true), Some(false)) => c("secure_boot_uefi", CriterionStatus::FixableInFirmware, "hardware.secure_boot", "UEFI boot, Secure Boot switched off: switch it on in the firmware settings.".into()),
        (Some(true), None) => c("secure_boot_uefi", CriterionStatus::Unknown, "hardware.secure_boot", "UEFI boot; Secure Boot state was not reported.".into()),
        (Some(false), _) if cpu_ok => c("secure_boot_uefi", CriterionStatus::FixableInFirmware, "hardware.uefi", "Legacy BIOS boot on UEFI-class hardware: convert the disk (MBR2GPT) and switch the firmware to UEFI with Secure Boot.".into()),
        (Some(false), _) => c("secure_boot_uefi", CriterionStatus::Unknown, "hardware.uefi", "Legacy BIOS boot; whether the firmware can boot UEFI is not known.".into()),
        (None, _) => c("secure_boot_uefi", CriterionStatus::Unknown, "hardware.uefi", "Boot mode (UEFI or BIOS) was not reported.".into()),
    });

    // RAM, rounded to whole GiB as HWR does.
    criteria.push(match hw.ram_bytes {
        Some(b) => {
            let gb = (b + GIB / 2) / GIB;
            if gb >= 4 {
                c(
                    "ram",
                    CriterionStatus::Pass,
                    "hardware.ram_bytes",
                    format!("{gb} GB RAM."),
                )
            } else {
                c(
                    "ram",
                    CriterionStatus::ComponentUpgrade,
                    "hardware.ram_bytes",
                    format!("{gb} GB RAM: add memory to reach 4 GB."),
                )
            }
        }
        None => c(
            "ram",
            CriterionStatus::Unknown,
            "hardware.ram_bytes",
            "RAM size was not reported.".into(),
        ),
    });

    // System disk.
    let system = hw.disks.iter().find(|d| d.system).or_else(|| {
        hw.disks.iter().find(|d| {
            d.mount_point
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("C:") || m.eq_ignore_ascii_case("C:\\"))
                || d.name.eq_ignore_ascii_case("C:")
        })
    });
    criteria.push(match system.and_then(|d| d.size_bytes) {
        Some(size) => {
            let gb = size / GIB;
            if size >= 64 * GIB {
                c(
                    "storage",
                    CriterionStatus::Pass,
                    "hardware.disks[system].size_bytes",
                    format!("System disk {gb} GB."),
                )
            } else {
                c(
                    "storage",
                    CriterionStatus::ComponentUpgrade,
                    "hardware.disks[system].size_bytes",
                    format!("System disk {gb} GB: Windows 11 needs 64 GB; fit a larger disk."),
                )
            }
        }
        None => c(
            "storage",
            CriterionStatus::Unknown,
            "hardware.disks",
            "System disk size was not reported.".into(),
        ),
    });

    // 64-bit.
    let arch = report
        .os
        .architecture
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let is64 = ["x86_64", "amd64", "x64", "aarch64", "arm64"]
        .iter()
        .any(|a| arch.contains(a))
        || arch.contains("64-bit");
    criteria.push(if is64 {
        c(
            "arch64",
            CriterionStatus::Pass,
            "os.architecture",
            format!("64-bit ({arch})."),
        )
    } else if cpu_ok {
        c(
            "arch64",
            CriterionStatus::Pass,
            "hardware.cpu.brand",
            "The CPU is 64-bit (a 32-bit Windows needs a clean 64-bit install).".into(),
        )
    } else if arch.is_empty() {
        c(
            "arch64",
            CriterionStatus::Unknown,
            "os.architecture",
            "Architecture was not reported.".into(),
        )
    } else {
        c(
            "arch64",
            CriterionStatus::Unknown,
            "os.architecture",
            format!("32-bit OS ({arch}); whether the CPU is 64-bit is not known."),
        )
    });

    let any = |s| criteria.iter().any(|c: &Criterion| c.status == s);
    let verdict = if any(CriterionStatus::Fail) {
        ReadinessVerdict::Replace
    } else if any(CriterionStatus::Unknown) {
        ReadinessVerdict::Unknown
    } else if any(CriterionStatus::ComponentUpgrade) {
        ReadinessVerdict::ComponentUpgrade
    } else if any(CriterionStatus::FixableInFirmware) {
        ReadinessVerdict::FixableInFirmware
    } else {
        ReadinessVerdict::Capable
    };
    Readiness {
        verdict,
        criteria,
        cpu,
    }
}
