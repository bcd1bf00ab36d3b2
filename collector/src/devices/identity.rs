//! Which observations are the same machine: the pure matcher behind "one device per machine".
//!
//! An observation is one source's view of one machine at one moment: an agent device's latest
//! report, a probe report, a systeminfo or qfe file, an AD row, an nmap host. [`group`] puts
//! every observation in exactly one group; each group is one device.
//!
//! # Order of the keys
//!
//! Observations are taken most direct source first (agent, probe, systeminfo, qfe, AD, nmap),
//! freshest first within a source, and each joins the first existing group that one of its keys
//! finds, trying the keys in this order:
//!
//! 1. **hardware UUID** (SMBIOS system UUID), then **serial number**: burnt into the machine,
//!    survive a re-image and a rename. Placeholder values ("To be filled by O.E.M.", all zeros,
//!    the well-known `03000200-0400-0500-0006-000700080009`) are ignored.
//! 2. **MAC address**: survives a re-image; changes with the network card. Multicast, all-zero
//!    and well-known shared virtual adapters (the RAS adapter every Windows has, Npcap loopback)
//!    are ignored.
//! 3. **host name**: the short name (lower case) with its domain; `PC1`, `pc1.corp.local` and
//!    `pc1` in domain `CORP` (NetBIOS) are one name. A name with a domain only matches the same
//!    domain (two `PC1`s in two domains stay two); a name without a domain matches a group only
//!    when exactly one group has that short name. `WORKGROUP` is not a domain.
//! 4. **IP address with time**: the same address seen by both within [`IP_WINDOW_HOURS`] hours
//!    (DHCP gives addresses to other machines later), and only when exactly one group has it.
//!
//! Agent devices are never joined to each other: each enrollment is its own device, so its
//! device id (which the API and the exceptions register key on) never changes meaning. A
//! machine enrolled twice shows as two devices until the old enrollment goes stale; imports
//! join the freshest one.
//!
//! A match is refused when the two sides contradict each other on a stronger key: different
//! hardware UUIDs or different serials (a replacement PC given the old name, a second machine
//! behind a recycled DHCP address), and for an IP match also different host names.
//!
//! # Limits
//!
//! - A group is never split or joined afterwards: an observation joins one group even if its
//!   keys would also find a second one (the second stays a device of its own until a record
//!   with a stronger key arrives in a later view; every view is computed afresh).
//! - A machine whose board was replaced (new UUID and serial) and that was renamed is a new
//!   device; so is one seen only by IP outside the window.
//! - A USB network adapter moved between laptops carries its MAC with it and can join them;
//!   the conflict check on serial and UUID stops this whenever both sides know one.
//! - Cloned virtual machines that keep the template's SMBIOS UUID and serial look like one
//!   machine.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

/// How long an IP address identifies a machine on both sides of a match.
pub const IP_WINDOW_HOURS: i64 = 24;

pub use crate::import::{Identity, Source};

/// The machine itself said it (agent, probe, systeminfo, qfe), as opposed to a directory (AD)
/// or the network (nmap) describing it from outside.
pub fn is_direct(source: Source) -> bool {
    !matches!(source, Source::Ad | Source::Nmap)
}

/// One observation to group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub source: Source,
    pub observed_at: DateTime<Utc>,
    pub identity: Identity,
}

/// A host name split into its short name and domain, both lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    pub short: String,
    pub domain: Option<String>,
}

/// Normalised keys of one observation; placeholders removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    pub uuid: Option<String>,
    pub serial: Option<String>,
    pub macs: BTreeSet<String>,
    pub host: Option<HostKey>,
    pub ips: BTreeSet<IpAddr>,
}

impl Keys {
    pub fn of(id: &Identity) -> Self {
        let domain = id.domain.as_deref().and_then(normalize_domain);
        let host = id
            .fqdn
            .as_deref()
            .and_then(|f| host_key(f, None))
            .or_else(|| id.host_name.as_deref().and_then(|h| host_key(h, None)))
            .map(|mut k| {
                if k.domain.is_none() {
                    k.domain.clone_from(&domain);
                }
                k
            });
        Self {
            uuid: id.hardware_uuid.as_deref().and_then(normalize_uuid),
            serial: id.serial.as_deref().and_then(normalize_serial),
            macs: id.macs.iter().filter_map(|m| normalize_mac(m)).collect(),
            host,
            ips: id.ips.iter().filter_map(|i| usable_ip(*i)).collect(),
        }
    }
}

/// Upper-case UUID without braces; `None` for placeholders.
pub fn normalize_uuid(raw: &str) -> Option<String> {
    let u = raw
        .trim()
        .trim_matches(|c| c == '{' || c == '}')
        .to_ascii_uppercase();
    let hex: String = u.chars().filter(char::is_ascii_hexdigit).collect();
    if hex.len() != 32 || u.len() > 36 {
        return None;
    }
    let first = hex.chars().next()?;
    if hex.chars().all(|c| c == first) || u == "03000200-0400-0500-0006-000700080009" {
        return None;
    }
    Some(hex)
}

/// Upper-case serial without surrounding space; `None` for the placeholders vendors ship.
pub fn normalize_serial(raw: &str) -> Option<String> {
    const PLACEHOLDERS: &[&str] = &[
        "",
        "NONE",
        "N/A",
        "NA",
        "NULL",
        "UNKNOWN",
        "DEFAULT STRING",
        "TO BE FILLED BY O.E.M.",
        "TO BE FILLED BY OEM",
        "SYSTEM SERIAL NUMBER",
        "CHASSIS SERIAL NUMBER",
        "BASE BOARD SERIAL NUMBER",
        "NOT SPECIFIED",
        "NOT APPLICABLE",
        "NOT AVAILABLE",
        "INVALID",
        "SERIAL",
        "SERIALNUMBER",
        "123456789",
        "0123456789",
        "1234567890",
        "OEM",
    ];
    let s = raw.trim().to_ascii_uppercase();
    let first = s.chars().next()?;
    if PLACEHOLDERS.contains(&s.as_str()) || s.chars().all(|c| c == first) {
        return None;
    }
    Some(s)
}

/// `aa:bb:cc:dd:ee:ff`; `None` for malformed, multicast, all-zero and shared virtual MACs.
pub fn normalize_mac(raw: &str) -> Option<String> {
    const SHARED: &[&str] = &[
        // "WAN Miniport" / RAS async adapter: the same on every Windows machine.
        "20:41:53:59:4e:ff",
        // Npcap loopback adapter.
        "02:00:4c:4f:4f:50",
        "00:00:00:00:00:e0",
    ];
    let hex: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let first = u8::from_str_radix(hex.get(..2)?, 16).ok()?;
    if first & 1 == 1 || hex.chars().all(|c| c == '0') {
        return None;
    }
    let mac = (0..6)
        .filter_map(|i| hex.get(i * 2..i * 2 + 2))
        .collect::<Vec<_>>()
        .join(":");
    (!SHARED.contains(&mac.as_str())).then_some(mac)
}

/// A unicast address that can identify a machine (not loopback, unspecified or link-local).
pub fn usable_ip(ip: IpAddr) -> Option<IpAddr> {
    let usable = match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    };
    usable.then_some(ip)
}

/// Lower-case domain; `None` for empty and for workgroups (not a naming authority).
pub fn normalize_domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    (!(d.is_empty() || d == "workgroup" || d == "(none)" || d == "localdomain")).then_some(d)
}

/// Splits `name` (short or fully qualified) into a [`HostKey`]; `None` for empty names and IP
/// literals.
pub fn host_key(name: &str, domain: Option<&str>) -> Option<HostKey> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() || n.parse::<IpAddr>().is_ok() || n == "localhost" {
        return None;
    }
    let (short, own_domain) = match n.split_once('.') {
        Some((s, d)) => (s.to_owned(), normalize_domain(d)),
        None => (n, None),
    };
    if short.is_empty() {
        return None;
    }
    Some(HostKey {
        short,
        domain: own_domain.or_else(|| domain.and_then(normalize_domain)),
    })
}

/// Whether two domains name the same one: equal, or one is the NetBIOS name (a single label)
/// of the other (`corp` and `corp.example.org`).
pub fn same_domain(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let first = |d: &str| d.split('.').next().unwrap_or(d).to_owned();
    match (a.contains('.'), b.contains('.')) {
        (false, true) => a == first(b),
        (true, false) => b == first(a),
        _ => false,
    }
}

/// What a group knows so far.
#[derive(Debug, Default)]
struct Group {
    /// An agent device founded the group.
    agent: bool,
    uuids: BTreeSet<String>,
    serials: BTreeSet<String>,
    hosts: BTreeSet<HostKey>,
    /// Address -> the latest time a member was seen with it.
    ips: HashMap<IpAddr, DateTime<Utc>>,
}

impl Group {
    /// Different hardware on both sides.
    fn strong_conflict(&self, k: &Keys) -> bool {
        let differs = |known: &BTreeSet<String>, key: &Option<String>| {
            key.as_ref()
                .is_some_and(|v| !known.is_empty() && !known.contains(v))
        };
        differs(&self.uuids, &k.uuid) || differs(&self.serials, &k.serial)
    }

    fn name_conflict(&self, k: &Keys) -> bool {
        k.host.as_ref().is_some_and(|h| {
            !self.hosts.is_empty() && !self.hosts.iter().any(|g| g.short == h.short)
        })
    }

    fn add(&mut self, k: &Keys, at: DateTime<Utc>) {
        self.uuids.extend(k.uuid.clone());
        self.serials.extend(k.serial.clone());
        self.hosts.extend(k.host.clone());
        for ip in &k.ips {
            let seen = self.ips.entry(*ip).or_insert(at);
            *seen = (*seen).max(at);
        }
    }
}

/// The group of every observation: `result[i]` is the group index of `observations[i]`; groups
/// are numbered in the order they were founded (the most direct, freshest observation first).
/// Deterministic: the same observations in any order give the same grouping.
pub fn group(observations: &[Observation]) -> Vec<usize> {
    let keys: Vec<Keys> = observations.iter().map(|o| Keys::of(&o.identity)).collect();
    let mut order: Vec<usize> = (0..observations.len()).collect();
    // Most direct first, then freshest, then by keys so that ties do not depend on input order.
    order.sort_by(|&a, &b| {
        let (oa, ob) = (&observations[a], &observations[b]);
        oa.source
            .cmp(&ob.source)
            .then(ob.observed_at.cmp(&oa.observed_at))
            .then_with(|| format!("{:?}", keys[a]).cmp(&format!("{:?}", keys[b])))
            .then(a.cmp(&b))
    });

    let mut groups: Vec<Group> = Vec::new();
    let mut by_uuid: HashMap<String, usize> = HashMap::new();
    let mut by_serial: HashMap<String, usize> = HashMap::new();
    let mut by_mac: HashMap<String, usize> = HashMap::new();
    let mut by_short: HashMap<String, BTreeSet<usize>> = HashMap::new();
    let mut by_ip: HashMap<IpAddr, BTreeSet<usize>> = HashMap::new();
    let mut result = vec![0; observations.len()];

    for i in order {
        let k = &keys[i];
        let at = observations[i].observed_at;
        let is_agent = observations[i].source == Source::Agent;
        // Every agent enrollment is its own device: its id is the device id, which the API
        // and the exceptions register key on.
        let ok = |g: usize, groups: &[Group]| {
            !(groups[g].strong_conflict(k) || (is_agent && groups[g].agent))
        };
        let found = k
            .uuid
            .as_ref()
            .and_then(|u| by_uuid.get(u))
            .copied()
            .filter(|&g| ok(g, &groups))
            .or_else(|| {
                k.serial
                    .as_ref()
                    .and_then(|s| by_serial.get(s))
                    .copied()
                    .filter(|&g| ok(g, &groups))
            })
            .or_else(|| {
                k.macs
                    .iter()
                    .filter_map(|m| by_mac.get(m).copied())
                    .find(|&g| ok(g, &groups))
            })
            .or_else(|| {
                let h = k.host.as_ref()?;
                let candidates = by_short.get(&h.short)?;
                let pick = |domain_ok: &dyn Fn(&Group) -> bool| {
                    let hits: Vec<usize> = candidates
                        .iter()
                        .copied()
                        .filter(|&g| domain_ok(&groups[g]) && ok(g, &groups))
                        .collect();
                    (hits.len() == 1).then(|| hits[0])
                };
                let domains = |g: &Group| -> Vec<Option<String>> {
                    g.hosts
                        .iter()
                        .filter(|x| x.short == h.short)
                        .map(|x| x.domain.clone())
                        .collect()
                };
                match &h.domain {
                    Some(d) => pick(&|g| {
                        domains(g)
                            .iter()
                            .any(|x| x.as_deref().is_some_and(|x| same_domain(x, d)))
                    })
                    .or_else(|| pick(&|g| domains(g).iter().all(Option::is_none))),
                    None => pick(&|_| true),
                }
            })
            .or_else(|| {
                let window = Duration::hours(IP_WINDOW_HOURS);
                let mut hits = BTreeSet::new();
                for ip in &k.ips {
                    for &g in by_ip.get(ip).into_iter().flatten() {
                        let group = &groups[g];
                        let close = group
                            .ips
                            .get(ip)
                            .is_some_and(|seen| (*seen - at).abs() <= window);
                        if close && ok(g, &groups) && !group.name_conflict(k) {
                            hits.insert(g);
                        }
                    }
                }
                (hits.len() == 1).then(|| hits.into_iter().next()).flatten()
            });

        let g = found.unwrap_or_else(|| {
            groups.push(Group {
                agent: is_agent,
                ..Group::default()
            });
            groups.len() - 1
        });
        groups[g].add(k, at);
        if let Some(u) = &k.uuid {
            by_uuid.entry(u.clone()).or_insert(g);
        }
        if let Some(s) = &k.serial {
            by_serial.entry(s.clone()).or_insert(g);
        }
        for m in &k.macs {
            by_mac.entry(m.clone()).or_insert(g);
        }
        if let Some(h) = &k.host {
            by_short.entry(h.short.clone()).or_default().insert(g);
        }
        for ip in &k.ips {
            by_ip.entry(*ip).or_default().insert(g);
        }
        result[i] = g;
    }
    result
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()
    }

    fn obs(source: Source, day: u32, f: impl FnOnce(&mut Identity)) -> Observation {
        let mut identity = Identity::default();
        f(&mut identity);
        Observation {
            source,
            observed_at: at(day),
            identity,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The number of groups, and whether observations `same` share one.
    fn groups_of(o: &[Observation]) -> Vec<usize> {
        let g = group(o);
        // Any input order gives the same partition.
        let mut rev: Vec<Observation> = o.to_vec();
        rev.reverse();
        let mut g2 = group(&rev);
        g2.reverse();
        for i in 0..o.len() {
            for j in 0..o.len() {
                assert_eq!(g[i] == g[j], g2[i] == g2[j], "order changed the grouping");
            }
        }
        g
    }

    #[test]
    fn one_machine_from_four_sources_is_one_device() {
        let o = vec![
            obs(Source::Agent, 20, |i| {
                i.hardware_uuid = Some("4C4C4544-0042-3510-8052-B7C04F4A4E32".into());
                i.serial = Some("7B5RJ42".into());
                i.macs = vec!["00:1A:2B:3C:4D:5E".into()];
                i.host_name = Some("WARD3-PC07".into());
                i.fqdn = Some("ward3-pc07.nhs.example.org".into());
                i.ips = vec![ip("10.2.3.4")];
            }),
            // systeminfo: name + domain, no serial, no MAC.
            obs(Source::Systeminfo, 18, |i| {
                i.host_name = Some("WARD3-PC07".into());
                i.domain = Some("nhs.example.org".into());
                i.ips = vec![ip("10.2.3.4")];
            }),
            // AD: the FQDN.
            obs(Source::Ad, 19, |i| {
                i.host_name = Some("WARD3-PC07".into());
                i.fqdn = Some("WARD3-PC07.NHS.EXAMPLE.ORG".into());
            }),
            // nmap: MAC and address, NetBIOS name in the NetBIOS domain.
            obs(Source::Nmap, 20, |i| {
                i.macs = vec!["00-1a-2b-3c-4d-5e".into()];
                i.ips = vec![ip("10.2.3.4")];
            }),
            // nmap, no MAC (routed scan): the address the same day.
            obs(Source::Nmap, 20, |i| {
                i.ips = vec![ip("10.2.3.4")];
                i.host_name = Some("ward3-pc07".into());
                i.domain = Some("NHS".into());
            }),
        ];
        let g = groups_of(&o);
        assert!(g.iter().all(|&x| x == g[0]), "{g:?}");
    }

    #[test]
    fn same_name_in_two_domains_stays_two() {
        let o = vec![
            obs(Source::Systeminfo, 10, |i| {
                i.host_name = Some("PC1".into());
                i.domain = Some("north.example.org".into());
            }),
            obs(Source::Systeminfo, 10, |i| {
                i.host_name = Some("PC1".into());
                i.domain = Some("south.example.org".into());
            }),
            obs(Source::Ad, 11, |i| {
                i.fqdn = Some("pc1.south.example.org".into());
            }),
            // A bare name cannot say which: a device of its own.
            obs(Source::Nmap, 11, |i| i.host_name = Some("pc1".into())),
        ];
        let g = groups_of(&o);
        assert_ne!(g[0], g[1]);
        assert_eq!(g[1], g[2]);
        assert_ne!(g[3], g[0]);
        assert_ne!(g[3], g[1]);
    }

    #[test]
    fn reimaged_machine_with_new_name_and_same_serial_stays_one() {
        let o = vec![
            obs(Source::Systeminfo, 1, |i| {
                i.host_name = Some("OLD-NAME".into());
                i.serial = Some("CZC1234XYZ".into());
            }),
            obs(Source::Probe, 25, |i| {
                i.host_name = Some("NEW-NAME".into());
                i.serial = Some("czc1234xyz ".into());
            }),
        ];
        let g = groups_of(&o);
        assert_eq!(g[0], g[1]);
    }

    #[test]
    fn replacement_pc_with_the_old_name_is_a_new_device() {
        let o = vec![
            obs(Source::Agent, 1, |i| {
                i.host_name = Some("RECEPTION".into());
                i.serial = Some("OLD1".into());
            }),
            obs(Source::Agent, 20, |i| {
                i.host_name = Some("RECEPTION".into());
                i.serial = Some("NEW2".into());
            }),
        ];
        let g = groups_of(&o);
        assert_ne!(g[0], g[1]);
    }

    #[test]
    fn ip_matches_only_within_the_window_and_without_name_conflict() {
        let o = vec![
            obs(Source::Systeminfo, 10, |i| {
                i.host_name = Some("A".into());
                i.ips = vec![ip("10.0.0.5")];
            }),
            obs(Source::Nmap, 10, |i| i.ips = vec![ip("10.0.0.5")]),
            // Five days later the address may belong to anyone.
            obs(Source::Nmap, 15, |i| i.ips = vec![ip("10.0.0.5")]),
            // Same day, but the scan names another machine.
            obs(Source::Nmap, 10, |i| {
                i.ips = vec![ip("10.0.0.5")];
                i.host_name = Some("b".into());
            }),
        ];
        let g = groups_of(&o);
        assert_eq!(g[0], g[1]);
        assert_ne!(g[0], g[2]);
        assert_ne!(g[0], g[3]);
    }

    #[test]
    fn two_agent_enrollments_stay_two_devices_and_imports_join_the_freshest() {
        let o = vec![
            obs(Source::Agent, 1, |i| i.serial = Some("S1".into())),
            obs(Source::Agent, 20, |i| i.serial = Some("S1".into())),
            obs(Source::Systeminfo, 21, |i| i.serial = Some("S1".into())),
        ];
        let g = groups_of(&o);
        assert_ne!(g[0], g[1]);
        assert_eq!(g[1], g[2]);
    }

    #[test]
    fn placeholders_do_not_join_machines() {
        let o = vec![
            obs(Source::Agent, 1, |i| {
                i.serial = Some("To be filled by O.E.M.".into());
                i.hardware_uuid = Some("03000200-0400-0500-0006-000700080009".into());
                i.macs = vec!["20:41:53:59:4E:FF".into()];
                i.host_name = Some("x1".into());
            }),
            obs(Source::Agent, 1, |i| {
                i.serial = Some("To be filled by O.E.M.".into());
                i.hardware_uuid = Some("03000200-0400-0500-0006-000700080009".into());
                i.macs = vec!["20:41:53:59:4E:FF".into()];
                i.host_name = Some("x2".into());
            }),
        ];
        let g = groups_of(&o);
        assert_ne!(g[0], g[1]);
    }

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize_mac("00-1A-2B-3C-4D-5E").as_deref(),
            Some("00:1a:2b:3c:4d:5e")
        );
        assert_eq!(normalize_mac("01:00:5e:00:00:01"), None);
        assert_eq!(normalize_mac("nonsense"), None);
        assert_eq!(normalize_serial(" 0000000 "), None);
        assert_eq!(
            normalize_uuid("{00000000-0000-0000-0000-000000000000}"),
            None
        );
        assert_eq!(
            host_key("PC1.Corp.Example.", None),
            Some(HostKey {
                short: "pc1".into(),
                domain: Some("corp.example".into())
            })
        );
        assert_eq!(host_key("10.1.2.3", None), None);
        assert_eq!(normalize_domain("WORKGROUP"), None);
        assert!(same_domain("corp", "corp.example.org"));
        assert!(!same_domain("corp.a.org", "corp.b.org"));
        assert_eq!(usable_ip(ip("169.254.1.1")), None);
        assert_eq!(usable_ip(ip("fe80::1")), None);
        assert_eq!(usable_ip(ip("10.1.1.1")), Some(ip("10.1.1.1")));
    }
}
