//! The collector's configuration: `DATA_DIR/ward-collector.toml`, every key optional, unknown keys
//! rejected with their name. Command-line flags override the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::Retention;

pub const CONFIG_FILE: &str = "ward-collector.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTPS listen address.
    pub listen: SocketAddr,
    /// Largest request body accepted, as sent (gzip or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest report after gzip inflation, in bytes.
    pub max_inflated_bytes: usize,
    /// Reports kept per device.
    pub history_max_reports: usize,
    /// Days of history kept per device, counted back from its newest report; 0 keeps all.
    pub history_max_days: u32,
    /// Enrollment attempts allowed per client address per minute.
    pub enroll_per_minute: u32,
    /// Server certificate chain (PEM); relative paths are under the data directory.
    pub tls_cert: PathBuf,
    /// Server private key (PEM).
    pub tls_key: PathBuf,
    /// Risk weights (`[weights]`); see docs/risk-model.md for each one and why.
    pub weights: crate::risk::Weights,
    /// Unit costs for the budget plan (`[costs]`, pence); replace the defaults with the trust's.
    pub costs: crate::plan::UnitCosts,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            max_body_bytes: 4 << 20,
            max_inflated_bytes: 16 << 20,
            history_max_reports: 400,
            history_max_days: 400,
            enroll_per_minute: 30,
            tls_cert: PathBuf::from("tls/server.pem"),
            tls_key: PathBuf::from("tls/server-key.pem"),
            weights: crate::risk::Weights::default(),
            costs: crate::plan::UnitCosts::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl Config {
    /// Reads `DATA_DIR/ward-collector.toml`; a missing file means all defaults.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.clone(),
            source,
        })?;
        config
            .check()
            .map_err(|problem| ConfigError::Invalid { path, problem })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.max_body_bytes < 1024 {
            return Err("max_body_bytes must be at least 1024".into());
        }
        if self.max_inflated_bytes < self.max_body_bytes {
            return Err("max_inflated_bytes must be at least max_body_bytes".into());
        }
        if self.history_max_reports == 0 {
            return Err("history_max_reports must be at least 1".into());
        }
        if self.enroll_per_minute == 0 {
            return Err("enroll_per_minute must be at least 1".into());
        }
        Ok(())
    }

    pub fn retention(&self) -> Retention {
        Retention {
            max_reports_per_device: self.history_max_reports,
            max_age_days: (self.history_max_days > 0).then_some(self.history_max_days),
        }
    }

    /// A commented file with every key at its default, written by `init`.
    pub fn commented_default() -> String {
        let d = Config::default();
        format!(
            "# ward-collector configuration. Every key is optional; the values shown are the defaults.\n\
             # Unknown keys are rejected. `ward-collector serve --listen` overrides `listen`.\n\n\
             # HTTPS listen address. Use 0.0.0.0:8443 to accept agents from the network.\n\
             # listen = \"{}\"\n\n\
             # Largest request body accepted as sent (gzip or plain JSON), in bytes.\n\
             # max_body_bytes = {}\n\n\
             # Largest report after gzip inflation, in bytes.\n\
             # max_inflated_bytes = {}\n\n\
             # History kept per device: at most this many reports ...\n\
             # history_max_reports = {}\n\
             # ... and none older than this many days before the newest (0 keeps all).\n\
             # history_max_days = {}\n\n\
             # Enrollment attempts allowed per client address per minute.\n\
             # enroll_per_minute = {}\n\n\
             # Server certificate chain and key (PEM), relative to the data directory.\n\
             # tls_cert = \"{}\"\n\
             # tls_key = \"{}\"\n\n\
             # Risk weights and plan unit costs: tables [weights] and [costs], every key optional.\n\
             # The keys, their defaults and their sources are in docs/risk-model.md.\n",
            d.listen,
            d.max_body_bytes,
            d.max_inflated_bytes,
            d.history_max_reports,
            d.history_max_days,
            d.enroll_per_minute,
            d.tls_cert.display(),
            d.tls_key.display(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_default_parses_to_default() {
        let uncommented: String = Config::commented_default()
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed: Config = toml::from_str(&uncommented).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn shipped_example_matches_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/ward-collector.toml");
        if std::env::var_os("WARD_REGENERATE").is_some() {
            std::fs::write(path, Config::commented_default()).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            Config::commented_default(),
            "deploy/ward-collector.toml drifted; regenerate with WARD_REGENERATE=1 cargo test"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "listen = \"127.0.0.1:1\"\nlisen = 3\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn missing_file_is_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
    }
}
