//! The collector's metrics in Prometheus text format (`GET /metrics`).
//!
//! Counters and the ingest histogram live in one process-wide [`METRICS`] (atomics; the
//! rejection counters behind a mutex, touched only on refused requests); gauges (devices by
//! state, agents, store sizes) are read from the store at scrape time. Hand-rolled: a handful of
//! series does not need a metrics framework.
//!
//! Series (all prefixed `ward_`):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `reports_received_total` | counter | `outcome`: stored, duplicate |
//! | `reports_rejected_total` | counter | `reason`: the API error code (invalid_report, payload_too_large, unknown_agent_key, storage_unavailable, ...) |
//! | `ingest_duration_seconds` | histogram | (report requests, from the first byte read to the answer) |
//! | `enrollments_total` | counter | `outcome`: accepted, refused |
//! | `devices` | gauge | `state`: active, stale (no report for `weights.stale_after_days`) |
//! | `agents` | gauge | `state`: active, revoked |
//! | `store_reports` | gauge | (history entries kept) |
//! | `store_size_bytes` | gauge | (the store's size on disk) |
//! | `store_write_queue` | gauge | (writes queued for the committer; the collector's own spool) |
//! | `agent_spool_reports` | gauge | (reports waiting in active agents' spools, as each said at its last delivery since the collector started) |
//! | `agents_with_spool_backlog` | gauge | (active agents whose spool held more than the report they were sending) |
//! | `build_info` | gauge | `version` |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};

/// Upper bounds of the ingest histogram, in seconds.
pub const INGEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub static METRICS: Metrics = Metrics::new();

/// The error code a refused request answered with, set by `ApiError` on its response.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[derive(Debug)]
pub struct Metrics {
    stored: AtomicU64,
    duplicate: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    enroll_accepted: AtomicU64,
    enroll_refused: AtomicU64,
    ingest_buckets: [AtomicU64; INGEST_BUCKETS.len()],
    ingest_count: AtomicU64,
    ingest_sum_micros: AtomicU64,
    /// Each agent's spool backlog at its last delivery (header [`SPOOL_DEPTH_HEADER`]).
    ///
    /// [`SPOOL_DEPTH_HEADER`]: ward_shared::api::SPOOL_DEPTH_HEADER
    spools: Mutex<BTreeMap<uuid::Uuid, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub const fn new() -> Self {
        Self {
            stored: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
            enroll_accepted: AtomicU64::new(0),
            enroll_refused: AtomicU64::new(0),
            ingest_buckets: [const { AtomicU64::new(0) }; INGEST_BUCKETS.len()],
            ingest_count: AtomicU64::new(0),
            ingest_sum_micros: AtomicU64::new(0),
            spools: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn report_received(&self, stored: bool) {
        let counter = if stored {
            &self.stored
        } else {
            &self.duplicate
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn report_rejected(&self, reason: &'static str) {
        let mut rejected = self
            .rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *rejected.entry(reason).or_default() += 1;
    }

    /// An agent delivered a report with `waiting` others behind it in its spool.
    pub fn agent_spool(&self, agent: uuid::Uuid, waiting: u64) {
        self.spools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(agent, waiting);
    }

    /// The summed backlog and the agents with one, over `active` agents only.
    fn spool_backlog(&self, active: &std::collections::HashSet<uuid::Uuid>) -> (u64, usize) {
        let spools = self
            .spools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        spools
            .iter()
            .filter(|(agent, _)| active.contains(agent))
            .fold((0, 0), |(sum, with), (_, &waiting)| {
                (sum.saturating_add(waiting), with + usize::from(waiting > 0))
            })
    }

    pub fn enrollment(&self, accepted: bool) {
        let counter = if accepted {
            &self.enroll_accepted
        } else {
            &self.enroll_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ingest_took(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in INGEST_BUCKETS.iter().zip(&self.ingest_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.ingest_count.fetch_add(1, Ordering::Relaxed);
        self.ingest_sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The counters and histogram as Prometheus text.
    fn render_counters(&self, out: &mut String) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP ward_reports_received_total Reports acknowledged, by outcome.\n\
             # TYPE ward_reports_received_total counter\n\
             ward_reports_received_total{{outcome=\"stored\"}} {}\n\
             ward_reports_received_total{{outcome=\"duplicate\"}} {}",
            load(&self.stored),
            load(&self.duplicate)
        );
        let _ = writeln!(
            out,
            "# HELP ward_reports_rejected_total Report requests refused, by reason (the API error code).\n\
             # TYPE ward_reports_rejected_total counter"
        );
        let rejected = self
            .rejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (reason, n) in rejected {
            let _ = writeln!(
                out,
                "ward_reports_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP ward_enrollments_total Enrollment requests, by outcome.\n\
             # TYPE ward_enrollments_total counter\n\
             ward_enrollments_total{{outcome=\"accepted\"}} {}\n\
             ward_enrollments_total{{outcome=\"refused\"}} {}",
            load(&self.enroll_accepted),
            load(&self.enroll_refused)
        );
        let _ = writeln!(
            out,
            "# HELP ward_ingest_duration_seconds Time to answer a report request.\n\
             # TYPE ward_ingest_duration_seconds histogram"
        );
        for (bound, bucket) in INGEST_BUCKETS.iter().zip(&self.ingest_buckets) {
            let _ = writeln!(
                out,
                "ward_ingest_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let count = load(&self.ingest_count);
        let _ = writeln!(
            out,
            "ward_ingest_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             ward_ingest_duration_seconds_sum {}\n\
             ward_ingest_duration_seconds_count {count}",
            load(&self.ingest_sum_micros) as f64 / 1e6
        );
    }
}

/// The whole exposition: counters, then gauges read from `store` (blocking: call off the
/// async threads). `stale_after_days` splits devices into active and stale.
pub fn render(
    store: &dyn Store,
    stale_after_days: u32,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let mut out = String::with_capacity(4096);
    METRICS.render_counters(&mut out);
    let stale_before = now - chrono::Duration::days(i64::from(stale_after_days));
    let devices = store.devices()?;
    let stale = devices
        .iter()
        .filter(|d| d.last_seen < stale_before)
        .count();
    let agents = store.agents()?;
    let revoked = agents.iter().filter(|a| a.revoked).count();
    let _ = writeln!(
        out,
        "# HELP ward_devices Devices known, by state (stale: no report for {stale_after_days} days).\n\
         # TYPE ward_devices gauge\n\
         ward_devices{{state=\"active\"}} {}\n\
         ward_devices{{state=\"stale\"}} {stale}\n\
         # HELP ward_agents Enrolled agents, by state.\n\
         # TYPE ward_agents gauge\n\
         ward_agents{{state=\"active\"}} {}\n\
         ward_agents{{state=\"revoked\"}} {revoked}\n\
         # HELP ward_store_reports Reports kept in the store (history entries).\n\
         # TYPE ward_store_reports gauge\n\
         ward_store_reports {}",
        devices.len() - stale,
        agents.len() - revoked,
        store.report_count()?,
    );
    let active: std::collections::HashSet<uuid::Uuid> =
        agents.iter().filter(|a| !a.revoked).map(|a| a.id).collect();
    let (waiting, with_backlog) = METRICS.spool_backlog(&active);
    let _ = writeln!(
        out,
        "# HELP ward_agent_spool_reports Reports waiting in active agents' spools, as each agent \
         said at its last delivery since the collector started.\n\
         # TYPE ward_agent_spool_reports gauge\n\
         ward_agent_spool_reports {waiting}\n\
         # HELP ward_agents_with_spool_backlog Active agents whose spool held other reports at \
         their last delivery.\n\
         # TYPE ward_agents_with_spool_backlog gauge\n\
         ward_agents_with_spool_backlog {with_backlog}"
    );
    let sizes = store.sizes();
    if let Some(bytes) = sizes.on_disk_bytes {
        let _ = writeln!(
            out,
            "# HELP ward_store_size_bytes The store's size on disk.\n\
             # TYPE ward_store_size_bytes gauge\n\
             ward_store_size_bytes {bytes}"
        );
    }
    if let Some(queued) = sizes.write_queue {
        let _ = writeln!(
            out,
            "# HELP ward_store_write_queue Writes waiting for the store's committer.\n\
             # TYPE ward_store_write_queue gauge\n\
             ward_store_write_queue {queued}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP ward_build_info The collector's version.\n\
         # TYPE ward_build_info gauge\n\
         ward_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    Ok(out)
}

/// Middleware: times report requests and counts refused reports and enrollments by reason.
pub async fn track(request: Request, next: Next) -> Response {
    let kind = if request.method() == Method::POST {
        match request.uri().path() {
            ward_shared::api::REPORTS_PATH => Some(true),
            ward_shared::api::ENROLL_PATH => Some(false),
            _ => None,
        }
    } else {
        None
    };
    let Some(is_report) = kind else {
        return next.run(request).await;
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let ok = response.status() == StatusCode::OK;
    if is_report {
        METRICS.ingest_took(started.elapsed());
        if !ok {
            let reason = response
                .extensions()
                .get::<ErrorCode>()
                .map_or("other", |c| c.0);
            METRICS.report_rejected(reason);
        }
    } else {
        METRICS.enrollment(ok);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.ingest_took(Duration::from_micros(500));
        m.ingest_took(Duration::from_millis(30));
        m.ingest_took(Duration::from_secs(10));
        m.report_rejected("invalid_report");
        m.report_rejected("invalid_report");
        let mut out = String::new();
        m.render_counters(&mut out);
        assert!(
            out.contains("ward_ingest_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("ward_ingest_duration_seconds_bucket{le=\"0.05\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("ward_ingest_duration_seconds_bucket{le=\"5\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("ward_ingest_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("ward_ingest_duration_seconds_count 3\n"),
            "{out}"
        );
        assert!(
            out.contains("ward_reports_rejected_total{reason=\"invalid_report\"} 2\n"),
            "{out}"
        );
    }
}
