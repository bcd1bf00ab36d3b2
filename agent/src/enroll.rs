//! `ward-agent enroll`: trade the site's enrollment secret for this agent's own key.

use std::path::Path;

use chrono::Utc;
use ward_shared::api::EnrollRequest;

use crate::client::{Client, SendError};
use crate::state::{Enrollment, State};

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("{0} is already enrolled; pass --force to enroll again")]
    AlreadyEnrolled(String),
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is empty")]
    EmptySecret(String),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

pub struct EnrollArgs<'a> {
    pub server: &'a str,
    pub ca: &'a Path,
    pub secret_file: &'a Path,
    pub state_dir: &'a Path,
    pub force: bool,
}

pub async fn enroll(args: EnrollArgs<'_>) -> Result<State, EnrollError> {
    if State::is_enrolled(args.state_dir) && !args.force {
        return Err(EnrollError::AlreadyEnrolled(
            args.state_dir.display().to_string(),
        ));
    }
    let ca_pem =
        std::fs::read(args.ca).map_err(|e| EnrollError::Read(args.ca.display().to_string(), e))?;
    let secret = std::fs::read_to_string(args.secret_file)
        .map_err(|e| EnrollError::Read(args.secret_file.display().to_string(), e))?
        .trim()
        .to_owned();
    if secret.is_empty() {
        return Err(EnrollError::EmptySecret(
            args.secret_file.display().to_string(),
        ));
    }
    let client = Client::new(args.server, &ca_pem)?;
    let hostname = sysinfo::System::host_name();
    let response = client
        .enroll(&EnrollRequest {
            secret,
            hostname,
            agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        })
        .await?;
    let enrollment = Enrollment {
        server: args.server.trim_end_matches('/').to_owned(),
        agent_id: response.agent_id,
        enrolled_at: Utc::now(),
    };
    Ok(State::save(
        args.state_dir,
        &enrollment,
        &response.agent_key,
        &ca_pem,
    )?)
}
