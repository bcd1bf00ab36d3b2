use super::{Context, Rule, ev, finding};
use crate::risk::Finding;

pub struct NoDiskEncryption;

impl Rule for NoDiskEncryption {
    fn id(&self) -> &'static str {
        "no_disk_encryption"
    }
    fn explain(&self) -> &'static str {
        "The disk holding the operating system is not encrypted (BitLocker, LUKS, FileVault): a stolen device gives away the patient data on it."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        if ctx.facts.report.security.system_disk_encrypted != Some(false) {
            return None;
        }
        Some(finding(
            self,
            ctx.weights.no_disk_encryption,
            "The system disk is not encrypted.".into(),
            vec![ev("security.system_disk_encrypted", "false", None)],
        ))
    }
}
