//! The HTTP API. [`app`] builds the whole router from an [`AppState`]; unit tests drive it with
//! `tower::ServiceExt::oneshot`, without a socket.

pub mod auth_api;
mod error;
pub mod export;
pub mod imports;
pub mod ingest;
pub mod ops;
pub mod principal;
mod ratelimit;
pub mod redact;
pub mod risk;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use ward_shared::Report;
use ward_shared::api::{self as wire, AckStatus, EnrollRequest, EnrollResponse, ReportAck};

pub use error::ApiError;
pub use principal::{Admin, Principal};
pub use ratelimit::RateLimiter;

use crate::auth::Permission;
use crate::secrets::{self, hashes_equal};
use crate::store::{AgentRecord, KeyHash, PutOutcome, RawReport, Store, StoredReport};

/// Largest enrollment request body.
const MAX_ENROLL_BODY: usize = 16 * 1024;
const DEFAULT_HISTORY: usize = 20;
const MAX_HISTORY: usize = 1000;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub enroll_secret_hash: KeyHash,
    pub admin_token_hash: KeyHash,
    pub limits: ingest::BodyLimits,
    pub enroll_limiter: RateLimiter,
    /// The estate read model (it holds the catalog, weights and unit costs it was derived with).
    pub estate: Arc<crate::estate::Estate>,
    /// The data directory, where an imported catalog is kept (`None` in tests without one).
    pub data_dir: Option<std::path::PathBuf>,
    /// Dashboard sign-in settings and the failed-login limiter.
    pub web: crate::web::WebState,
}

impl AppState {
    /// The estate as of now: the current snapshot once every change noted before this call is
    /// in it (a bounded wait, so a client reads its own writes; readers never block the writer).
    pub fn estate(&self) -> Arc<crate::estate::Snapshot> {
        self.estate.sync(ESTATE_WAIT)
    }
}

/// Longest a read waits for the estate to take in changes noted before it.
const ESTATE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub fn app(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route(wire::HEALTH_PATH, get(health))
        .route(wire::ENROLL_PATH, post(enroll))
        .route(wire::REPORTS_PATH, post(post_report))
        .route(wire::DEVICES_PATH, get(list_devices))
        .route("/api/v1/devices/{id}", get(get_device))
        .route("/api/v1/devices/{id}/assessment", get(risk::assessment))
        .route("/api/v1/rankings", get(risk::rankings))
        .route("/api/v1/summary", get(risk::summary))
        .route("/api/v1/estate", get(risk::estate_status))
        .route("/api/v1/plan", get(risk::plan))
        .route(
            "/api/v1/catalog",
            get(risk::catalog).post(risk::import_catalog),
        )
        .route("/api/v1/export/{file}", get(export::download))
        .route(
            "/api/v1/exceptions",
            get(risk::list_exceptions).post(risk::add_exception),
        )
        .route(
            "/api/v1/exceptions/{id}",
            axum::routing::delete(risk::delete_exception),
        )
        .route(
            "/api/v1/imports",
            post(imports::post_imports).layer(axum::extract::DefaultBodyLimit::max(
                imports::MAX_UPLOAD_BYTES,
            )),
        )
        .route("/api/v1/coverage", get(coverage))
        .route("/api/v1/agents", get(list_agents))
        .route("/api/v1/agents/{id}/revoke", post(revoke_agent))
        .route("/api/v1/admin/backup", post(ops::backup))
        .route("/metrics", get(ops::metrics))
        .merge(auth_api::routes())
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::metrics::track));
    ops::with_request_ids(router)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such API path".into())
}

async fn method_not_allowed() -> (StatusCode, Json<wire::ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(wire::ErrorBody {
            error: "method_not_allowed".into(),
            detail: "this path does not accept that method".into(),
        }),
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::MissingToken)
}

/// An agent-key-authenticated request.
pub struct Agent(pub AgentRecord);

impl FromRequestParts<Arc<AppState>> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let hash = secrets::hash(bearer(&parts.headers)?);
        let agent = state
            .store
            .agent_by_key_hash(&hash)?
            .ok_or(ApiError::UnknownAgentKey)?;
        if agent.revoked {
            return Err(ApiError::AgentRevoked);
        }
        Ok(Agent(agent))
    }
}

/// The client's address, as the TLS server recorded it (unspecified in socket-less tests).
pub struct PeerIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                    addr.ip()
                }),
        ))
    }
}

async fn enroll(
    State(state): State<Arc<AppState>>,
    PeerIp(ip): PeerIp,
    body: Body,
) -> Result<Json<EnrollResponse>, ApiError> {
    if !state.enroll_limiter.allow(ip, Instant::now()) {
        tracing::warn!(%ip, "enrollment rate limit reached");
        return Err(ApiError::RateLimited);
    }
    let bytes = ingest::read_body(body, MAX_ENROLL_BODY).await?;
    let request: EnrollRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("enrollment request is not valid JSON: {e}")))?;
    if !hashes_equal(&secrets::hash(&request.secret), &state.enroll_secret_hash) {
        tracing::warn!(%ip, "enrollment with a wrong secret");
        return Err(ApiError::BadEnrollSecret);
    }
    for (field, value) in [
        ("hostname", &request.hostname),
        ("agent_version", &request.agent_version),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > 255) {
            return Err(ApiError::Invalid(format!(
                "{field} is longer than 255 bytes"
            )));
        }
    }
    let key = secrets::new_secret();
    let record = AgentRecord {
        id: Uuid::now_v7(),
        key_hash: secrets::hash(&key),
        hostname: request.hostname,
        agent_version: request.agent_version,
        enrolled_at: Utc::now(),
        revoked: false,
    };
    let store = state.store.clone();
    let stored = record.clone();
    blocking(move || Ok(store.add_agent(&stored)?)).await?;
    tracing::info!(agent = %record.id, hostname = ?record.hostname, %ip, "agent enrolled");
    Ok(Json(EnrollResponse {
        agent_id: record.id,
        agent_key: key,
    }))
}

async fn post_report(
    State(state): State<Arc<AppState>>,
    Agent(agent): Agent,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ReportAck>, ApiError> {
    let bytes = ingest::read_body(body, state.limits.max_body).await?;
    let (report, encoding) = ingest::decode_report(&headers, &bytes, &state.limits, Utc::now())?;
    if report.agent.id.is_some_and(|id| id != agent.id) {
        return Err(ApiError::Invalid(
            "agent.id in the report does not match the agent key".into(),
        ));
    }
    let device_id = agent.id;
    let report_id = report.report_id;
    // The body as received: the store keeps it instead of serializing `report` again.
    let raw = RawReport {
        encoding,
        bytes: &bytes,
    };
    // Queued without blocking; the committer answers once the report is durable.
    let answer = state
        .store
        .submit_report(device_id, Utc::now(), &report, Some(raw))?;
    let outcome = answer
        .await
        .map_err(|_| ApiError::Internal("the store dropped the write unanswered".into()))??;
    if outcome == PutOutcome::Stored {
        state.estate.report_stored(device_id, Some(report));
    }
    let status = match outcome {
        PutOutcome::Stored => AckStatus::Stored,
        PutOutcome::Duplicate => AckStatus::Duplicate,
    };
    crate::metrics::METRICS.report_received(outcome == PutOutcome::Stored);
    // Optional; a value that is not a number is ignored: a metric never costs a report.
    if let Some(waiting) = headers
        .get(wire::SPOOL_DEPTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        crate::metrics::METRICS.agent_spool(agent.id, waiting);
    }
    tracing::debug!(agent = %agent.id, report = %report_id, ?status, "report acknowledged");
    Ok(Json(ReportAck {
        report_id,
        device_id,
        status,
    }))
}

async fn list_devices(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<DeviceRow>>, ApiError> {
    who.require(Permission::Read)?;
    let snapshot = blocking(move || Ok(state.estate())).await?;
    let mut rows: Vec<DeviceRow> = snapshot.rows().map(|r| DeviceRow::of(r)).collect();
    rows.sort_by_key(|r| r.id);
    Ok(Json(rows))
}

#[derive(Debug, Deserialize)]
struct DeviceQuery {
    history: Option<usize>,
}

/// One line of the device list: one machine, merged from its agent reports and imports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRow {
    pub id: Uuid,
    pub hostname: Option<String>,
    pub os_name: Option<String>,
    pub site: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The newest agent report's id, else the newest record's.
    pub last_report_id: Uuid,
    /// Agent reports stored since the device was first seen.
    pub report_count: u64,
    /// Import records (systeminfo, qfe, probe, AD, nmap) for the device.
    pub record_count: u64,
    /// Sources whose newest observation takes part, most direct first.
    pub sources: Vec<crate::import::Source>,
    /// An agent or probe reported within the stale window.
    pub managed: bool,
    /// Seen by anything within the stale window.
    pub active: bool,
    /// Other ids of this device (accepted wherever a device id is).
    pub aliases: Vec<Uuid>,
}

impl DeviceRow {
    pub fn of(r: &crate::estate::Row) -> Self {
        Self {
            id: r.id,
            hostname: r.hostname.as_deref().map(str::to_owned),
            os_name: r.os_name.as_deref().map(str::to_owned),
            site: r.site.as_deref().map(str::to_owned),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            last_report_id: r.last_report_id,
            report_count: r.report_count,
            record_count: r.record_count,
            sources: r.sources.iter().collect(),
            managed: r.reach == crate::estate::row::Reach::Managed,
            active: r.active,
            aliases: r.aliases.to_vec(),
        }
    }

    /// The row of a device merged afresh (the device page's).
    pub fn of_device(d: &crate::devices::Device) -> Self {
        let agents = d
            .sightings
            .iter()
            .filter(|s| s.source == crate::import::Source::Agent)
            .count() as u64;
        let newest = d
            .sightings
            .iter()
            .find(|s| s.source == crate::import::Source::Agent)
            .or_else(|| d.sightings.first());
        Self {
            id: d.id,
            hostname: d.hostname.clone(),
            os_name: d.os_name.clone(),
            site: d.site.clone(),
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            last_report_id: newest.map_or(d.id, |s| {
                if s.source == crate::import::Source::Agent {
                    d.merged.report_id
                } else {
                    s.id
                }
            }),
            report_count: d
                .observation_count
                .saturating_sub(d.sightings.len() as u64 - agents),
            record_count: d.sightings.len() as u64 - agents,
            sources: d.current_sources(),
            managed: d.managed,
            active: d.active,
            aliases: d.aliases.clone(),
        }
    }
}

/// One device: its summary, its facts side by side with their sources (and where they
/// disagree), every observation, and its agent report history (newest first).
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceView {
    pub device: DeviceRow,
    /// The newest agent report, if an agent reports for the device.
    pub latest: Option<Report>,
    pub history: Vec<HistoryEntry>,
    /// The merged facts as one report (what the risk engine assesses).
    pub merged: Report,
    pub facts: Vec<crate::devices::merge::Fact>,
    /// Every agent report and import record seen for the device, newest first.
    pub sightings: Vec<crate::devices::merge::Sighting>,
    pub evidence: Vec<crate::risk::ExtraEvidence>,
    pub hotfix_list_complete: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub report_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub collected_at: DateTime<Utc>,
    pub report: Report,
}

impl From<StoredReport> for HistoryEntry {
    fn from(s: StoredReport) -> Self {
        Self {
            report_id: s.report.report_id,
            received_at: s.received_at,
            collected_at: s.report.collected_at,
            report: s.report,
        }
    }
}

pub(crate) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id)
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a device id (UUID)")))
}

async fn get_device(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<DeviceQuery>,
) -> Result<Json<DeviceView>, ApiError> {
    who.require(Permission::Read)?;
    let network = who.can(Permission::NetworkDetails);
    let id = parse_id(&id)?;
    let limit = query
        .history
        .unwrap_or(DEFAULT_HISTORY)
        .clamp(1, MAX_HISTORY);
    let view = blocking(move || {
        let snapshot = state.estate();
        let store = state.store.as_ref();
        let (mut device, _) = crate::estate::device(store, &snapshot, id, Utc::now())?
            .ok_or_else(|| ApiError::NotFound(format!("no device {id}")))?;
        let mut history: Vec<HistoryEntry> = Vec::new();
        for agent in device.agent_ids() {
            history.extend(
                store
                    .history(agent, limit)?
                    .into_iter()
                    .map(HistoryEntry::from),
            );
        }
        history.sort_by_key(|h| std::cmp::Reverse(h.received_at));
        history.truncate(limit);
        if !network {
            for h in &mut history {
                redact::report(&mut h.report);
            }
            crate::devices::redact(&mut device);
        }
        Ok(DeviceView {
            device: DeviceRow::of_device(&device),
            latest: history.first().map(|h| h.report.clone()),
            history,
            merged: device.merged,
            facts: device.facts,
            sightings: device.sightings,
            evidence: device.evidence,
            hotfix_list_complete: device.hotfix_list_complete,
        })
    })
    .await?;
    Ok(Json(view))
}

/// `GET /api/v1/coverage`: the share of active devices with an agent or probe report, by
/// site, and the devices seen only by AD or nmap.
async fn coverage(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<crate::devices::coverage::Coverage>, ApiError> {
    who.require(Permission::Read)?;
    let network = who.can(Permission::NetworkDetails);
    let mut coverage = blocking(move || Ok(state.estate().coverage(Utc::now()))).await?;
    if !network {
        coverage.redact();
    }
    Ok(Json(coverage))
}

/// An enrolled agent as the API shows it (never the key hash).
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentView {
    pub id: Uuid,
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
    pub enrolled_at: DateTime<Utc>,
    pub revoked: bool,
}

impl From<AgentRecord> for AgentView {
    fn from(a: AgentRecord) -> Self {
        Self {
            id: a.id,
            hostname: a.hostname,
            agent_version: a.agent_version,
            enrolled_at: a.enrolled_at,
            revoked: a.revoked,
        }
    }
}

async fn list_agents(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    who.require(Permission::Administer)?;
    let store = state.store.clone();
    let agents = blocking(move || Ok(store.agents()?)).await?;
    Ok(Json(agents.into_iter().map(AgentView::from).collect()))
}

async fn revoke_agent(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::Administer)?;
    let id = parse_id(&id)?;
    let store = state.store.clone();
    let actor = who.actor();
    if !blocking(move || {
        let found = store.set_agent_revoked(id, true)?;
        if found {
            crate::auth::audit(store.as_ref(), &actor, "agent.revoke", &id.to_string(), "")?;
        }
        Ok(found)
    })
    .await?
    {
        return Err(ApiError::NotFound(format!("no agent {id}")));
    }
    tracing::info!(agent = %id, "agent revoked");
    Ok(Json(serde_json::json!({ "agent_id": id, "revoked": true })))
}

#[cfg(test)]
mod export_tests;
#[cfg(test)]
mod imports_tests;
#[cfg(test)]
mod risk_tests;
#[cfg(test)]
mod tests;
