use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::Ms17State;

/// MS17-010 (March 2017) not installed, judged from srv.sys, the UBR, a scan or a complete
/// update list (MSBUL, KB4023262).
pub struct Ms17010Missing;

impl Rule for Ms17010Missing {
    fn id(&self) -> &'static str {
        "ms17_010_missing"
    }
    fn explain(&self) -> &'static str {
        "The March 2017 fix for the SMBv1 server flaws (MS17-010) is missing. Judged from the srv.sys version, the Windows 10 build revision, a network scan or a complete installed-update list with supersedence; never from the absence of one KB in a list that may be cut."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let m = &ctx.derived.ms17_010;
        if m.state != Ms17State::Missing {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.ms17_010_missing,
            format!("MS17-010 (the WannaCry fix) is missing. {}", m.basis),
            vec![ev(
                m.field.as_deref().unwrap_or("?"),
                m.value.clone().unwrap_or_default(),
                m.catalog_row.as_deref(),
            )],
        ))
    }
}
