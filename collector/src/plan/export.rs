//! The plan as CSV for finance: one row per action, then a total row per year.

use super::Plan;

const HEADER: [&str; 9] = [
    "year",
    "device_id",
    "device",
    "action",
    "cost_gbp",
    "risk_removed",
    "budget_gbp",
    "risk_before",
    "risk_after",
];

/// One row per action (year, device id, hostname, action, cost in pounds with two decimals, risk
/// points removed), years in order; after each year's actions a `Total` row with the money spent,
/// the points removed, the budget and the estate's risk before and after the year.
pub fn plan_csv(plan: &Plan) -> String {
    // Writing into memory has no I/O to fail and every record has the header's width.
    let bytes = write(plan).expect("writing CSV into memory cannot fail");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn write(plan: &Plan) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for year in &plan.years {
        let mut removed = 0u64;
        for a in &year.actions {
            removed += u64::from(a.risk_removed);
            w.write_record([
                year.label.clone(),
                a.device.to_string(),
                a.label.clone(),
                a.kind.to_string(),
                a.cost.pounds_decimal(),
                a.risk_removed.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ])?;
        }
        w.write_record([
            year.label.clone(),
            String::new(),
            String::new(),
            "Total".to_owned(),
            year.spent.pounds_decimal(),
            removed.to_string(),
            year.budget.pounds_decimal(),
            year.risk_before.to_string(),
            year.risk_after.to_string(),
        ])?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error().into())
}
