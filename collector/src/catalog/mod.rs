//! The risk catalog: facts about operating systems and updates that the risk engine reads.
//!
//! Design note. The catalog is data, written by us from `../shared/DOMAIN.md` and (for the
//! Windows update table) generated once from DataForGeeks by `collector/catalog/tools/`.
//! It is embedded in the binary ([`Catalog::builtin`]) and a newer file can replace it at run
//! time ([`Catalog::from_json`], then [`validate`]) without a rebuild.
//!
//! Architecture invariant: every row names a source id that exists in `sources`, and
//! [`validate`] rejects a catalog with overlapping rows or unordered dates. The import command
//! and the tests use the same function.
//!
//! The Windows 11 CPU rule set is code ([`win11_cpu`]), because it is a small grammar over brand
//! strings; the catalog records which Microsoft list version it follows.

pub mod lifecycle;
pub mod ms17_010;
pub mod updates;
pub mod win11_cpu;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use lifecycle::{Channel, ExtendedPeriod, LifecycleRow, OsKind};
pub use ms17_010::{Ms17Entry, Ms17010, SrvThreshold};
pub use updates::{PatchLevel, UpdateKind, UpdateRow, UpdateStream};
pub use win11_cpu::{CpuSupport, CpuVerdict};

/// The catalog shipped inside the collector.
pub const BUILTIN_JSON: &str = include_str!("../../catalog/catalog.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Increases with every published catalog; an import must not go backwards.
    pub version: u32,
    /// The day the facts were last checked.
    pub date: NaiveDate,
    #[serde(default)]
    pub description: Option<String>,
    pub sources: Vec<Source>,
    pub lifecycle: Vec<LifecycleRow>,
    pub ms17_010: Ms17010,
    pub win11_cpu: Win11CpuMeta,
    pub windows_updates: Vec<UpdateStream>,
}

/// Where a row's facts come from; rows point here by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub location: String,
    #[serde(default)]
    pub licence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Win11CpuMeta {
    /// Version header of the Microsoft supported-processor lists the rules follow.
    pub list_version: String,
    pub source: String,
    #[serde(default)]
    pub rules_source: Vec<String>,
}

/// Version and date of a catalog, for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogInfo {
    pub version: u32,
    pub date: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid JSON for this collector: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("catalog is inconsistent: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl Catalog {
    /// Parses a catalog file and checks it with [`validate`].
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog = serde_json::from_str(text)?;
        validate(&catalog).map_err(CatalogError::Invalid)?;
        Ok(catalog)
    }

    /// The embedded catalog. A test guarantees that it parses and validates, so failure here is
    /// a build defect; it is still reported as an error rather than a panic.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_json(BUILTIN_JSON)
    }

    pub fn info(&self) -> CatalogInfo {
        CatalogInfo {
            version: self.version,
            date: self.date,
        }
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// Consistency checks shared by `catalog import` and the tests: every source id exists, row ids
/// are unique, dates are ordered, lifecycle rows do not overlap, update streams are sorted with
/// one row per UBR and do not claim the same build twice.
pub fn validate(catalog: &Catalog) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let ids: BTreeSet<&str> = catalog.sources.iter().map(|s| s.id.as_str()).collect();
    if ids.len() != catalog.sources.len() {
        errors.push("duplicate source id".to_string());
    }
    let mut check_source = |what: &str, id: &str, errors: &mut Vec<String>| {
        if !ids.contains(id) {
            errors.push(format!("{what}: source {id:?} is not in sources"));
        }
    };
    check_source("win11_cpu", &catalog.win11_cpu.source, &mut errors);
    for s in &catalog.win11_cpu.rules_source {
        check_source("win11_cpu.rules_source", s, &mut errors);
    }
    lifecycle::validate(&catalog.lifecycle, &mut errors, &mut check_source);
    ms17_010::validate(&catalog.ms17_010, &mut errors, &mut check_source);
    updates::validate(&catalog.windows_updates, &mut errors, &mut check_source);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Compares dotted numeric versions ("6.1.7601.23689"); missing parts count as 0. `None` when a
/// part is not a number.
pub fn parse_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim();
    let v = v.split_whitespace().next()?;
    v.split('.').map(|p| p.parse::<u64>().ok()).collect()
}
