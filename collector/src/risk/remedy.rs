//! One remedy class per device, decided in a fixed order (docs/risk-model.md, "Remedy"):
//! 1. isolate (on the exceptions register, review date not passed);
//! 2. unknown (the OS cannot be placed in its lifecycle), after the patch steps of any open
//!    MS17-010 or SMBv1 finding;
//! 3. OS past end of support (or only on a paid/free extension): Windows clients by Windows 11
//!    readiness (replace hardware / fix firmware then upgrade / upgrade OS / unknown); Windows 11,
//!    servers, Linux and macOS: upgrade OS;
//! 4. patch (MS17-010, SMBv1, months behind, pending security updates, pending restart);
//! 5. unknown when the device is known only from outside (AD, nmap): not a clean bill;
//! 6. no action.

use serde::{Deserialize, Serialize};

use super::Finding;
use super::derive::LifecycleState;
use super::readiness::{CriterionStatus, Readiness, ReadinessVerdict};
use super::rules::Context;
use crate::catalog::OsKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyClass {
    ReplaceHardware,
    UpgradeOs,
    FixFirmware,
    Patch,
    Isolate,
    NoAction,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    pub class: RemedyClass,
    /// The step after this one, e.g. fix firmware, then upgrade OS.
    pub then: Option<RemedyClass>,
    pub reason: String,
    /// Concrete actions, in order.
    pub steps: Vec<String>,
    /// Compensating controls from the exceptions register (isolate only).
    pub controls: Vec<String>,
}

fn remedy(
    class: RemedyClass,
    then: Option<RemedyClass>,
    reason: String,
    steps: Vec<String>,
) -> Remedy {
    Remedy {
        class,
        then,
        reason,
        steps,
        controls: Vec::new(),
    }
}

const PATCH_RULES: &[&str] = &[
    "wannacry_exposed",
    "ms17_010_missing",
    "smb1_enabled",
    "patch_behind",
    "pending_security_updates",
    "reboot_pending",
];

fn patch_steps(findings: &[Finding]) -> Vec<String> {
    let mut steps = Vec::new();
    let has = |r: &str| findings.iter().any(|f| f.rule == r);
    if has("wannacry_exposed") || has("smb1_enabled") {
        steps.push("Turn off the SMBv1 server now (or block TCP 445 to the device).".to_string());
    }
    if has("ms17_010_missing") {
        steps.push(
            "Install the MS17-010 fix or any later cumulative update / monthly rollup.".to_string(),
        );
    }
    if has("patch_behind") || has("pending_security_updates") {
        steps.push("Install the latest security updates.".to_string());
    }
    if has("reboot_pending") {
        steps.push("Restart to put installed updates in force.".to_string());
    }
    steps
}

pub fn decide(ctx: &Context<'_>, findings: &[Finding], readiness: Option<&Readiness>) -> Remedy {
    let today = ctx.now.date_naive();
    if let Some(e) = ctx.exception.filter(|e| e.review_date >= today) {
        return Remedy {
            class: RemedyClass::Isolate,
            then: None,
            reason: format!(
                "On the exceptions register: {} (owner {}, review {}).",
                e.reason, e.owner, e.review_date
            ),
            steps: vec![
                "Keep the compensating controls in place and review by the date.".to_string(),
            ],
            controls: e.controls.clone(),
        };
    }
    let d = ctx.derived;
    let l = &d.lifecycle;
    if l.state == LifecycleState::Unknown {
        // What is known to be open (MS17-010, SMBv1) still comes first.
        let mut steps = patch_steps(findings);
        steps.push("Install the agent or import an inventory record for this device.".to_string());
        return remedy(
            RemedyClass::Unknown,
            None,
            format!(
                "Not enough data: {}.",
                l.unknown_reason
                    .clone()
                    .unwrap_or_else(|| "the OS is not identified".into())
            ),
            steps,
        );
    }
    let mut urgent = patch_steps(findings);
    urgent.retain(|s| s.starts_with("Turn off"));
    if matches!(
        l.state,
        LifecycleState::EndOfSupport | LifecycleState::ExtendedSupport
    ) {
        let product = l.product.clone().unwrap_or_default();
        let status = match (&l.state, &l.extension) {
            (LifecycleState::ExtendedSupport, Some(x)) => {
                format!(
                    "{product} is past its end of support (covered by {} until {})",
                    x.name, x.end
                )
            }
            _ => format!("{product} is out of support"),
        };
        let windows_client = d.os.kind == Some(OsKind::Windows) && !d.os.server;
        let win11 = d.os.build.is_some_and(|b| b >= 22000);
        if windows_client
            && !win11
            && let Some(r) = readiness
        {
            let mut steps = urgent.clone();
            return match r.verdict {
                ReadinessVerdict::Replace => {
                    let failed = r
                        .criteria
                        .iter()
                        .filter(|c| c.status == CriterionStatus::Fail)
                        .map(|c| format!("{}: {}", c.name, c.evidence))
                        .collect::<Vec<_>>();
                    steps.push("Replace the device with Windows 11-capable hardware.".into());
                    remedy(
                        RemedyClass::ReplaceHardware,
                        None,
                        format!(
                            "{status} and the hardware cannot run Windows 11 ({}).",
                            failed.join("; ")
                        ),
                        steps,
                    )
                }
                ReadinessVerdict::FixableInFirmware => {
                    steps.extend(
                        r.criteria
                            .iter()
                            .filter(|c| c.status == CriterionStatus::FixableInFirmware)
                            .map(|c| c.evidence.clone()),
                    );
                    steps.push("Then upgrade to a supported Windows 11 version.".into());
                    remedy(
                        RemedyClass::FixFirmware,
                        Some(RemedyClass::UpgradeOs),
                        format!(
                            "{status}; the hardware can run Windows 11 once firmware settings are changed ({}).",
                            r.failing(CriterionStatus::FixableInFirmware).join(", ")
                        ),
                        steps,
                    )
                }
                ReadinessVerdict::ComponentUpgrade => {
                    steps.extend(
                        r.criteria
                            .iter()
                            .filter(|c| {
                                matches!(
                                    c.status,
                                    CriterionStatus::ComponentUpgrade
                                        | CriterionStatus::FixableInFirmware
                                )
                            })
                            .map(|c| c.evidence.clone()),
                    );
                    steps.push("Then upgrade to a supported Windows 11 version.".into());
                    remedy(
                        RemedyClass::UpgradeOs,
                        None,
                        format!(
                            "{status}; Windows 11 fits after a component upgrade ({}).",
                            r.failing(CriterionStatus::ComponentUpgrade).join(", ")
                        ),
                        steps,
                    )
                }
                ReadinessVerdict::Capable => {
                    steps.push("Upgrade to a supported Windows 11 version.".into());
                    remedy(
                        RemedyClass::UpgradeOs,
                        None,
                        format!("{status}; the hardware meets the Windows 11 requirements."),
                        steps,
                    )
                }
                ReadinessVerdict::Unknown => {
                    steps.push("Collect TPM, Secure Boot, CPU, RAM and disk facts to decide between upgrade and replacement.".into());
                    remedy(
                        RemedyClass::Unknown,
                        None,
                        format!(
                            "{status}, but Windows 11 readiness cannot be decided ({} unknown).",
                            r.failing(CriterionStatus::Unknown).join(", ")
                        ),
                        steps,
                    )
                }
            };
        }
        let mut steps = urgent;
        let target = match d.os.kind {
            Some(OsKind::Windows) if d.os.server => "a supported Windows Server version",
            Some(OsKind::Windows) => "a supported Windows 11 version",
            Some(OsKind::Linux) => "a supported release of the distribution",
            Some(OsKind::Macos) => {
                "a supported macOS version (or replace the Mac if Apple no longer offers one for it)"
            }
            None => "a supported version",
        };
        steps.push(format!("Upgrade to {target}."));
        return remedy(RemedyClass::UpgradeOs, None, format!("{status}."), steps);
    }
    if findings
        .iter()
        .any(|f| PATCH_RULES.contains(&f.rule.as_str()))
    {
        let rules: Vec<&str> = findings
            .iter()
            .filter(|f| PATCH_RULES.contains(&f.rule.as_str()))
            .map(|f| f.rule.as_str())
            .collect();
        return remedy(
            RemedyClass::Patch,
            None,
            format!(
                "Supported OS with open patch findings ({}).",
                rules.join(", ")
            ),
            patch_steps(findings),
        );
    }
    if ctx.facts.outside_only() {
        return remedy(
            RemedyClass::Unknown,
            None,
            format!(
                "Known only from {}; not read from the machine: {}.",
                ctx.facts.sources.join(" and "),
                ctx.facts.missing_direct_data().join(", ")
            ),
            vec!["Install the agent, run the legacy probe, or import its systeminfo.".to_string()],
        );
    }
    remedy(
        RemedyClass::NoAction,
        None,
        "Supported and patched; nothing to do now.".into(),
        Vec::new(),
    )
}
