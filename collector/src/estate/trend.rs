//! The estate over time: one set of figures per day (over the active devices, by site), taken
//! from the estate's counts as the day goes and kept once the day is over. Nothing is decoded
//! from stored reports to draw the trend.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::snapshot::{Snapshot, TrendCounts};
use crate::devices::coverage::NO_SITE;

/// Days of trend kept.
pub const MAX_DAYS: usize = 800;

/// One day's figures: the estate as it stood at the end of the day (today: as it stands now).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendDay {
    pub day: NaiveDate,
    pub all: TrendCounts,
    pub by_site: BTreeMap<String, TrendCounts>,
}

impl TrendDay {
    /// The figures of a snapshot, dated the snapshot's day.
    pub fn of(snapshot: &Snapshot) -> TrendDay {
        let mut day = TrendDay {
            day: snapshot.day,
            ..TrendDay::default()
        };
        for (site, counts) in &snapshot.counts.trend_by_site {
            day.all.add(counts);
            day.by_site
                .entry(site.as_deref().unwrap_or(NO_SITE).to_owned())
                .or_default()
                .add(counts);
        }
        day
    }

    /// The figures for one site, or every site.
    pub fn site(&self, site: Option<&str>) -> TrendCounts {
        match site {
            None => self.all,
            Some(s) => self.by_site.get(s).copied().unwrap_or_default(),
        }
    }
}

/// Days kept, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Trend {
    pub days: BTreeMap<NaiveDate, TrendDay>,
}

impl Trend {
    /// Records (or replaces) a day's figures; forgets the oldest beyond [`MAX_DAYS`].
    pub fn record(&mut self, day: TrendDay) {
        self.days.insert(day.day, day);
        while self.days.len() > MAX_DAYS {
            self.days.pop_first();
        }
    }
}
