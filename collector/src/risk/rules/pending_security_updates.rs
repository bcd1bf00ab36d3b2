use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct PendingSecurityUpdates;

impl Rule for PendingSecurityUpdates {
    fn id(&self) -> &'static str {
        "pending_security_updates"
    }
    fn explain(&self) -> &'static str {
        "Security updates are available and not installed (apt security origins, dnf updateinfo, Windows Update). Points per update, capped."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let n = ctx
            .facts
            .report
            .patches
            .pending_security_count
            .filter(|n| *n > 0)?;
        let w = ctx.weights;
        let points = n
            .saturating_mul(w.pending_security_per_update)
            .min(w.pending_security_cap);
        let plural = if n == 1 { "" } else { "s" };
        Some(finding(
            self,
            points,
            format!("{n} security update{plural} waiting to be installed."),
            vec![ev("patches.pending_security_count", n.to_string(), None)],
        ))
    }
}
