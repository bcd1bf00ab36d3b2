//! The rules both stores apply the same way: how a report changes a device's summary and which
//! history entries retention drops. Pure functions, so the two implementations cannot drift.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ward_shared::Report;

use super::{DeviceSummary, Retention};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Where a history entry sits in its device's history: received-at in Unix milliseconds, then
/// report id. Orders exactly like the sled history key.
pub(crate) type HistoryPos = (i64, Uuid);

/// What a store keeps per device: the public summary plus how many history entries exist now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceRow {
    pub summary: DeviceSummary,
    /// History entries currently stored for the device (after retention).
    pub history_len: u64,
}

/// The parts of a report that a device summary keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportFacts {
    pub report_id: Uuid,
    pub hostname: Option<String>,
    pub os_name: Option<String>,
}

impl ReportFacts {
    pub fn of(report: &Report) -> Self {
        Self {
            report_id: report.report_id,
            hostname: report.host.hostname.clone(),
            os_name: report.os.name.clone(),
        }
    }
}

/// The summary after storing a report (received at `received_at`) for `device_id`.
///
/// `first_seen` is the earliest and `last_seen` the latest received-at; `last_report_id`,
/// `hostname` and `os_name` come from the report with the latest received-at (on a tie, the one
/// stored last).
pub(crate) fn next_summary(
    prev: Option<&DeviceSummary>,
    device_id: Uuid,
    received_at: DateTime<Utc>,
    report: &ReportFacts,
) -> DeviceSummary {
    let newest = DeviceSummary {
        id: device_id,
        hostname: report.hostname.clone(),
        os_name: report.os_name.clone(),
        first_seen: received_at,
        last_seen: received_at,
        last_report_id: report.report_id,
        report_count: 1,
    };
    let Some(prev) = prev else {
        return newest;
    };
    let report_count = prev.report_count.saturating_add(1);
    let first_seen = prev.first_seen.min(received_at);
    if received_at >= prev.last_seen {
        DeviceSummary {
            first_seen,
            report_count,
            ..newest
        }
    } else {
        DeviceSummary {
            first_seen,
            report_count,
            ..prev.clone()
        }
    }
}

/// Which history entries to drop when a new entry joins a device's history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RetentionPlan {
    /// Existing entries to delete, oldest first.
    pub delete: Vec<HistoryPos>,
    /// The new entry itself falls outside retention (it is older than what is kept); it counts
    /// as stored but is not written to history.
    pub drop_new: bool,
}

/// Plans retention for adding `new` to a device whose existing history is `existing` (oldest
/// first, `existing_len` entries, newest received at `newest_existing_ms`).
///
/// Walks from the oldest entry and stops at the first one that is kept, so the cost is the number
/// of dropped entries plus one, not the history length. The newest entry is always kept.
pub(crate) fn plan_retention<E>(
    existing: impl Iterator<Item = Result<HistoryPos, E>>,
    existing_len: u64,
    newest_existing_ms: Option<i64>,
    new: HistoryPos,
    retention: Retention,
) -> Result<RetentionPlan, E> {
    let max = u64::try_from(retention.max_reports_per_device.max(1)).unwrap_or(u64::MAX);
    let excess = existing_len.saturating_add(1).saturating_sub(max);
    let newest_ms = newest_existing_ms.map_or(new.0, |ms| ms.max(new.0));
    let cutoff_ms = retention
        .max_age_days
        .map(|days| newest_ms.saturating_sub(i64::from(days).saturating_mul(MILLIS_PER_DAY)));

    let mut plan = RetentionPlan::default();
    let mut existing = existing.peekable();
    let mut new_pending = true;
    let mut index: u64 = 0;
    loop {
        // The next entry in the merged order: the oldest of the existing ones and the new one.
        let next_existing = match existing.peek() {
            Some(Ok(pos)) => Some(*pos),
            Some(Err(_)) => match existing.next() {
                Some(Err(e)) => return Err(e),
                _ => None,
            },
            None => None,
        };
        let (pos, is_new) = match (next_existing, new_pending) {
            (Some(old), true) if old < new => (old, false),
            (_, true) => (new, true),
            (Some(old), false) => (old, false),
            (None, false) => break,
        };
        let too_many = index < excess;
        let too_old = cutoff_ms.is_some_and(|cutoff| pos.0 < cutoff);
        if !(too_many || too_old) {
            break;
        }
        if is_new {
            new_pending = false;
            plan.drop_new = true;
        } else {
            existing.next();
            plan.delete.push(pos);
        }
        index += 1;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn plan(existing: &[HistoryPos], new: HistoryPos, retention: Retention) -> RetentionPlan {
        let newest = existing.iter().map(|p| p.0).max();
        plan_retention(
            existing.iter().map(|p| Ok::<_, Infallible>(*p)),
            existing.len() as u64,
            newest,
            new,
            retention,
        )
        .unwrap()
    }

    #[test]
    fn count_drops_oldest() {
        let r = Retention {
            max_reports_per_device: 2,
            max_age_days: None,
        };
        let existing = [(1, id(1)), (2, id(2))];
        assert_eq!(
            plan(&existing, (3, id(3)), r),
            RetentionPlan {
                delete: vec![(1, id(1))],
                drop_new: false
            }
        );
        // A late report older than everything kept is dropped itself.
        assert_eq!(
            plan(&existing, (0, id(9)), r),
            RetentionPlan {
                delete: vec![],
                drop_new: true
            }
        );
    }

    #[test]
    fn age_counts_from_newest_and_keeps_newest() {
        let r = Retention {
            max_reports_per_device: 100,
            max_age_days: Some(1),
        };
        let day = MILLIS_PER_DAY;
        let existing = [(0, id(1)), (day / 2, id(2)), (2 * day, id(3))];
        let p = plan(&existing, (2 * day + 1, id(4)), r);
        assert_eq!(p.delete, vec![(0, id(1)), (day / 2, id(2))]);
        assert!(!p.drop_new);
        // Exactly max_age_days before the newest is kept.
        let p = plan(&[(0, id(1))], (day, id(2)), r);
        assert!(p.delete.is_empty());
        // max_age_days = 0 keeps only the newest millisecond.
        let r0 = Retention {
            max_reports_per_device: 100,
            max_age_days: Some(0),
        };
        let p = plan(&[(5, id(1))], (4, id(2)), r0);
        assert_eq!(
            p,
            RetentionPlan {
                delete: vec![],
                drop_new: true
            }
        );
    }

    #[test]
    fn zero_max_reports_keeps_one() {
        let r = Retention {
            max_reports_per_device: 0,
            max_age_days: None,
        };
        let p = plan(&[(1, id(1))], (2, id(2)), r);
        assert_eq!(p.delete, vec![(1, id(1))]);
        assert!(!p.drop_new);
    }
}
