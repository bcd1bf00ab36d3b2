//! The risk engine: facts + catalog + now -> assessment.
//!
//! Architecture invariant: [`assess`] is pure. No I/O, no clock, no store: the caller passes the
//! device's facts, the catalog, the moment and the weights, and gets the same answer every time.
//! The rules live one per file in [`rules`]; `docs/risk-model.md` explains each with its weight
//! and source. Outputs are `Serialize` for the API.

pub mod derive;
pub mod facts;
pub mod rank;
pub mod readiness;
pub mod remedy;
pub mod rules;
pub mod weights;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::{Catalog, PatchLevel};
pub use derive::{LifecycleState, LifecycleStatus, Ms17State, Ms17Status};
pub use facts::{DeviceFacts, ExceptionInfo, ExtraEvidence};
pub use rank::{compare, rank};
pub use readiness::{Criterion, CriterionStatus, Readiness, ReadinessVerdict};
pub use remedy::{Remedy, RemedyClass};
pub use weights::Weights;

/// One reason a device carries risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id, e.g. `wannacry_exposed`.
    pub rule: String,
    pub points: u32,
    /// What a person reads: "Windows 7 SP1: no security updates since January 2023 ...".
    pub sentence: String,
    pub evidence: Vec<Evidence>,
}

/// Which fact, which value, and which catalog row or source a finding rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub field: String,
    pub value: String,
    pub catalog: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Multiplier {
    /// "clinical", "internet_facing", "site:<name>".
    pub tag: String,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub device_id: String,
    pub hostname: Option<String>,
    pub site: Option<String>,
    pub os_family: &'static str,
    pub catalog_version: u32,
    pub assessed_at: DateTime<Utc>,
    pub lifecycle: LifecycleStatus,
    pub patch_level: Option<PatchLevel>,
    pub ms17_010: Ms17Status,
    pub smb1_enabled: Option<bool>,
    pub wannacry_exposed: bool,
    /// Highest points first; ties by rule id.
    pub findings: Vec<Finding>,
    /// Windows clients only.
    pub readiness: Option<Readiness>,
    pub remedy: Remedy,
    pub multipliers: Vec<Multiplier>,
    /// Sum of finding points times the multipliers, rounded; not capped.
    pub total: u32,
    /// `total` capped at 100.
    pub score: u32,
}

impl Assessment {
    pub fn top_finding(&self) -> Option<&Finding> {
        self.findings.first()
    }

    pub fn has(&self, rule: &str) -> bool {
        self.findings.iter().any(|f| f.rule == rule)
    }
}

/// Rule ids and explanations, for the API and the docs.
pub fn rule_list() -> Vec<(&'static str, &'static str)> {
    rules::RULES.iter().map(|r| (r.id(), r.explain())).collect()
}

/// Assesses one device. Pure: same inputs, same output.
pub fn assess(
    facts: &DeviceFacts,
    catalog: &Catalog,
    now: DateTime<Utc>,
    weights: &Weights,
    exception: Option<&ExceptionInfo>,
) -> Assessment {
    let derived = derive::derive(facts, catalog, now, weights.nearing_end_days);
    let ctx = rules::Context {
        facts,
        catalog,
        now,
        weights,
        derived: &derived,
        exception,
    };
    let mut findings: Vec<Finding> = rules::RULES.iter().filter_map(|r| r.check(&ctx)).collect();
    findings.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.rule.cmp(&b.rule)));

    let is_windows_client =
        derived.os.kind == Some(crate::catalog::OsKind::Windows) && !derived.os.server;
    let readiness = is_windows_client.then(|| readiness::assess(&facts.report));

    let mut multipliers = Vec::new();
    if facts.report.tags.clinical == Some(true) {
        multipliers.push(Multiplier {
            tag: "clinical".into(),
            factor: weights.clinical_multiplier,
        });
    }
    if derived.internet_facing {
        multipliers.push(Multiplier {
            tag: "internet_facing".into(),
            factor: weights.internet_facing_multiplier,
        });
    }
    if let Some(site) = &facts.report.tags.site
        && let Some(f) = weights.site_multipliers.get(site)
    {
        multipliers.push(Multiplier {
            tag: format!("site:{site}"),
            factor: *f,
        });
    }
    if exception.is_some_and(|e| e.review_date >= now.date_naive()) {
        multipliers.push(Multiplier {
            tag: "exception:isolated".into(),
            factor: weights.isolated_multiplier,
        });
    }
    let raw: u64 = findings.iter().map(|f| u64::from(f.points)).sum();
    let factor: f64 = multipliers
        .iter()
        .map(|m| {
            if m.factor.is_finite() && m.factor > 0.0 {
                m.factor
            } else {
                1.0
            }
        })
        .product();
    let scaled = (raw as f64 * factor).round();
    let total = if scaled >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        scaled as u32
    };
    let score = total.min(100);

    let wannacry_exposed = findings.iter().any(|f| f.rule == "wannacry_exposed");
    let remedy = remedy::decide(&ctx, &findings, readiness.as_ref());

    Assessment {
        device_id: facts.device_id.clone(),
        hostname: facts.report.host.hostname.clone(),
        site: facts.report.tags.site.clone(),
        os_family: facts.report.os.family.as_str(),
        catalog_version: catalog.version,
        assessed_at: now,
        lifecycle: derived.lifecycle.clone(),
        patch_level: derived.patch_level.clone(),
        ms17_010: derived.ms17_010.clone(),
        smb1_enabled: derived.smb1_enabled,
        wannacry_exposed,
        findings,
        readiness,
        remedy,
        multipliers,
        total,
        score,
    }
}
