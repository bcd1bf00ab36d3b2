//! Limits on what a report may contain. The collector rejects a report that breaks any of them
//! with the offending field's path; the agent trims its own lists to stay inside them.

use std::fmt::Display;

use chrono::{DateTime, Utc};

use crate::Report;

/// Size limits of version 1 of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Any single string, in bytes.
    pub max_string: usize,
    /// Installed and pending updates, each.
    pub max_updates: usize,
    pub max_disks: usize,
    /// MAC and IP addresses, each.
    pub max_addresses: usize,
    pub max_errors: usize,
    pub max_labels: usize,
    pub max_firewall_profiles: usize,
    pub max_volumes: usize,
}

impl Limits {
    pub const V1: Limits = Limits {
        max_string: 1024,
        max_updates: 5000,
        max_disks: 128,
        max_addresses: 256,
        max_errors: 256,
        max_labels: 64,
        max_firewall_profiles: 16,
        max_volumes: 128,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::V1
    }
}

/// Why a report was refused: the field's dotted path and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("schema_version {found} is not supported (this collector reads up to {supported})")]
    SchemaVersion { found: u32, supported: u32 },
    #[error("{field} is {len} bytes long; the limit is {max}")]
    StringTooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("{field} has {len} entries; the limit is {max}")]
    TooMany {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("{field} must not be empty")]
    Empty { field: String },
    #[error("{field} is out of range: {detail}")]
    OutOfRange { field: String, detail: String },
}

struct Check<'a> {
    limits: &'a Limits,
}

/// Field paths are `Display` (a `&str`, or `format_args!` for indexed ones) and only become a
/// `String` in an error: validation runs on every report, errors are rare.
impl Check<'_> {
    fn str(&self, field: impl Display, value: &str) -> Result<(), ValidationError> {
        if value.len() > self.limits.max_string {
            return Err(ValidationError::StringTooLong {
                field: field.to_string(),
                len: value.len(),
                max: self.limits.max_string,
            });
        }
        Ok(())
    }

    fn required(&self, field: impl Display, value: &str) -> Result<(), ValidationError> {
        if value.trim().is_empty() {
            return Err(ValidationError::Empty {
                field: field.to_string(),
            });
        }
        self.str(field, value)
    }

    fn opt(&self, field: impl Display, value: &Option<String>) -> Result<(), ValidationError> {
        value.as_deref().map_or(Ok(()), |v| self.str(field, v))
    }

    fn len(&self, field: &str, len: usize, max: usize) -> Result<(), ValidationError> {
        if len > max {
            return Err(ValidationError::TooMany {
                field: field.to_owned(),
                len,
                max,
            });
        }
        Ok(())
    }

    fn strings(&self, field: &str, values: &[String], max: usize) -> Result<(), ValidationError> {
        self.len(field, values.len(), max)?;
        values
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| self.str(format_args!("{field}[{i}]"), v))
    }
}

impl Report {
    /// Checks the schema version and every limit; `now` bounds `collected_at` (a report from more
    /// than a day in the future means a broken clock, and would sort wrongly forever).
    pub fn validate(&self, limits: &Limits, now: DateTime<Utc>) -> Result<(), ValidationError> {
        if self.schema_version == 0 || self.schema_version > crate::SCHEMA_VERSION {
            return Err(ValidationError::SchemaVersion {
                found: self.schema_version,
                supported: crate::SCHEMA_VERSION,
            });
        }
        if self.collected_at > now + chrono::Duration::days(1) {
            return Err(ValidationError::OutOfRange {
                field: "collected_at".into(),
                detail: format!(
                    "{} is more than a day ahead of the collector's clock",
                    self.collected_at
                ),
            });
        }
        let c = Check { limits };
        c.required("agent.name", &self.agent.name)?;
        c.required("agent.version", &self.agent.version)?;

        let h = &self.host;
        c.opt("host.hostname", &h.hostname)?;
        c.opt("host.fqdn", &h.fqdn)?;
        c.opt("host.domain", &h.domain)?;
        c.opt("host.hardware_uuid", &h.hardware_uuid)?;
        c.strings("host.mac_addresses", &h.mac_addresses, limits.max_addresses)?;
        c.strings("host.ip_addresses", &h.ip_addresses, limits.max_addresses)?;

        let o = &self.os;
        for (field, value) in [
            ("os.name", &o.name),
            ("os.id", &o.id),
            ("os.edition", &o.edition),
            ("os.version", &o.version),
            ("os.display_version", &o.display_version),
            ("os.build", &o.build),
            ("os.service_pack", &o.service_pack),
            ("os.architecture", &o.architecture),
            ("os.kernel", &o.kernel),
            ("os.installation_type", &o.installation_type),
        ] {
            c.opt(field, value)?;
        }

        let p = &self.patches;
        c.len("patches.installed", p.installed.len(), limits.max_updates)?;
        for (i, u) in p.installed.iter().enumerate() {
            c.required(format_args!("patches.installed[{i}].id"), &u.id)?;
            c.opt(format_args!("patches.installed[{i}].kind"), &u.kind)?;
        }
        c.len("patches.pending", p.pending.len(), limits.max_updates)?;
        for (i, u) in p.pending.iter().enumerate() {
            c.required(format_args!("patches.pending[{i}].name"), &u.name)?;
            c.opt(format_args!("patches.pending[{i}].version"), &u.version)?;
        }

        let hw = &self.hardware;
        for (field, value) in [
            ("hardware.manufacturer", &hw.manufacturer),
            ("hardware.model", &hw.model),
            ("hardware.serial", &hw.serial),
            ("hardware.chassis_type", &hw.chassis_type),
            ("hardware.bios.vendor", &hw.bios.vendor),
            ("hardware.bios.version", &hw.bios.version),
            ("hardware.tpm.version", &hw.tpm.version),
            ("hardware.cpu.brand", &hw.cpu.brand),
            ("hardware.cpu.vendor", &hw.cpu.vendor),
            ("hardware.cpu.identifier", &hw.cpu.identifier),
        ] {
            c.opt(field, value)?;
        }
        c.len("hardware.disks", hw.disks.len(), limits.max_disks)?;
        for (i, d) in hw.disks.iter().enumerate() {
            c.str(format_args!("hardware.disks[{i}].name"), &d.name)?;
            c.opt(
                format_args!("hardware.disks[{i}].mount_point"),
                &d.mount_point,
            )?;
            c.opt(
                format_args!("hardware.disks[{i}].file_system"),
                &d.file_system,
            )?;
        }

        let s = &self.security;
        c.opt("security.srv_sys_version", &s.srv_sys_version)?;
        c.len(
            "security.firewall_profiles",
            s.firewall_profiles.len(),
            limits.max_firewall_profiles,
        )?;
        for (i, f) in s.firewall_profiles.iter().enumerate() {
            c.str(
                format_args!("security.firewall_profiles[{i}].name"),
                &f.name,
            )?;
        }
        c.len(
            "security.encrypted_volumes",
            s.encrypted_volumes.len(),
            limits.max_volumes,
        )?;
        for (i, v) in s.encrypted_volumes.iter().enumerate() {
            c.str(
                format_args!("security.encrypted_volumes[{i}].volume"),
                &v.volume,
            )?;
            c.opt(
                format_args!("security.encrypted_volumes[{i}].method"),
                &v.method,
            )?;
        }

        let t = &self.tags;
        c.opt("tags.site", &t.site)?;
        c.opt("tags.department", &t.department)?;
        c.len("tags.labels", t.labels.len(), limits.max_labels)?;
        for (k, v) in &t.labels {
            c.required("tags.labels key", k)?;
            c.str(format_args!("tags.labels.{k}"), v)?;
        }

        c.len("errors", self.errors.len(), limits.max_errors)?;
        for (i, e) in self.errors.iter().enumerate() {
            c.str(format_args!("errors[{i}].field"), &e.field)?;
            c.str(format_args!("errors[{i}].reason"), &e.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentInfo, Disk, InstalledUpdate};

    fn report() -> Report {
        Report::new(
            AgentInfo {
                id: None,
                name: "ward-agent".into(),
                version: "1".into(),
            },
            Utc::now(),
        )
    }

    fn field_of(err: ValidationError) -> String {
        match err {
            ValidationError::StringTooLong { field, .. }
            | ValidationError::TooMany { field, .. }
            | ValidationError::Empty { field }
            | ValidationError::OutOfRange { field, .. } => field,
            ValidationError::SchemaVersion { .. } => "schema_version".into(),
        }
    }

    fn check(r: &Report) -> Result<(), String> {
        r.validate(&Limits::V1, Utc::now()).map_err(field_of)
    }

    #[test]
    fn each_limit_names_its_field() {
        assert_eq!(check(&report()), Ok(()));

        let mut r = report();
        r.schema_version = 2;
        assert_eq!(check(&r), Err("schema_version".into()));
        r.schema_version = 0;
        assert_eq!(check(&r), Err("schema_version".into()));

        let mut r = report();
        r.collected_at = Utc::now() + chrono::Duration::days(3);
        assert_eq!(check(&r), Err("collected_at".into()));

        let mut r = report();
        r.agent.name = " ".into();
        assert_eq!(check(&r), Err("agent.name".into()));

        let mut r = report();
        r.hardware.cpu.brand = Some("x".repeat(1025));
        assert_eq!(check(&r), Err("hardware.cpu.brand".into()));
        r.hardware.cpu.brand = Some("x".repeat(1024));
        assert_eq!(check(&r), Ok(()));

        let mut r = report();
        r.patches.installed = vec![
            InstalledUpdate {
                id: "KB1".into(),
                ..Default::default()
            };
            5001
        ];
        assert_eq!(check(&r), Err("patches.installed".into()));
        r.patches.installed.truncate(2);
        r.patches.installed[1].id = String::new();
        assert_eq!(check(&r), Err("patches.installed[1].id".into()));

        let mut r = report();
        r.hardware.disks = vec![Disk::default(); 3];
        r.hardware.disks[2].mount_point = Some("m".repeat(2000));
        assert_eq!(check(&r), Err("hardware.disks[2].mount_point".into()));

        let mut r = report();
        r.tags.labels = (0..65).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(check(&r), Err("tags.labels".into()));

        let mut r = report();
        r.errors = vec![crate::CollectionError::new("a", "b"); 257];
        assert_eq!(check(&r), Err("errors".into()));
    }
}
