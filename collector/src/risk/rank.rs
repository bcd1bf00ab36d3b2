//! The ranking order: a total order on assessments.
//!
//! 1. score, higher first;
//! 2. WannaCry-exposed first;
//! 3. total (uncapped), higher first, so that two devices at 100 still differ;
//! 4. the single biggest finding, higher first;
//! 5. days past end of support, more first (unknown counts as 0);
//! 6. device id, ascending (ids are unique, so the order is total).
//!
//! The sort is stable, so equal keys (the same device twice) keep their input order.

use std::cmp::Ordering;

use super::Assessment;

pub fn compare(a: &Assessment, b: &Assessment) -> Ordering {
    let top = |x: &Assessment| x.findings.first().map(|f| f.points).unwrap_or(0);
    let past = |x: &Assessment| x.lifecycle.days_past_end.unwrap_or(0);
    b.score
        .cmp(&a.score)
        .then_with(|| b.wannacry_exposed.cmp(&a.wannacry_exposed))
        .then_with(|| b.total.cmp(&a.total))
        .then_with(|| top(b).cmp(&top(a)))
        .then_with(|| past(b).cmp(&past(a)))
        .then_with(|| a.device_id.cmp(&b.device_id))
}

/// Sorts assessments into ranking order (most urgent first).
pub fn rank(mut assessments: Vec<Assessment>) -> Vec<Assessment> {
    assessments.sort_by(compare);
    assessments
}
