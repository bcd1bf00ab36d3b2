//! Limits on what a report may contain. The collector rejects a report that breaks any of them
//! with the offending field's path; the agent trims its own lists to stay inside them.

use std::fmt::Display;

use chrono::{DateTime, NaiveDate, Utc};

use crate::Report;

/// The earliest date a report may carry (`collected_at`, install, boot, update and BIOS dates).
/// Earlier ones come from a reset clock or a placeholder (`0000-01-01`, `1601-01-01`, 1970).
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => panic!("1990-01-01 is a date"),
};

/// How far ahead of the reader's clock a date may be (clocks drift; time zones differ).
pub fn future_slack() -> chrono::Duration {
    chrono::Duration::days(1)
}

/// Whether `c` is refused in a text field: the C0 and C1 control characters and DEL. Free text
/// (`errors[].reason`) may also hold tab, line feed and carriage return.
fn is_refused_control(c: char, free_text: bool) -> bool {
    c.is_control() && !(free_text && matches!(c, '\t' | '\n' | '\r'))
}

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
    #[error("{field} holds a control character (U+{code:04X}) at byte {at}")]
    ControlCharacter { field: String, code: u32, at: usize },
}

struct Check<'a> {
    limits: &'a Limits,
    now: DateTime<Utc>,
}

/// Field paths are `Display` (a `&str`, or `format_args!` for indexed ones) and only become a
/// `String` in an error: validation runs on every report, errors are rare.
impl Check<'_> {
    fn str(&self, field: impl Display, value: &str) -> Result<(), ValidationError> {
        self.text(field, value, false)
    }

    /// Length, and no control characters (`free_text` allows tab and line ends).
    fn text(
        &self,
        field: impl Display,
        value: &str,
        free_text: bool,
    ) -> Result<(), ValidationError> {
        if value.len() > self.limits.max_string {
            return Err(ValidationError::StringTooLong {
                field: field.to_string(),
                len: value.len(),
                max: self.limits.max_string,
            });
        }
        if let Some((at, c)) = value
            .char_indices()
            .find(|(_, c)| is_refused_control(*c, free_text))
        {
            return Err(ValidationError::ControlCharacter {
                field: field.to_string(),
                code: u32::from(c),
                at,
            });
        }
        Ok(())
    }

    /// A date from 1990 to a day past `now`.
    fn date(&self, field: impl Display, value: Option<NaiveDate>) -> Result<(), ValidationError> {
        let Some(date) = value else {
            return Ok(());
        };
        match date_out_of_range(date, self.now) {
            None => Ok(()),
            Some(detail) => Err(ValidationError::OutOfRange {
                field: field.to_string(),
                detail,
            }),
        }
    }

    fn time(
        &self,
        field: impl Display,
        value: Option<DateTime<Utc>>,
    ) -> Result<(), ValidationError> {
        let Some(time) = value else {
            return Ok(());
        };
        match time_out_of_range(time, self.now) {
            None => Ok(()),
            Some(detail) => Err(ValidationError::OutOfRange {
                field: field.to_string(),
                detail,
            }),
        }
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
        let c = Check { limits, now };
        c.time("collected_at", Some(self.collected_at))?;
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
        c.time("os.install_date", o.install_date)?;
        c.time("os.boot_time", o.boot_time)?;

        let p = &self.patches;
        c.time("patches.last_installed_at", p.last_installed_at)?;
        c.time("patches.last_refreshed_at", p.last_refreshed_at)?;
        c.len("patches.installed", p.installed.len(), limits.max_updates)?;
        for (i, u) in p.installed.iter().enumerate() {
            c.required(format_args!("patches.installed[{i}].id"), &u.id)?;
            c.opt(format_args!("patches.installed[{i}].kind"), &u.kind)?;
            c.date(
                format_args!("patches.installed[{i}].installed_on"),
                u.installed_on,
            )?;
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
        c.date("hardware.bios.release_date", hw.bios.release_date)?;
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
            c.text(format_args!("errors[{i}].reason"), &e.reason, true)?;
        }
        Ok(())
    }
}

/// Why a date is refused, or `None` when it is from 1990 to a day past `now`.
fn date_out_of_range(date: NaiveDate, now: DateTime<Utc>) -> Option<String> {
    if date < EARLIEST_DATE {
        Some(format!("{date} is before {EARLIEST_DATE}"))
    } else if date > (now + future_slack()).date_naive() {
        Some(format!(
            "{date} is more than a day ahead of the clock ({now})"
        ))
    } else {
        None
    }
}

fn time_out_of_range(time: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    if time.date_naive() < EARLIEST_DATE {
        Some(format!("{time} is before {EARLIEST_DATE}"))
    } else if time > now + future_slack() {
        Some(format!(
            "{time} is more than a day ahead of the clock ({now})"
        ))
    } else {
        None
    }
}

/// Text without the characters [`Report::validate`] refuses: NUL and DEL removed, other
/// control characters become a space (tab and line ends kept in free text).
fn clean_text(value: &mut String, free_text: bool) {
    if !value.chars().any(|c| is_refused_control(c, free_text)) {
        return;
    }
    *value = value
        .chars()
        .filter(|c| !matches!(c, '\0' | '\u{7f}'))
        .map(|c| {
            if is_refused_control(c, free_text) {
                ' '
            } else {
                c
            }
        })
        .collect();
}

impl Report {
    /// What a producer does before sending, so that [`Report::validate`] never refuses its
    /// report for what the machine said: control characters are taken out of every text field
    /// (firmware and registry strings often carry NUL padding), and a date before 1990 or more
    /// than a day past `collected_at` (a reset clock, a placeholder) is left out, each with an
    /// entry in `errors` naming the field and the value. `collected_at` itself is the caller's
    /// clock and is not changed.
    pub fn clean(&mut self) {
        let now = self.collected_at;
        let mut dropped = Vec::new();
        let mut time = |field: &str, value: &mut Option<DateTime<Utc>>| {
            if let Some(why) = value.and_then(|t| time_out_of_range(t, now)) {
                *value = None;
                dropped.push(crate::CollectionError::new(
                    field,
                    format!("left out: the machine reported {why}"),
                ));
            }
        };
        time("os.install_date", &mut self.os.install_date);
        time("os.boot_time", &mut self.os.boot_time);
        time(
            "patches.last_installed_at",
            &mut self.patches.last_installed_at,
        );
        time(
            "patches.last_refreshed_at",
            &mut self.patches.last_refreshed_at,
        );
        let mut date = |field: String, value: &mut Option<NaiveDate>| {
            if let Some(why) = value.and_then(|d| date_out_of_range(d, now)) {
                *value = None;
                dropped.push(crate::CollectionError::new(
                    field,
                    format!("left out: the machine reported {why}"),
                ));
            }
        };
        date(
            "hardware.bios.release_date".into(),
            &mut self.hardware.bios.release_date,
        );
        for (i, u) in self.patches.installed.iter_mut().enumerate() {
            date(
                format!("patches.installed[{i}].installed_on"),
                &mut u.installed_on,
            );
        }
        self.errors.extend(dropped);

        let opt = |v: &mut Option<String>| {
            if let Some(v) = v {
                clean_text(v, false);
            }
        };
        clean_text(&mut self.agent.name, false);
        clean_text(&mut self.agent.version, false);
        let h = &mut self.host;
        for v in [
            &mut h.hostname,
            &mut h.fqdn,
            &mut h.domain,
            &mut h.hardware_uuid,
        ] {
            opt(v);
        }
        for v in h.mac_addresses.iter_mut().chain(h.ip_addresses.iter_mut()) {
            clean_text(v, false);
        }
        let o = &mut self.os;
        for v in [
            &mut o.name,
            &mut o.id,
            &mut o.edition,
            &mut o.version,
            &mut o.display_version,
            &mut o.build,
            &mut o.service_pack,
            &mut o.architecture,
            &mut o.kernel,
            &mut o.installation_type,
        ] {
            opt(v);
        }
        for u in &mut self.patches.installed {
            clean_text(&mut u.id, false);
            opt(&mut u.kind);
        }
        for u in &mut self.patches.pending {
            clean_text(&mut u.name, false);
            opt(&mut u.version);
        }
        let hw = &mut self.hardware;
        for v in [
            &mut hw.manufacturer,
            &mut hw.model,
            &mut hw.serial,
            &mut hw.chassis_type,
            &mut hw.bios.vendor,
            &mut hw.bios.version,
            &mut hw.tpm.version,
            &mut hw.cpu.brand,
            &mut hw.cpu.vendor,
            &mut hw.cpu.identifier,
        ] {
            opt(v);
        }
        for d in &mut hw.disks {
            clean_text(&mut d.name, false);
            opt(&mut d.mount_point);
            opt(&mut d.file_system);
        }
        let s = &mut self.security;
        opt(&mut s.srv_sys_version);
        for f in &mut s.firewall_profiles {
            clean_text(&mut f.name, false);
        }
        for v in &mut s.encrypted_volumes {
            clean_text(&mut v.volume, false);
            opt(&mut v.method);
        }
        let t = &mut self.tags;
        opt(&mut t.site);
        opt(&mut t.department);
        if t.labels.iter().any(|(k, v)| {
            k.chars()
                .chain(v.chars())
                .any(|c| is_refused_control(c, false))
        }) {
            t.labels = std::mem::take(&mut t.labels)
                .into_iter()
                .map(|(mut k, mut v)| {
                    clean_text(&mut k, false);
                    clean_text(&mut v, false);
                    (k, v)
                })
                .collect();
        }
        for e in &mut self.errors {
            clean_text(&mut e.field, false);
            clean_text(&mut e.reason, true);
        }
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
            | ValidationError::OutOfRange { field, .. }
            | ValidationError::ControlCharacter { field, .. } => field,
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

    /// Issue 16, item 6: a NUL in a host name (or any control character in any text field) is
    /// refused with the field named; free text keeps its line ends.
    #[test]
    fn control_characters_are_refused_with_the_field() {
        let mut r = report();
        r.host.hostname = Some("pc\u{0}01".into());
        assert_eq!(check(&r), Err("host.hostname".into()));
        let err = r.validate(&Limits::V1, Utc::now()).unwrap_err().to_string();
        assert!(err.contains("U+0000"), "{err}");

        for (set, field) in [
            (
                (|r: &mut Report| r.hardware.serial = Some("AB\u{1b}[31m".into()))
                    as fn(&mut Report),
                "hardware.serial",
            ),
            (|r| r.os.name = Some("Windows\u{7f}".into()), "os.name"),
            (|r| r.tags.site = Some("A&E\u{85}".into()), "tags.site"),
            (
                |r| {
                    r.tags.labels.insert("ward".into(), "7\nB".into());
                },
                "tags.labels.ward",
            ),
            (
                |r| r.errors.push(crate::CollectionError::new("x", "a\u{0}b")),
                "errors[0].reason",
            ),
        ] {
            let mut r = report();
            set(&mut r);
            assert_eq!(check(&r), Err(field.into()));
        }
        let mut r = report();
        r.errors.push(crate::CollectionError::new(
            "hardware.serial",
            "line one\nline two\twith a tab\r\n",
        ));
        r.host.hostname = Some("caf\u{e9}-\u{1f600}".into());
        assert_eq!(
            check(&r),
            Ok(()),
            "line ends in free text and non-ASCII are fine"
        );
    }

    /// Issue 16, item 6: a `collected_at` of 0000-01-01 was accepted; every date of the
    /// report must be from 1990 to a day past the collector's clock, else refused by name.
    #[test]
    fn dates_before_1990_or_past_tomorrow_are_refused_with_the_field() {
        let now = Utc::now();
        let ancient: DateTime<Utc> = "0000-01-01T00:00:00Z".parse().unwrap();
        let mut r = report();
        r.collected_at = ancient;
        assert_eq!(check(&r), Err("collected_at".into()));
        r.collected_at = "1989-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(check(&r), Err("collected_at".into()));
        r.collected_at = "1990-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(check(&r), Ok(()));

        let old = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap();
        let later = (now + chrono::Duration::days(3)).date_naive();
        for (set, field) in [
            (
                (|r: &mut Report| r.os.install_date = Some("1601-01-01T00:00:00Z".parse().unwrap()))
                    as fn(&mut Report),
                "os.install_date",
            ),
            (
                |r| r.os.boot_time = Some(Utc::now() + chrono::Duration::days(2)),
                "os.boot_time",
            ),
            (
                |r| r.patches.last_installed_at = Some("1970-01-01T00:00:00Z".parse().unwrap()),
                "patches.last_installed_at",
            ),
            (
                |r| r.patches.last_refreshed_at = Some(Utc::now() + chrono::Duration::days(400)),
                "patches.last_refreshed_at",
            ),
        ] {
            let mut r = report();
            set(&mut r);
            assert_eq!(check(&r), Err(field.into()));
        }
        let mut r = report();
        r.hardware.bios.release_date = Some(old);
        assert_eq!(check(&r), Err("hardware.bios.release_date".into()));
        let mut r = report();
        r.patches.installed = vec![
            InstalledUpdate {
                id: "KB1".into(),
                installed_on: Some(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
                ..Default::default()
            },
            InstalledUpdate {
                id: "KB2".into(),
                installed_on: Some(later),
                ..Default::default()
            },
        ];
        assert_eq!(check(&r), Err("patches.installed[1].installed_on".into()));
        r.patches.installed[1].installed_on = Some(now.date_naive());
        assert_eq!(check(&r), Ok(()));
    }

    /// What the agent does before sending: a report with dirty strings and impossible dates
    /// becomes one the collector accepts, and says what it left out.
    #[test]
    fn clean_makes_a_dirty_report_valid_and_says_what_it_dropped() {
        let mut r = report();
        r.host.hostname = Some("PC-01\u{0}\u{0}".into());
        r.hardware.bios.vendor = Some("Dell\u{1}Inc.".into());
        r.hardware.bios.release_date = NaiveDate::from_ymd_opt(1980, 1, 1);
        r.os.install_date = Some("1601-01-01T00:00:00Z".parse().unwrap());
        r.os.boot_time = Some(r.collected_at - chrono::Duration::hours(3));
        r.tags.labels.insert("room\u{7}".into(), "7B".into());
        r.patches.installed = vec![InstalledUpdate {
            id: "KB5034441".into(),
            installed_on: NaiveDate::from_ymd_opt(2099, 1, 1),
            ..Default::default()
        }];
        r.errors.push(crate::CollectionError::new(
            "os.kernel",
            "stderr:\n\u{0}oops",
        ));
        r.clean();
        assert_eq!(check(&r), Ok(()));
        assert_eq!(r.host.hostname.as_deref(), Some("PC-01"));
        assert_eq!(r.hardware.bios.vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(r.hardware.bios.release_date, None);
        assert_eq!(r.os.install_date, None);
        assert!(r.os.boot_time.is_some(), "a good date stays");
        assert!(r.tags.labels.contains_key("room "));
        assert_eq!(r.patches.installed[0].installed_on, None);
        assert_eq!(r.errors[0].reason, "stderr:\noops");
        let dropped: Vec<&str> = r.errors.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "os.install_date",
            "hardware.bios.release_date",
            "patches.installed[0].installed_on",
        ] {
            assert!(dropped.contains(&field), "{field} in {dropped:?}");
        }
    }
}
