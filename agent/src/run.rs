//! `ward-agent run`: collect, spool, deliver the spool in order; repeat on an interval.

use std::future::Future;

use crate::client::{Client, SendError};
use crate::collect::{CollectOptions, collect};
use crate::config::AgentConfig;
use crate::spool::Spool;
use crate::state::{SPOOL_DIR, State, StateError};

/// What one delivery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drain {
    pub delivered: usize,
    pub duplicates: usize,
    pub dropped: usize,
    pub remaining: usize,
    /// Why delivery stopped early, if it did.
    pub stopped: Option<String>,
    /// The collector does not accept this agent's key.
    pub unauthorized: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error("collection task failed: {0}")]
    Collect(String),
    #[error("cannot encode the report: {0}")]
    Encode(#[from] std::io::Error),
}

pub struct Agent {
    pub state: State,
    pub config: AgentConfig,
    spool: Spool,
    client: Client,
}

impl Agent {
    pub fn new(state: State, config: AgentConfig) -> Result<Self, RunError> {
        let spool = Spool::open(&state.dir.join(SPOOL_DIR), config.spool_limits())?;
        let client = Client::new(&state.enrollment.server, &state.ca_pem)?;
        Ok(Self {
            state,
            config,
            spool,
            client,
        })
    }

    /// Collects this machine's report and puts it in the spool.
    pub async fn collect_and_spool(&mut self) -> Result<uuid::Uuid, RunError> {
        let options = CollectOptions {
            agent_id: Some(self.state.enrollment.agent_id),
            tags: self.config.tags(),
        };
        let report = tokio::task::spawn_blocking(move || collect(&options))
            .await
            .map_err(|e| RunError::Collect(e.to_string()))?;
        // A report dated before 1990 would be refused for good; the clock is wrong, so say so
        // and make none.
        if report.collected_at.date_naive() < ward_shared::validate::EARLIEST_DATE {
            return Err(RunError::Collect(format!(
                "the system clock reads {}, before {}; set the clock (no report made)",
                report.collected_at,
                ward_shared::validate::EARLIEST_DATE
            )));
        }
        let body = crate::client::encode(&report)?;
        self.spool.push(report.report_id, &body)?;
        tracing::info!(report = %report.report_id, errors = report.errors.len(), "report collected");
        Ok(report.report_id)
    }

    /// Sends spooled reports oldest first until the spool is empty or the collector cannot take more.
    pub async fn drain(&mut self) -> Result<Drain, RunError> {
        let mut drain = Drain::default();
        let entries = self.spool.entries()?;
        for (i, entry) in entries.iter().enumerate() {
            let body = self.spool.read(entry)?;
            let waiting = entries.len().saturating_sub(i + 1);
            match self
                .client
                .send_report(&self.state.key, body, waiting)
                .await
            {
                Ok(ack) => {
                    self.spool.remove(entry)?;
                    match ack.status {
                        ward_shared::api::AckStatus::Stored => drain.delivered += 1,
                        ward_shared::api::AckStatus::Duplicate => drain.duplicates += 1,
                    }
                    tracing::info!(report = %entry.report_id, status = ?ack.status, "report acknowledged");
                }
                Err(SendError::Rejected { status, detail }) => {
                    self.spool.remove(entry)?;
                    drain.dropped += 1;
                    tracing::error!(report = %entry.report_id, status, %detail, "collector refused the report; dropped");
                }
                Err(SendError::Retry(reason)) => {
                    drain.remaining = entries.len() - i;
                    tracing::warn!(%reason, spooled = drain.remaining, "collector unavailable; reports stay spooled");
                    drain.stopped = Some(reason);
                    break;
                }
                Err(SendError::Unauthorized(detail)) => {
                    drain.remaining = entries.len() - i;
                    drain.unauthorized = true;
                    tracing::error!(
                        %detail,
                        agent = %self.state.enrollment.agent_id,
                        "the collector does not accept this agent's key (revoked or unknown); \
                         reports stay spooled; enroll again with `ward-agent enroll --force`"
                    );
                    drain.stopped = Some(detail);
                    break;
                }
            }
        }
        Ok(drain)
    }

    /// Collects and delivers forever (until `shutdown`), waiting the interval plus jitter.
    /// Shutdown is honoured between steps: a report being collected is spooled first.
    pub async fn run_forever(
        &mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RunError> {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.collect_and_spool().await {
                tracing::error!(error = %e, "collection failed");
            }
            tokio::select! {
                result = self.drain() => { result?; }
                () = &mut shutdown => break,
            }
            let wait = self.config.next_wait();
            tracing::debug!(seconds = wait.as_secs(), "next collection");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => break,
            }
        }
        tracing::info!("stopping");
        Ok(())
    }
}
