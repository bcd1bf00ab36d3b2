//! `GET /api/v1/export/{ranking,devices,plan}.{csv,xlsx}`: the spreadsheets, with the same query
//! parameters as the ranking (`site`, `department`, `remedy`, `os`) and the plan (`budget`, `years`,
//! `first_year`, unit costs), built by `crate::export`. [`render`] is the seam the pages use:
//! they pass [`ExportOptions`] from the signed-in user's role.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::risk::{exception_map, parse_pounds, plan_budget};
use super::{ApiError, AppState, Principal, blocking};
use crate::auth::Permission;
use crate::estate::{self, RankFilter};
use crate::export::{self, ExportOptions, Format};
use crate::plan::{Money, UnitCosts};

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Ranking,
    Devices,
    Plan,
}

impl ExportKind {
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Ranking => "ranking",
            ExportKind::Devices => "devices",
            ExportKind::Plan => "plan",
        }
    }

    fn from_name(name: &str) -> Option<ExportKind> {
        [ExportKind::Ranking, ExportKind::Devices, ExportKind::Plan]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// The query parameters of every export (each export reads the ones it needs).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ExportQuery {
    pub site: Option<String>,
    pub remedy: Option<String>,
    pub os: Option<String>,
    /// The device's department tag, as on the ranking page.
    pub department: Option<String>,
    /// Budget per financial year in pounds: one amount (with `years`) or a comma-separated list.
    pub budget: Option<String>,
    pub years: Option<usize>,
    pub first_year: Option<i32>,
    /// CSV of the device export: `devices` (default) or `findings`.
    pub table: Option<String>,
    /// CSV: start with a UTF-8 byte order mark for Excel. Default false.
    pub bom: Option<bool>,
    /// IP/MAC addresses, FQDN, domain. Default true for the admin token.
    pub network_details: Option<bool>,
}

/// Unit cost overrides in pounds, for this request only (the plan and the plan export).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CostQuery {
    pub desktop: Option<String>,
    pub laptop: Option<String>,
    pub thin_client: Option<String>,
    pub server: Option<String>,
    pub firmware_fix_labour: Option<String>,
    pub os_upgrade_labour: Option<String>,
    pub ram_upgrade: Option<String>,
    pub ssd_upgrade: Option<String>,
    /// Windows 10 ESU per device for programme years 1, 2, 3: `48.19,96.38,192.76`.
    pub esu: Option<String>,
}

impl CostQuery {
    /// `base` with the amounts given here; the basis says which were changed.
    pub fn apply(&self, base: &UnitCosts) -> Result<UnitCosts, ApiError> {
        let mut costs = base.clone();
        let mut changed = Vec::new();
        for (name, value, slot) in [
            ("desktop", &self.desktop, &mut costs.desktop),
            ("laptop", &self.laptop, &mut costs.laptop),
            ("thin_client", &self.thin_client, &mut costs.thin_client),
            ("server", &self.server, &mut costs.server),
            (
                "firmware_fix_labour",
                &self.firmware_fix_labour,
                &mut costs.firmware_fix_labour,
            ),
            (
                "os_upgrade_labour",
                &self.os_upgrade_labour,
                &mut costs.os_upgrade_labour,
            ),
            ("ram_upgrade", &self.ram_upgrade, &mut costs.ram_upgrade),
            ("ssd_upgrade", &self.ssd_upgrade, &mut costs.ssd_upgrade),
        ] {
            if let Some(text) = value {
                *slot =
                    parse_pounds(text).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))?;
                changed.push(format!("{name} {}", slot));
            }
        }
        if let Some(text) = &self.esu {
            if text.split(',').nth(3).is_some() {
                return Err(ApiError::BadRequest(
                    "esu: give one to three yearly prices, e.g. esu=48.19,96.38,192.76".into(),
                ));
            }
            let prices = text
                .split(',')
                .map(parse_pounds)
                .collect::<Result<Vec<Money>, _>>()
                .map_err(|e| ApiError::BadRequest(format!("esu: {e}")))?;
            if prices.is_empty() || prices.len() > 3 {
                return Err(ApiError::BadRequest(
                    "esu: give one to three yearly prices, e.g. esu=48.19,96.38,192.76".into(),
                ));
            }
            changed.push(format!(
                "ESU {}",
                prices
                    .iter()
                    .map(Money::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            ));
            costs.esu_per_device_per_year = prices;
        }
        if !changed.is_empty() {
            costs.basis = format!("{}; set for this plan: {}", costs.basis, changed.join(", "));
        }
        Ok(costs)
    }
}

/// A finished export, ready to send.
#[derive(Debug)]
pub struct ExportFile {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub file_name: String,
}

impl IntoResponse for ExportFile {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.file_name);
        let mut response = self.bytes.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.format.content_type()),
        );
        // The name is ASCII made by `export::file_name`; fall back to a plain one regardless.
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition)
                .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// Builds one export from the store (blocking: call it off the async threads).
pub fn render(
    state: &AppState,
    kind: ExportKind,
    format: Format,
    q: &ExportQuery,
    costs: &CostQuery,
    opts: &ExportOptions,
    now: DateTime<Utc>,
) -> Result<ExportFile, ApiError> {
    let internal = |e: export::ExportError| ApiError::Internal(e.to_string());
    let findings = match q.table.as_deref() {
        None | Some("devices") => false,
        Some("findings") if kind == ExportKind::Devices && format == Format::Csv => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "table {other:?}: only devices.csv takes table=devices or table=findings \
                 (the XLSX has both sheets)"
            )));
        }
    };
    let filter = RankFilter {
        site: q.site.clone(),
        remedy: q.remedy.clone(),
        os: q.os.clone(),
        department: q.department.clone(),
    };
    // Checked before any work, so a bad request costs nothing.
    let plan_input = if kind == ExportKind::Plan {
        Some((
            plan_budget(q.budget.as_deref(), q.years, q.first_year, now.date_naive())?,
            costs.apply(&state.risk.unit_costs)?,
        ))
    } else {
        None
    };
    let exceptions = exception_map(state.store.as_ref())?;
    let all = estate::assess_all(state.store.as_ref(), &state.risk, &exceptions, now)?;
    let catalog = state.risk.catalog.info();
    let bytes = match (kind, format, plan_input) {
        (ExportKind::Ranking, Format::Csv, _) => export::csv(
            &export::ranking::table(&estate::ranking(&all, &filter), opts),
            opts,
        ),
        (ExportKind::Ranking, Format::Xlsx, _) => {
            export::ranking::document(&estate::ranking(&all, &filter), opts, now, &catalog).xlsx()
        }
        (ExportKind::Devices, format, _) => {
            let devices = export::devices::select(&all, &filter);
            match format {
                Format::Csv if findings => {
                    export::csv(&export::devices::findings_table(&devices, opts), opts)
                }
                Format::Csv => export::csv(&export::devices::device_table(&devices, opts), opts),
                Format::Xlsx => export::devices::document(&devices, opts, now, &catalog).xlsx(),
            }
        }
        (ExportKind::Plan, format, Some((budget, unit_costs))) => {
            let plan = estate::plan(&all, &unit_costs, &budget)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            match format {
                Format::Csv => export::csv(&export::plan::csv_table(&plan, opts), opts),
                Format::Xlsx => export::plan::document(&plan, opts, now).xlsx(),
            }
        }
        (ExportKind::Plan, _, None) => {
            return Err(ApiError::Internal("plan export without a budget".into()));
        }
    }
    .map_err(internal)?;
    let name = if findings { "findings" } else { kind.name() };
    Ok(ExportFile {
        bytes,
        format,
        file_name: export::file_name(name, format, now.date_naive()),
    })
}

/// `GET /api/v1/export/{file}` with `file` one of `ranking|devices|plan` `.csv|.xlsx`.
pub async fn download(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    q: Result<Query<ExportQuery>, QueryRejection>,
    costs: Result<Query<CostQuery>, QueryRejection>,
) -> Result<ExportFile, ApiError> {
    who.require(Permission::Read)?;
    let bad = |e: QueryRejection| ApiError::BadRequest(e.body_text());
    let (Query(q), Query(costs)) = (q.map_err(bad)?, costs.map_err(bad)?);
    let unknown = || {
        ApiError::NotFound(format!(
            "no export {file:?}: use ranking, devices or plan, each .csv or .xlsx"
        ))
    };
    let (name, ext) = file.rsplit_once('.').ok_or_else(unknown)?;
    let kind = ExportKind::from_name(name).ok_or_else(unknown)?;
    let format = Format::from_extension(ext).ok_or_else(unknown)?;
    let opts = ExportOptions {
        // Finance never gets network details, whatever it asks for.
        include_network_details: q.network_details.unwrap_or(true)
            && who.can(Permission::NetworkDetails),
        csv_bom: q.bom.unwrap_or(false),
    };
    blocking(move || render(&state, kind, format, &q, &costs, &opts, Utc::now())).await
}
