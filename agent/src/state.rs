//! The agent's state directory: what enrollment left behind, and the spool.
//!
//! ```text
//! DIR/enrollment.json  server URL, agent id, enrollment time
//! DIR/agent.key        the per-agent key, mode 0600
//! DIR/ca.pem           the CA the collector's certificate must chain to
//! DIR/ward-agent.toml  optional configuration (tags, interval, spool size)
//! DIR/spool/           reports waiting for the collector (see `spool`)
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ENROLLMENT_FILE: &str = "enrollment.json";
pub const KEY_FILE: &str = "agent.key";
pub const CA_FILE: &str = "ca.pem";
pub const CONFIG_FILE: &str = "ward-agent.toml";
pub const SPOOL_DIR: &str = "spool";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub server: String,
    pub agent_id: Uuid,
    pub enrolled_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0} holds no enrollment; run `ward-agent enroll --state {0}` first")]
    NotEnrolled(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Everything `run` needs from the state directory.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: PathBuf,
    pub enrollment: Enrollment,
    pub key: String,
    pub ca_pem: Vec<u8>,
}

impl State {
    pub fn load(dir: &Path) -> Result<Self, StateError> {
        let enrollment_path = dir.join(ENROLLMENT_FILE);
        let text = match std::fs::read(&enrollment_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotEnrolled(dir.display().to_string()));
            }
            Err(e) => return Err(io(&enrollment_path)(e)),
        };
        let enrollment = serde_json::from_slice(&text).map_err(|source| StateError::Corrupt {
            path: enrollment_path,
            source,
        })?;
        let key_path = dir.join(KEY_FILE);
        let key = std::fs::read_to_string(&key_path)
            .map_err(io(&key_path))?
            .trim()
            .to_owned();
        let ca_path = dir.join(CA_FILE);
        let ca_pem = std::fs::read(&ca_path).map_err(io(&ca_path))?;
        Ok(Self {
            dir: dir.to_owned(),
            enrollment,
            key,
            ca_pem,
        })
    }

    pub fn is_enrolled(dir: &Path) -> bool {
        dir.join(ENROLLMENT_FILE).exists()
    }

    /// Writes a new enrollment: CA, key (0600), then the enrollment record last, so a half-done
    /// enrollment is never taken for a whole one.
    pub fn save(
        dir: &Path,
        enrollment: &Enrollment,
        key: &str,
        ca_pem: &[u8],
    ) -> Result<Self, StateError> {
        create_private_dir(dir)?;
        write_atomic(&dir.join(CA_FILE), ca_pem, false)?;
        write_atomic(&dir.join(KEY_FILE), format!("{key}\n").as_bytes(), true)?;
        let json = serde_json::to_vec_pretty(enrollment).map_err(|source| StateError::Corrupt {
            path: dir.join(ENROLLMENT_FILE),
            source,
        })?;
        write_atomic(&dir.join(ENROLLMENT_FILE), &json, false)?;
        Ok(Self {
            dir: dir.to_owned(),
            enrollment: enrollment.clone(),
            key: key.to_owned(),
            ca_pem: ca_pem.to_owned(),
        })
    }
}

pub fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io(dir))
}

/// Write to `path.tmp`, fsync, rename over `path`, fsync the directory.
pub fn write_atomic(path: &Path, contents: &[u8], private: bool) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(contents).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

pub fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
