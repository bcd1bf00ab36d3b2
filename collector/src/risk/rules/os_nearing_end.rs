use super::os_end_of_support::describe_os;
use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::{LifecycleState, long_date};

pub struct OsNearingEnd;

impl Rule for OsNearingEnd {
    fn id(&self) -> &'static str {
        "os_nearing_end"
    }
    fn explain(&self) -> &'static str {
        "The operating system reaches its end of support within the configured window (180 days by default): time to plan the upgrade or replacement before it becomes unsupported."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let l = &ctx.derived.lifecycle;
        if l.state != LifecycleState::NearingEnd {
            return None;
        }
        let end = l.end?;
        let days = l.days_to_end.unwrap_or(0);
        let product = l.product.clone().unwrap_or_default();
        Some(finding(
            self,
            ctx.weights.os_nearing_end,
            format!(
                "{product}: security updates end on {} ({days} days from now).",
                long_date(end)
            ),
            vec![
                ev("os", describe_os(ctx), l.row.as_deref()),
                ev(
                    "lifecycle.end",
                    format!(
                        "{end} ({})",
                        l.end_basis.clone().unwrap_or_else(|| "all editions".into())
                    ),
                    l.source.as_deref(),
                ),
            ],
        ))
    }
}
