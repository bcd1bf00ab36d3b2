//! The risk API: ranking, per-device assessment, estate summary, budget plan, catalog, and the
//! exceptions register. Every estate view reads the estate's current snapshot (`crate::estate`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::export::CostQuery;
use super::{ApiError, AppState, Principal, blocking, parse_id};
use crate::auth::Permission;
use crate::catalog::CatalogInfo;
use crate::estate::{self, RankQuery, RankRow};
use crate::export::ExportOptions;
use crate::plan::{Budget, Money};
use crate::risk::{Assessment, ExceptionInfo};
use crate::store::{ExceptionRecord, Store};

const MAX_PLAN_YEARS: usize = 10;

/// Exceptions by device, as the engine takes them.
pub fn exception_map(store: &dyn Store) -> Result<HashMap<Uuid, ExceptionInfo>, ApiError> {
    Ok(estate::exception_map(store)?)
}

#[derive(Debug, Serialize)]
pub struct RankingPage {
    pub catalog: CatalogInfo,
    /// Devices matching the filters and the search.
    pub total: usize,
    /// Devices in the estate.
    pub estate: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    pub rows: Vec<RankRow>,
}

/// `GET /api/v1/rankings`: a page of the ranking (`?page=&per_page=50|100|500`), filtered by
/// site, department, remedy and OS family, searched (`q`) and sorted (`sort`) as the ranking
/// page is.
pub async fn rankings(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Query(q): Query<RankQuery>,
) -> Result<Json<RankingPage>, ApiError> {
    who.require(Permission::Read)?;
    let network = who.can(Permission::NetworkDetails);
    let page = blocking(move || {
        let snapshot = state.estate();
        let page = snapshot.ranking(&q, network);
        Ok(RankingPage {
            catalog: snapshot.catalog(),
            total: page.matching,
            estate: page.estate,
            page: page.page,
            pages: page.pages,
            per_page: page.per_page,
            rows: estate::rank_rows(&page),
        })
    })
    .await?;
    Ok(Json(page))
}

pub async fn assessment(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Assessment>, ApiError> {
    who.require(Permission::Read)?;
    let id = parse_id(&id)?;
    let assessed = blocking(move || {
        let snapshot = state.estate();
        Ok(estate::device(
            state.store.as_ref(),
            &snapshot,
            id,
            Utc::now(),
        )?)
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no device {id} with a report")))?;
    let mut assessment = assessed.1.assessment;
    if !who.can(Permission::NetworkDetails) {
        super::redact::assessment(&mut assessment);
    }
    Ok(Json(assessment))
}

pub async fn summary(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<estate::Summary>, ApiError> {
    who.require(Permission::Read)?;
    let summary = blocking(move || Ok(state.estate().summary())).await?;
    Ok(Json(summary))
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    /// Budget per financial year in pounds: one amount (with `years`) or a comma-separated list.
    budget: Option<String>,
    years: Option<usize>,
    /// First financial year by its starting calendar year (2026 = 2026/27); default the current one.
    first_year: Option<i32>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The financial year (April to March) that `date` falls in, by its starting year.
pub fn financial_year(date: NaiveDate) -> i32 {
    if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// Parses one amount in pounds: "250000", "£1_200.50".
pub fn parse_pounds(text: &str) -> Result<Money, String> {
    let a = text.trim().trim_start_matches('£').replace('_', "");
    let pounds: f64 = a
        .parse()
        .map_err(|_| format!("{a:?} is not an amount in pounds"))?;
    if !(0.0..=1e11).contains(&pounds) {
        return Err(format!("{a} is out of range"));
    }
    Ok(Money::from_pence((pounds * 100.0).round() as i64))
}

/// The budget from the plan's query parameters (`budget`, `years`, `first_year`); the first year
/// defaults to the financial year `today` is in.
pub fn plan_budget(
    budget: Option<&str>,
    years: Option<usize>,
    first_year: Option<i32>,
    today: NaiveDate,
) -> Result<Budget, ApiError> {
    let text = budget.ok_or_else(|| {
        ApiError::BadRequest("budget is required, e.g. ?budget=250000&years=3".into())
    })?;
    let per_year = parse_budget(text, years).map_err(ApiError::BadRequest)?;
    Ok(Budget {
        first_year: first_year.unwrap_or_else(|| financial_year(today)),
        per_year,
    })
}

/// Parses "250000" or "250000,200000.50" (pounds) into one amount per year. Sizes come from the
/// request, so both the count of amounts and `years` are checked against [`MAX_PLAN_YEARS`]
/// before anything is allocated for them.
pub fn parse_budget(text: &str, years: Option<usize>) -> Result<Vec<Money>, String> {
    let out_of_range = || format!("give between 1 and {MAX_PLAN_YEARS} years of budget");
    if let Some(n) = years
        && (n == 0 || n > MAX_PLAN_YEARS)
    {
        return Err(out_of_range());
    }
    if text.split(',').nth(MAX_PLAN_YEARS).is_some() {
        return Err(out_of_range());
    }
    let amounts = text
        .split(',')
        .map(parse_pounds)
        .collect::<Result<Vec<_>, _>>()?;
    let amounts = match (amounts.as_slice(), years) {
        ([one], Some(n)) => vec![*one; n],
        (_, Some(n)) if n != amounts.len() => {
            return Err(format!(
                "{} budget amounts given but years = {n}",
                amounts.len()
            ));
        }
        _ => amounts,
    };
    if amounts.is_empty() || amounts.len() > MAX_PLAN_YEARS {
        return Err(out_of_range());
    }
    Ok(amounts)
}

pub async fn plan(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Query(q): Query<PlanQuery>,
    Query(costs): Query<CostQuery>,
) -> Result<Response, ApiError> {
    who.require(Permission::Read)?;
    let budget = plan_budget(
        q.budget.as_deref(),
        q.years,
        q.first_year,
        Utc::now().date_naive(),
    )?;
    let snapshot = state.estate.snapshot();
    let unit_costs = costs.apply(&snapshot.ctx.unit_costs)?;
    drop(snapshot);
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?}: use json or csv"
            )));
        }
    };
    let result = blocking(move || {
        estate::plan(&state.estate(), &unit_costs, &budget)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    })
    .await?;
    let mut result = result;
    if !who.can(Permission::NetworkDetails) {
        super::redact::plan(&mut result);
    }
    if csv {
        let opts = ExportOptions {
            include_network_details: who.can(Permission::NetworkDetails),
            csv_bom: false,
        };
        let table = crate::export::plan::csv_table(&result, &opts);
        let bytes =
            crate::export::csv(&table, &opts).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"ward-plan.csv\"",
                ),
            ],
            bytes,
        )
            .into_response());
    }
    Ok(Json(result).into_response())
}

pub async fn catalog(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<CatalogInfo>, ApiError> {
    who.require(Permission::Read)?;
    Ok(Json(state.estate.snapshot().catalog()))
}

/// The estate's state, for operators and tools: whether the first derivation is done, how many
/// devices, which change it includes.
#[derive(Debug, Serialize)]
pub struct EstateStatus {
    pub ready: bool,
    pub version: u64,
    pub devices: usize,
    pub changed_at: chrono::DateTime<Utc>,
    /// The day the date-dependent rules were judged for.
    pub day: NaiveDate,
    pub catalog: CatalogInfo,
    /// What the writer is doing or did last (`ready`, `agent devices assessed`...) and its count.
    pub phase: String,
    pub done: u64,
    pub last_error: Option<String>,
}

/// `GET /api/v1/estate`: [`EstateStatus`].
pub async fn estate_status(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<EstateStatus>, ApiError> {
    who.require(Permission::Read)?;
    let s = state.estate.snapshot();
    let status = state.estate.status();
    Ok(Json(EstateStatus {
        ready: s.ready,
        version: s.version,
        devices: s.len(),
        changed_at: s.changed_at,
        day: s.day,
        catalog: s.catalog(),
        phase: status.phase,
        done: status.done,
        last_error: status.last_error,
    }))
}

/// Largest catalog accepted (the built-in one is about 300 KB).
const MAX_CATALOG_BYTES: usize = 16 << 20;

/// `POST /api/v1/catalog`: installs a newer catalog (the JSON of `ward-collector catalog
/// import`) and judges the whole estate by it again in the background; until that is done the
/// previous assessments keep being served. Admin only, audited.
pub async fn import_catalog(
    who: Principal,
    State(state): State<Arc<AppState>>,
    body: axum::body::Body,
) -> Result<Json<CatalogInfo>, ApiError> {
    who.require(Permission::Administer)?;
    let bytes = super::ingest::read_body(body, MAX_CATALOG_BYTES).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("the catalog is not UTF-8 text".into()))?;
    let catalog = crate::catalog::Catalog::from_json(&text)
        .map_err(|e| ApiError::Invalid(format!("not a valid catalog: {e}")))?;
    let current = state.estate.snapshot().ctx.clone();
    if catalog.version < current.catalog.version {
        return Err(ApiError::Invalid(format!(
            "catalog version {} ({}) is older than the one in use: version {} ({})",
            catalog.version, catalog.date, current.catalog.version, current.catalog.date
        )));
    }
    let info = catalog.info();
    let actor = who.actor();
    blocking(move || {
        if let Some(dir) = &state.data_dir {
            estate::install_catalog(dir, &text)
                .map_err(|e| ApiError::Internal(format!("cannot install the catalog: {e}")))?;
        }
        crate::auth::audit(
            state.store.as_ref(),
            &actor,
            "catalog.import",
            &format!("version {}", catalog.version),
            &catalog.date.to_string(),
        )?;
        tracing::info!(
            version = catalog.version,
            "catalog installed; the estate is derived again"
        );
        state.estate.set_context(estate::RiskContext {
            catalog,
            ..estate::RiskContext::clone(&current)
        });
        Ok(())
    })
    .await?;
    Ok(Json(info))
}

/// What a security lead records for a device that cannot be changed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewException {
    pub device_id: Uuid,
    pub reason: String,
    #[serde(default)]
    pub controls: Vec<String>,
    pub owner: String,
    pub review_date: NaiveDate,
}

impl NewException {
    /// Checks and turns the request into a record; also used by the CLI.
    pub fn into_record(self, today: NaiveDate) -> Result<ExceptionRecord, String> {
        let text_ok = |name: &str, v: &str| {
            if v.trim().is_empty() {
                Err(format!("{name} must not be empty"))
            } else if v.len() > 1024 {
                Err(format!("{name} is longer than 1024 bytes"))
            } else {
                Ok(())
            }
        };
        text_ok("reason", &self.reason)?;
        text_ok("owner", &self.owner)?;
        if self.controls.len() > 32 {
            return Err("at most 32 controls".into());
        }
        for c in &self.controls {
            text_ok("a control", c)?;
        }
        if self.review_date <= today {
            return Err(format!(
                "review_date {} must be in the future",
                self.review_date
            ));
        }
        Ok(ExceptionRecord {
            device_id: self.device_id,
            reason: self.reason.trim().to_owned(),
            controls: self.controls.iter().map(|c| c.trim().to_owned()).collect(),
            owner: self.owner.trim().to_owned(),
            review_date: self.review_date,
            recorded_at: Utc::now(),
        })
    }
}

pub async fn add_exception(
    who: Principal,
    State(state): State<Arc<AppState>>,
    body: axum::body::Body,
) -> Result<Json<ExceptionRecord>, ApiError> {
    who.require(Permission::ManageExceptions)?;
    let bytes = super::ingest::read_body(body, 64 * 1024).await?;
    let new: NewException = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("exception is not valid: {e}")))?;
    let record = new
        .into_record(Utc::now().date_naive())
        .map_err(ApiError::Invalid)?;
    let stored = record.clone();
    let actor = who.actor();
    blocking(move || {
        let snapshot = state.estate();
        save_exception(
            state.store.as_ref(),
            &|id| snapshot.row(id).is_some(),
            &actor,
            &stored,
        )?;
        state.estate.exceptions_changed();
        state.estate();
        Ok(())
    })
    .await?;
    tracing::info!(device = %record.device_id, owner = %record.owner, review = %record.review_date, "exception recorded");
    Ok(Json(record))
}

pub async fn list_exceptions(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<ExceptionRecord>>, ApiError> {
    who.require(Permission::Read)?;
    Ok(Json(blocking(move || Ok(state.store.exceptions()?)).await?))
}

pub async fn delete_exception(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::ManageExceptions)?;
    let id = parse_id(&id)?;
    let actor = who.actor();
    if !blocking(move || {
        let removed = remove_exception(state.store.as_ref(), &actor, id)?;
        state.estate.exceptions_changed();
        state.estate();
        Ok(removed)
    })
    .await?
    {
        return Err(ApiError::NotFound(format!("no exception for device {id}")));
    }
    tracing::info!(device = %id, "exception removed");
    Ok(Json(
        serde_json::json!({ "device_id": id, "removed": true }),
    ))
}

/// Records an exception for a device that exists (`known`: any device id or alias of a merged
/// device, agent or import-only), and audits it. Shared with the dashboard and the CLI.
pub fn save_exception(
    store: &dyn Store,
    known: &dyn Fn(Uuid) -> bool,
    actor: &str,
    record: &ExceptionRecord,
) -> Result<(), ApiError> {
    if !known(record.device_id) {
        return Err(ApiError::NotFound(format!(
            "no device {}",
            record.device_id
        )));
    }
    store.put_exception(record)?;
    let detail = format!(
        "reason: {}; controls: {}; owner: {}; review {}",
        record.reason,
        record.controls.join(", "),
        record.owner,
        record.review_date
    );
    crate::auth::audit(
        store,
        actor,
        "exception.add",
        &record.device_id.to_string(),
        &detail,
    )?;
    Ok(())
}

/// Removes a device's exception and audits it; `Ok(false)` when there was none.
pub fn remove_exception(store: &dyn Store, actor: &str, id: Uuid) -> Result<bool, ApiError> {
    let removed = store.delete_exception(id)?;
    if removed {
        crate::auth::audit(store, actor, "exception.remove", &id.to_string(), "")?;
    }
    Ok(removed)
}
