use std::time::Instant;

use proptest::prelude::*;

use super::*;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn dev(n: u128, risk: Points, options: Vec<RemedyOption>) -> PlanDevice {
    PlanDevice {
        id: id(n),
        label: format!("PC{n:04}"),
        risk,
        options,
    }
}

fn opt(kind: RemedyKind, pence: i64, risk_removed: Points) -> RemedyOption {
    RemedyOption {
        kind,
        cost: Money::from_pence(pence),
        risk_removed,
        recurring: false,
    }
}

fn esu(risk_removed: Points) -> RemedyOption {
    RemedyOption::priced(RemedyKind::Esu, risk_removed, &UnitCosts::default())
}

const DESKTOP: RemedyKind = RemedyKind::ReplaceHardware {
    form_factor: FormFactor::Desktop,
};

fn budget(first_year: i32, pounds: &[i64]) -> Budget {
    Budget {
        first_year,
        per_year: pounds.iter().map(|p| Money::from_pounds(*p)).collect(),
    }
}

fn plan_ok(devices: &[PlanDevice], b: &Budget) -> Plan {
    plan(devices, &UnitCosts::default(), b).expect("valid input")
}

fn greedy_ok(devices: &[PlanDevice], b: &Budget) -> Plan {
    greedy_plan(devices, &UnitCosts::default(), b).expect("valid input")
}

/// Budget respected, money and risk add up, every action is one of the device's options.
fn check_invariants(devices: &[PlanDevice], b: &Budget, p: &Plan) {
    assert_eq!(p.years.len(), b.per_year.len());
    let total: u64 = devices.iter().map(|d| u64::from(d.risk)).sum();
    let by_id: std::collections::HashMap<Uuid, &PlanDevice> =
        devices.iter().map(|d| (d.id, d)).collect();
    for (i, y) in p.years.iter().enumerate() {
        assert_eq!(y.budget, b.per_year[i]);
        assert!(
            y.spent <= y.budget,
            "{}: spent {} of {}",
            y.label,
            y.spent,
            y.budget
        );
        assert_eq!(y.spent, y.actions.iter().map(|a| a.cost).sum::<Money>());
        let removed: u64 = y.actions.iter().map(|a| u64::from(a.risk_removed)).sum();
        assert_eq!(y.risk_after + removed, y.risk_before, "{}", y.label);
        assert!(y.risk_before <= total);
        let mut ids: Vec<Uuid> = y.actions.iter().map(|a| a.device).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), y.actions.len(), "one action per device per year");
        for a in &y.actions {
            assert!(a.risk_removed > 0);
            let d = by_id.get(&a.device).expect("known device");
            assert!(d.options.iter().any(|o| o.kind == a.kind));
        }
    }
    if let Some(first) = p.years.first() {
        assert_eq!(first.risk_before, total);
    }
}

#[test]
fn money_is_shown_in_pounds_with_separators() {
    assert_eq!(Money::ZERO.display(), "£0.00");
    assert_eq!(Money::from_pence(5).display(), "£0.05");
    assert_eq!(Money::from_pounds(678).display(), "£678.00");
    assert_eq!(Money::from_pence(1_234_567).display(), "£12,345.67");
    assert_eq!(Money::from_pounds(1_000_000).display(), "£1,000,000.00");
    assert_eq!(Money::from_pence(-510).display(), "-£5.10");
    assert_eq!(Money::from_pence(1_234_567).to_string(), "£12,345.67");
    assert_eq!(Money::from_pence(1_234_567).pounds_decimal(), "12345.67");
    assert_eq!(Money::from_pence(-7).pounds_decimal(), "-0.07");
}

#[test]
fn financial_years_are_labelled_uk_style() {
    assert_eq!(fy_label(2026), "2026/27");
    assert_eq!(fy_label(1999), "1999/00");
    let p = plan_ok(&[], &budget(2026, &[1, 1]));
    assert_eq!(p.years[0].label, "2026/27");
    assert_eq!(
        p.years[0].start,
        NaiveDate::from_ymd_opt(2026, 4, 1).expect("date")
    );
    assert_eq!(p.years[1].label, "2027/28");
}

#[test]
fn default_costs_follow_the_sources() {
    let c = UnitCosts::default();
    assert_eq!(c.desktop, Money::from_pounds(678));
    // $61/$122/$244 at 79p.
    assert_eq!(
        c.esu_per_device_per_year,
        vec![
            Money::from_pence(4_819),
            Money::from_pence(9_638),
            Money::from_pence(19_276)
        ]
    );
    assert_eq!(c.price(&RemedyKind::Esu), Money::from_pence(4_819));
    assert_eq!(
        c.price(&RemedyKind::ComponentUpgrade {
            ram: true,
            ssd: true
        }),
        Money::from_pounds(100)
    );
    assert_eq!(c.price(&RemedyKind::Patch), Money::ZERO);
    assert!(c.basis.contains("assumptions"));
}

#[test]
fn esu_price_follows_the_cumulative_rule() {
    let c = UnitCosts::default();
    let (y1, y2, y3) = (4_819, 9_638, 19_276);
    // FY 2025/26 ends 31 March 2026, inside programme year 1.
    assert_eq!(c.esu_cost(2025, 0), Some((Money::from_pence(y1), 1)));
    // FY 2026/27 ends in programme year 2 (Oct 2026 - Oct 2027): years 1 and 2.
    assert_eq!(c.esu_cost(2026, 0), Some((Money::from_pence(y1 + y2), 2)));
    assert_eq!(c.esu_cost(2026, 1), Some((Money::from_pence(y2), 2)));
    // Joining in FY 2027/28 means paying all three; renewing means paying year 3 only.
    assert_eq!(
        c.esu_cost(2027, 0),
        Some((Money::from_pence(y1 + y2 + y3), 3))
    );
    assert_eq!(c.esu_cost(2027, 2), Some((Money::from_pence(y3), 3)));
    // Programme over by March 2029; not started by March 2025.
    assert_eq!(c.esu_cost(2028, 3), None);
    assert_eq!(c.esu_cost(2024, 0), None);
}

#[test]
fn planner_beats_greedy_on_the_classic_counter_example() {
    // Budget £1,000. Greedy takes the best ratio (A: 30 points for £600) and then nothing fits;
    // B + C (20 + 20 points for £500 each) remove more.
    let devices = vec![
        dev(1, 30, vec![opt(DESKTOP, 60_000, 30)]),
        dev(2, 20, vec![opt(DESKTOP, 50_000, 20)]),
        dev(3, 20, vec![opt(DESKTOP, 50_000, 20)]),
    ];
    let b = budget(2026, &[1_000]);
    let g = greedy_ok(&devices, &b);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &g);
    check_invariants(&devices, &b, &p);
    assert_eq!(g.risk_years_removed(), 30);
    assert_eq!(p.risk_years_removed(), 40);
    let chosen: Vec<Uuid> = p.years[0].actions.iter().map(|a| a.device).collect();
    assert_eq!(chosen, vec![id(2), id(3)]);
    assert_eq!(p.years[0].spent, Money::from_pounds(1_000));
    assert_eq!(p.unfunded.len(), 1);
    assert_eq!(p.unfunded[0].device, id(1));
    assert!(!p.method.contains("plain greedy order removed more"));
}

#[test]
fn esu_is_chosen_when_cheaper_for_the_same_risk_this_year() {
    let devices = vec![dev(1, 40, vec![opt(DESKTOP, 67_800, 40), esu(40)])];
    let b = budget(2026, &[1_000]);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &p);
    let a = &p.years[0].actions;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, RemedyKind::Esu);
    // Covering FY 2026/27 needs programme years 1 and 2.
    assert_eq!(a[0].cost, Money::from_pence(4_819 + 9_638));
    assert_eq!(p.esu.len(), 1);
    assert_eq!(p.esu[0].reason, ESU_REASON);
    assert_eq!(p.esu[0].years, vec!["2026/27"]);
    assert!(p.unfunded.is_empty());
}

#[test]
fn replacement_wins_over_esu_when_it_is_affordable_for_the_years_ahead() {
    let devices = vec![dev(1, 40, vec![opt(DESKTOP, 67_800, 40), esu(40)])];
    let b = budget(2026, &[1_000, 1_000, 1_000]);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &p);
    assert_eq!(p.years[0].actions[0].kind, DESKTOP);
    assert!(p.years[1].actions.is_empty());
    assert!(p.esu.is_empty());
    assert_eq!(p.risk_years_removed(), 120);
}

#[test]
fn esu_renewal_pays_only_the_new_year() {
    // £200 a year: never enough to replace, enough for ESU each year.
    let devices = vec![dev(1, 50, vec![opt(DESKTOP, 67_800, 50), esu(50)])];
    let b = budget(2026, &[200, 200]);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &p);
    assert_eq!(p.years[0].actions[0].cost, Money::from_pence(14_457));
    assert_eq!(p.years[1].actions[0].cost, Money::from_pence(19_276));
    assert_eq!(p.years[1].risk_before, 50, "last year's ESU has lapsed");
    assert_eq!(p.years[1].risk_after, 0);
    assert_eq!(p.esu[0].years, vec!["2026/27", "2027/28"]);
    assert_eq!(p.esu[0].cost, Money::from_pence(14_457 + 19_276));
    assert!(p.unfunded.is_empty());
}

#[test]
fn joining_esu_late_pays_the_earlier_years_too() {
    let devices = vec![dev(1, 50, vec![esu(50)])];
    // Nothing in 2026/27; joining in 2027/28 costs years 1 + 2 + 3 = £337.33.
    let short = plan_ok(&devices, &budget(2026, &[0, 300]));
    assert!(short.years[1].actions.is_empty());
    assert_eq!(short.unfunded[0].residual_risk, 50);
    let enough = plan_ok(&devices, &budget(2026, &[0, 400]));
    assert_eq!(enough.years[1].actions[0].cost, Money::from_pence(33_733));
    assert_eq!(enough.esu[0].reason, ESU_ONLY_REASON);
    // 2028/29 ends after the programme: no ESU whatever the budget.
    let after = plan_ok(&devices, &budget(2028, &[10_000]));
    assert!(after.years[0].actions.is_empty());
}

#[test]
fn a_later_stronger_remedy_removes_only_the_difference() {
    let devices = vec![dev(
        1,
        60,
        vec![opt(RemedyKind::Patch, 0, 10), opt(DESKTOP, 67_800, 60)],
    )];
    let b = budget(2026, &[0, 1_000]);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &p);
    assert_eq!(p.years[0].actions[0].kind, RemedyKind::Patch);
    assert_eq!(p.years[0].risk_after, 50);
    assert_eq!(p.years[1].actions[0].kind, DESKTOP);
    assert_eq!(p.years[1].actions[0].risk_removed, 50);
    assert_eq!(p.years[1].risk_after, 0);
    assert!(p.unfunded.is_empty());
}

#[test]
fn edge_cases_zero_budget_no_years_no_devices_free_options() {
    let devices = vec![
        dev(1, 40, vec![opt(DESKTOP, 67_800, 40)]),
        dev(
            2,
            30,
            vec![opt(RemedyKind::Patch, 0, 30), opt(DESKTOP, 67_800, 30)],
        ),
        dev(3, 0, vec![opt(RemedyKind::Patch, 0, 10)]),
        dev(4, 20, vec![]),
    ];
    // Zero budget: only free options, and those always.
    let b = budget(2026, &[0]);
    let p = plan_ok(&devices, &b);
    check_invariants(&devices, &b, &p);
    assert_eq!(p.years[0].spent, Money::ZERO);
    assert_eq!(p.years[0].actions.len(), 1);
    assert_eq!(p.years[0].actions[0].device, id(2));
    let left: Vec<(Uuid, Points)> = p
        .unfunded
        .iter()
        .map(|u| (u.device, u.residual_risk))
        .collect();
    assert_eq!(left, vec![(id(1), 40), (id(4), 20)]);

    // No years: nothing planned, everything with risk unfunded.
    let none = plan_ok(&devices, &budget(2026, &[]));
    assert!(none.years.is_empty());
    assert_eq!(none.risk_years_removed(), 0);
    assert_eq!(none.unfunded.len(), 3);

    // No devices.
    let empty = plan_ok(&[], &budget(2026, &[1_000, 1_000]));
    assert!(
        empty
            .years
            .iter()
            .all(|y| y.actions.is_empty() && y.risk_before == 0)
    );
    assert!(empty.unfunded.is_empty() && empty.esu.is_empty());

    // All options free: every device gets its best one, whatever the budget.
    let free: Vec<PlanDevice> = (1..=50)
        .map(|n| {
            dev(
                n,
                50,
                vec![
                    opt(RemedyKind::Patch, 0, 20),
                    opt(RemedyKind::FixFirmware, 0, 50),
                ],
            )
        })
        .collect();
    let b = budget(2026, &[0, 0]);
    let p = plan_ok(&free, &b);
    check_invariants(&free, &b, &p);
    assert_eq!(p.years[0].actions.len(), 50);
    assert!(
        p.years[0]
            .actions
            .iter()
            .all(|a| a.kind == RemedyKind::FixFirmware)
    );
    assert_eq!(p.years[0].risk_after, 0);
    assert!(p.unfunded.is_empty());
}

#[test]
fn same_input_in_any_order_gives_the_same_plan() {
    // Many ties: identical devices, only the ids differ.
    let devices: Vec<PlanDevice> = (0..40)
        .map(|n| dev(1_000 - n, 50, vec![opt(DESKTOP, 67_800, 50), esu(50)]))
        .collect();
    let b = budget(2026, &[5_000, 5_000]);
    let p1 = plan_ok(&devices, &b);
    let p2 = plan_ok(&devices, &b);
    assert_eq!(p1, p2);
    let mut reversed = devices.clone();
    reversed.reverse();
    assert_eq!(plan_ok(&reversed, &b), p1);
}

#[test]
fn bad_input_is_refused_with_context() {
    let c = UnitCosts::default();
    let b = budget(2026, &[100]);
    let twice = vec![dev(1, 10, vec![]), dev(1, 20, vec![])];
    assert_eq!(
        plan(&twice, &c, &b),
        Err(PlanError::DuplicateDevice { device: id(1) })
    );
    let negative = vec![dev(1, 10, vec![opt(DESKTOP, -1, 10)])];
    assert!(matches!(
        plan(&negative, &c, &b),
        Err(PlanError::BadCost { .. })
    ));
    let over = budget(2026, &[-5]);
    let err = plan(&[], &c, &over).expect_err("negative budget");
    assert_eq!(
        err.to_string(),
        format!("budget for 2026/27 is -£5.00, outside 0..={MAX_AMOUNT}")
    );
    assert!(matches!(
        plan(&[], &c, &budget(i32::MAX, &[1])),
        Err(PlanError::BadYears { .. })
    ));
    let mut bad_esu = UnitCosts::default();
    bad_esu.esu_per_device_per_year[1] = Money::from_pence(-1);
    assert!(matches!(
        plan(&[], &bad_esu, &b),
        Err(PlanError::BadEsuPrice { year: 2, .. })
    ));
}

#[test]
fn types_round_trip_through_json_and_costs_load_from_partial_toml() {
    let devices = vec![dev(1, 40, vec![opt(DESKTOP, 67_800, 40), esu(40)])];
    let p = plan_ok(&devices, &budget(2026, &[1_000]));
    let json = serde_json::to_string(&p).expect("serialise");
    assert_eq!(serde_json::from_str::<Plan>(&json).expect("parse"), p);
    let kind = serde_json::to_value(DESKTOP).expect("kind");
    assert_eq!(
        kind,
        serde_json::json!({"type": "replace_hardware", "form_factor": "desktop"})
    );
    let input: PlanDevice = serde_json::from_value(serde_json::json!({
        "id": id(9), "label": "WS9", "risk": 70,
        "options": [{"kind": {"type": "esu"}, "cost": 4819, "risk_removed": 60}]
    }))
    .expect("device");
    assert!(input.options[0].is_recurring());

    let costs: UnitCosts = toml::from_str("desktop = 70000\nbasis = \"Trust price list 2026\"")
        .expect("partial config");
    assert_eq!(costs.desktop, Money::from_pounds(700));
    assert_eq!(costs.laptop, UnitCosts::default().laptop);
    assert!(toml::from_str::<UnitCosts>("desktopp = 1").is_err());
}

/// A big estate, made up deterministically.
fn estate(n: u128) -> Vec<PlanDevice> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|i| {
            let risk = 1 + next(100) as Points;
            let mut options = vec![opt(DESKTOP, 60_000 + next(20_000) as i64, risk)];
            match next(4) {
                0 => options.push(esu(risk)),
                1 => options.push(opt(RemedyKind::FixFirmware, 2_500, risk / 2)),
                2 => options.push(opt(RemedyKind::Patch, 0, risk / 4)),
                _ => {}
            }
            dev(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i, risk, options)
        })
        .collect()
}

#[test]
fn plans_twenty_thousand_devices_over_three_years() {
    let devices = estate(20_000);
    let b = budget(2026, &[1_000_000, 1_000_000, 1_000_000]);
    let t = Instant::now();
    let p = plan_ok(&devices, &b);
    let took = t.elapsed();
    check_invariants(&devices, &b, &p);
    let g = greedy_ok(&devices, &b);
    assert!(p.risk_years_removed() >= g.risk_years_removed());
    eprintln!(
        "20,000 devices x 3 years: {took:?}; risk-years removed {} (greedy {})",
        p.risk_years_removed(),
        g.risk_years_removed()
    );
    // No timing assert (shared CI machines are noisy): the time is printed for a person to read.
}

fn arb_kind() -> impl Strategy<Value = RemedyKind> {
    prop_oneof![
        Just(DESKTOP),
        Just(RemedyKind::ReplaceHardware {
            form_factor: FormFactor::Laptop
        }),
        Just(RemedyKind::UpgradeOs),
        Just(RemedyKind::FixFirmware),
        Just(RemedyKind::ComponentUpgrade {
            ram: true,
            ssd: false
        }),
        Just(RemedyKind::Patch),
        Just(RemedyKind::Esu),
    ]
}

fn arb_option() -> impl Strategy<Value = RemedyOption> {
    (
        arb_kind(),
        prop_oneof![1 => Just(0i64), 6 => 1i64..150_000],
        0u32..=100,
    )
        .prop_map(|(kind, cost, risk_removed)| RemedyOption {
            kind,
            cost: Money::from_pence(cost),
            risk_removed,
            recurring: kind == RemedyKind::Esu,
        })
}

fn arb_instance() -> impl Strategy<Value = (Vec<PlanDevice>, Budget)> {
    (
        prop::collection::vec(
            (0u32..=100, prop::collection::vec(arb_option(), 0..4)),
            0..25,
        ),
        any::<u128>(),
        2024i32..2030,
        prop::collection::vec(prop_oneof![1 => Just(0i64), 6 => 0i64..400_000], 0..4),
    )
        .prop_map(|(devs, seed, first_year, per_year)| {
            let devices = devs
                .into_iter()
                .enumerate()
                .map(|(i, (risk, options))| PlanDevice {
                    id: Uuid::from_u128(seed ^ i as u128),
                    label: format!("H{i}"),
                    risk,
                    options,
                })
                .collect();
            let budget = Budget {
                first_year,
                per_year: per_year.into_iter().map(Money::from_pence).collect(),
            };
            (devices, budget)
        })
}

proptest! {
    #[test]
    fn never_exceeds_a_years_budget((devices, b) in arb_instance()) {
        let p = plan_ok(&devices, &b);
        check_invariants(&devices, &b, &p);
        check_invariants(&devices, &b, &greedy_ok(&devices, &b));
    }

    #[test]
    fn never_removes_less_than_the_greedy_order((devices, b) in arb_instance()) {
        let p = plan_ok(&devices, &b);
        let g = greedy_ok(&devices, &b);
        prop_assert!(p.risk_years_removed() >= g.risk_years_removed());
    }

    /// In one year the knapsack alone dominates greedy, without the whole-plan fallback.
    #[test]
    fn one_year_knapsack_alone_beats_greedy((devices, mut b) in arb_instance()) {
        b.per_year.truncate(1);
        let p = plan_ok(&devices, &b);
        let g = greedy_ok(&devices, &b);
        prop_assert!(!p.method.contains("plain greedy order removed more"));
        prop_assert!(p.risk_years_removed() >= g.risk_years_removed());
    }

    #[test]
    fn input_order_does_not_change_the_plan((devices, b) in arb_instance(), rot in 0usize..25) {
        let p = plan_ok(&devices, &b);
        let mut shuffled = devices.clone();
        shuffled.reverse();
        if !shuffled.is_empty() {
            let k = rot % shuffled.len();
            shuffled.rotate_left(k);
        }
        prop_assert_eq!(plan_ok(&shuffled, &b), p);
    }
}
