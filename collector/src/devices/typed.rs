//! The merged report, built field by field on the typed [`Report`]: what the risk engine and the
//! estate read for every device, so it runs for every device on every change and must be cheap.
//!
//! It applies exactly the rule of [`super::merge`] (each leaf of the report is a fact; a leaf is
//! absent when it is `None`, a blank string, an empty list or the `other` OS family; the winner
//! is fresh before outdated, then the more direct source, then the fresher observation; the
//! installed updates and the MAC and IP addresses are a union, the winner's first). The generic
//! walk in `merge.rs` builds the side-by-side fact table of one device for its page; a property
//! test keeps the two equal.
//!
//! A device seen by one source only takes the same path with one candidate: every field is the
//! candidate's own, so nothing is compared.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use ward_shared::{OsFamily, Report};

use super::identity::Source;
use super::merge::OUTDATED_DAYS;

/// One current observation of the device: a source's newest report.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub report: &'a Report,
    pub source: Source,
    pub observed_at: DateTime<Utc>,
}

fn str_present(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn some<T>(v: &Option<T>) -> bool {
    v.is_some()
}

fn not_empty<T>(v: &[T]) -> bool {
    !v.is_empty()
}

/// The candidates that have the fact, in winning order (fresh before outdated, more direct,
/// fresher). `candidates` come one per source, most direct first.
fn ranked<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    present: impl Fn(&Report) -> bool,
) -> Vec<&'c Candidate<'a>> {
    let mut with: Vec<&Candidate<'a>> = candidates.iter().filter(|c| present(c.report)).collect();
    if with.len() > 1 {
        let newest = with.iter().map(|c| c.observed_at).max().unwrap_or_default();
        let outdated = Duration::days(OUTDATED_DAYS);
        with.sort_by_key(|c| {
            (
                newest - c.observed_at > outdated,
                c.source,
                Reverse(c.observed_at),
            )
        });
    }
    with
}

/// The winning candidate for one fact.
fn winner<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    present: impl Fn(&Report) -> bool,
) -> Option<&'c Candidate<'a>> {
    if let [only] = candidates {
        return present(only.report).then_some(only);
    }
    ranked(candidates, present).into_iter().next()
}

/// The lists of every candidate that has one, winner first, as one list: each later list adds
/// the entries whose key the list so far lacks.
fn union<T: Clone>(lists: &[&Vec<T>], key: impl Fn(&T) -> String) -> Vec<T> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    let mut out = (*first).clone();
    if rest.is_empty() {
        return out;
    }
    let mut seen: BTreeSet<String> = out.iter().map(&key).collect();
    for list in rest {
        for v in *list {
            if seen.insert(key(v)) {
                out.push(v.clone());
            }
        }
    }
    out
}

/// Sets every fact of `out` (a base report with no facts) from the candidates.
pub fn merge_into(candidates: &[Candidate<'_>], out: &mut Report) {
    macro_rules! leaf {
        ($present:ident, $($f:ident).+) => {
            if let Some(c) = winner(candidates, |r: &Report| $present(&r.$($f).+)) {
                out.$($f).+.clone_from(&c.report.$($f).+);
            }
        };
    }
    macro_rules! union_list {
        ($key:expr, $($f:ident).+) => {
            let lists: Vec<_> = ranked(candidates, |r: &Report| not_empty(&r.$($f).+))
                .into_iter()
                .map(|c| &c.report.$($f).+)
                .collect();
            if !lists.is_empty() {
                out.$($f).+ = union(&lists, $key);
            }
        };
    }

    leaf!(str_present, host.hostname);
    leaf!(str_present, host.fqdn);
    leaf!(str_present, host.domain);
    leaf!(str_present, host.hardware_uuid);
    union_list!(|m: &String| m.to_ascii_lowercase(), host.mac_addresses);
    union_list!(|m: &String| m.to_ascii_lowercase(), host.ip_addresses);

    if let Some(c) = winner(candidates, |r| r.os.family != OsFamily::Other) {
        out.os.family = c.report.os.family;
    }
    leaf!(str_present, os.name);
    leaf!(str_present, os.id);
    leaf!(str_present, os.edition);
    leaf!(str_present, os.version);
    leaf!(str_present, os.display_version);
    leaf!(str_present, os.build);
    leaf!(some, os.revision);
    leaf!(str_present, os.service_pack);
    leaf!(str_present, os.architecture);
    leaf!(str_present, os.kernel);
    leaf!(str_present, os.installation_type);
    leaf!(some, os.install_date);
    leaf!(some, os.boot_time);

    union_list!(
        |u: &ward_shared::InstalledUpdate| u.id.to_ascii_uppercase(),
        patches.installed
    );
    leaf!(some, patches.last_installed_at);
    leaf!(some, patches.last_refreshed_at);
    leaf!(some, patches.pending_count);
    leaf!(some, patches.pending_security_count);
    leaf!(not_empty, patches.pending);
    leaf!(some, patches.reboot_pending);

    leaf!(str_present, hardware.manufacturer);
    leaf!(str_present, hardware.model);
    leaf!(str_present, hardware.serial);
    leaf!(str_present, hardware.chassis_type);
    leaf!(str_present, hardware.bios.vendor);
    leaf!(str_present, hardware.bios.version);
    leaf!(some, hardware.bios.release_date);
    leaf!(some, hardware.uefi);
    leaf!(some, hardware.secure_boot);
    leaf!(some, hardware.tpm.present);
    leaf!(str_present, hardware.tpm.version);
    leaf!(some, hardware.tpm.enabled);
    leaf!(some, hardware.tpm.activated);
    leaf!(str_present, hardware.cpu.brand);
    leaf!(str_present, hardware.cpu.vendor);
    leaf!(str_present, hardware.cpu.identifier);
    leaf!(some, hardware.cpu.cores);
    leaf!(some, hardware.cpu.threads);
    leaf!(some, hardware.cpu.max_clock_mhz);
    leaf!(some, hardware.ram_bytes);
    leaf!(not_empty, hardware.disks);

    leaf!(some, security.smb1_server_enabled);
    leaf!(str_present, security.srv_sys_version);
    leaf!(some, security.firewall_enabled);
    leaf!(not_empty, security.firewall_profiles);
    leaf!(some, security.system_disk_encrypted);
    leaf!(not_empty, security.encrypted_volumes);

    leaf!(str_present, tags.site);
    leaf!(str_present, tags.department);
    leaf!(some, tags.clinical);
    out.tags.labels = labels(candidates);
}

/// Each label is a fact of its own.
fn labels(candidates: &[Candidate<'_>]) -> BTreeMap<String, String> {
    let blank = |v: &String| v.trim().is_empty();
    if let [only] = candidates {
        let mut labels = only.report.tags.labels.clone();
        labels.retain(|_, v| !blank(v));
        return labels;
    }
    let keys: BTreeSet<&String> = candidates
        .iter()
        .flat_map(|c| c.report.tags.labels.iter())
        .filter(|(_, v)| !blank(v))
        .map(|(k, _)| k)
        .collect();
    keys.into_iter()
        .filter_map(|k| {
            let c = winner(candidates, |r| {
                r.tags.labels.get(k).is_some_and(|v| !blank(v))
            })?;
            Some((k.clone(), c.report.tags.labels.get(k)?.clone()))
        })
        .collect()
}
