//! The estate view: every device (merged from agent reports and imports, `crate::devices`)
//! assessed against the catalog, the ranking, the summary counts, and the budget plan built
//! from the assessments. Shared by the API and the CLI.
//!
//! Assessments are computed on request from the stored reports and records (the engine is pure and fast);
//! nothing derived is stored, so a new catalog or new weights apply at once.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use ward_shared::Report;

use crate::catalog::{Catalog, CatalogInfo};
use crate::devices::{self, Device};
use crate::plan::{self, Budget, FormFactor, PlanDevice, RemedyKind, RemedyOption, UnitCosts};
use crate::risk::{self, Assessment, ExceptionInfo, LifecycleState, RemedyClass, Weights};
use crate::store::{Store, StoreError};

/// What assessing needs besides the store.
pub struct RiskContext {
    pub catalog: Catalog,
    pub weights: Weights,
    pub unit_costs: UnitCosts,
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

/// Every device merged from agent reports and imports (see `crate::devices`).
pub fn merged_devices(
    store: &dyn Store,
    ctx: &RiskContext,
    now: DateTime<Utc>,
) -> Result<Vec<Device>, StoreError> {
    devices::load(store, now, ctx.weights.stale_after_days)
}

/// Assesses the device `id` names (its id or an alias); `None` when there is no such device.
pub fn assess_device(
    store: &dyn Store,
    ctx: &RiskContext,
    id: Uuid,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Result<Option<Assessed>, StoreError> {
    let all = merged_devices(store, ctx, now)?;
    Ok(devices::find(&all, id).map(|d| assess_merged(d, ctx, exceptions, now)))
}

/// Every device, merged, assessed and ranked (most urgent first, ties broken as
/// docs/risk-model.md says).
pub fn assess_all(
    store: &dyn Store,
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Result<Vec<Assessed>, StoreError> {
    Ok(assess_devices(
        &merged_devices(store, ctx, now)?,
        ctx,
        exceptions,
        now,
    ))
}

/// Assesses merged devices, most urgent first (as [`assess_all`], for callers that also need
/// the devices).
pub fn assess_devices(
    devices: &[Device],
    ctx: &RiskContext,
    exceptions: &HashMap<Uuid, ExceptionInfo>,
    now: DateTime<Utc>,
) -> Vec<Assessed> {
    let mut all: Vec<Assessed> = devices
        .iter()
        .map(|d| assess_merged(d, ctx, exceptions, now))
        .collect();
    all.sort_by(|a, b| risk::compare(&a.assessment, &b.assessment));
    all
}

/// Filters for the ranking.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct RankFilter {
    pub site: Option<String>,
    /// Remedy class, as in the JSON (`replace_hardware`, `patch`...).
    pub remedy: Option<String>,
    /// OS family (`windows`, `linux`, `macos`, `other`).
    pub os: Option<String>,
    /// The device's department tag (any case).
    #[serde(default)]
    pub department: Option<String>,
}

impl RankFilter {
    pub fn matches(&self, assessed: &Assessed) -> bool {
        let a = &assessed.assessment;
        let remedy = key(&a.remedy.class);
        self.site
            .as_ref()
            .is_none_or(|s| a.site.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(s)))
            && self
                .remedy
                .as_ref()
                .is_none_or(|r| r.eq_ignore_ascii_case(&remedy))
            && self
                .os
                .as_ref()
                .is_none_or(|o| o.eq_ignore_ascii_case(a.os_family))
            && self.department.as_ref().is_none_or(|d| {
                assessed
                    .report
                    .tags
                    .department
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(d))
            })
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

/// The ranking, ranks counted before filtering (so rank 3 is third in the whole estate).
pub fn ranking(all: &[Assessed], filter: &RankFilter) -> Vec<RankRow> {
    all.iter()
        .enumerate()
        .filter(|(_, a)| filter.matches(a))
        .map(|(i, a)| RankRow {
            rank: i + 1,
            device_id: a.id,
            hostname: a.assessment.hostname.clone(),
            site: a.assessment.site.clone(),
            os: a.report.os.name.clone(),
            score: a.assessment.score,
            remedy: a.assessment.remedy.class,
            wannacry_exposed: a.assessment.wannacry_exposed,
            reason: a.assessment.top_finding().map_or_else(
                || a.assessment.remedy.reason.clone(),
                |f| f.sentence.clone(),
            ),
            findings: a
                .assessment
                .findings
                .iter()
                .map(|f| f.sentence.clone())
                .collect(),
        })
        .collect()
}

/// Estate-wide counts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub catalog: CatalogInfo,
    pub devices: usize,
    pub by_os_family: BTreeMap<String, usize>,
    pub by_lifecycle: BTreeMap<String, usize>,
    /// Devices whose OS is past end of support and not covered by a paid extension.
    pub unsupported: usize,
    pub unsupported_share: f64,
    pub wannacry_exposed: usize,
    pub windows11_readiness: BTreeMap<String, usize>,
    pub by_remedy: BTreeMap<String, usize>,
}

/// An enum's name as it appears in the JSON (`replace_hardware`, `end_of_support`...).
pub fn key<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

pub fn summary(all: &[Assessed], catalog: &Catalog) -> Summary {
    let mut s = Summary {
        catalog: catalog.info(),
        devices: all.len(),
        by_os_family: BTreeMap::new(),
        by_lifecycle: BTreeMap::new(),
        unsupported: 0,
        unsupported_share: 0.0,
        wannacry_exposed: 0,
        windows11_readiness: BTreeMap::new(),
        by_remedy: BTreeMap::new(),
    };
    for a in all.iter().map(|a| &a.assessment) {
        *s.by_os_family.entry(a.os_family.to_owned()).or_default() += 1;
        *s.by_lifecycle.entry(key(&a.lifecycle.state)).or_default() += 1;
        *s.by_remedy.entry(key(&a.remedy.class)).or_default() += 1;
        if a.lifecycle.state == LifecycleState::EndOfSupport {
            s.unsupported += 1;
        }
        if a.wannacry_exposed {
            s.wannacry_exposed += 1;
        }
        if let Some(r) = &a.readiness {
            *s.windows11_readiness.entry(key(&r.verdict)).or_default() += 1;
        }
    }
    if !all.is_empty() {
        s.unsupported_share = s.unsupported as f64 / all.len() as f64;
    }
    s
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

/// The planner's view of one device: its risk and the remedies that would remove it.
///
/// The device's remedy class gives the main option, which removes all of its risk:
/// replace hardware (priced by form factor), upgrade OS, fix firmware (labour for the firmware
/// change plus the OS upgrade it enables), or patch (free). Isolated, no-action and unknown
/// devices get no option. A device past end of support whose OS has a paid extension available
/// (Windows 10 ESU) also gets an ESU option that removes the end-of-support points for the year
/// paid. Costs come from `UnitCosts`.
pub fn plan_device(a: &Assessed, costs: &UnitCosts) -> PlanDevice {
    let assessment = &a.assessment;
    let risk = assessment.score;
    let mut options = Vec::new();
    let main = match assessment.remedy.class {
        RemedyClass::ReplaceHardware => Some(RemedyOption::priced(
            RemedyKind::ReplaceHardware {
                form_factor: form_factor(&a.report),
            },
            risk,
            costs,
        )),
        RemedyClass::UpgradeOs => Some(RemedyOption::priced(RemedyKind::UpgradeOs, risk, costs)),
        RemedyClass::FixFirmware => {
            let mut option = RemedyOption::priced(RemedyKind::FixFirmware, risk, costs);
            if assessment.remedy.then == Some(RemedyClass::UpgradeOs) {
                option.cost += costs.price(&RemedyKind::UpgradeOs);
            }
            Some(option)
        }
        RemedyClass::Patch => Some(RemedyOption::priced(RemedyKind::Patch, risk, costs)),
        RemedyClass::Isolate | RemedyClass::NoAction | RemedyClass::Unknown => None,
    };
    options.extend(main);
    let esu_available = assessment.lifecycle.state == LifecycleState::EndOfSupport
        && assessment
            .lifecycle
            .extension
            .as_ref()
            .is_some_and(|e| e.paid);
    if esu_available {
        let eos_points: u32 = assessment
            .findings
            .iter()
            .filter(|f| f.rule == "os_end_of_support")
            .map(|f| f.points)
            .sum::<u32>()
            .min(risk);
        if eos_points > 0 {
            options.push(RemedyOption::priced(RemedyKind::Esu, eos_points, costs));
        }
    }
    PlanDevice {
        id: a.id,
        label: assessment
            .hostname
            .clone()
            .unwrap_or_else(|| a.id.to_string()),
        risk,
        options,
    }
}

pub fn plan(
    all: &[Assessed],
    costs: &UnitCosts,
    budget: &Budget,
) -> Result<plan::Plan, plan::PlanError> {
    let devices: Vec<PlanDevice> = all.iter().map(|a| plan_device(a, costs)).collect();
    plan::plan(&devices, costs, budget)
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
