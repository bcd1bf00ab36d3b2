use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct RebootPending;

impl Rule for RebootPending {
    fn id(&self) -> &'static str {
        "reboot_pending"
    }
    fn explain(&self) -> &'static str {
        "Updates are installed but wait for a restart, so they are not in force yet."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        if ctx.facts.report.patches.reboot_pending != Some(true) {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.reboot_pending,
            "A restart is pending: installed updates are not in force yet.".into(),
            vec![ev("patches.reboot_pending", "true", None)],
        ))
    }
}
