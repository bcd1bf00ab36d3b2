//! The estate: every device (merged from agent reports and imports, `crate::devices`) assessed
//! against the catalog, kept as a read model that every estate view reads: the ranking, the
//! summary, coverage, the plan, the exports, the dashboard, the CLI and quickstart.
//!
//! - [`row`]: one device as the estate keeps it (compact, its text interned);
//! - [`snapshot`]: one consistent state of every row, in ranking order, with the counts;
//! - [`live`]: the writer thread that keeps it current from the store's changes;
//! - [`index`]: which observations a change can regroup (its component);
//! - [`derive`]: rows from the store, for everything or one component.
//!
//! Architecture invariant: the store is the source of truth and the estate is derived from it;
//! it can be rebuilt at any time ([`live::derive_once`]), and an estate kept incrementally
//! equals one rebuilt from the store (a property test checks it). A reader holds one snapshot
//! and never sees half of a change.

pub mod class;
pub mod derive;
pub mod index;
pub mod live;
mod reads;
#[cfg(test)]
pub(crate) mod reference;
pub mod row;
pub mod snapshot;
#[cfg(test)]
mod tests;
pub mod trend;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use ward_shared::Report;

pub use live::{Clock, Estate, derive_once, system_clock};
pub use row::Row;
pub use snapshot::{PAGE_SIZES, RankFilter, RankPage, RankQuery, Snapshot, Summary};

use crate::catalog::Catalog;
use crate::devices::{self, Device};
use crate::plan::{self, Budget, FormFactor, UnitCosts};
use crate::risk::{self, Assessment, ExceptionInfo, RemedyClass, Weights};
use crate::store::{Store, StoreError};

/// What assessing needs besides the store.
#[derive(Debug, Clone)]
pub struct RiskContext {
    pub catalog: Catalog,
    pub weights: Weights,
    pub unit_costs: UnitCosts,
    pub liveness: class::LivenessWindows,
}

/// One assessed device with the merged report it was assessed from.
pub struct Assessed {
    pub id: Uuid,
    pub report: Report,
    pub assessment: Assessment,
}

/// The exception that applies to a device: one recorded under its id or any of its aliases.
pub fn exception_for<'a>(
    device: &Device,
    exceptions: &'a HashMap<Uuid, ExceptionInfo>,
) -> Option<&'a ExceptionInfo> {
    exceptions
        .get(&device.id)
        .or_else(|| device.aliases.iter().find_map(|a| exceptions.get(a)))
}

/// Assesses one merged device.
pub fn assess_merged(
    device: &Device,
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Assessed {
    let facts = device.risk_facts();
    let assessment = risk::assess(
        &facts,
        &ctx.catalog,
        now,
        &ctx.weights,
        exception_for(device, exceptions),
    );
    Assessed {
        id: device.id,
        report: facts.report,
        assessment,
    }
}

/// One line of the ranking.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RankRow {
    pub rank: usize,
    pub device_id: Uuid,
    pub hostname: Option<String>,
    pub site: Option<String>,
    pub os: Option<String>,
    pub score: u32,
    pub remedy: RemedyClass,
    pub wannacry_exposed: bool,
    /// The top finding's sentence, or why there is none.
    pub reason: String,
    pub findings: Vec<String>,
}

/// The rows of a page as the API gives them.
pub fn rank_rows(page: &RankPage) -> Vec<RankRow> {
    page.rows
        .iter()
        .map(|(rank, r)| RankRow::of(*rank, r))
        .collect()
}

impl RankRow {
    pub fn of(rank: usize, r: &Row) -> RankRow {
        RankRow {
            rank,
            device_id: r.id,
            hostname: r.hostname.as_deref().map(str::to_owned),
            site: r.site.as_deref().map(str::to_owned),
            os: r.os_name.as_deref().map(str::to_owned),
            score: r.score,
            remedy: r.remedy,
            wannacry_exposed: r.wannacry,
            reason: r.reason().to_string(),
            findings: r.findings.iter().map(|f| f.sentence.to_string()).collect(),
        }
    }
}

/// An enum's name as it appears in the JSON (`replace_hardware`, `end_of_support`...).
pub fn key<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The form factor to price a replacement at, from the chassis and the OS.
pub fn form_factor(report: &Report) -> FormFactor {
    let chassis = report
        .hardware
        .chassis_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let server_os = report
        .os
        .installation_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("server"))
        || report
            .os
            .name
            .as_deref()
            .is_some_and(|n| n.contains("Server"));
    if server_os
        || ["rack", "server", "blade", "multi-system"]
            .iter()
            .any(|k| chassis.contains(k))
    {
        FormFactor::Server
    } else if [
        "notebook",
        "laptop",
        "portable",
        "convertible",
        "detachable",
        "tablet",
        "hand held",
    ]
    .iter()
    .any(|k| chassis.contains(k))
    {
        FormFactor::Laptop
    } else if report
        .tags
        .labels
        .get("form_factor")
        .is_some_and(|f| f == "thin_client")
    {
        FormFactor::ThinClient
    } else {
        FormFactor::Desktop
    }
}

/// The budget plan over every row of the snapshot (see `plan`). A device's options: its remedy
/// class gives the main one, which removes all of its risk (replace hardware priced by form
/// factor, upgrade OS, fix firmware plus the OS upgrade it enables, or patch); isolated,
/// no-action and unknown devices get none. A device past end of support whose OS has a paid
/// extension (Windows 10 ESU) also gets an ESU option that removes its end-of-support points
/// for the year paid. Costs come from `costs`.
pub fn plan(
    snapshot: &Snapshot,
    costs: &UnitCosts,
    budget: &Budget,
) -> Result<plan::Plan, plan::PlanError> {
    let mut devices: Vec<plan::PlanDevice> =
        snapshot.rows().map(|r| r.plan_device(costs)).collect();
    devices.sort_by_key(|d| d.id);
    plan::plan(&devices, costs, budget)
}

/// One device derived afresh from the store with its fact table, and its assessment: what the
/// device page and `show` read. `None` when no device is named `id`.
pub fn device(
    store: &dyn Store,
    snapshot: &Snapshot,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<(Device, Assessed)>, StoreError> {
    let Some(row) = snapshot.row(id) else {
        return Ok(None);
    };
    let none = HashMap::new();
    let mut agents = Vec::new();
    let mut records = Vec::new();
    for m in row.members.iter() {
        match derive::load(store, *m, &none)? {
            Some(derive::Loaded::Agent(a)) => agents.push(*a),
            Some(derive::Loaded::Record(r)) => records.push(*r),
            None => {}
        }
    }
    let ctx = &snapshot.ctx;
    let Some(device) = devices::merge::merge(&agents, &records, now, ctx.weights.stale_after_days)
        .into_iter()
        .find(|d| d.is_named(id))
    else {
        return Ok(None);
    };
    let exceptions = exception_map(store)?;
    let assessed = assess_merged(&device, ctx, &exceptions, now);
    Ok(Some((device, assessed)))
}

/// The exceptions register by device id, as the engine reads it.
pub fn exception_map(store: &dyn Store) -> Result<HashMap<Uuid, ExceptionInfo>, StoreError> {
    Ok(store
        .exceptions()?
        .into_iter()
        .map(|e| (e.device_id, e.info()))
        .collect())
}

/// A catalog imported with `ward-collector catalog import`, read instead of the built-in one.
pub const CATALOG_FILE: &str = "catalog.json";

#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("{path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: std::path::PathBuf,
        #[source]
        source: crate::catalog::CatalogError,
    },
    #[error("the built-in catalog is invalid: {0}")]
    Builtin(crate::catalog::CatalogError),
}

/// Writes a catalog's JSON (already checked) as the data directory's catalog, atomically: read at
/// the next start, and by a running server at once (`POST /api/v1/catalog`).
pub fn install_catalog(data_dir: &std::path::Path, json: &str) -> std::io::Result<()> {
    let target = data_dir.join(CATALOG_FILE);
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, json.as_bytes())?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &target)
}

/// `DATA_DIR/catalog.json` when an import put one there, else the catalog built into this binary,
/// whichever is newer.
pub fn load_catalog(data_dir: &std::path::Path) -> Result<Catalog, CatalogLoadError> {
    let builtin = Catalog::builtin().map_err(CatalogLoadError::Builtin)?;
    let path = data_dir.join(CATALOG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(builtin),
        Err(source) => return Err(CatalogLoadError::Read { path, source }),
    };
    let imported =
        Catalog::from_json(&text).map_err(|source| CatalogLoadError::Invalid { path, source })?;
    Ok(if imported.version >= builtin.version {
        imported
    } else {
        builtin
    })
}
