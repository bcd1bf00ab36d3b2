use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::LifecycleState;

/// Not enough data to place the OS in its lifecycle: the device must not look safe.
pub struct InsufficientData;

impl Rule for InsufficientData {
    fn id(&self) -> &'static str {
        "insufficient_data"
    }
    fn explain(&self) -> &'static str {
        "The operating system could not be identified against the catalog (no OS, no build or version, or a version the catalog does not know), or the device is known only from outside (Active Directory, an nmap scan) so its updates, SMBv1 setting and hardware were never read. The device is scored as a risk of its own so that missing data never ranks as safe."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let l = &ctx.derived.lifecycle;
        if l.state != LifecycleState::Unknown {
            if !ctx.facts.outside_only() {
                return None;
            }
            let missing = ctx.facts.missing_direct_data();
            return Some(finding(
                self,
                ctx.weights.insufficient_data,
                format!(
                    "Known only from {}: not read from the machine: {}.",
                    ctx.facts.sources.join(" and "),
                    if missing.is_empty() {
                        "nothing the machine reports itself".to_owned()
                    } else {
                        missing.join(", ")
                    }
                ),
                vec![ev("sources", ctx.facts.sources.join(","), None)],
            ));
        }
        let reason = l.unknown_reason.clone().unwrap_or_else(|| "unknown".into());
        let os = &ctx.facts.report.os;
        let seen = os
            .name
            .clone()
            .or_else(|| os.id.clone())
            .unwrap_or_else(|| "nothing".into());
        Some(finding(
            self,
            ctx.weights.insufficient_data,
            format!("Not enough data to judge this device: {reason}."),
            vec![ev("os", seen, None)],
        ))
    }
}
