use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct FirewallOff;

impl Rule for FirewallOff {
    fn id(&self) -> &'static str {
        "firewall_off"
    }
    fn explain(&self) -> &'static str {
        "No host firewall is active, so every listening service (including SMB) is reachable from the whole network segment."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        if ctx.facts.report.security.firewall_enabled != Some(false) {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.firewall_off,
            "The host firewall is off.".into(),
            vec![ev("security.firewall_enabled", "false", None)],
        ))
    }
}
