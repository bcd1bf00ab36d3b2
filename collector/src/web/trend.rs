//! The estate over time, from the stored history: at each of a few points in time, every device
//! as its newest report before that point showed it, assessed as of that point.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::estate::RiskContext;
use crate::risk::{self, DeviceFacts, ExceptionInfo, LifecycleState};
use crate::store::{Store, StoreError};

/// Reports read per device at most (the history is kept to 400 by default).
const MAX_HISTORY: usize = 400;

#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub at: DateTime<Utc>,
    pub devices: usize,
    pub unsupported: usize,
    pub wannacry: usize,
    pub win11_ready: usize,
}

/// `points` evenly spaced times from the first report stored to `now`.
pub fn trend(
    store: &dyn Store,
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
    points: usize,
) -> Result<Vec<TrendPoint>, StoreError> {
    let devices = store.devices()?;
    let Some(first) = devices.iter().map(|d| d.first_seen).min() else {
        return Ok(Vec::new());
    };
    let points = points.max(2);
    let span = now - first;
    let times: Vec<DateTime<Utc>> = (0..points)
        .map(|i| first + span * i as i32 / (points as i32 - 1))
        .collect();
    let mut out: Vec<TrendPoint> = times
        .iter()
        .map(|&at| TrendPoint {
            at,
            devices: 0,
            unsupported: 0,
            wannacry: 0,
            win11_ready: 0,
        })
        .collect();
    for d in &devices {
        let history = store.history(d.id, MAX_HISTORY)?;
        for point in &mut out {
            // Newest first: the first one received by then.
            let Some(entry) = history.iter().find(|h| h.received_at <= point.at) else {
                continue;
            };
            let facts = DeviceFacts::new(d.id.to_string(), entry.report.clone(), entry.received_at);
            let a = risk::assess(
                &facts,
                &ctx.catalog,
                point.at,
                &ctx.weights,
                exceptions.get(&d.id),
            );
            point.devices += 1;
            point.unsupported += usize::from(a.lifecycle.state == LifecycleState::EndOfSupport);
            point.wannacry += usize::from(a.wannacry_exposed);
            point.win11_ready += usize::from(
                a.readiness
                    .as_ref()
                    .is_some_and(|r| r.verdict == risk::ReadinessVerdict::Capable),
            );
        }
    }
    Ok(out)
}
