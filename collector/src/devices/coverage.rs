//! How much of the estate Ward sees from inside: the share of devices with an agent or probe
//! report, by site, and the devices seen only from outside (AD, nmap).
//!
//! Each active device is in one class:
//! - **managed**: an agent or probe reported within the stale window;
//! - **imported**: no current agent or probe, but a systeminfo or qfe file (facts from the
//!   machine, collected by hand);
//! - **unmanaged**: seen only by AD or nmap.
//!
//! Stale devices (no sighting within the stale window) are left out of every count and listed
//! with `active: false` among the unmanaged when they are unmanaged.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::identity::{Source, is_direct};
use super::merge::Device;

/// The site of devices that carry none.
pub const NO_SITE: &str = "(no site)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub generated_at: DateTime<Utc>,
    /// Sightings older than this many days do not count.
    pub stale_after_days: u32,
    /// Active devices.
    pub devices: usize,
    pub managed: usize,
    pub imported: usize,
    pub unmanaged: usize,
    /// `managed / devices` (0 when there are none).
    pub managed_share: f64,
    /// Devices left out of the counts because nothing saw them within the window.
    pub stale: usize,
    pub by_site: Vec<SiteCoverage>,
    /// Active devices each source saw (a device counts once per source).
    pub by_source: BTreeMap<String, usize>,
    /// Devices seen only by AD or nmap, active first, then by last sighting (newest first).
    pub unmanaged_devices: Vec<UnmanagedDevice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCoverage {
    pub site: String,
    pub devices: usize,
    pub managed: usize,
    pub imported: usize,
    pub unmanaged: usize,
    pub managed_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmanagedDevice {
    pub id: Uuid,
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    pub os_name: Option<String>,
    pub ip_addresses: Vec<String>,
    pub mac_addresses: Vec<String>,
    pub site: Option<String>,
    pub sources: Vec<Source>,
    pub last_seen: DateTime<Utc>,
    pub active: bool,
}

impl Coverage {
    /// Withholds addresses and DNS names for a role that may not see network details.
    pub fn redact(&mut self) {
        for d in &mut self.unmanaged_devices {
            d.fqdn = None;
            d.ip_addresses.clear();
            d.mac_addresses.clear();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Managed,
    Imported,
    Unmanaged,
}

fn class(d: &Device) -> Class {
    if d.managed {
        Class::Managed
    } else if d.sightings.iter().any(|s| !s.stale && is_direct(s.source)) {
        Class::Imported
    } else {
        Class::Unmanaged
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub fn coverage(devices: &[Device], now: DateTime<Utc>, stale_after_days: u32) -> Coverage {
    let mut c = Coverage {
        generated_at: now,
        stale_after_days,
        devices: 0,
        managed: 0,
        imported: 0,
        unmanaged: 0,
        managed_share: 0.0,
        stale: 0,
        by_site: Vec::new(),
        by_source: BTreeMap::new(),
        unmanaged_devices: Vec::new(),
    };
    let mut sites: BTreeMap<String, SiteCoverage> = BTreeMap::new();
    for d in devices {
        let class = class(d);
        let outside_only = d.sightings.iter().all(|s| !is_direct(s.source));
        if outside_only {
            c.unmanaged_devices.push(UnmanagedDevice {
                id: d.id,
                hostname: d.hostname.clone(),
                fqdn: d.merged.host.fqdn.clone(),
                os_name: d.os_name.clone(),
                ip_addresses: d.merged.host.ip_addresses.clone(),
                mac_addresses: d.merged.host.mac_addresses.clone(),
                site: d.site.clone(),
                sources: d.current_sources(),
                last_seen: d.last_seen,
                active: d.active,
            });
        }
        if !d.active {
            c.stale += 1;
            continue;
        }
        c.devices += 1;
        let site_name = d.site.clone().unwrap_or_else(|| NO_SITE.to_owned());
        let site = sites
            .entry(site_name.clone())
            .or_insert_with(|| SiteCoverage {
                site: site_name,
                devices: 0,
                managed: 0,
                imported: 0,
                unmanaged: 0,
                managed_share: 0.0,
            });
        site.devices += 1;
        match class {
            Class::Managed => {
                c.managed += 1;
                site.managed += 1;
            }
            Class::Imported => {
                c.imported += 1;
                site.imported += 1;
            }
            Class::Unmanaged => {
                c.unmanaged += 1;
                site.unmanaged += 1;
            }
        }
        let mut seen: Vec<Source> = d
            .sightings
            .iter()
            .filter(|s| !s.stale)
            .map(|s| s.source)
            .collect();
        seen.sort();
        seen.dedup();
        for s in seen {
            *c.by_source.entry(s.as_str().to_owned()).or_default() += 1;
        }
    }
    c.managed_share = share(c.managed, c.devices);
    c.by_site = sites
        .into_values()
        .map(|mut s| {
            s.managed_share = share(s.managed, s.devices);
            s
        })
        .collect();
    c.unmanaged_devices.sort_by(|a, b| {
        b.active
            .cmp(&a.active)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.id.cmp(&b.id))
    });
    c
}
