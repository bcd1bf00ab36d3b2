//! Operations endpoints: `POST /api/v1/admin/backup` streams a consistent snapshot of the store
//! (the store part of a backup file, see [`crate::store::backup`]).

use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::{Admin, ApiError, AppState};
use crate::store::BackupStats;
use crate::store::backup::RecordWriter;

/// Chunks of the streamed backup; the channel's bound keeps memory flat when the client reads
/// slower than the store is copied.
const CHUNK: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// Streams the store part of a backup. The store is copied on a blocking thread while the
/// committer is paused (see [`crate::store::Store::backup`]) into an unnamed temporary file,
/// then the committer resumes and the file is streamed: a client that reads slowly, or stops
/// reading, never holds up the writes of the agents. A failure ends the body early, without the
/// end record, so the client knows the copy is incomplete.
pub async fn backup(_: Admin, State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let result = snapshot(store.as_ref()).and_then(|(file, stats)| {
            stream(file, &tx)?;
            Ok(stats)
        });
        match result {
            Ok(stats) => tracing::info!(
                trees = stats.trees,
                pairs = stats.pairs,
                bytes = stats.bytes,
                "backup streamed"
            ),
            Err(e) => {
                tracing::error!(error = %e, "backup failed");
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::new(ChannelBody(rx)))
        .map_err(|e| ApiError::Internal(format!("backup response: {e}")))
}

/// Copies the store into an unnamed temporary file (in `TMPDIR`; it needs room for the
/// store), rewound for reading. The committer is paused only for this local copy.
fn snapshot(store: &dyn crate::store::Store) -> io::Result<(std::fs::File, BackupStats)> {
    let file = tempfile::tempfile()?;
    let mut writer = RecordWriter::new(io::BufWriter::with_capacity(CHUNK, file));
    let stats = store
        .backup(&mut writer)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut file = writer
        .finish()?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, stats))
}

/// Sends the file in chunks; the channel's bound keeps memory flat.
fn stream(mut file: std::fs::File, tx: &mpsc::Sender<io::Result<Bytes>>) -> io::Result<()> {
    loop {
        let mut chunk = vec![0; CHUNK];
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        chunk.truncate(n);
        tx.blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
    }
}

/// The receiving end as an HTTP body.
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }
}

/// `GET /metrics` on the API listener: Prometheus text, admin token required.
pub async fn metrics(_: Admin, State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    metrics_response(state).await
}

async fn metrics_response(state: Arc<AppState>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let stale_days = state.estate.snapshot().ctx.weights.stale_after_days;
    let text = super::blocking(move || {
        Ok(crate::metrics::render(
            store.as_ref(),
            stale_days,
            chrono::Utc::now(),
        )?)
    })
    .await?;
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .body(Body::from(text))
        .map_err(|e| ApiError::Internal(format!("metrics response: {e}")))
}

/// The router of the separate metrics listener (`metrics_listen`): only `GET /metrics`, no
/// token; bind it to loopback or a management network.
pub fn metrics_router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<Arc<AppState>>| metrics_response(state)),
        )
        .with_state(state)
}

/// Request ids and request logs: every request gets an `x-request-id` (the client's, else a
/// new UUID), logged in a `request` span with the method and path, and returned on the
/// response; each answer is logged once with its status and latency.
pub fn with_request_ids(router: axum::Router) -> axum::Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    router.layer(
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &axum::extract::Request| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            id = %id,
                            method = %request.method(),
                            path = %request.uri().path(),
                        )
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::x_request_id()),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::super::app;
    use super::super::tests::{ADMIN, Harness, admin_request};

    #[tokio::test]
    async fn metrics_need_the_token_and_count_rejections_with_request_ids() {
        let h = Harness::new();
        let agent = h.enroll().await;
        let (status, _) = h
            .post_report(&agent.agent_key, b"{not json".to_vec(), false)
            .await;
        assert!(status.is_client_error());

        let get = |token: Option<&str>| {
            let mut request = Request::get("/metrics").header("x-request-id", "test-id-1");
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            app(h.state.clone()).oneshot(request.body(axum::body::Body::empty()).unwrap())
        };
        let refused = get(None).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

        let response = get(Some(ADMIN)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-request-id"], "test-id-1");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let text = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        for needle in [
            "ward_reports_rejected_total{reason=\"",
            "ward_enrollments_total{outcome=\"accepted\"} ",
            "ward_ingest_duration_seconds_count ",
            "ward_devices{state=\"active\"} 0",
            "ward_agents{state=\"active\"} 1",
            "ward_store_reports 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }

        // Every answer carries a request id, a new one when the client sent none.
        let response = app(h.state.clone())
            .oneshot(
                Request::get(ward_shared::api::HEALTH_PATH)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"].len(), 36);
    }

    /// A backup client that stops reading holds up nothing: the snapshot is staged in a local
    /// file, so the committer resumes and agents' reports are acknowledged while the client
    /// stalls. The stream, read later, is whole and holds exactly the store as it was when the
    /// backup began.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_backup_client_does_not_hold_up_writes() {
        use std::sync::Arc;

        use crate::store::backup::{Record, RecordReader};
        use crate::store::sled_store::SledStore;
        use crate::store::{ExceptionRecord, Retention, Store};

        let dir = tempfile::tempdir().unwrap();
        let store: Arc<SledStore> =
            Arc::new(SledStore::open(&dir.path().join("store"), Retention::default()).unwrap());
        // Several megabytes that do not compress: far more than the chunks in flight.
        let exceptions: Vec<ExceptionRecord> = (0..48)
            .map(|_| ExceptionRecord {
                device_id: uuid::Uuid::new_v4(),
                reason: (0..2048)
                    .map(|_| uuid::Uuid::new_v4().simple().to_string())
                    .collect(),
                controls: Vec::new(),
                owner: "ops".into(),
                review_date: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                recorded_at: chrono::Utc::now(),
            })
            .collect();
        {
            let (store, exceptions) = (store.clone(), exceptions.clone());
            tokio::task::spawn_blocking(move || {
                for e in &exceptions {
                    store.put_exception(e).unwrap();
                }
            })
            .await
            .unwrap();
        }
        let h = Harness::with_store(store.clone());
        let response = app(h.state.clone())
            .oneshot(admin_request(Request::post("/api/v1/admin/backup")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        // The first chunk: the backup has begun. Then the client stops reading.
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();

        let report = crate::store::contract::report("late", chrono::Utc::now());
        let late_id = report.report_id;
        let put = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store.put_report(uuid::Uuid::new_v4(), chrono::Utc::now(), &report, None)
            })
        };
        // Not a timing assertion: a bound so a regression fails instead of hanging the suite.
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(120), put)
            .await
            .expect("a report waited for a stalled backup client")
            .unwrap();
        assert_eq!(outcome.unwrap(), crate::store::PutOutcome::Stored);

        // Now read the rest: the stream is whole, with every exception and without the
        // report acknowledged after the backup began.
        let mut bytes = first.to_vec();
        bytes.extend_from_slice(&body.collect().await.unwrap().to_bytes());
        let mut reader = RecordReader::new(&bytes[..]);
        let (mut tree, mut exceptions_seen, mut late_seen) = (Vec::new(), 0, false);
        while let Some(record) = reader.next_record().unwrap() {
            match record {
                Record::Tree(name) => tree = name,
                Record::Pair(key, _) if tree == b"exceptions" => {
                    exceptions_seen += usize::from(key.len() == 16);
                }
                Record::Pair(key, _) if tree == b"report_ids" => {
                    late_seen |= key.ends_with(late_id.as_bytes());
                }
                _ => {}
            }
        }
        assert_eq!(exceptions_seen, exceptions.len());
        assert!(
            !late_seen,
            "the backup holds a report acknowledged after it began"
        );
        assert!(store.has_report(late_id).unwrap());
    }

    /// Agents say how many reports wait in their spool behind the one they send; the metrics
    /// sum it over active agents. A header that is not a number costs nothing: the report is
    /// still stored.
    #[tokio::test]
    async fn metrics_show_the_agents_spool_backlog() {
        use axum::http::header;

        use super::super::tests::report;

        let h = Harness::new_large();
        let send = |key: String, depth: &'static str| {
            let body = serde_json::to_vec(&report(None)).unwrap();
            app(h.state.clone()).oneshot(
                Request::post(ward_shared::api::REPORTS_PATH)
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .header(ward_shared::api::SPOOL_DEPTH_HEADER, depth)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
        };
        let scrape = || async {
            let response = app(h.state.clone())
                .oneshot(admin_request(Request::get("/metrics")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let (a, b) = (h.enroll().await, h.enroll().await);
        assert_eq!(send(a.agent_key.clone(), "7").await.unwrap().status(), 200);
        assert_eq!(send(b.agent_key.clone(), "0").await.unwrap().status(), 200);
        let text = scrape().await;
        assert!(text.contains("\nward_agent_spool_reports 7\n"), "{text}");
        assert!(
            text.contains("\nward_agents_with_spool_backlog 1\n"),
            "{text}"
        );

        // The latest delivery counts; nonsense is ignored and the report is stored anyway.
        assert_eq!(send(a.agent_key.clone(), "2").await.unwrap().status(), 200);
        assert_eq!(
            send(b.agent_key.clone(), "lots").await.unwrap().status(),
            200
        );
        assert_eq!(h.state.store.report_count().unwrap(), 4);
        let text = scrape().await;
        assert!(text.contains("\nward_agent_spool_reports 2\n"), "{text}");

        // A revoked agent's backlog no longer counts.
        let (status, _) = h
            .admin_post(&format!("/api/v1/agents/{}/revoke", a.agent_id))
            .await;
        assert_eq!(status, StatusCode::OK);
        let text = scrape().await;
        assert!(text.contains("\nward_agent_spool_reports 0\n"), "{text}");
        assert!(
            text.contains("\nward_agents_with_spool_backlog 0\n"),
            "{text}"
        );
    }
}
