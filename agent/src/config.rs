//! The agent's configuration file (`STATE/ward-agent.toml` or `--config FILE`). Every key is
//! optional; unknown keys are rejected with their name. `WARD_*` environment variables override
//! the file and `--set KEY=VALUE` flags override both ([`crate::config_layers`]);
//! docs/configuration.md lists every key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ward_shared::Tags;

use crate::config_layers::Kind;
use crate::spool::SpoolLimits;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Seconds between collections.
    pub interval_secs: u64,
    /// Up to this many seconds are added at random to each wait, so a fleet does not report at once.
    pub jitter_secs: u64,
    /// Reports kept while the collector is unreachable; the oldest go first.
    pub spool_max_reports: usize,
    pub spool_max_bytes: u64,
    pub tags: TagsConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagsConfig {
    pub site: Option<String>,
    pub department: Option<String>,
    pub clinical: Option<bool>,
    pub labels: BTreeMap<String, String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        let spool = SpoolLimits::default();
        Self {
            interval_secs: 4 * 3600,
            jitter_secs: 15 * 60,
            spool_max_reports: spool.max_reports,
            spool_max_bytes: spool.max_bytes,
            tags: TagsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, toml::de::Error),
    #[error("{0}: {1}")]
    Invalid(String, &'static str),
    #[error("{0}: {1}")]
    Override(String, String),
}

fn overrides_named(env: &[String], sets: &[String]) -> String {
    let mut names: Vec<String> = env.to_vec();
    names.extend(sets.iter().map(|s| format!("--set {s}")));
    names.join(", ")
}

impl AgentConfig {
    /// Reads `path` (when `required` is false a missing file means all defaults), then applies
    /// the `WARD_*` environment variables.
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        Self::load_layered(path, required, std::env::vars(), &[]).map(|(config, _)| config)
    }

    /// Every key that can be set, as (dotted path, kind), for the environment and `--set`.
    pub fn keys() -> Vec<(String, Kind)> {
        let defaults = toml::Table::try_from(Self::default()).unwrap_or_default();
        crate::config_layers::keys(
            &defaults,
            &[
                ("tags.site", Kind::Text),
                ("tags.department", Kind::Text),
                ("tags.clinical", Kind::Boolean),
            ],
        )
    }

    /// The file, then the `WARD_*` variables among `vars`, then `sets` (`KEY=VALUE`), then the
    /// checks. Returns the config and the variables that changed it.
    pub fn load_layered(
        path: &Path,
        required: bool,
        vars: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(e) => return Err(ConfigError::Read(name, e)),
        };
        // The file alone first: its errors carry line numbers.
        toml::from_str::<Self>(&text).map_err(|e| ConfigError::Parse(name.clone(), e))?;
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError::Parse(name.clone(), e))?;
        let keys = Self::keys();
        let applied = crate::config_layers::apply_env(&mut table, &keys, vars)
            .map_err(|e| ConfigError::Override(name.clone(), e))?;
        crate::config_layers::apply_sets(&mut table, &keys, sets)
            .map_err(|e| ConfigError::Override(name.clone(), e))?;
        let config: Self = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                ConfigError::Override(
                    name.clone(),
                    format!("after {}: {}", overrides_named(&applied, sets), e.message()),
                )
            })?;
        if config.interval_secs < 60 {
            return Err(ConfigError::Invalid(
                name,
                "interval_secs must be at least 60",
            ));
        }
        if config.spool_max_reports == 0 {
            return Err(ConfigError::Invalid(
                name,
                "spool_max_reports must be at least 1",
            ));
        }
        Ok((config, applied))
    }

    pub fn tags(&self) -> Tags {
        Tags {
            site: self.tags.site.clone(),
            department: self.tags.department.clone(),
            clinical: self.tags.clinical,
            labels: self.tags.labels.clone(),
        }
    }

    pub fn spool_limits(&self) -> SpoolLimits {
        SpoolLimits {
            max_reports: self.spool_max_reports,
            max_bytes: self.spool_max_bytes,
        }
    }

    /// An example file with every key at its default, as shipped in `deploy/`.
    pub fn commented_default() -> String {
        let d = Self::default();
        format!(
            "# ward-agent configuration: STATE_DIR/ward-agent.toml, or `--config FILE`.\n\
             # Every key is optional; the values shown are the defaults. Unknown keys are rejected.\n\n\
             # Seconds between collections, plus up to jitter_secs at random so a fleet spreads out.\n\
             # interval_secs = {}\n\
             # jitter_secs = {}\n\n\
             # Reports kept on disk while the collector cannot be reached; the oldest go first.\n\
             # spool_max_reports = {}\n\
             # spool_max_bytes = {}\n\n\
             # Labels copied into every report; the risk engine weighs `clinical`.\n\
             [tags]\n\
             # site = \"North Hospital\"\n\
             # department = \"Radiology\"\n\
             # clinical = true\n\n\
             [tags.labels]\n\
             # ward = \"7B\"\n",
            d.interval_secs, d.jitter_secs, d.spool_max_reports, d.spool_max_bytes,
        )
    }

    /// The wait before the next collection: the interval plus random jitter.
    pub fn next_wait(&self) -> Duration {
        use rand::Rng;
        let jitter = if self.jitter_secs == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=self.jitter_secs)
        };
        Duration::from_secs(self.interval_secs + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(
            &path,
            "interval_secs = 600\n[tags]\nsite = \"North\"\nclinical = true\n[tags.labels]\nward = \"7B\"\n",
        )
        .unwrap();
        let config = AgentConfig::load(&path, true).unwrap();
        assert_eq!(config.interval_secs, 600);
        let tags = config.tags();
        assert_eq!(tags.site.as_deref(), Some("North"));
        assert_eq!(tags.clinical, Some(true));
        assert_eq!(tags.labels["ward"], "7B");

        std::fs::write(&path, "[tags]\nsit = \"North\"\n").unwrap();
        let err = AgentConfig::load(&path, true).unwrap_err().to_string();
        assert!(err.contains("sit"), "{err}");
        assert!(AgentConfig::load(&dir.path().join("none.toml"), true).is_err());
        assert_eq!(
            AgentConfig::load(&dir.path().join("none.toml"), false).unwrap(),
            AgentConfig::default()
        );
    }

    #[test]
    fn shipped_example_matches_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/ward-agent.toml");
        if std::env::var_os("WARD_REGENERATE").is_some() {
            std::fs::write(path, AgentConfig::commented_default()).unwrap();
        }
        let shipped = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            shipped,
            AgentConfig::commented_default(),
            "deploy/ward-agent.toml drifted; regenerate with WARD_REGENERATE=1 cargo test"
        );
        let parsed: AgentConfig = toml::from_str(&shipped).unwrap();
        assert_eq!(parsed, AgentConfig::default());
        let uncommented: String = shipped
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = "))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed: AgentConfig = toml::from_str(&uncommented).unwrap();
        assert_eq!(parsed.interval_secs, AgentConfig::default().interval_secs);
        assert_eq!(parsed.tags.clinical, Some(true));
    }

    #[test]
    fn env_then_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "interval_secs = 600\n[tags]\nsite = \"North\"\n").unwrap();
        let vars = [
            ("WARD_TAGS__SITE", "South"),
            ("WARD_TAGS__CLINICAL", "true"),
            ("WARD_JITTER_SECS", "5"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (config, applied) =
            AgentConfig::load_layered(&path, true, vars, &["interval_secs=900".to_owned()])
                .unwrap();
        assert_eq!(applied.len(), 3);
        assert_eq!(config.interval_secs, 900);
        assert_eq!(config.jitter_secs, 5);
        assert_eq!(config.tags.site.as_deref(), Some("South"));
        assert_eq!(config.tags.clinical, Some(true));
        let err = AgentConfig::load_layered(&path, true, [], &["interval=1".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`interval`"), "{err}");
    }

    /// docs/configuration.md names every key, so nothing settable is undocumented.
    #[test]
    fn every_key_is_documented() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/configuration.md"
        ))
        .unwrap();
        let missing: Vec<String> = AgentConfig::keys()
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
    fn jitter_stays_within_bounds() {
        let config = AgentConfig {
            interval_secs: 100,
            jitter_secs: 10,
            ..AgentConfig::default()
        };
        for _ in 0..200 {
            let wait = config.next_wait().as_secs();
            assert!((100..=110).contains(&wait), "{wait}");
        }
    }
}
