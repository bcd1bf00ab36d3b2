//! The collector's configuration: `DATA_DIR/ward-collector.toml`, every key optional, unknown keys
//! rejected with their name. `WARD_*` environment variables override the file and command-line
//! flags override both ([`crate::config_layers`]); docs/configuration.md lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config_layers::Kind;
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
    /// A separate plain-HTTP address serving only `GET /metrics`, without a token (for a
    /// Prometheus on loopback or a management network). `None`: `/metrics` is served on the
    /// HTTPS listener only, with the admin token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Risk weights (`[weights]`); see docs/risk-model.md for each one and why.
    pub weights: crate::risk::Weights,
    /// Unit costs for the budget plan (`[costs]`, pence); replace the defaults with the trust's.
    pub costs: crate::plan::UnitCosts,
    /// How often each source is expected to see a device and when it goes stale
    /// (`[liveness]`, days); see docs/risk-model.md.
    pub liveness: crate::estate::class::LivenessWindows,
    /// A drop folder `serve` watches for import files (relative to the data directory); empty:
    /// none. `serve --drop-dir` overrides it.
    pub import_drop_dir: PathBuf,
    /// Seconds between two looks at the drop folder.
    pub import_poll_secs: u64,
    /// Open connections allowed from one address (IPv4) or /64 (IPv6); more are closed at once.
    pub max_connections_per_address: usize,
    /// Seconds a request body may take before the minimum rate applies.
    pub body_timeout_secs: u64,
    /// Bytes per second a request body must average after `body_timeout_secs`.
    pub body_min_bytes_per_sec: u64,
    /// Seconds to the answer's head, on top of the time the body may take.
    pub request_timeout_secs: u64,
    /// Seconds a client may accept no byte of an answer before the connection is closed.
    pub write_stall_timeout_secs: u64,
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
            metrics_listen: None,
            weights: crate::risk::Weights::default(),
            costs: crate::plan::UnitCosts::default(),
            liveness: crate::estate::class::LivenessWindows::default(),
            import_drop_dir: PathBuf::new(),
            import_poll_secs: 10,
            max_connections_per_address: 64,
            body_timeout_secs: 20,
            body_min_bytes_per_sec: 1024,
            request_timeout_secs: 120,
            write_stall_timeout_secs: 60,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The cause is in the message and deliberately not a `source`: error chains would print it twice.
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Parse {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

/// A loaded configuration and the environment variables that changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub env_applied: Vec<String>,
}

impl Config {
    /// Reads `DATA_DIR/ward-collector.toml` (a missing file means all defaults), then applies
    /// the `WARD_*` environment variables.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        Self::load_layered(&data_dir.join(CONFIG_FILE), false, std::env::vars(), &[])
            .map(|loaded| loaded.config)
    }

    /// Every key that can be set, as (dotted path, kind), for the environment and `--set`.
    pub fn keys() -> Vec<(String, Kind)> {
        let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
        crate::config_layers::keys(&defaults, &[("metrics_listen", Kind::Text)])
    }

    /// The file at `path` (when `required` is false a missing file means all defaults), then
    /// the `WARD_*` variables among `vars`, then `sets` (`KEY=VALUE`), then the checks.
    pub fn load_layered(
        path: &Path,
        required: bool,
        vars: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> Result<Loaded, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(error) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    error,
                });
            }
        };
        let parse_error = |error| ConfigError::Parse {
            path: path.to_owned(),
            error,
        };
        let invalid = |problem| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        };
        // The file alone first: its errors carry line numbers.
        toml::from_str::<Config>(&text).map_err(parse_error)?;
        let file: toml::Table = toml::from_str(&text).map_err(parse_error)?;
        let keys = Self::keys();
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut table = file.clone();
        let env_applied = crate::config_layers::apply_env(&mut table, &keys, vars.iter().cloned())
            .map_err(invalid)?;
        crate::config_layers::apply_sets(&mut table, &keys, sets).map_err(invalid)?;
        let config: Config = match toml::Value::Table(table).try_into() {
            Ok(config) => config,
            Err(e) => {
                // Name the override at fault: the first that fails on its own.
                let culprit = env_applied
                    .iter()
                    .find(|name| {
                        let mut one = file.clone();
                        let var = vars.iter().filter(|(k, _)| k == *name).cloned();
                        crate::config_layers::apply_env(&mut one, &keys, var).is_ok()
                            && toml::Value::Table(one).try_into::<Config>().is_err()
                    })
                    .cloned()
                    .or_else(|| {
                        sets.iter()
                            .find(|set| {
                                let mut one = file.clone();
                                crate::config_layers::apply_sets(
                                    &mut one,
                                    &keys,
                                    std::slice::from_ref(set),
                                )
                                .is_ok()
                                    && toml::Value::Table(one).try_into::<Config>().is_err()
                            })
                            .map(|set| format!("--set {set}"))
                    })
                    .unwrap_or_else(|| "the overrides".to_owned());
                return Err(invalid(format!("{culprit}: {}", e.message())));
            }
        };
        config.check().map_err(invalid)?;
        Ok(Loaded {
            config,
            env_applied,
        })
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
        if self.import_poll_secs == 0 {
            return Err("import_poll_secs must be at least 1".into());
        }
        for (key, value) in [
            (
                "max_connections_per_address",
                self.max_connections_per_address as u64,
            ),
            ("body_timeout_secs", self.body_timeout_secs),
            ("body_min_bytes_per_sec", self.body_min_bytes_per_sec),
            ("request_timeout_secs", self.request_timeout_secs),
            ("write_stall_timeout_secs", self.write_stall_timeout_secs),
        ] {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        Ok(())
    }

    /// The limits at the edge (docs/operations.md, "Limits at the edge").
    pub fn edge(&self) -> crate::edge::EdgeLimits {
        use std::time::Duration;
        crate::edge::EdgeLimits {
            max_connections_per_address: self.max_connections_per_address,
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            body_min_bytes_per_sec: self.body_min_bytes_per_sec,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            write_stall_timeout: Duration::from_secs(self.write_stall_timeout_secs),
        }
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
             # GET /metrics (Prometheus) is on the HTTPS listener with the admin token. To serve it\n\
             # without a token on a separate plain-HTTP address, set metrics_listen, for example to\n\
             # \"127.0.0.1:9464\" (keep it on loopback or a management network).\n\n\
             # A drop folder for import files (systeminfo, qfe, nmap XML, AD CSV, probe reports),\n\
             # relative to the data directory, e.g. \"imports\"; empty: none. Files are imported,\n\
             # then moved to done/ or rejected/ (with NAME.reason.txt).\n\
             # import_drop_dir = \"{}\"\n\
             # Seconds between two looks at the drop folder.\n\
             # import_poll_secs = {}\n\n\
             # Limits at the edge (docs/operations.md). Open connections from one address (IPv4)\n\
             # or /64 (IPv6); more are closed at once.\n\
             # max_connections_per_address = {}\n\
             # A request body gets body_timeout_secs, plus one second for every\n\
             # body_min_bytes_per_sec bytes received; one that falls behind is cut off (408).\n\
             # body_timeout_secs = {}\n\
             # body_min_bytes_per_sec = {}\n\
             # Seconds to the answer's head, on top of the body's time (else 503 timeout).\n\
             # request_timeout_secs = {}\n\
             # Seconds a client may read nothing of an answer before its connection is closed.\n\
             # write_stall_timeout_secs = {}\n\n\
             # Risk weights, plan unit costs and liveness windows: tables [weights], [costs] and\n\
             # [liveness], every key optional.\n\
             # The keys, their defaults and their sources are in docs/risk-model.md.\n",
            d.listen,
            d.max_body_bytes,
            d.max_inflated_bytes,
            d.history_max_reports,
            d.history_max_days,
            d.enroll_per_minute,
            d.tls_cert.display(),
            d.tls_key.display(),
            d.import_drop_dir.display(),
            d.import_poll_secs,
            d.max_connections_per_address,
            d.body_timeout_secs,
            d.body_min_bytes_per_sec,
            d.request_timeout_secs,
            d.write_stall_timeout_secs,
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
    fn env_then_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nenroll_per_minute = 5\n").unwrap();
        let vars = [
            ("WARD_LISTEN", "0.0.0.0:8443"),
            ("WARD_HISTORY_MAX_DAYS", "30"),
            ("WARD_WEIGHTS__SMB1_ENABLED", "99"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let loaded =
            Config::load_layered(&path, true, vars, &["history_max_days=7".to_owned()]).unwrap();
        assert_eq!(loaded.config.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(loaded.config.enroll_per_minute, 5);
        assert_eq!(loaded.config.history_max_days, 7);
        assert_eq!(loaded.config.weights.smb1_enabled, 99);
        assert_eq!(loaded.env_applied.len(), 3);

        let bad = [("WARD_MAX_BODY_BYTES".to_owned(), "10".to_owned())];
        let err = Config::load_layered(&path, true, bad, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_body_bytes must be at least 1024"),
            "{err}"
        );
        let err = Config::load_layered(&path, true, [], &["lisen=1".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        assert!(Config::load_layered(&dir.path().join("none"), true, [], &[]).is_err());
    }

    /// docs/configuration.md names every key, so nothing settable is undocumented.
    #[test]
    fn every_key_is_documented() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/configuration.md"
        ))
        .unwrap();
        let missing: Vec<String> = Config::keys()
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| !doc.contains(&format!("`{path}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/configuration.md lacks {missing:?}"
        );
    }

    #[test]
    fn missing_file_is_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
    }
}
