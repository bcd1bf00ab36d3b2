use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct StaleDevice;

impl Rule for StaleDevice {
    fn id(&self) -> &'static str {
        "stale_device"
    }
    fn explain(&self) -> &'static str {
        "The device has not reported for longer than the configured number of days: its facts may be out of date, or it is off the network, lost, or its agent is broken."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let days = (ctx.now - ctx.facts.last_seen).num_days();
        if days <= i64::from(ctx.weights.stale_after_days) {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.stale_device,
            format!(
                "Not seen for {days} days (last report {}).",
                crate::risk::derive::long_date(ctx.facts.last_seen.date_naive())
            ),
            vec![ev("last_seen", ctx.facts.last_seen.to_rfc3339(), None)],
        ))
    }
}
