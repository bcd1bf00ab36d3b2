//! `/proc/cpuinfo`: vendor, family/model/stepping (for a Windows-style CPUID identifier), topology.

use std::collections::BTreeSet;

/// What `/proc/cpuinfo` says about the CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    pub vendor: Option<String>,
    pub brand: Option<String>,
    pub family: Option<u32>,
    pub model: Option<u32>,
    pub stepping: Option<u32>,
    /// Logical CPUs ("processor" entries).
    pub threads: u32,
    /// Physical cores: distinct (physical id, core id) pairs, when the kernel reports them.
    pub cores: Option<u32>,
    /// The `lm` (long mode) flag: a 64-bit x86 CPU.
    pub long_mode: bool,
}

pub fn parse(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut cores = BTreeSet::new();
    let mut physical: Option<String> = None;
    let mut arm_implementer: Option<String> = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => {
                info.threads += 1;
                physical = None;
            }
            "vendor_id" if info.vendor.is_none() => info.vendor = non_empty(value),
            "model name" if info.brand.is_none() => info.brand = non_empty(value),
            "cpu family" if info.family.is_none() => info.family = value.parse().ok(),
            "model" if info.model.is_none() => info.model = value.parse().ok(),
            "stepping" if info.stepping.is_none() => info.stepping = value.parse().ok(),
            "flags" if info.threads <= 1 => {
                info.long_mode = value.split_whitespace().any(|f| f == "lm");
            }
            "physical id" => physical = Some(value.to_owned()),
            "core id" => {
                cores.insert((physical.clone().unwrap_or_default(), value.to_owned()));
            }
            "CPU implementer" if arm_implementer.is_none() => {
                arm_implementer = Some(value.to_owned());
            }
            _ => {}
        }
    }
    if info.vendor.is_none() {
        info.vendor = arm_implementer
            .as_deref()
            .and_then(arm_vendor)
            .map(str::to_owned);
    }
    info.cores = (!cores.is_empty()).then(|| u32::try_from(cores.len()).unwrap_or(u32::MAX));
    info
}

/// The Windows registry `Identifier` form: "Intel64 Family 6 Model 158 Stepping 9",
/// "AMD64 Family 23 Model 113 Stepping 0"; `None` for non-x86 CPUs.
pub fn identifier(info: &CpuInfo) -> Option<String> {
    let (family, model, stepping) = (info.family?, info.model?, info.stepping?);
    let arch = match (info.vendor.as_deref(), info.long_mode) {
        (Some("GenuineIntel"), true) => "Intel64",
        (Some("AuthenticAMD"), true) => "AMD64",
        (_, true) => "x86_64",
        (_, false) => "x86",
    };
    Some(format!(
        "{arch} Family {family} Model {model} Stepping {stepping}"
    ))
}

/// `cpuinfo_max_freq` (kHz) to MHz.
pub fn max_freq_mhz(khz: &str) -> Option<u32> {
    let khz: u64 = khz.trim().parse().ok()?;
    u32::try_from(khz / 1000).ok().filter(|mhz| *mhz > 0)
}

/// The rated clock in a brand string: "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz" -> 3000.
pub fn brand_clock_mhz(brand: &str) -> Option<u32> {
    let (_, tail) = brand.rsplit_once('@')?;
    let tail = tail.trim();
    let (number, scale) = if let Some(n) = tail.strip_suffix("GHz") {
        (n, 1000.0)
    } else {
        (tail.strip_suffix("MHz")?, 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    let mhz = (value * scale).round();
    (mhz >= 1.0 && mhz < f64::from(u32::MAX)).then_some(mhz as u32)
}

/// ARM `CPU implementer` codes (Arm ARM, MIDR_EL1.Implementer) for the vendors we expect to meet.
fn arm_vendor(code: &str) -> Option<&'static str> {
    match code.to_ascii_lowercase().as_str() {
        "0x41" => Some("ARM"),
        "0x42" => Some("Broadcom"),
        "0x43" => Some("Cavium"),
        "0x4e" => Some("NVIDIA"),
        "0x50" => Some("APM"),
        "0x51" => Some("Qualcomm"),
        "0x61" => Some("Apple"),
        "0xc0" => Some("Ampere"),
        _ => None,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_desktop() {
        let info = parse(include_str!("testdata/cpuinfo-intel-i5-7500"));
        assert_eq!(info.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!(
            info.brand.as_deref(),
            Some("Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz")
        );
        assert_eq!(info.threads, 4);
        assert_eq!(info.cores, Some(4));
        assert_eq!(
            identifier(&info).as_deref(),
            Some("Intel64 Family 6 Model 158 Stepping 9")
        );
        assert_eq!(
            brand_clock_mhz(info.brand.as_deref().unwrap_or_default()),
            Some(3400)
        );
    }

    #[test]
    fn amd_with_smt() {
        let info = parse(include_str!("testdata/cpuinfo-amd-epyc-vm"));
        assert_eq!(info.vendor.as_deref(), Some("AuthenticAMD"));
        assert_eq!(info.threads, 2);
        assert_eq!(info.cores, Some(1));
        assert_eq!(
            identifier(&info).as_deref(),
            Some("AMD64 Family 25 Model 1 Stepping 1")
        );
        assert_eq!(brand_clock_mhz("AMD EPYC"), None);
    }

    #[test]
    fn arm_has_no_x86_identifier() {
        let info = parse(include_str!("testdata/cpuinfo-arm64-rpi4"));
        assert_eq!(info.vendor.as_deref(), Some("ARM"));
        assert_eq!(info.threads, 4);
        assert_eq!(info.brand, None);
        assert_eq!(identifier(&info), None);
    }

    #[test]
    fn frequencies() {
        assert_eq!(max_freq_mhz("4200000\n"), Some(4200));
        assert_eq!(max_freq_mhz("x"), None);
        assert_eq!(
            brand_clock_mhz("Intel(R) Celeron(R) CPU N3350 @ 1.10GHz"),
            Some(1100)
        );
        assert_eq!(brand_clock_mhz("Some CPU @ 800MHz"), Some(800));
    }
}
