use super::os_end_of_support::describe_os;
use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::{LifecycleState, long_date};

/// Past end of support but covered by ESU/ESM/LTS/ELS: patched for now, on borrowed time.
pub struct OsExtendedSupport;

impl Rule for OsExtendedSupport {
    fn id(&self) -> &'static str {
        "os_extended_support"
    }
    fn explain(&self) -> &'static str {
        "The operating system is past its end of support but covered by a paid or free extension (Windows ESU, Ubuntu Pro ESM, Debian LTS, RHEL ELS). Security fixes still arrive, so the weight is low; the extension costs money every year and ends on a fixed date."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let l = &ctx.derived.lifecycle;
        if l.state != LifecycleState::ExtendedSupport {
            return None;
        }
        let x = l.extension.as_ref()?;
        let product = l.product.clone().unwrap_or_default();
        let end = l.end?;
        Some(finding(
            self,
            ctx.weights.os_extended_support,
            format!(
                "{product}: support ended {}; covered by {} until {} ({}).",
                long_date(end),
                x.name,
                long_date(x.end),
                x.basis
            ),
            vec![
                ev("os", describe_os(ctx), l.row.as_deref()),
                ev(
                    "lifecycle.extension",
                    format!("{} to {}", x.name, x.end),
                    l.source.as_deref(),
                ),
            ],
        ))
    }
}
