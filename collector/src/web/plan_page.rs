//! The plan page: finance enters the budget per financial year, the years and the unit costs
//! (a GET form: nothing is stored, the plan is recomputed from the estate on each request), and
//! sees the phased plan, the spend per year, the risk left after each year, and what stays on
//! Windows 10 ESU. The downloads carry the same parameters.

use std::sync::Arc;

use axum::extract::{Query, State};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use super::labels::Labels;
use super::{PageError, PageUser, page, svg, text};
use crate::api::risk::{financial_year, parse_budget};
use crate::api::{AppState, blocking};
use crate::auth::Permission;
use crate::charts::{self, Bar, BarChart, Unit};
use crate::estate;
use crate::plan::{Budget, Money, UnitCosts};

#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    budget: Option<String>,
    years: Option<String>,
    first_year: Option<String>,
    desktop: Option<String>,
    laptop: Option<String>,
    server: Option<String>,
    thin_client: Option<String>,
    os_upgrade_labour: Option<String>,
    firmware_fix_labour: Option<String>,
}

fn pounds(field: &str, text: &Option<String>) -> Result<Option<Money>, PageError> {
    let Some(t) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let clean = t.trim_start_matches('£').replace([',', '_'], "");
    match clean.parse::<f64>() {
        Ok(v) if (0.0..=1e9).contains(&v) => {
            Ok(Some(Money::from_pence((v * 100.0).round() as i64)))
        }
        _ => Err(PageError::BadInput(format!(
            "{field}: {t:?} is not an amount in pounds"
        ))),
    }
}

fn int<T: std::str::FromStr>(field: &str, text: &Option<String>) -> Result<Option<T>, PageError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| PageError::BadInput(format!("{field}: {t:?} is not a whole number"))),
    }
}

fn short_money(v: f64) -> String {
    let pounds = v / 100.0;
    if pounds >= 1_000_000.0 {
        format!("£{:.1}m", pounds / 1_000_000.0)
    } else if pounds >= 10_000.0 {
        format!("£{:.0}k", pounds / 1_000.0)
    } else if pounds >= 1_000.0 {
        format!("£{:.1}k", pounds / 1_000.0)
    } else {
        format!("£{pounds:.0}")
    }
}

/// The query string of the plan shown, for the download links (the same budget, years, first
/// year and unit costs).
fn query_of(budget: &str, years: Option<usize>, first_year: i32, costs: &UnitCosts) -> String {
    let mut parts = vec![format!("budget={}", text::url_encode(budget))];
    if let Some(y) = years {
        parts.push(format!("years={y}"));
    }
    parts.push(format!("first_year={first_year}"));
    for (k, v) in [
        ("desktop", costs.desktop),
        ("laptop", costs.laptop),
        ("thin_client", costs.thin_client),
        ("server", costs.server),
        ("os_upgrade_labour", costs.os_upgrade_labour),
        ("firmware_fix_labour", costs.firmware_fix_labour),
    ] {
        parts.push(format!("{k}={}", v.pounds_decimal()));
    }
    parts.join("&")
}

pub async fn plan(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Query(f): Query<PlanForm>,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let mut costs: UnitCosts = state.estate.snapshot().ctx.unit_costs.clone();
    for (name, field, slot) in [
        ("Desktop", &f.desktop, &mut costs.desktop),
        ("Laptop", &f.laptop, &mut costs.laptop),
        ("Server", &f.server, &mut costs.server),
        ("Thin client", &f.thin_client, &mut costs.thin_client),
        (
            "OS upgrade labour",
            &f.os_upgrade_labour,
            &mut costs.os_upgrade_labour,
        ),
        (
            "Firmware fix labour",
            &f.firmware_fix_labour,
            &mut costs.firmware_fix_labour,
        ),
    ] {
        if let Some(m) = pounds(name, field)? {
            *slot = m;
        }
    }
    let years: Option<usize> = int("Years", &f.years)?;
    let first_year: i32 = int("First financial year", &f.first_year)?
        .unwrap_or_else(|| financial_year(Utc::now().date_naive()));
    let budget_text = f
        .budget
        .clone()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "250000".into());
    let years_used = Some(years.unwrap_or(3)).filter(|_| !budget_text.contains(','));
    let per_year = parse_budget(&budget_text, years_used)
        .map_err(|e| PageError::BadInput(format!("Budget: {e}")))?;
    let budget = Budget {
        first_year,
        per_year,
    };
    let plan_costs = costs.clone();
    let network = user.who.can(Permission::NetworkDetails);
    let result = blocking(move || {
        let snapshot = state.estate();
        let mut plan = estate::plan(&snapshot, &plan_costs, &budget)
            .map_err(|e| crate::api::ApiError::BadRequest(e.to_string()))?;
        // Without network details: asset labels, never host names.
        let labels = Labels::new(snapshot, network);
        for y in &mut plan.years {
            for a in &mut y.actions {
                a.label = labels.name(a.device, Some(&a.label));
            }
        }
        for e in &mut plan.esu {
            e.label = labels.name(e.device, Some(&e.label));
            e.reason = labels.text(&e.reason);
        }
        for u in &mut plan.unfunded {
            u.label = labels.name(u.device, Some(&u.label));
        }
        Ok(plan)
    })
    .await?;

    let start_risk = result.years.first().map_or(0, |y| y.risk_before);
    let risk_chart = charts::plan_risk_chart(&result, "plan-risk");
    let spend_chart = charts::bar_chart(&BarChart {
        id: "plan-spend".into(),
        title: "Spend per financial year".into(),
        unit: Unit::Pounds,
        bars: result
            .years
            .iter()
            .map(|y| {
                Bar::new(
                    format!(
                        "{} (budget {})",
                        y.label,
                        short_money(y.budget.pence() as f64)
                    ),
                    y.spent.pence() as f64 / 100.0,
                )
            })
            .collect(),
    });
    let q = query_of(&budget_text, years_used, first_year, &costs);
    let cost_input = |id: &str, label: &str, value: Money| {
        html! {
            div { label for=(id) { (label) } input id=(id) name=(id) type="text" inputmode="decimal" value=(value.pounds_decimal()); }
        }
    };
    let body = html! {
        h1 { "Replacement and upgrade plan" }
        p.lede { "Which devices to fix in which financial year (April to March) so the most risk goes first, never over the year's budget." }
        form.filters.noprint method="get" action="/plan" aria-label="Budget and costs" {
            div { label for="budget" { "Budget per year (£; or one amount per year, comma-separated)" }
                input id="budget" name="budget" type="text" inputmode="decimal" value=(budget_text); }
            div { label for="years" { "Years" } input id="years" name="years" type="number" min="1" max="10" value=(years.unwrap_or(3)); }
            div { label for="first_year" { "First financial year (starting April)" } input id="first_year" name="first_year" type="number" min="2000" max="2100" value=(first_year); }
            (cost_input("desktop", "Desktop (£)", costs.desktop))
            (cost_input("laptop", "Laptop (£)", costs.laptop))
            (cost_input("thin_client", "Thin client (£)", costs.thin_client))
            (cost_input("server", "Server (£)", costs.server))
            (cost_input("os_upgrade_labour", "OS upgrade labour (£)", costs.os_upgrade_labour))
            (cost_input("firmware_fix_labour", "Firmware fix labour (£)", costs.firmware_fix_labour))
            div { button type="submit" { "Update plan" } }
        }
        p.noprint.downloads {
            "Download: "
            a href={"/api/v1/export/plan.xlsx?" (q)} download { "spreadsheet (XLSX)" } " · "
            a href={"/api/v1/export/plan.csv?" (q)} download { "CSV" }
        }
        section.cards aria-label="Plan totals" {
            div.card { span.big { (result.total_spent().display()) } span { "spent over " (result.years.len()) " years" } }
            div.card.bad { span.big { (start_risk) } span { "risk points now" } }
            div.card.ok { span.big { (result.years.last().map_or(start_risk, |y| y.risk_after)) } span { "risk points left after the last year" } }
            div.card.warn { span.big { (result.esu.len()) } span { "devices kept on Windows 10 ESU" } }
        }
        section.wide { h2 { "Risk left after each year" } (svg(risk_chart)) }
        section {
            h2 { "Spend per year" }
            (svg(spend_chart))
            table.compact {
                thead { tr { th scope="col" { "Year" } th scope="col" class="num" { "Budget" } th scope="col" class="num" { "Spent" } th scope="col" class="num" { "Actions" } th scope="col" class="num" { "Risk at start" } th scope="col" class="num" { "Risk left" } } }
                tbody { @for y in &result.years { tr {
                    td { (y.label) } td.num { (y.budget.display()) } td.num { (y.spent.display()) } td.num { (y.actions.len()) }
                    td.num { (y.risk_before) } td.num { (y.risk_after) }
                } } }
            }
        }
        @for y in &result.years {
            section.year {
                h2 { (y.label) ": " (y.actions.len()) " actions, " (y.spent.display()) }
                @if y.actions.is_empty() { p { "Nothing funded this year." } } @else {
                    table.compact {
                        thead { tr { th scope="col" { "Device" } th scope="col" { "Action" } th scope="col" class="num" { "Cost" } th scope="col" class="num" { "Risk removed" } } }
                        tbody { @for act in &y.actions { tr {
                            td { a href={"/devices/" (act.device)} { (act.label) } } td { (act.kind.to_string()) }
                            td.num { (act.cost.display()) } td.num { (act.risk_removed) }
                        } } }
                    }
                }
            }
        }
        section {
            h2 { "What stays on Windows 10 ESU" }
            @if result.esu.is_empty() { p { "No device is kept on paid extended updates." } } @else {
                table.compact {
                    thead { tr { th scope="col" { "Device" } th scope="col" { "Years" } th scope="col" class="num" { "ESU cost" } th scope="col" { "Why" } } }
                    tbody { @for e in &result.esu { tr { td { (e.label) } td { (e.years.join(", ")) } td.num { (e.cost.display()) } td { (e.reason) } } } }
                }
            }
        }
        section {
            h2 { "Not funded in this plan" }
            p { (result.unfunded.len()) " devices still carry risk after the last year." }
        }
        details.method { summary { "How the plan is made" } p { (result.method) } }
    };
    Ok(page(&user, "Plan", body))
}
