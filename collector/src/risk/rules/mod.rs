//! One rule per file. Each has `check` (facts -> at most one finding) and `explain` (what it
//! means, for the API and docs/risk-model.md). Rules read the facts derived once in
//! [`super::derive`]; they never do I/O and never read the clock.

use chrono::{DateTime, Utc};

use super::derive::Derived;
use super::facts::{DeviceFacts, ExceptionInfo};
use super::weights::Weights;
use super::{Evidence, Finding};
use crate::catalog::Catalog;

mod exception_expired;
mod firewall_off;
mod insufficient_data;
mod ms17_010_missing;
mod ms17_010_unknown;
mod no_disk_encryption;
mod os_end_of_support;
mod os_extended_support;
mod os_nearing_end;
mod patch_behind;
mod pending_security_updates;
mod reboot_pending;
mod smb1_enabled;
mod stale_device;
mod wannacry_exposed;

/// Everything a rule may read.
#[derive(Debug)]
pub struct Context<'a> {
    pub facts: &'a DeviceFacts,
    pub catalog: &'a Catalog,
    pub now: DateTime<Utc>,
    pub weights: &'a Weights,
    pub derived: &'a Derived,
    pub exception: Option<&'a ExceptionInfo>,
}

pub trait Rule: Sync {
    fn id(&self) -> &'static str;
    /// What the rule checks and why it matters, in a sentence or two.
    fn explain(&self) -> &'static str;
    fn check(&self, ctx: &Context<'_>) -> Option<Finding>;
}

/// All rules, in no particular order (findings are sorted by points afterwards).
pub static RULES: &[&dyn Rule] = &[
    &wannacry_exposed::WannacryExposed,
    &os_end_of_support::OsEndOfSupport,
    &os_extended_support::OsExtendedSupport,
    &os_nearing_end::OsNearingEnd,
    &patch_behind::PatchBehind,
    &ms17_010_missing::Ms17010Missing,
    &ms17_010_unknown::Ms17010Unknown,
    &smb1_enabled::Smb1Enabled,
    &reboot_pending::RebootPending,
    &pending_security_updates::PendingSecurityUpdates,
    &stale_device::StaleDevice,
    &no_disk_encryption::NoDiskEncryption,
    &firewall_off::FirewallOff,
    &insufficient_data::InsufficientData,
    &exception_expired::ExceptionExpired,
];

pub(crate) fn finding(
    rule: &dyn Rule,
    points: u32,
    sentence: String,
    evidence: Vec<Evidence>,
) -> Finding {
    Finding {
        rule: rule.id().to_string(),
        points,
        sentence,
        evidence,
    }
}

pub(crate) fn ev(field: &str, value: impl Into<String>, catalog: Option<&str>) -> Evidence {
    Evidence {
        field: field.to_string(),
        value: value.into(),
        catalog: catalog.map(str::to_string),
    }
}
