//! One year's choice: a 0/1 multiple-choice knapsack. Each device is a group of items (its
//! options priced for that year); pick at most one item per group, total cost within the budget,
//! maximising the total value (risk-years removed), ties to the cheaper selection.
//!
//! Three solvers, each result kept only when it beats the one before, so the year's result is
//! never worse than the greedy order on the same items:
//! 1. greedy by value per pound, then an improvement pass (switch a device to a better option, or
//!    add one, while the leftover money allows; repeated until nothing changes);
//! 2. an exact dynamic programme over the budget in buckets, when the instance is small enough;
//! 3. the same exact programme on a "core" of the marginal devices (the weakest chosen and the
//!    strongest left out), with the money those chosen ones took plus the leftover.
//!
//! Rounding in the programme: a bucket is `ceil(budget / buckets)` pence (at least £1), every
//! cost is rounded UP to whole buckets and the capacity DOWN, so a selection that fits in buckets
//! fits in the real budget. The number of buckets is capped ([`MAX_BUCKETS`], and so that
//! buckets x items stays under [`DP_OPS`], which bounds time and memory); when the caps force
//! fewer than [`MIN_DP_BUCKETS`] the rounding would waste too much money and the programme is
//! skipped. So the whole-year programme runs on estates up to about a thousand devices, and the
//! core pass (at most `2 * CORE` devices) runs on any estate.

use std::cmp::Ordering;

/// One option of one device, priced for the year.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    /// Pence, >= 0.
    pub cost: i64,
    /// Points removed this year.
    pub gain: u64,
    /// Risk-years removed: `gain` times the years it lasts within the plan.
    pub value: u64,
}

/// A device's items for the year.
pub(crate) type Group = Vec<Item>;
/// For each group, the index of the chosen item.
pub(crate) type Choice = Vec<Option<usize>>;

/// Which number the greedy order divides by cost.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Metric {
    /// Points removed this year (the plain greedy order).
    Gain,
    /// Risk-years removed (what the planner maximises).
    Value,
}

/// Smallest bucket: £1.
pub(crate) const MIN_BUCKET: i64 = 100;
/// Most buckets the programme uses, whatever the budget.
pub(crate) const MAX_BUCKETS: i64 = 100_000;
/// Upper bound on buckets x items: the programme's work, and (one byte per group and bucket) a
/// bound on its memory. About a quarter of a second in a debug build.
pub(crate) const DP_OPS: i64 = 3_000_000;
/// When the caps force buckets coarser than £1, fewer buckets than this and the rounding would
/// waste too much of the budget: the programme is skipped.
pub(crate) const MIN_DP_BUCKETS: i64 = 1_000;
/// Devices on each side of the greedy margin in the core pass.
pub(crate) const CORE: usize = 96;

/// Ties between equal values go to the cheaper selection: the key is `value * TIE - cost`, which
/// orders by value and then by cost as long as costs stay below 2^48 pence (checked on input).
const TIE: i128 = 1 << 48;

fn key(item: &Item) -> i128 {
    i128::from(item.value) * TIE - i128::from(item.cost)
}

pub(crate) fn total_key(groups: &[Group], choice: &Choice) -> i128 {
    groups
        .iter()
        .zip(choice)
        .filter_map(|(items, c)| c.map(|i| key(&items[i])))
        .sum()
}

pub(crate) fn total_cost(groups: &[Group], choice: &Choice) -> i64 {
    groups
        .iter()
        .zip(choice)
        .filter_map(|(items, c)| c.map(|i| items[i].cost))
        .sum()
}

/// Descending by `metric / cost`; zero cost counts as infinitely good.
fn by_ratio(a_metric: u64, a_cost: i64, b_metric: u64, b_cost: i64) -> Ordering {
    match (a_cost == 0, b_cost == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => {
            let lhs = u128::from(a_metric) * b_cost.unsigned_abs() as u128;
            let rhs = u128::from(b_metric) * a_cost.unsigned_abs() as u128;
            rhs.cmp(&lhs)
        }
    }
}

/// The plain greedy order: every item by `metric` per pound (ties: larger metric, cheaper, then
/// group order, i.e. device id, then option order), taken when its device has nothing yet and it
/// fits in what is left; items that do not fit are skipped, not the end of the list.
pub(crate) fn greedy(groups: &[Group], budget: i64, metric: Metric) -> Choice {
    let m = |it: &Item| match metric {
        Metric::Gain => it.gain,
        Metric::Value => it.value,
    };
    let mut order: Vec<(usize, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, items)| (0..items.len()).map(move |i| (g, i)))
        .filter(|&(g, i)| groups[g][i].cost <= budget && m(&groups[g][i]) > 0)
        .collect();
    order.sort_by(|&(ga, ia), &(gb, ib)| {
        let (a, b) = (&groups[ga][ia], &groups[gb][ib]);
        by_ratio(m(a), a.cost, m(b), b.cost)
            .then(m(b).cmp(&m(a)))
            .then(a.cost.cmp(&b.cost))
            .then(ga.cmp(&gb))
            .then(ia.cmp(&ib))
    });
    let mut choice: Choice = vec![None; groups.len()];
    let mut left = budget;
    for (g, i) in order {
        let cost = groups[g][i].cost;
        if choice[g].is_none() && cost <= left {
            choice[g] = Some(i);
            left -= cost;
        }
    }
    choice
}

/// Switch a device to a better option, or give one to a device without, while the leftover
/// allows. Every step raises the total key, so the result is never worse than the input.
pub(crate) fn improve(groups: &[Group], budget: i64, choice: &mut Choice) {
    let mut left = budget - total_cost(groups, choice);
    for _round in 0..8 {
        let mut changed = false;
        for (g, items) in groups.iter().enumerate() {
            let (cur_cost, cur_key) = match choice[g] {
                Some(i) => (items[i].cost, key(&items[i])),
                None => (0, 0),
            };
            let mut best: Option<(usize, i128)> = None;
            for (i, it) in items.iter().enumerate() {
                let k = key(it);
                if it.cost - cur_cost <= left && k > cur_key && best.is_none_or(|(_, bk)| k > bk) {
                    best = Some((i, k));
                }
            }
            if let Some((i, _)) = best {
                left -= items[i].cost - cur_cost;
                choice[g] = Some(i);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Exact multiple-choice knapsack over the groups `which`, with costs in buckets (see the module
/// doc). Returns the chosen item per entry of `which`, or `None` when the instance is too big for
/// a useful bucket size.
pub(crate) fn exact(groups: &[Group], which: &[usize], budget: i64) -> Option<Choice> {
    if which
        .iter()
        .any(|&g| groups[g].len() >= usize::from(u8::MAX))
    {
        return None;
    }
    let n_items: i64 = which.iter().map(|&g| groups[g].len() as i64).sum();
    let (bucket, capacity) = if budget <= 0 {
        (1, 0)
    } else {
        // £1 buckets if the caps allow, else as fine as they allow, else not at all.
        let wanted = (budget + MIN_BUCKET - 1) / MIN_BUCKET;
        let buckets = wanted.min(MAX_BUCKETS).min(DP_OPS / n_items.max(1) - 1);
        if buckets < wanted.min(MIN_DP_BUCKETS) {
            return None;
        }
        let bucket = (budget + buckets - 1) / buckets;
        (bucket, budget / bucket)
    };
    // Any selection the programme can return costs at most `budget` in real money, so
    // `value * (budget + 1) - cost` orders by value, then cheaper; it must fit in an i64.
    let tie = budget.max(0) + 1;
    let max_value: u64 = which
        .iter()
        .map(|&g| groups[g].iter().map(|it| it.value).max().unwrap_or(0))
        .sum();
    i64::try_from(max_value).ok()?.checked_mul(tie)?;
    let key = |it: &Item| it.value as i64 * tie - it.cost;

    let width = usize::try_from(capacity).ok()? + 1;
    let mut best = vec![0i64; width];
    let mut prev = vec![0i64; width];
    let mut table = vec![0u8; which.len() * width];
    for (k, &g) in which.iter().enumerate() {
        prev.copy_from_slice(&best);
        let row = &mut table[k * width..(k + 1) * width];
        for (i, item) in groups[g].iter().enumerate() {
            let w = weight(item, bucket);
            if w >= width {
                continue;
            }
            let (kv, tag) = (key(item), (i + 1) as u8);
            for ((b, r), p) in best[w..].iter_mut().zip(&mut row[w..]).zip(&prev) {
                let cand = p + kv;
                if cand > *b {
                    *b = cand;
                    *r = tag;
                }
            }
        }
    }
    let mut choice: Choice = vec![None; which.len()];
    let mut c = width - 1;
    for k in (0..which.len()).rev() {
        let tag = table[k * width + c];
        if tag > 0 {
            let i = usize::from(tag) - 1;
            choice[k] = Some(i);
            c -= weight(&groups[which[k]][i], bucket);
        }
    }
    Some(choice)
}

/// Cost in buckets, rounded up; `usize::MAX` if it does not fit in memory anyway.
fn weight(item: &Item, bucket: i64) -> usize {
    usize::try_from((item.cost + bucket - 1) / bucket).unwrap_or(usize::MAX)
}

/// Re-solve the marginal devices exactly: the `CORE` weakest chosen (lowest value per pound,
/// free ones left alone) and the `CORE` strongest left out, with their money plus the leftover.
/// Kept only if it beats the current selection of those devices.
pub(crate) fn core_pass(groups: &[Group], budget: i64, choice: &mut Choice) {
    let ratio_cmp = |a: &Item, b: &Item| by_ratio(a.value, a.cost, b.value, b.cost);
    let mut chosen: Vec<usize> = (0..groups.len())
        .filter(|&g| choice[g].is_some_and(|i| groups[g][i].cost > 0))
        .collect();
    // Weakest first: reverse of the descending ratio order.
    chosen.sort_by(|&a, &b| {
        let (ia, ib) = (
            &groups[a][choice[a].unwrap_or(0)],
            &groups[b][choice[b].unwrap_or(0)],
        );
        ratio_cmp(ib, ia).then(a.cmp(&b))
    });
    chosen.truncate(CORE);
    let left = budget - total_cost(groups, choice);
    let best_fitting = |g: usize| {
        groups[g]
            .iter()
            .filter(|it| it.cost <= budget)
            .min_by(|a, b| ratio_cmp(a, b))
    };
    let mut out: Vec<(usize, Item)> = (0..groups.len())
        .filter(|&g| choice[g].is_none())
        .filter_map(|g| best_fitting(g).map(|it| (g, *it)))
        .collect();
    out.sort_by(|(ga, a), (gb, b)| ratio_cmp(a, b).then(ga.cmp(gb)));
    out.truncate(CORE);

    let mut which: Vec<usize> = chosen
        .iter()
        .copied()
        .chain(out.iter().map(|(g, _)| *g))
        .collect();
    which.sort_unstable();
    if which.is_empty() {
        return;
    }
    let freed: i64 = chosen
        .iter()
        .filter_map(|&g| choice[g].map(|i| groups[g][i].cost))
        .sum();
    let Some(sub) = exact(groups, &which, left + freed) else {
        return;
    };
    let current: i128 = which
        .iter()
        .filter_map(|&g| choice[g].map(|i| key(&groups[g][i])))
        .sum();
    let proposed: i128 = which
        .iter()
        .zip(&sub)
        .filter_map(|(&g, c)| c.map(|i| key(&groups[g][i])))
        .sum();
    if proposed > current {
        for (&g, c) in which.iter().zip(sub) {
            choice[g] = c;
        }
    }
}

/// The planner's choice for one year (see the module doc).
pub(crate) fn solve(groups: &[Group], budget: i64) -> Choice {
    let mut choice = greedy(groups, budget, Metric::Value);
    improve(groups, budget, &mut choice);
    let all: Vec<usize> = (0..groups.len()).collect();
    if let Some(mut dp) = exact(groups, &all, budget) {
        improve(groups, budget, &mut dp);
        if total_key(groups, &dp) > total_key(groups, &choice) {
            choice = dp;
        }
    }
    core_pass(groups, budget, &mut choice);
    improve(groups, budget, &mut choice);
    debug_assert!(total_cost(groups, &choice) <= budget.max(0));
    choice
}
