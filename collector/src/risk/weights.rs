//! Points per rule and the tag multipliers. Every value is explained in `docs/risk-model.md`;
//! a config file may override any of them (unknown keys are rejected).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// OS past end of support, no extension covering it.
    pub os_end_of_support: u32,
    /// Added per full year past the end, up to `os_end_of_support_years_cap` years.
    pub os_end_of_support_per_year: u32,
    pub os_end_of_support_years_cap: u32,
    /// OS past end of support but covered by ESU/ESM/LTS/ELS.
    pub os_extended_support: u32,
    pub os_nearing_end: u32,
    pub nearing_end_days: u32,
    /// Per Patch Tuesday missed, once more than `patch_grace_months` are missed.
    pub patch_per_month: u32,
    pub patch_cap: u32,
    pub patch_grace_months: u32,
    pub ms17_010_missing: u32,
    pub ms17_010_unknown: u32,
    pub smb1_enabled: u32,
    pub wannacry_exposed: u32,
    pub reboot_pending: u32,
    pub pending_security_per_update: u32,
    pub pending_security_cap: u32,
    pub stale_device: u32,
    pub stale_after_days: u32,
    pub no_disk_encryption: u32,
    pub firewall_off: u32,
    pub insufficient_data: u32,
    pub exception_expired: u32,
    /// Multiplies the total of a device tagged clinical.
    pub clinical_multiplier: f64,
    /// Multiplies the total of an internet-facing device.
    pub internet_facing_multiplier: f64,
    /// Multiplies the total of a device on the exceptions register (review date not passed):
    /// its risk is contained by the recorded controls, so it ranks below unmanaged devices.
    pub isolated_multiplier: f64,
    /// Per-site multipliers (by `tags.site`), e.g. an A&E site.
    pub site_multipliers: BTreeMap<String, f64>,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            os_end_of_support: 40,
            os_end_of_support_per_year: 2,
            os_end_of_support_years_cap: 5,
            os_extended_support: 10,
            os_nearing_end: 10,
            nearing_end_days: 180,
            patch_per_month: 4,
            patch_cap: 30,
            patch_grace_months: 1,
            ms17_010_missing: 30,
            ms17_010_unknown: 5,
            smb1_enabled: 15,
            wannacry_exposed: 60,
            reboot_pending: 3,
            pending_security_per_update: 2,
            pending_security_cap: 15,
            stale_device: 10,
            stale_after_days: 30,
            no_disk_encryption: 8,
            firewall_off: 8,
            insufficient_data: 25,
            exception_expired: 5,
            clinical_multiplier: 1.25,
            internet_facing_multiplier: 1.5,
            isolated_multiplier: 0.25,
            site_multipliers: BTreeMap::new(),
        }
    }
}
