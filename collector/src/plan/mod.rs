//! Budget planner: which devices get which remedy in which UK financial year, within each year's
//! budget, removing the most risk per pound. Pure: devices, unit costs and a budget in, a
//! [`Plan`] out; no I/O, no clock, no store.
//!
//! # Method
//!
//! The objective is *risk-years removed*: for every plan year, the estate's starting risk minus
//! the risk left after that year, summed over the years. A permanent remedy taken in year `y` of
//! `n` removes its points for `n - y` years; ESU removes its points for the one year paid.
//!
//! Years are planned in order. Each year is a 0/1 multiple-choice knapsack: every device with
//! risk left is a group of items, one per remedy option priced for that year, valued at the
//! risk-years it removes; at most one item per device per year, total cost within the year's
//! budget (unspent money does not carry over). It is solved by greedy value-per-pound with an
//! improvement pass, an exact dynamic programme over the budget in £ buckets (costs rounded UP,
//! capacity DOWN, so the budget is never exceeded; bucket count capped so the work is bounded),
//! and the same programme on the marginal devices; the best is kept (`knapsack.rs` has the
//! details and the caps). Options that cost nothing are always worth taking and always fit.
//! Devices not fixed carry their risk into the next year and compete again.
//!
//! Finally the whole plan is compared with [`greedy_plan`] (every year: options by points per
//! pound, ties by device id, taken while they fit) and the better of the two by risk-years
//! removed is returned, so the plan never removes less than the plain greedy order.
//!
//! # Model
//!
//! - Options of a device are alternatives: each brings the device down to `risk - risk_removed`.
//!   After a permanent option, a later, stronger option removes only the difference and costs in
//!   full (patch now, replace later).
//! - Recurring options (ESU) remove risk for the year paid only; the device's risk is back the
//!   next year. ESU is priced by the planner per year from [`UnitCosts`]: to cover a financial
//!   year a device needs the ESU programme year in force on 31 March, and every earlier programme
//!   year it has not paid (the cumulative rule: joining in year 2 means paying year 1 too). A
//!   financial year ending after the programme does not get ESU. The year-1 price in the option
//!   is informational.
//! - Between a permanent fix and ESU in the same year, ESU is worth one year and the fix the
//!   remaining years, so the planner buys ESU when money is short and replaces when it can
//!   afford to; in the last year the two are equal and the cheaper wins. What happens after the
//!   last plan year is not modelled.
//! - Determinism: devices are ordered by id, every tie is broken by id and then option order, and
//!   nothing depends on hashing or the input order.

mod input;
mod knapsack;
mod money;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use input::{
    Budget, DEFAULT_PENCE_PER_USD, ESU_COMMERCIAL_USD, FormFactor, PlanDevice, Points, RemedyKind,
    RemedyOption, UnitCosts, fy_label,
};
pub use money::Money;

use knapsack::{Group, Item, Metric};

/// The reason given for a device kept on ESU while a permanent fix was on offer.
pub const ESU_REASON: &str = "ESU is cheaper for the same risk this year";
/// The reason given for a device on ESU with nothing else on offer.
pub const ESU_ONLY_REASON: &str = "ESU is the only remedy offered for this device";

/// Largest amount accepted anywhere (£100bn), so the planner's integer arithmetic cannot overflow.
pub const MAX_AMOUNT: Money = Money::from_pence(10_000_000_000_000);
/// Most financial years one plan covers.
pub const MAX_YEARS: usize = 50;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("device {device} appears more than once")]
    DuplicateDevice { device: Uuid },
    #[error("device {device}: option {kind} has cost {cost}, outside 0..={max}", max = MAX_AMOUNT)]
    BadCost {
        device: Uuid,
        kind: RemedyKind,
        cost: Money,
    },
    #[error("budget for {year} is {amount}, outside 0..={max}", max = MAX_AMOUNT)]
    BadBudget { year: String, amount: Money },
    #[error("ESU price for programme year {year} is {amount}, outside 0..={max}", max = MAX_AMOUNT)]
    BadEsuPrice { year: usize, amount: Money },
    #[error("financial years {first} + {count} are out of range (at most {MAX_YEARS} years)")]
    BadYears { first: i32, count: usize },
}

/// The plan: per year what to do, then who stays on ESU and who is left with risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub years: Vec<PlanYear>,
    /// Devices put on ESU in at least one year, ordered by id.
    pub esu: Vec<EsuKeep>,
    /// Devices with risk left after the last year and not covered by ESU in it, most risk first.
    pub unfunded: Vec<Unfunded>,
    /// How the plan was made, in a sentence or three.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanYear {
    /// "2026/27".
    pub label: String,
    /// 1 April of the financial year.
    pub start: NaiveDate,
    pub budget: Money,
    pub spent: Money,
    /// Most risk removed first, then by hostname and id.
    pub actions: Vec<PlanAction>,
    /// Total risk points of the estate at the start of the year (last year's ESU has lapsed).
    pub risk_before: u64,
    /// Total risk points left during the year after its actions.
    pub risk_after: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanAction {
    pub device: Uuid,
    pub label: String,
    pub kind: RemedyKind,
    pub cost: Money,
    /// Points removed this year (beyond what earlier years' permanent fixes already removed).
    pub risk_removed: Points,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EsuKeep {
    pub device: Uuid,
    pub label: String,
    /// Financial years on ESU, e.g. ["2026/27", "2027/28"].
    pub years: Vec<String>,
    /// ESU paid over the plan.
    pub cost: Money,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unfunded {
    pub device: Uuid,
    pub label: String,
    /// Points left after the plan.
    pub residual_risk: Points,
}

impl Plan {
    /// The objective: for each year, the starting risk of the estate minus the risk left after
    /// that year, summed.
    pub fn risk_years_removed(&self) -> u64 {
        let Some(first) = self.years.first() else {
            return 0;
        };
        self.years
            .iter()
            .map(|y| first.risk_before.saturating_sub(y.risk_after))
            .sum()
    }

    pub fn total_spent(&self) -> Money {
        self.years.iter().map(|y| y.spent).sum()
    }
}

const METHOD: &str = "Each financial year in turn is solved as a knapsack: at most one remedy per \
device per year, the year's budget never exceeded, maximising risk-years removed (a permanent fix \
counts for every remaining year, ESU for the year paid); greedy by value per pound with an \
improvement pass, checked against an exact dynamic programme over the budget in £ buckets with \
costs rounded up. Devices not funded carry their risk into the next year. The result is compared \
with the plain greedy order (points removed per pound, taken while it fits) and the better plan \
is kept.";

const GREEDY_METHOD: &str = "Plain greedy order: each financial year, every remedy option by risk \
points removed per pound (ties by device id), taken while it fits in the year's budget, at most \
one per device per year.";

/// Plan remedies within the budget, most risk removed per pound (see the module doc).
pub fn plan(devices: &[PlanDevice], costs: &UnitCosts, budget: &Budget) -> Result<Plan, PlanError> {
    let devices = validate(devices, costs, budget)?;
    let mut planned = run(&devices, costs, budget, Solver::Planner);
    let greedy = run(&devices, costs, budget, Solver::Greedy);
    let basis = format!(" Unit costs: {}.", costs.basis);
    if greedy.risk_years_removed() > planned.risk_years_removed() {
        let mut greedy = greedy;
        greedy.method = format!(
            "{METHOD} Here the plain greedy order removed more risk, so its plan is used.{basis}"
        );
        return Ok(greedy);
    }
    planned.method = format!("{METHOD}{basis}");
    Ok(planned)
}

/// The baseline: the plain greedy order. Every year, each remedy option by risk points removed
/// per pound (ties by device id, then option order), taken when its device has nothing yet that
/// year and it fits in what is left. Same model, pricing and output as [`plan`].
pub fn greedy_plan(
    devices: &[PlanDevice],
    costs: &UnitCosts,
    budget: &Budget,
) -> Result<Plan, PlanError> {
    let devices = validate(devices, costs, budget)?;
    let mut plan = run(&devices, costs, budget, Solver::Greedy);
    plan.method = format!("{GREEDY_METHOD} Unit costs: {}.", costs.basis);
    Ok(plan)
}

fn in_range(m: Money) -> bool {
    !m.is_negative() && m <= MAX_AMOUNT
}

/// Checks amounts and ids; returns the devices ordered by id.
fn validate<'a>(
    devices: &'a [PlanDevice],
    costs: &UnitCosts,
    budget: &Budget,
) -> Result<Vec<&'a PlanDevice>, PlanError> {
    let bad_years = PlanError::BadYears {
        first: budget.first_year,
        count: budget.per_year.len(),
    };
    if budget.per_year.len() > MAX_YEARS {
        return Err(bad_years);
    }
    for (i, amount) in budget.per_year.iter().enumerate() {
        let fy = budget.first_year.checked_add(i as i32);
        if fy
            .and_then(|fy| NaiveDate::from_ymd_opt(fy.checked_add(1)?, 4, 1))
            .is_none()
        {
            return Err(bad_years);
        }
        if !in_range(*amount) {
            return Err(PlanError::BadBudget {
                year: fy.map(fy_label).unwrap_or_default(),
                amount: *amount,
            });
        }
    }
    for (i, amount) in costs.esu_per_device_per_year.iter().enumerate() {
        if !in_range(*amount) {
            return Err(PlanError::BadEsuPrice {
                year: i + 1,
                amount: *amount,
            });
        }
    }
    let mut sorted: Vec<&PlanDevice> = devices.iter().collect();
    sorted.sort_by_key(|d| d.id);
    for pair in sorted.windows(2) {
        if pair[0].id == pair[1].id {
            return Err(PlanError::DuplicateDevice { device: pair[0].id });
        }
    }
    for d in &sorted {
        for o in &d.options {
            if !in_range(o.cost) {
                return Err(PlanError::BadCost {
                    device: d.id,
                    kind: o.kind,
                    cost: o.cost,
                });
            }
        }
    }
    Ok(sorted)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Solver {
    Planner,
    Greedy,
}

/// A device's progress through the plan.
#[derive(Debug, Clone, Default)]
struct DeviceState {
    /// Points removed for good by permanent options so far.
    removed: Points,
    /// ESU programme years paid, `1..=esu_paid`.
    esu_paid: usize,
    esu_years: Vec<String>,
    esu_cost: Money,
    /// On ESU in some year while a permanent fix was on offer.
    esu_instead: bool,
    /// Covered by ESU in the most recent plan year.
    esu_now: bool,
}

/// What an item stands for.
#[derive(Debug, Clone, Copy)]
struct ItemRef {
    device: usize,
    option: usize,
    /// ESU years paid after taking it.
    esu_paid: usize,
    recurring: bool,
}

fn run(devices: &[&PlanDevice], costs: &UnitCosts, budget: &Budget, solver: Solver) -> Plan {
    let mut state = vec![DeviceState::default(); devices.len()];
    let n_years = budget.per_year.len();
    let mut years = Vec::with_capacity(n_years);
    for (yi, year_budget) in budget.per_year.iter().enumerate() {
        // Validated: the year and its 1 April exist.
        let fy = budget.first_year + yi as i32;
        let start = NaiveDate::from_ymd_opt(fy, 4, 1).unwrap_or_default();
        let remaining = (n_years - yi) as u64;
        let money = year_budget.pence();

        let mut groups: Vec<Group> = Vec::new();
        let mut refs: Vec<Vec<ItemRef>> = Vec::new();
        let mut risk_before = 0u64;
        for (d, dev) in devices.iter().enumerate() {
            let st = &mut state[d];
            st.esu_now = false;
            let left = dev.risk.saturating_sub(st.removed);
            risk_before += u64::from(left);
            if left == 0 {
                continue;
            }
            let mut items = Vec::new();
            let mut item_refs = Vec::new();
            for (j, opt) in dev.options.iter().enumerate() {
                let gain = opt.risk_removed.min(dev.risk).saturating_sub(st.removed);
                if gain == 0 {
                    continue;
                }
                let recurring = opt.is_recurring();
                let (cost, esu_paid) = if opt.kind == RemedyKind::Esu {
                    match costs.esu_cost(fy, st.esu_paid) {
                        Some(priced) => priced,
                        None => continue,
                    }
                } else {
                    (opt.cost, st.esu_paid)
                };
                if cost.pence() > money {
                    continue;
                }
                let gain = u64::from(gain);
                items.push(Item {
                    cost: cost.pence(),
                    gain,
                    value: gain * if recurring { 1 } else { remaining },
                });
                item_refs.push(ItemRef {
                    device: d,
                    option: j,
                    esu_paid,
                    recurring,
                });
            }
            if !items.is_empty() {
                groups.push(items);
                refs.push(item_refs);
            }
        }

        let choice = match solver {
            Solver::Planner => knapsack::solve(&groups, money),
            Solver::Greedy => knapsack::greedy(&groups, money, Metric::Gain),
        };

        let label = fy_label(fy);
        let mut actions = Vec::new();
        let mut spent = Money::ZERO;
        let mut removed = 0u64;
        for ((items, item_refs), pick) in groups.iter().zip(&refs).zip(&choice) {
            let Some(i) = *pick else { continue };
            let (item, r) = (&items[i], item_refs[i]);
            let dev = devices[r.device];
            let opt = &dev.options[r.option];
            let st = &mut state[r.device];
            let cost = Money::from_pence(item.cost);
            if r.recurring {
                if opt.kind == RemedyKind::Esu {
                    st.esu_paid = r.esu_paid;
                    st.esu_years.push(label.clone());
                    st.esu_cost += cost;
                    st.esu_now = true;
                    st.esu_instead |= dev
                        .options
                        .iter()
                        .any(|o| !o.is_recurring() && o.risk_removed.min(dev.risk) > st.removed);
                }
            } else {
                st.removed = opt.risk_removed.min(dev.risk);
            }
            spent += cost;
            removed += item.gain;
            actions.push(PlanAction {
                device: dev.id,
                label: dev.label.clone(),
                kind: opt.kind,
                cost,
                risk_removed: Points::try_from(item.gain).unwrap_or(Points::MAX),
            });
        }
        actions.sort_by(|a, b| {
            b.risk_removed
                .cmp(&a.risk_removed)
                .then_with(|| a.label.cmp(&b.label))
                .then(a.device.cmp(&b.device))
        });
        years.push(PlanYear {
            label,
            start,
            budget: *year_budget,
            spent,
            actions,
            risk_before,
            risk_after: risk_before - removed,
        });
    }

    let esu = devices
        .iter()
        .zip(&state)
        .filter(|(_, st)| !st.esu_years.is_empty())
        .map(|(dev, st)| EsuKeep {
            device: dev.id,
            label: dev.label.clone(),
            years: st.esu_years.clone(),
            cost: st.esu_cost,
            reason: if st.esu_instead {
                ESU_REASON
            } else {
                ESU_ONLY_REASON
            }
            .to_owned(),
        })
        .collect();
    let mut unfunded: Vec<Unfunded> = devices
        .iter()
        .zip(&state)
        .filter(|(dev, st)| !st.esu_now && dev.risk > st.removed)
        .map(|(dev, st)| Unfunded {
            device: dev.id,
            label: dev.label.clone(),
            residual_risk: dev.risk - st.removed,
        })
        .collect();
    unfunded.sort_by(|a, b| {
        b.residual_risk
            .cmp(&a.residual_risk)
            .then(a.device.cmp(&b.device))
    });

    Plan {
        years,
        esu,
        unfunded,
        method: String::new(),
    }
}
