//! Collection: read this machine's facts into a [`Report`].
//!
//! Architecture invariant: collection never fails as a whole. Every source that cannot be read
//! (missing file, missing tool, permission denied, timeout) becomes a [`ward_shared::CollectionError`]
//! entry naming the field and the reason.

use chrono::Utc;
use ward_shared::{AgentInfo, Report, Tags};

/// What the caller decides about a collection run.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// The enrolled agent id, if any.
    pub agent_id: Option<uuid::Uuid>,
    /// Tags from the agent's configuration, copied into the report.
    pub tags: Tags,
}

/// Collects this machine's report.
pub fn collect(opts: &CollectOptions) -> Report {
    let agent = AgentInfo {
        id: opts.agent_id,
        name: "ward-agent".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut report = Report::new(agent, Utc::now());
    report.tags = opts.tags.clone();
    report
}
