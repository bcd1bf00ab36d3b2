//! The estate derived the plain way, all at once from the store, as it was before the read
//! model: the reference the read model is tested against, and what tests of the merge and the
//! engine use to see every device assessed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Assessed, RankFilter, RankRow, RiskContext, assess_merged};
use crate::devices::{self, Device};
use crate::risk::{self, ExceptionInfo};
use crate::store::{Store, StoreError};

/// Every device merged from agent reports and imports.
pub fn merged_devices(
    store: &dyn Store,
    ctx: &RiskContext,
    now: DateTime<Utc>,
) -> Result<Vec<Device>, StoreError> {
    devices::load(store, now, ctx.weights.stale_after_days)
}

/// The device `id` names, assessed.
pub fn assess_device(
    store: &dyn Store,
    ctx: &RiskContext,
    id: Uuid,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Result<Option<Assessed>, StoreError> {
    let all = merged_devices(store, ctx, now)?;
    Ok(devices::find(&all, id).map(|d| assess_merged(d, ctx, exceptions, now)))
}

/// Every device, merged, assessed and ranked.
pub fn assess_all(
    store: &dyn Store,
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Result<Vec<Assessed>, StoreError> {
    Ok(assess_devices(
        &merged_devices(store, ctx, now)?,
        ctx,
        exceptions,
        now,
    ))
}

/// Assesses merged devices, most urgent first.
pub fn assess_devices(
    devices: &[Device],
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Vec<Assessed> {
    let mut all: Vec<Assessed> = devices
        .iter()
        .map(|d| assess_merged(d, ctx, exceptions, now))
        .collect();
    all.sort_by(|a, b| risk::compare(&a.assessment, &b.assessment));
    all
}

/// The ranking rows of assessed devices, ranks counted before filtering.
pub fn ranking(all: &[Assessed], filter: &RankFilter) -> Vec<RankRow> {
    let matches = |a: &Assessed| {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        let x = &a.assessment;
        eq(&filter.site, x.site.as_deref())
            && eq(&filter.remedy, Some(&super::key(&x.remedy.class)))
            && eq(&filter.os, Some(x.os_family))
            && eq(&filter.department, a.report.tags.department.as_deref())
    };
    all.iter()
        .enumerate()
        .filter(|(_, a)| matches(a))
        .map(|(i, a)| RankRow {
            rank: i + 1,
            device_id: a.id,
            hostname: a.assessment.hostname.clone(),
            site: a.assessment.site.clone(),
            os: a.report.os.name.clone(),
            score: a.assessment.score,
            remedy: a.assessment.remedy.class,
            wannacry_exposed: a.assessment.wannacry_exposed,
            reason: a.assessment.top_finding().map_or_else(
                || a.assessment.remedy.reason.clone(),
                |f| f.sentence.clone(),
            ),
            findings: a
                .assessment
                .findings
                .iter()
                .map(|f| f.sentence.clone())
                .collect(),
        })
        .collect()
}

/// The estate of `store` derived once, with the built-in catalog and default weights and costs.
pub fn snapshot(store: &dyn Store, now: DateTime<Utc>) -> super::Snapshot {
    super::derive_once(store, default_context(), now).expect("the estate derives")
}

pub fn default_context() -> RiskContext {
    RiskContext {
        catalog: crate::catalog::Catalog::builtin().expect("the built-in catalog loads"),
        weights: crate::risk::Weights::default(),
        unit_costs: crate::plan::UnitCosts::default(),
        liveness: super::class::LivenessWindows::default(),
    }
}
