use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

/// SMBv1 server on (SMBDOC; nmap smb-protocols).
pub struct Smb1Enabled;

impl Rule for Smb1Enabled {
    fn id(&self) -> &'static str {
        "smb1_enabled"
    }
    fn explain(&self) -> &'static str {
        "The SMBv1 file-sharing server is switched on. SMBv1 is the protocol the MS17-010 flaws live in; Microsoft no longer installs it by default (Windows 10 1709, Server 2019 and later). Turning it off closes the WannaCry path even where the patch cannot be applied."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        if ctx.derived.smb1_enabled != Some(true) {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.smb1_enabled,
            "The SMBv1 server is switched on.".into(),
            vec![ev(
                ctx.derived
                    .smb1_source
                    .as_deref()
                    .unwrap_or("security.smb1_server_enabled"),
                "true",
                None,
            )],
        ))
    }
}
