use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::Ms17State;

/// SMBv1 server on and MS17-010 missing: the WannaCry / EternalBlue path (MSBUL, NAO).
pub struct WannacryExposed;

impl Rule for WannacryExposed {
    fn id(&self) -> &'static str {
        "wannacry_exposed"
    }
    fn explain(&self) -> &'static str {
        "The SMBv1 server is on and the MS17-010 fix is missing: the exact path WannaCry used to spread through the NHS in May 2017. The worm needs no user action. Always the top finding."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let d = ctx.derived;
        if d.smb1_enabled != Some(true) || d.ms17_010.state != Ms17State::Missing {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.wannacry_exposed,
            "Exposed to WannaCry: the SMBv1 server is on and the MS17-010 fix is missing.".into(),
            vec![
                ev(
                    d.smb1_source
                        .as_deref()
                        .unwrap_or("security.smb1_server_enabled"),
                    "true",
                    None,
                ),
                ev(
                    d.ms17_010.field.as_deref().unwrap_or("ms17_010"),
                    d.ms17_010.value.clone().unwrap_or_else(|| "missing".into()),
                    d.ms17_010.catalog_row.as_deref(),
                ),
            ],
        ))
    }
}
