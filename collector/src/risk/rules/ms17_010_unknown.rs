use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::Ms17State;

/// The data cannot tell whether MS17-010 is installed: a small weight, so "no data" never looks
/// safer than "checked".
pub struct Ms17010Unknown;

impl Rule for Ms17010Unknown {
    fn id(&self) -> &'static str {
        "ms17_010_unknown"
    }
    fn explain(&self) -> &'static str {
        "Whether the MS17-010 fix is installed cannot be told from the data (no srv.sys version, no build revision, an update list that may be incomplete). Neither safe nor vulnerable is assumed; collect srv.sys or run an nmap smb-vuln-ms17-010 scan."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let m = &ctx.derived.ms17_010;
        // Only for Windows: an unknown OS is covered by insufficient_data.
        if m.state != Ms17State::Unknown || ctx.derived.os.kind.is_none() {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.ms17_010_unknown,
            format!(
                "Cannot tell whether MS17-010 (the WannaCry fix) is installed. {}",
                m.basis
            ),
            vec![ev(
                m.field.as_deref().unwrap_or("?"),
                m.value.clone().unwrap_or_else(|| "not reported".into()),
                m.catalog_row.as_deref(),
            )],
        ))
    }
}
