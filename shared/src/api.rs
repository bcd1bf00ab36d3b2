//! Messages of the collector's HTTP API besides the report itself.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST` an [`EnrollRequest`], get an [`EnrollResponse`].
pub const ENROLL_PATH: &str = "/api/v1/enroll";
/// `POST` a gzip- or plain-JSON [`crate::Report`] with `Authorization: Bearer <agent key>`.
pub const REPORTS_PATH: &str = "/api/v1/reports";
/// Optional header on a report `POST`: how many other reports were waiting in the agent's spool
/// behind this one (a decimal integer). The collector shows the backlog in its metrics.
pub const SPOOL_DEPTH_HEADER: &str = "x-ward-spool-depth";
/// `GET` the device list, or `/api/v1/devices/{id}` for one device with its history.
pub const DEVICES_PATH: &str = "/api/v1/devices";
/// `GET` liveness; no authentication.
pub const HEALTH_PATH: &str = "/healthz";

/// The agent asks for a key, proving it knows the site's enrollment secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub secret: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub agent_version: Option<String>,
}

/// The per-agent key is shown once; the collector keeps only its hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: Uuid,
    pub agent_key: String,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("agent_id", &self.agent_id)
            .field("agent_key", &"<redacted>")
            .finish()
    }
}

/// What the collector answers once a report is durable on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    pub report_id: Uuid,
    pub device_id: Uuid,
    /// `stored` the first time, `duplicate` when this report id was already stored.
    pub status: AckStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    Stored,
    Duplicate,
}

/// Every error the API returns has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `unauthorized`, `payload_too_large`.
    pub error: String,
    /// A sentence for a person.
    pub detail: String,
}
