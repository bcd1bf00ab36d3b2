use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::{LifecycleState, long_date, month_year};

/// Past the vendor's end of security updates with no extension covering the device (EOL, MSLC,
/// DFG, DISTRO; ESU terms from ESUDOC/W7ESU).
pub struct OsEndOfSupport;

impl Rule for OsEndOfSupport {
    fn id(&self) -> &'static str {
        "os_end_of_support"
    }
    fn explain(&self) -> &'static str {
        "The operating system gets no security updates any more: its end of support (for this edition) has passed and no ESU/ESM/LTS period covers the device. Every flaw found since stays open. Points grow with each year past the end, up to a cap."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let l = &ctx.derived.lifecycle;
        if l.state != LifecycleState::EndOfSupport {
            return None;
        }
        let end = l.end?;
        let days = l.days_past_end.unwrap_or(0);
        let w = ctx.weights;
        let years = u32::try_from(days / 365)
            .unwrap_or(u32::MAX)
            .min(w.os_end_of_support_years_cap);
        let points = w.os_end_of_support + years * w.os_end_of_support_per_year;
        let product = l.product.clone().unwrap_or_default();
        // The last updates anyone could have had: the end of the last paid extension, if past.
        let last = match l.last_extension_end {
            Some(x) if x < ctx.now.date_naive() => x,
            _ => end,
        };
        let mut sentence = if last > end {
            format!(
                "{product}: no security updates since {} (support ended {}; the last paid extension ended {}); {days} days past end of support.",
                month_year(last),
                long_date(end),
                long_date(last)
            )
        } else {
            format!(
                "{product}: no security updates since {} ({days} days past end of support).",
                month_year(end)
            )
        };
        let mut evidence = vec![
            ev("os", describe_os(ctx), l.row.as_deref()),
            ev(
                "lifecycle.end",
                format!(
                    "{end} ({})",
                    l.end_basis.clone().unwrap_or_else(|| "all editions".into())
                ),
                l.source.as_deref(),
            ),
        ];
        if let Some(x) = &l.extension {
            let price = x
                .price_usd
                .map(|p| format!(" at ${p} per device"))
                .unwrap_or_default();
            sentence.push_str(&format!(
                " {} is available until {}{price}, but {}.",
                x.name,
                long_date(x.end),
                x.basis
            ));
            evidence.push(ev(
                "lifecycle.extension",
                format!("{} to {} ({})", x.name, x.end, x.basis),
                l.row.as_deref(),
            ));
        }
        Some(finding(self, points, sentence, evidence))
    }
}

pub(crate) fn describe_os(ctx: &Context<'_>) -> String {
    let os = &ctx.facts.report.os;
    let d = &ctx.derived.os;
    let mut parts = Vec::new();
    if let Some(n) = &os.name {
        parts.push(n.clone());
    }
    if let Some(b) = d.build {
        parts.push(match d.ubr {
            Some(u) => format!("build {b}.{u}"),
            None => format!("build {b}"),
        });
    } else if let Some(v) = &os.version {
        parts.push(format!("version {v}"));
    }
    if let Some(e) = &d.edition {
        parts.push(format!("edition {e}"));
    }
    parts.join(", ")
}
