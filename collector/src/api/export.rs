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

use super::risk::{parse_pounds, plan_budget};
use super::{ApiError, AppState, Principal};
use crate::auth::Permission;
use crate::estate::{self, RankFilter, RankRow, Snapshot};
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

/// An export on its way: its rows are written on a blocking thread into the response body as
/// they come, so a large export never sits whole in memory.
#[derive(Debug)]
pub struct ExportFile {
    pub body: axum::body::Body,
    pub format: Format,
    pub file_name: String,
}

impl IntoResponse for ExportFile {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.file_name);
        let mut response = self.body.into_response();
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

/// Everything an export needs, checked before anything is written (a bad request costs nothing).
struct Job {
    kind: ExportKind,
    format: Format,
    findings: bool,
    filter: RankFilter,
    plan: Option<(crate::plan::Budget, UnitCosts)>,
    opts: ExportOptions,
    now: DateTime<Utc>,
}

impl Job {
    /// Writes the export from `snapshot` into `out`.
    fn write(self, snapshot: &Snapshot, out: &mut ChunkWriter) -> Result<(), ApiError> {
        let internal = |e: export::ExportError| ApiError::Internal(e.to_string());
        let catalog = snapshot.catalog();
        let ranked = || {
            snapshot
                .select(&self.filter)
                .map(|(rank, row)| export::devices::Ranked { rank, row })
        };
        let rank_rows = || {
            snapshot
                .select(&self.filter)
                .map(|(rank, row)| RankRow::of(rank, row))
        };
        let opts = &self.opts;
        match (self.kind, self.format) {
            (ExportKind::Ranking, Format::Csv) => {
                export::csv_to(export::ranking::sheet(rank_rows(), opts), opts, out)
            }
            (ExportKind::Ranking, Format::Xlsx) => {
                export::ranking::stream_document(rank_rows(), opts, self.now, &catalog)
                    .write_xlsx(out)
            }
            (ExportKind::Devices, Format::Csv) if self.findings => {
                export::csv_to(export::devices::findings_sheet(ranked(), opts), opts, out)
            }
            (ExportKind::Devices, Format::Csv) => {
                export::csv_to(export::devices::device_sheet(ranked(), opts), opts, out)
            }
            (ExportKind::Devices, Format::Xlsx) => {
                export::devices::document(ranked, opts, self.now, &catalog).write_xlsx(out)
            }
            (ExportKind::Plan, format) => {
                let Some((budget, unit_costs)) = &self.plan else {
                    return Err(ApiError::Internal("plan export without a budget".into()));
                };
                let plan = estate::plan(snapshot, unit_costs, budget)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                let bytes = match format {
                    Format::Csv => export::csv(&export::plan::csv_table(&plan, opts), opts),
                    Format::Xlsx => export::plan::document(&plan, opts, self.now).xlsx(),
                }
                .map_err(internal)?;
                std::io::Write::write_all(out, &bytes)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                Ok(())
            }
        }
        .map_err(internal)
    }
}

/// Builds one export from the estate: checks the request, then streams the file (the rows are
/// written off the async threads).
pub fn render(
    state: Arc<AppState>,
    kind: ExportKind,
    format: Format,
    q: &ExportQuery,
    costs: &CostQuery,
    opts: &ExportOptions,
    now: DateTime<Utc>,
) -> Result<ExportFile, ApiError> {
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
    let plan = if kind == ExportKind::Plan {
        Some((
            plan_budget(q.budget.as_deref(), q.years, q.first_year, now.date_naive())?,
            costs.apply(&state.estate.snapshot().ctx.unit_costs)?,
        ))
    } else {
        None
    };
    let job = Job {
        kind,
        format,
        findings,
        filter: RankFilter {
            site: q.site.clone(),
            remedy: q.remedy.clone(),
            os: q.os.clone(),
            department: q.department.clone(),
        },
        plan,
        opts: *opts,
        now,
    };
    let name = if findings { "findings" } else { kind.name() };
    Ok(ExportFile {
        body: stream(move |out| job.write(&state.estate(), out)),
        format,
        file_name: export::file_name(name, format, now.date_naive()),
    })
}

/// A response body written by `write` on a blocking thread, in chunks. An error after the first
/// chunk ends the body early (the client sees a cut download); it is logged.
fn stream(
    write: impl FnOnce(&mut ChunkWriter) -> Result<(), ApiError> + Send + 'static,
) -> axum::body::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write(&mut out).and_then(|()| {
            std::io::Write::flush(&mut out).map_err(|e| ApiError::Internal(e.to_string()))
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "export stopped before its end");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

const CHUNK: usize = 64 * 1024;

/// Sends what is written to a response body, [`CHUNK`] bytes at a time.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk =
            axum::body::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
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
    render(state, kind, format, &q, &costs, &opts, Utc::now())
}
