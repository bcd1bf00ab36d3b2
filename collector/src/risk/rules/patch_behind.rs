use super::{Context, Rule, ev, finding};
use crate::risk::Finding;
use crate::risk::derive::month_year;

/// Months of Patch Tuesday cumulative updates missed, from the device's build.UBR and the
/// catalog's update table (DFG mirror of Microsoft's update-history pages).
pub struct PatchBehind;

impl Rule for PatchBehind {
    fn id(&self) -> &'static str {
        "patch_behind"
    }
    fn explain(&self) -> &'static str {
        "The Windows build revision (UBR) shows the last monthly cumulative update installed. Each Patch Tuesday missed since then adds points, after a grace of one month for normal roll-out. Counted against the newest update the catalog knows for that build."
    }
    fn check(&self, ctx: &Context<'_>) -> Option<Finding> {
        let p = ctx.derived.patch_level.as_ref()?;
        let w = ctx.weights;
        if p.months_behind <= w.patch_grace_months || p.newer_than_catalog {
            return None;
        }
        let points = p
            .months_behind
            .saturating_mul(w.patch_per_month)
            .min(w.patch_cap);
        let build = ctx.derived.os.build.unwrap_or(0);
        let ubr = ctx.derived.os.ubr.unwrap_or(0);
        let at = match &p.at {
            Some(at) => format!("patched up to {} ({})", month_year(at.date), at.kb),
            None => "older than any update in the catalog".to_string(),
        };
        Some(finding(
            self,
            points,
            format!(
                "Windows updates {} months behind: {at}; the latest for build {build} is {} ({}).",
                p.months_behind,
                p.latest.kb,
                month_year(p.latest.date)
            ),
            vec![
                ev("os.revision", format!("{build}.{ubr}"), Some(&p.stream)),
                ev(
                    "catalog.windows_updates.latest",
                    format!("{build}.{} {} {}", p.latest.ubr, p.latest.kb, p.latest.date),
                    Some(&p.stream),
                ),
            ],
        ))
    }
}
