//! Router tests: the whole API through `tower::ServiceExt::oneshot`, no socket.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_shared::api::{EnrollResponse, ReportAck};
use ward_shared::{AgentInfo, Limits, Report};

use super::*;
use crate::store::memory::MemoryStore;

const SECRET: &str = "enroll-secret-for-tests";
pub(super) const ADMIN: &str = "admin-token-for-tests";

pub(super) struct Harness {
    pub(super) state: Arc<AppState>,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with_limits(4096, 16384, 100)
    }

    /// Limits big enough for full reports.
    pub(super) fn new_large() -> Self {
        Self::with_limits(1 << 20, 4 << 20, 100)
    }

    fn with_limits(max_body: usize, max_inflated: usize, enroll_per_minute: u32) -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Self {
            state: Arc::new(AppState {
                store: store.clone(),
                enroll_secret_hash: secrets::hash(SECRET),
                admin_token_hash: secrets::hash(ADMIN),
                limits: ingest::BodyLimits {
                    max_body,
                    max_inflated,
                    report: Limits::V1,
                },
                enroll_limiter: RateLimiter::per_minute(enroll_per_minute),
                estate: crate::estate::Estate::start(
                    store.clone(),
                    crate::estate::reference::default_context(),
                    crate::estate::system_clock(),
                ),
                data_dir: None,
                web: crate::web::WebState::default(),
            }),
        }
    }

    pub(super) async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("body is not JSON: {bytes:?}"));
        (status, value)
    }

    pub(super) async fn enroll(&self) -> EnrollResponse {
        let (status, body) = self
            .call(post_json(
                "/api/v1/enroll",
                &json!({"secret": SECRET, "hostname": "pc-1"}),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub(super) async fn post_report(
        &self,
        key: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> (StatusCode, Value) {
        let mut request = Request::post("/api/v1/reports")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json");
        if gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        self.call(request.body(Body::from(body)).unwrap()).await
    }

    pub(super) async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        self.call(admin_request(Request::get(path))).await
    }

    /// A body-less admin `POST`, e.g. a revoke.
    pub(super) async fn admin_post(&self, path: &str) -> (StatusCode, Value) {
        self.call(admin_request(Request::post(path))).await
    }

    fn report_count(&self) -> u64 {
        self.state.store.report_count().unwrap()
    }
}

/// The request with the admin token and no body.
pub(super) fn admin_request(builder: axum::http::request::Builder) -> Request<Body> {
    builder
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap()
}

pub(super) fn post_json(path: &str, value: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

pub(super) fn report(agent_id: Option<uuid::Uuid>) -> Report {
    let mut r = Report::new(
        AgentInfo {
            id: agent_id,
            name: "ward-agent".into(),
            version: "0.1.0".into(),
        },
        Utc::now(),
    );
    r.host.hostname = Some("pc-1".into());
    r.os.name = Some("Ubuntu 24.04 LTS".into());
    r
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn json_bytes(r: &Report) -> Vec<u8> {
    serde_json::to_vec(r).unwrap()
}

#[tokio::test]
async fn health_answers_without_auth() {
    let h = Harness::new();
    let (status, body) = h
        .call(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn enroll_report_and_read_back() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let r = report(Some(enrolled.agent_id));
    let (status, body) = h
        .post_report(&enrolled.agent_key, gzip(&json_bytes(&r)), true)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack: ReportAck = serde_json::from_value(body).unwrap();
    assert_eq!(ack.report_id, r.report_id);
    assert_eq!(ack.device_id, enrolled.agent_id);
    assert_eq!(ack.status, AckStatus::Stored);

    let (status, devices) = h.admin_get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(devices.as_array().unwrap().len(), 1);
    assert_eq!(devices[0]["hostname"], "pc-1");
    assert_eq!(devices[0]["report_count"], 1);

    let (status, device) = h
        .admin_get(&format!("/api/v1/devices/{}", enrolled.agent_id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let view: DeviceView = serde_json::from_value(device).unwrap();
    assert_eq!(view.latest.as_ref(), Some(&r));
    assert_eq!(view.history.len(), 1);

    // Plain JSON (no gzip) is accepted too.
    let r2 = report(None);
    let (status, _) = h
        .post_report(&enrolled.agent_key, json_bytes(&r2), false)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, device) = h
        .admin_get(&format!("/api/v1/devices/{}?history=1", enrolled.agent_id))
        .await;
    let view: DeviceView = serde_json::from_value(device).unwrap();
    assert_eq!(view.history.len(), 1);
    assert_eq!(view.history[0].report_id, r2.report_id);
    assert_eq!(view.device.report_count, 2);
}

#[tokio::test]
async fn a_duplicate_report_is_acknowledged_once_stored_once() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let body = gzip(&json_bytes(&report(Some(enrolled.agent_id))));
    let (_, first) = h.post_report(&enrolled.agent_key, body.clone(), true).await;
    let (status, second) = h.post_report(&enrolled.agent_key, body, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["status"], "stored");
    assert_eq!(second["status"], "duplicate");
    assert_eq!(h.report_count(), 1);
}

async fn refused(
    h: &Harness,
    key: &str,
    body: Vec<u8>,
    gzip: bool,
    status: StatusCode,
    code: &str,
) {
    let before = h.report_count();
    let (got, body) = h.post_report(key, body, gzip).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        h.report_count(),
        before,
        "a refused report changed the store"
    );
}

#[tokio::test]
async fn bad_reports_get_a_clear_4xx_and_change_nothing() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let key = enrolled.agent_key.as_str();
    let good = report(Some(enrolled.agent_id));

    // Body over the limit as sent.
    let noise: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
    refused(
        &h,
        key,
        noise,
        false,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // gzip that inflates past the limit (a tiny bomb).
    refused(
        &h,
        key,
        gzip(&vec![b' '; 100_000]),
        true,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Not gzip although it says so.
    refused(
        &h,
        key,
        b"not gzip".to_vec(),
        true,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Malformed JSON.
    refused(
        &h,
        key,
        b"{\"schema_version\": 1,".to_vec(),
        false,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Wrong schema version.
    let mut v = serde_json::to_value(&good).unwrap();
    v["schema_version"] = json!(99);
    refused(
        &h,
        key,
        serde_json::to_vec(&v).unwrap(),
        false,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_schema_version",
    )
    .await;
    v["schema_version"] = json!("one");
    refused(
        &h,
        key,
        serde_json::to_vec(&v).unwrap(),
        false,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_schema_version",
    )
    .await;
    // Right version, wrong shape.
    let mut v = serde_json::to_value(&good).unwrap();
    v["report_id"] = json!("not-a-uuid");
    refused(
        &h,
        key,
        serde_json::to_vec(&v).unwrap(),
        false,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
    // A field over its limit.
    let mut long = good.clone();
    long.host.hostname = Some("x".repeat(2000));
    refused(
        &h,
        key,
        gzip(&json_bytes(&long)),
        true,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
    // A list over its limit.
    let mut many = good.clone();
    many.host.ip_addresses = vec!["10.0.0.1".into(); 300];
    refused(
        &h,
        key,
        gzip(&json_bytes(&many)),
        true,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
    // Someone else's agent id.
    let mut other = good.clone();
    other.agent.id = Some(uuid::Uuid::now_v7());
    refused(
        &h,
        key,
        gzip(&json_bytes(&other)),
        true,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_report",
    )
    .await;
    // An encoding we do not speak.
    let before = h.report_count();
    let (status, body) = h
        .call(
            Request::post("/api/v1/reports")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_ENCODING, "br")
                .body(Body::from(json_bytes(&good)))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(h.report_count(), before);

    // The good one still goes in afterwards.
    let (status, _) = h.post_report(key, gzip(&json_bytes(&good)), true).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn keys_are_checked() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let body = gzip(&json_bytes(&report(None)));
    refused(
        &h,
        "",
        body.clone(),
        true,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    refused(
        &h,
        "wrong-key",
        body.clone(),
        true,
        StatusCode::UNAUTHORIZED,
        "unknown_agent_key",
    )
    .await;
    let (status, _) = h
        .call(
            Request::post("/api/v1/reports")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The agent key is not an admin token, and the admin token is not an agent key.
    let (status, _) = h
        .call(
            Request::get("/api/v1/devices")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", enrolled.agent_key),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    refused(
        &h,
        ADMIN,
        body.clone(),
        true,
        StatusCode::UNAUTHORIZED,
        "unknown_agent_key",
    )
    .await;

    // Revoked: 403 with its own code, so the agent can say so.
    let (status, _) = h
        .call(
            Request::post(format!("/api/v1/agents/{}/revoke", enrolled.agent_id))
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    refused(
        &h,
        &enrolled.agent_key,
        body,
        true,
        StatusCode::FORBIDDEN,
        "agent_revoked",
    )
    .await;
    let (_, agents) = h.admin_get("/api/v1/agents").await;
    assert_eq!(agents[0]["revoked"], true);
    assert!(
        agents[0].get("key_hash").is_none(),
        "the key hash must not leave the store"
    );
}

#[tokio::test]
async fn enrollment_refuses_bad_secrets_and_is_rate_limited() {
    let h = Harness::with_limits(4096, 16384, 3);
    let (status, body) = h
        .call(post_json("/api/v1/enroll", &json!({"secret": "guess"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "bad_enrollment_secret");
    let (status, body) = h
        .call(post_json("/api/v1/enroll", &json!({"nope": 1})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = h
        .call(post_json(
            "/api/v1/enroll",
            &json!({"secret": SECRET, "hostname": "h".repeat(300)}),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Fourth attempt in the minute, even with the right secret.
    let (status, body) = h
        .call(post_json("/api/v1/enroll", &json!({"secret": SECRET})))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert!(h.state.store.agents().unwrap().is_empty());
}

#[tokio::test]
async fn admin_endpoints_answer_json_errors() {
    let h = Harness::new();
    let (status, body) = h.admin_get("/api/v1/devices/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    let (status, body) = h
        .admin_get(&format!("/api/v1/devices/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, body) = h.admin_get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, body) = h
        .call(
            Request::delete("/api/v1/devices")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "method_not_allowed");
    let (status, body) = h
        .call(
            Request::get("/api/v1/devices")
                .header(header::AUTHORIZATION, "Bearer wrong")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "bad_token");
}

impl Harness {
    /// Over another store (the default is in memory).
    pub(super) fn with_store(store: Arc<dyn Store>) -> Self {
        let mut h = Self::new();
        Arc::get_mut(&mut h.state)
            .expect("a new harness has one reference")
            .store = store;
        h
    }
}

/// The production store behind the router: the handler awaits the committer's answer (no
/// blocking thread), and the sled store keeps the body as the agent sent it.
#[tokio::test]
async fn sled_store_answers_after_commit() {
    use crate::store::Retention;
    use crate::store::sled_store::SledStore;

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path(), Retention::default()).unwrap());
    let h = Harness::with_store(store.clone());
    let enrolled = h.enroll().await;
    let key = &enrolled.agent_key;
    let zipped = report(Some(enrolled.agent_id));
    let body = gzip(&json_bytes(&zipped));
    for expected in [AckStatus::Stored, AckStatus::Duplicate] {
        let (status, ack) = h.post_report(key, body.clone(), true).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        let ack: ReportAck = serde_json::from_value(ack).unwrap();
        assert_eq!(ack.status, expected);
    }
    let plain = report(Some(enrolled.agent_id));
    let (status, ack) = h.post_report(key, json_bytes(&plain), false).await;
    assert_eq!(status, StatusCode::OK, "{ack}");

    let history: Vec<Report> = store
        .history(enrolled.agent_id, 10)
        .unwrap()
        .into_iter()
        .map(|s| s.report)
        .collect();
    assert_eq!(history, [plain, zipped]);
    assert_eq!(store.report_count().unwrap(), 2);
}

/// Issue 16, item 6: any Content-Type was accepted on the report route. Now only
/// `application/json` (with parameters) is; anything else is 415 and stores nothing.
#[tokio::test]
async fn the_report_route_requires_json() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let key = enrolled.agent_key.as_str();
    let body = gzip(&json_bytes(&report(Some(enrolled.agent_id))));
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
    ] {
        let mut request = Request::post("/api/v1/reports")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_ENCODING, "gzip");
        if let Some(t) = content_type {
            request = request.header(header::CONTENT_TYPE, t);
        }
        let before = h.report_count();
        let (status, answer) = h
            .call(request.body(Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {answer}"
        );
        assert_eq!(answer["error"], "unsupported_media_type");
        assert_eq!(h.report_count(), before);
    }
    let (status, answer) = h
        .call(
            Request::post("/api/v1/reports")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
                .header(header::CONTENT_ENCODING, "gzip")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Issue 16, item 6: a host name with a NUL was stored and exported raw, and a
/// `collected_at` of 0000-01-01 was accepted. Both are 422 naming the field, and change nothing.
#[tokio::test]
async fn control_characters_and_impossible_dates_are_refused_by_field() {
    let h = Harness::new();
    let enrolled = h.enroll().await;
    let key = enrolled.agent_key.as_str();
    let good = report(Some(enrolled.agent_id));

    let mut nul = good.clone();
    nul.host.hostname = Some("pc-1\u{0}evil".into());
    let (status, body) = h.post_report(key, gzip(&json_bytes(&nul)), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("host.hostname"),
        "{body}"
    );

    let mut value = serde_json::to_value(&good).unwrap();
    value["collected_at"] = json!("0000-01-01T00:00:00Z");
    let (status, body) = h
        .post_report(key, gzip(&serde_json::to_vec(&value).unwrap()), true)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("collected_at"),
        "{body}"
    );

    let mut old_boot = good.clone();
    old_boot.os.boot_time = Some("1970-01-01T00:00:00Z".parse().unwrap());
    let (status, body) = h.post_report(key, gzip(&json_bytes(&old_boot)), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("os.boot_time"));
    assert_eq!(h.report_count(), 0, "nothing refused was stored");

    let (status, _) = h.post_report(key, gzip(&json_bytes(&good)), true).await;
    assert_eq!(status, StatusCode::OK);
}
