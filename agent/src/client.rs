//! Talking to the collector over HTTPS (rustls, trusting only the CA given at enrollment), and
//! classifying every answer (see `docs/wire-protocol.md`):
//! - 200: acknowledged, the report is durable on the collector.
//! - network errors, 408, 429, 5xx: retry later, the report stays spooled.
//! - 401/403: this agent's key is unknown or revoked; keep the report, stop, say so.
//! - any other 4xx: the collector will never take this report; drop it with the reason.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use ward_shared::Report;
use ward_shared::api::{
    ENROLL_PATH, EnrollRequest, EnrollResponse, ErrorBody, REPORTS_PATH, ReportAck,
    SPOOL_DEPTH_HEADER,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("collector unavailable, will retry: {0}")]
    Retry(String),
    #[error("collector refused the report for good ({status}): {detail}")]
    Rejected { status: u16, detail: String },
    #[error("{0}")]
    Unauthorized(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the CA file holds no usable certificate: {0}")]
    Ca(String),
    #[error("the server URL must start with https:// (got {0:?})")]
    NotHttps(String),
    #[error("cannot build the HTTPS client: {0}")]
    Build(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(server: &str, ca_pem: &[u8]) -> Result<Self, ClientError> {
        if !server.starts_with("https://") {
            return Err(ClientError::NotHttps(server.to_owned()));
        }
        let certs = reqwest::Certificate::from_pem_bundle(ca_pem)
            .map_err(|e| ClientError::Ca(e.to_string()))?;
        if certs.is_empty() {
            return Err(ClientError::Ca("no PEM certificate found".into()));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("ward-agent/", env!("CARGO_PKG_VERSION")));
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            http: builder
                .build()
                .map_err(|e| ClientError::Build(e.to_string()))?,
            base: server.trim_end_matches('/').to_owned(),
        })
    }

    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, SendError> {
        let request = self
            .http
            .post(format!("{}{ENROLL_PATH}", self.base))
            .json(request);
        // At enrollment only 401 (a wrong secret) means "not accepted".
        classify(request, &[StatusCode::UNAUTHORIZED], "enrollment refused: ").await
    }

    /// Posts one gzip report body; `waiting` is how many other reports the spool holds behind
    /// it, for the collector's metrics.
    pub async fn send_report(
        &self,
        key: &str,
        gzip_body: Vec<u8>,
        waiting: usize,
    ) -> Result<ReportAck, SendError> {
        let request = self
            .http
            .post(format!("{}{REPORTS_PATH}", self.base))
            .bearer_auth(key)
            .header(SPOOL_DEPTH_HEADER, waiting.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzip_body);
        classify(
            request,
            &[StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN],
            "",
        )
        .await
    }
}

/// Sends `request` and sorts the answer into the classes at the top of this module.
async fn classify<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    unauthorized: &[StatusCode],
    unauthorized_prefix: &str,
) -> Result<T, SendError> {
    let response = request
        .send()
        .await
        .map_err(|e| SendError::Retry(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .map_err(|e| SendError::Retry(format!("unreadable answer from the collector: {e}")));
    }
    let detail = error_detail(response).await;
    Err(if unauthorized.contains(&status) {
        SendError::Unauthorized(format!("{unauthorized_prefix}{detail}"))
    } else if retryable(status) {
        SendError::Retry(format!("{status}: {detail}"))
    } else {
        SendError::Rejected {
            status: status.as_u16(),
            detail,
        }
    })
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

async fn error_detail(response: reqwest::Response) -> String {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => format!("{} ({})", body.detail, body.error),
        Err(_) => status.canonical_reason().unwrap_or("error").to_owned(),
    }
}

/// reqwest's top-level message hides the cause (refused, certificate unknown...): show the chain.
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The gzip body for a report.
pub fn encode(report: &Report) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(report)?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(&json)?;
    encoder.finish()
}
