//! The budget plan: CSV of every action with a total line per year (the format `ward-collector
//! plan --format csv` has always written), and a workbook for finance with a totals sheet, one
//! sheet per financial year, the devices kept on ESU, the devices left unfunded and the method.

use chrono::{DateTime, Utc};

use super::table::Field;
use super::{Cell, Column, Document, ExportOptions, Row, Table, network};
use crate::plan::{EsuKeep, Money, Plan, PlanAction, PlanYear, Unfunded};

const CSV_COLUMNS: [Column; 9] = [
    Column::new("year", "Financial year", 12.0),
    Column::new("device_id", "Device id", 38.0),
    Column::new("device", "Device", 24.0),
    Column::new("action", "Action", 28.0),
    Column::new("cost_gbp", "Cost (£)", 14.0),
    Column::new("risk_removed", "Risk removed", 10.0),
    Column::new("budget_gbp", "Budget (£)", 14.0),
    Column::new("risk_before", "Risk before", 10.0),
    Column::new("risk_after", "Risk after", 10.0),
];

/// One row per action (year, device id, host name, action, cost in pounds, risk points
/// removed), years in order; after each year's actions a `Total` row with the money spent, the
/// points removed, the budget and the estate's risk before and after the year.
pub fn csv_table(plan: &Plan, opts: &ExportOptions) -> Table {
    let mut rows = Vec::new();
    for year in &plan.years {
        let mut removed = 0u64;
        for a in &year.actions {
            removed += u64::from(a.risk_removed);
            rows.push(Row {
                cells: vec![
                    Cell::text(&year.label),
                    Cell::Text(a.device.to_string()),
                    Cell::text(&a.label),
                    Cell::Text(a.kind.to_string()),
                    Cell::Money(a.cost),
                    Cell::int(a.risk_removed),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ],
                total: false,
            });
        }
        rows.push(Row {
            cells: vec![
                Cell::text(&year.label),
                Cell::Empty,
                Cell::Empty,
                Cell::text("Total"),
                Cell::Money(year.spent),
                Cell::count(removed),
                Cell::Money(year.budget),
                Cell::count(year.risk_before),
                Cell::count(year.risk_after),
            ],
            total: true,
        });
    }
    let mut table = Table {
        name: "Plan".into(),
        columns: CSV_COLUMNS.to_vec(),
        rows,
    };
    if !opts.include_network_details {
        network::hide_in_table(&mut table);
    }
    table
}

fn year_fields() -> Vec<Field<PlanYear>> {
    vec![
        (Column::new("year", "Financial year", 14.0), |y| {
            Cell::text(&y.label)
        }),
        (Column::new("starts", "Starts", 12.0), |y| {
            Cell::Date(y.start)
        }),
        (Column::new("budget_gbp", "Budget (£)", 14.0), |y| {
            Cell::Money(y.budget)
        }),
        (Column::new("spent_gbp", "Spent (£)", 14.0), |y| {
            Cell::Money(y.spent)
        }),
        (Column::new("unspent_gbp", "Unspent (£)", 14.0), |y| {
            Cell::Money(y.budget - y.spent)
        }),
        (Column::new("actions", "Actions", 9.0), |y| {
            Cell::count(y.actions.len() as u64)
        }),
        (
            Column::new("risk_before", "Risk at start (points)", 12.0),
            |y| Cell::count(y.risk_before),
        ),
        (
            Column::new("risk_after", "Risk left after the year (points)", 14.0),
            |y| Cell::count(y.risk_after),
        ),
        (
            Column::new("risk_removed", "Risk removed (points)", 12.0),
            |y| Cell::count(y.risk_before.saturating_sub(y.risk_after)),
        ),
    ]
}

/// One row per financial year and a total row.
pub fn totals_table(plan: &Plan) -> Table {
    let mut table = Table::from_fields("Totals", &year_fields(), &plan.years);
    if let (Some(first), Some(last)) = (plan.years.first(), plan.years.last()) {
        let budget: Money = plan.years.iter().map(|y| y.budget).sum();
        let spent = plan.total_spent();
        let actions: usize = plan.years.iter().map(|y| y.actions.len()).sum();
        table.rows.push(Row {
            cells: vec![
                Cell::text("All years"),
                Cell::Date(first.start),
                Cell::Money(budget),
                Cell::Money(spent),
                Cell::Money(budget - spent),
                Cell::count(actions as u64),
                Cell::count(first.risk_before),
                Cell::count(last.risk_after),
                Cell::count(first.risk_before.saturating_sub(last.risk_after)),
            ],
            total: true,
        });
    }
    table
}

fn action_fields() -> Vec<Field<PlanAction>> {
    vec![
        (Column::new("device", "Device", 24.0), |a| {
            Cell::text(&a.label)
        }),
        (Column::new("device_id", "Device id", 38.0), |a| {
            Cell::Text(a.device.to_string())
        }),
        (Column::new("action", "Action", 30.0), |a| {
            Cell::Text(a.kind.to_string())
        }),
        (Column::new("cost_gbp", "Cost (£)", 14.0), |a| {
            Cell::Money(a.cost)
        }),
        (
            Column::new("risk_removed", "Risk removed (points)", 12.0),
            |a| Cell::int(a.risk_removed),
        ),
    ]
}

/// A sheet name for a financial year: `FY 2026-27` (a sheet name cannot hold `/`).
pub fn year_sheet_name(label: &str) -> String {
    format!(
        "FY {}",
        label.replace(['/', '\\', ':', '?', '*', '[', ']'], "-")
    )
}

/// One year's actions, most risk removed first, and a total row.
pub fn year_table(year: &PlanYear) -> Table {
    let mut table = Table::from_fields(
        &year_sheet_name(&year.label),
        &action_fields(),
        &year.actions,
    );
    let removed: u64 = year.actions.iter().map(|a| u64::from(a.risk_removed)).sum();
    table.rows.push(Row {
        cells: vec![
            Cell::Text(format!("Total {}", year.label)),
            Cell::Empty,
            Cell::Text(format!(
                "{} actions; budget {}",
                year.actions.len(),
                year.budget
            )),
            Cell::Money(year.spent),
            Cell::count(removed),
        ],
        total: true,
    });
    table
}

fn esu_fields() -> Vec<Field<EsuKeep>> {
    vec![
        (Column::new("device", "Device", 24.0), |e| {
            Cell::text(&e.label)
        }),
        (Column::new("device_id", "Device id", 38.0), |e| {
            Cell::Text(e.device.to_string())
        }),
        (Column::new("years", "Financial years on ESU", 22.0), |e| {
            Cell::Text(e.years.join(", "))
        }),
        (Column::new("cost_gbp", "ESU cost (£)", 14.0), |e| {
            Cell::Money(e.cost)
        }),
        (Column::wrapped("reason", "Why", 50.0), |e| {
            Cell::text(&e.reason)
        }),
    ]
}

fn unfunded_fields() -> Vec<Field<Unfunded>> {
    vec![
        (Column::new("device", "Device", 24.0), |u| {
            Cell::text(&u.label)
        }),
        (Column::new("device_id", "Device id", 38.0), |u| {
            Cell::Text(u.device.to_string())
        }),
        (Column::new("risk_left", "Risk left (points)", 12.0), |u| {
            Cell::int(u.residual_risk)
        }),
    ]
}

/// The workbook finance opens: Totals, one sheet per year, ESU, Unfunded, Method.
pub fn document(plan: &Plan, opts: &ExportOptions, created: DateTime<Utc>) -> Document {
    let mut sheets = vec![totals_table(plan)];
    sheets.extend(plan.years.iter().map(year_table));
    sheets.push(Table::from_fields("ESU", &esu_fields(), &plan.esu));
    sheets.push(Table::from_fields(
        "Unfunded",
        &unfunded_fields(),
        &plan.unfunded,
    ));
    sheets.push(Table {
        name: "Method".into(),
        columns: vec![
            Column::new("item", "Item", 18.0),
            Column::wrapped("value", "Value", 100.0),
        ],
        rows: vec![
            Row {
                cells: vec![Cell::text("Made"), Cell::DateTime(created)],
                total: false,
            },
            Row {
                cells: vec![Cell::text("How"), Cell::text(&plan.method)],
                total: false,
            },
            Row {
                cells: vec![
                    Cell::text("Risk"),
                    Cell::text(
                        "Risk is each device's score (0-100 points, docs/risk-model.md) summed over \
                         the estate. Money is in pounds sterling.",
                    ),
                ],
                total: false,
            },
        ],
    });
    if !opts.include_network_details {
        for sheet in &mut sheets {
            network::hide_in_table(sheet);
        }
    }
    let first = plan
        .years
        .first()
        .map_or_else(String::new, |y| y.label.clone());
    let last = plan
        .years
        .last()
        .map_or_else(String::new, |y| y.label.clone());
    Document {
        title: "Ward: remediation plan".into(),
        subject: format!(
            "Phased plan for financial years {first} to {last}: actions, costs and risk left"
        ),
        comment: plan.method.clone(),
        created,
        sheets,
    }
}
