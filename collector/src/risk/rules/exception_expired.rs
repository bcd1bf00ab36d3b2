use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct ExceptionExpired;

impl Rule for ExceptionExpired {
    fn id(&self) -> &'static str {
        "exception_expired"
    }
    fn explain(&self) -> &'static str {
        "The device is on the exceptions register but its review date has passed, so it ranks on its own risk again until the owner reviews it."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let e = ctx.exception?;
        if e.review_date >= ctx.now.date_naive() {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.exception_expired,
            format!(
                "Exception review overdue since {} (owner {}): the device is no longer treated as isolated.",
                crate::risk::derive::long_date(e.review_date),
                e.owner
            ),
            vec![ev("exception.review_date", e.review_date.to_string(), None)],
        ))
    }
}
