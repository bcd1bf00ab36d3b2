//! MS17-010 (the SMBv1 server flaws WannaCry used): fixing KBs per OS, the updates that
//! supersede them, Windows 10 first-fixed UBRs and the srv.sys versions that contain the fix.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ms17010 {
    pub bulletin: String,
    pub published: chrono::NaiveDate,
    /// Builds at or above this shipped fixed (Windows 10 1703 = 15063).
    pub fixed_from_build: u32,
    pub sources: Vec<String>,
    pub entries: Vec<Ms17Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ms17Entry {
    pub id: String,
    pub product: String,
    pub builds: Vec<u32>,
    /// "client" or "server" when a build is shared with a different fix (9200).
    #[serde(default)]
    pub installation: Option<String>,
    /// The updates that carry the fix themselves. Empty: no fix exists for this OS level.
    pub fix_kbs: Vec<FixKb>,
    /// Later cumulative updates / monthly rollups that include the fix.
    #[serde(default)]
    pub superseded_by: Vec<String>,
    /// Updates that look related but do not contain the fix (April 2017 security-only).
    #[serde(default)]
    pub not_fixing: Vec<String>,
    /// Windows 10: any UBR at or above this has the fix.
    #[serde(default)]
    pub first_fixed_ubr: Option<u32>,
    /// srv.sys at or above one of these (same major.minor.build, matching branch) has the fix.
    pub srv_sys_min: Vec<SrvThreshold>,
    pub sources: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixKb {
    pub kb: String,
    /// "standalone", "security-only", "rollup", "cumulative".
    pub kind: String,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrvThreshold {
    pub version: String,
    /// Applies to revisions at or above this (servicing branch, e.g. LDR 2xxxx on Vista).
    #[serde(default)]
    pub branch_min: u64,
}

/// What the srv.sys version says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrvVerdict {
    Fixed,
    Missing,
    /// Version unreadable or for another build.
    NoMatch,
}

impl Ms17010 {
    pub fn entry(&self, build: u32, server: Option<bool>) -> Option<&Ms17Entry> {
        let mut candidates = self.entries.iter().filter(|e| e.builds.contains(&build));
        let first = candidates.clone().next()?;
        let wanted = server.map(|s| if s { "server" } else { "client" });
        match wanted {
            Some(w) => candidates
                .find(|e| e.installation.as_deref().is_none_or(|i| i == w))
                .or(Some(first)),
            None => Some(first),
        }
    }
}

impl Ms17Entry {
    /// Normalised KB ids ("KB4012215") that show the fix is installed.
    pub fn fixing_kbs(&self) -> impl Iterator<Item = &str> {
        self.fix_kbs
            .iter()
            .map(|k| k.kb.as_str())
            .chain(self.superseded_by.iter().map(String::as_str))
    }

    pub fn srv_sys(&self, version: &str) -> SrvVerdict {
        let Some(v) = super::parse_version(version) else {
            return SrvVerdict::NoMatch;
        };
        if v.len() < 4 {
            return SrvVerdict::NoMatch;
        }
        let best = self
            .srv_sys_min
            .iter()
            .filter_map(|t| super::parse_version(&t.version).map(|p| (t, p)))
            .filter(|(t, p)| p.len() >= 4 && p[..3] == v[..3] && v[3] >= t.branch_min)
            .max_by_key(|(t, _)| t.branch_min);
        match best {
            Some((_, p)) if v[3] >= p[3] => SrvVerdict::Fixed,
            Some(_) => SrvVerdict::Missing,
            None => SrvVerdict::NoMatch,
        }
    }
}

pub fn normalise_kb(id: &str) -> Option<String> {
    let t = id.trim();
    let digits = t
        .strip_prefix("KB")
        .or_else(|| t.strip_prefix("kb"))
        .or_else(|| t.strip_prefix("Kb"))
        .unwrap_or(t);
    if !digits.is_empty() && digits.len() <= 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("KB{digits}"))
    } else {
        None
    }
}

pub(super) fn validate(
    ms: &Ms17010,
    errors: &mut Vec<String>,
    check_source: &mut dyn FnMut(&str, &str, &mut Vec<String>),
) {
    for s in &ms.sources {
        check_source("ms17_010", s, errors);
    }
    let mut ids = std::collections::BTreeSet::new();
    for e in &ms.entries {
        let what = format!("ms17_010 {}", e.id);
        if !ids.insert(e.id.as_str()) {
            errors.push(format!("{what}: duplicate id"));
        }
        for s in &e.sources {
            check_source(&what, s, errors);
        }
        for k in &e.fix_kbs {
            check_source(&what, &k.source, errors);
            if normalise_kb(&k.kb).as_deref() != Some(k.kb.as_str()) {
                errors.push(format!("{what}: KB id {:?} not in KBnnnn form", k.kb));
            }
        }
        for kb in e.superseded_by.iter().chain(&e.not_fixing) {
            if normalise_kb(kb).as_deref() != Some(kb.as_str()) {
                errors.push(format!("{what}: KB id {kb:?} not in KBnnnn form"));
            }
        }
        for kb in &e.not_fixing {
            if e.fixing_kbs().any(|f| f == kb) {
                errors.push(format!("{what}: {kb} both fixes and does not"));
            }
        }
        for t in &e.srv_sys_min {
            match super::parse_version(&t.version) {
                Some(p) if p.len() == 4 => {
                    if !e.builds.iter().any(|b| u64::from(*b) == p[2]) {
                        errors.push(format!(
                            "{what}: srv.sys {} is for another build",
                            t.version
                        ));
                    }
                }
                _ => errors.push(format!("{what}: srv.sys version {:?} malformed", t.version)),
            }
        }
        if e.builds.iter().any(|b| *b >= ms.fixed_from_build) {
            errors.push(format!("{what}: build at or above fixed_from_build"));
        }
    }
    for (i, a) in ms.entries.iter().enumerate() {
        for b in &ms.entries[i + 1..] {
            let same_install = a.installation.is_none()
                || b.installation.is_none()
                || a.installation == b.installation;
            if same_install && a.builds.iter().any(|x| b.builds.contains(x)) {
                errors.push(format!("ms17_010 {} overlaps {}", a.id, b.id));
            }
        }
    }
}
