//! One consistent state of the estate: every row in ranking order, the ids that name them, and
//! the counts every summary reads, kept as the rows change. Cloning a snapshot is cheap (the maps
//! are persistent and share their structure), so the writer publishes a new one after each batch
//! of changes while readers keep the one they hold.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::RiskContext;
use super::row::{RankKey, Reach, Row, Sym};
use crate::catalog::CatalogInfo;
use crate::devices::coverage::{Coverage, NO_SITE, SiteCoverage, UnmanagedDevice};
use crate::plan::FormFactor;
use crate::risk::{LifecycleState, ReadinessVerdict, RemedyClass};

/// Counts over every row, kept as rows come and go (`sign` +1 or -1); what the summary,
/// coverage and the overview read. A count that reaches zero is removed, so counts kept
/// incrementally equal counts taken afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub devices: i64,
    pub by_os_family: BTreeMap<&'static str, i64>,
    pub by_lifecycle: HashMap<LifecycleState, i64>,
    pub by_remedy: HashMap<RemedyClass, i64>,
    pub readiness: HashMap<ReadinessVerdict, i64>,
    pub readiness_by_form: HashMap<(FormFactor, ReadinessVerdict), i64>,
    pub unsupported: i64,
    pub wannacry: i64,
    /// Devices by site (all), for the filters.
    pub sites: BTreeMap<Sym, i64>,
    pub departments: BTreeMap<Sym, i64>,
    /// Active devices only, from here on.
    pub active: i64,
    pub stale: i64,
    pub by_reach: HashMap<Reach, i64>,
    pub by_site: BTreeMap<Option<Sym>, HashMap<Reach, i64>>,
    pub by_source: BTreeMap<&'static str, i64>,
    /// The trend's figures by site (active devices).
    pub trend_by_site: BTreeMap<Option<Sym>, TrendCounts>,
}

/// The trend's figures over a set of devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendCounts {
    pub devices: i64,
    /// Reporting through an agent or probe.
    pub managed: i64,
    /// On a system with no security updates.
    pub unsupported: i64,
    pub wannacry: i64,
    /// Capable of Windows 11 as they are.
    pub win11_ready: i64,
}

impl TrendCounts {
    fn apply(&mut self, row: &Row, sign: i64) {
        self.devices += sign;
        if row.reach == Reach::Managed {
            self.managed += sign;
        }
        if row.lifecycle == LifecycleState::EndOfSupport {
            self.unsupported += sign;
        }
        if row.wannacry {
            self.wannacry += sign;
        }
        if row.readiness == Some(ReadinessVerdict::Capable) {
            self.win11_ready += sign;
        }
    }

    pub fn add(&mut self, other: &TrendCounts) {
        self.devices += other.devices;
        self.managed += other.managed;
        self.unsupported += other.unsupported;
        self.wannacry += other.wannacry;
        self.win11_ready += other.win11_ready;
    }

    fn is_zero(&self) -> bool {
        *self == TrendCounts::default()
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, sign: i64) {
    let v = map.entry(key).or_default();
    *v += sign;
    if *v == 0 {
        map.retain(|_, v| *v != 0);
    }
}

fn bump_h<K: std::hash::Hash + Eq>(map: &mut HashMap<K, i64>, key: K, sign: i64) {
    let v = map.entry(key).or_default();
    *v += sign;
    if *v == 0 {
        map.retain(|_, v| *v != 0);
    }
}

impl Counts {
    pub fn apply(&mut self, row: &Row, sign: i64) {
        self.devices += sign;
        bump(&mut self.by_os_family, row.os_family, sign);
        bump_h(&mut self.by_lifecycle, row.lifecycle, sign);
        bump_h(&mut self.by_remedy, row.remedy, sign);
        if let Some(r) = row.readiness {
            bump_h(&mut self.readiness, r, sign);
            bump_h(&mut self.readiness_by_form, (row.form_factor, r), sign);
        }
        if row.lifecycle == LifecycleState::EndOfSupport {
            self.unsupported += sign;
        }
        if row.wannacry {
            self.wannacry += sign;
        }
        if let Some(s) = &row.site {
            bump(&mut self.sites, s.clone(), sign);
        }
        if let Some(d) = &row.department {
            bump(&mut self.departments, d.clone(), sign);
        }
        if !row.active {
            self.stale += sign;
            return;
        }
        self.active += sign;
        bump_h(&mut self.by_reach, row.reach, sign);
        let site = self.by_site.entry(row.site.clone()).or_default();
        bump_h(site, row.reach, sign);
        if site.is_empty() {
            self.by_site.remove(&row.site);
        }
        for s in row.fresh_sources.iter() {
            bump(&mut self.by_source, s.as_str(), sign);
        }
        let t = self.trend_by_site.entry(row.site.clone()).or_default();
        t.apply(row, sign);
        if t.is_zero() {
            self.trend_by_site.remove(&row.site);
        }
    }
}

/// Estate-wide counts, as the API gives them.
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

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn keyed<K: Serialize>(map: &HashMap<K, i64>) -> BTreeMap<String, usize> {
    map.iter()
        .map(|(k, v)| (super::key(k), to_usize(*v)))
        .collect()
}

/// Filters for the ranking (and the exports that follow it).
#[derive(Debug, Default, Clone, Deserialize)]
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
    pub fn matches(&self, row: &Row) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        eq(&self.site, row.site.as_deref())
            && eq(&self.remedy, Some(&super::key(&row.remedy)))
            && eq(&self.os, Some(row.os_family))
            && eq(&self.department, row.department.as_deref())
    }

    pub fn is_empty(&self) -> bool {
        self.site.is_none()
            && self.remedy.is_none()
            && self.os.is_none()
            && self.department.is_none()
    }
}

/// What a list of devices shows: the filter, a search, a sort and a page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RankQuery {
    #[serde(flatten)]
    pub filter: RankFilter,
    /// Host name, DNS name, IP address, serial or asset label (any part, any case). Without
    /// network details only the serial and the asset label are searched.
    #[serde(default)]
    pub q: Option<String>,
    /// A column (`rank`, `hostname`, `site`, `department`, `os`, `score`, `remedy`,
    /// `last_seen`); a leading `-` reverses it.
    #[serde(default)]
    pub sort: Option<String>,
    /// 1-based.
    #[serde(default)]
    pub page: Option<usize>,
    /// Rows per page: 1 to 500 (the pages offer 50, 100 and 500); 50 when not given.
    #[serde(default)]
    pub per_page: Option<usize>,
}

/// Page sizes offered.
pub const PAGE_SIZES: [usize; 3] = [50, 100, 500];

impl RankQuery {
    pub fn per_page(&self) -> usize {
        self.per_page
            .unwrap_or(PAGE_SIZES[0])
            .clamp(1, PAGE_SIZES[PAGE_SIZES.len() - 1])
    }

    fn search(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase)
    }
}

/// One page of a list, with the totals.
#[derive(Debug, Clone)]
pub struct RankPage {
    /// Rows the filter and search keep.
    pub matching: usize,
    /// Rows in the estate.
    pub estate: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    /// Each with its place in the whole ranking (1 = most urgent).
    pub rows: Vec<(usize, Arc<Row>)>,
}

/// The estate as of one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Incremented with every published change.
    pub version: u64,
    /// When the rows were last changed.
    pub changed_at: DateTime<Utc>,
    /// The day the date-dependent rules were judged for.
    pub day: NaiveDate,
    /// The first derivation from the store is complete.
    pub ready: bool,
    pub ctx: Arc<RiskContext>,
    pub(super) rows: imbl::OrdMap<RankKey, Arc<Row>>,
    /// Device id and aliases -> ranking key.
    pub(super) ids: imbl::HashMap<Uuid, RankKey>,
    /// Asset label -> devices with it (labels shared by several get a suffix).
    pub(super) labels: imbl::HashMap<Sym, u32>,
    /// Lower-case host and DNS names -> a device with it (for scrubbing free text).
    pub(super) names: imbl::HashMap<Sym, Uuid>,
    pub counts: Counts,
}

impl Snapshot {
    pub fn empty(ctx: Arc<RiskContext>, now: DateTime<Utc>) -> Snapshot {
        Snapshot {
            version: 0,
            changed_at: now,
            day: now.date_naive(),
            ready: false,
            ctx,
            rows: imbl::OrdMap::new(),
            ids: imbl::HashMap::new(),
            labels: imbl::HashMap::new(),
            names: imbl::HashMap::new(),
            counts: Counts::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, most urgent first.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<Row>> + '_ {
        self.rows.values()
    }

    /// The device `id` names (its id or an alias).
    pub fn row(&self, id: Uuid) -> Option<&Arc<Row>> {
        self.rows.get(self.ids.get(&id)?)
    }

    /// The device's place in the whole ranking (1 = most urgent).
    pub fn rank_of(&self, id: Uuid) -> Option<usize> {
        let key = self.ids.get(&id)?;
        Some(self.rows.range(..*key).count() + 1)
    }

    pub(super) fn insert(&mut self, row: Arc<Row>) {
        self.counts.apply(&row, 1);
        for id in std::iter::once(row.id).chain(row.aliases.iter().copied()) {
            self.ids.insert(id, row.key);
        }
        *self.labels.entry(row.asset_label.clone()).or_default() += 1;
        for name in name_keys(&row) {
            self.names.entry(name).or_insert(row.id);
        }
        self.rows.insert(row.key, row);
    }

    /// Removes the device whose id (not alias) is `id`; returns its row.
    pub(super) fn remove(&mut self, id: Uuid) -> Option<Arc<Row>> {
        let key = *self.ids.get(&id)?;
        if key.id != id {
            return None;
        }
        let row = self.rows.remove(&key)?;
        self.counts.apply(&row, -1);
        for a in std::iter::once(row.id).chain(row.aliases.iter().copied()) {
            if self.ids.get(&a) == Some(&key) {
                self.ids.remove(&a);
            }
        }
        if let Some(n) = self.labels.get_mut(&row.asset_label) {
            *n -= 1;
            if *n == 0 {
                self.labels.remove(&row.asset_label);
            }
        }
        for name in name_keys(&row) {
            if self.names.get(&name) == Some(&row.id) {
                self.names.remove(&name);
            }
        }
        Some(row)
    }

    /// The name a role without network details sees: the asset label, with the end of the
    /// device id when another device has the same label.
    pub fn asset_label(&self, row: &Row) -> String {
        if self.labels.get(&row.asset_label).is_some_and(|n| *n > 1) {
            let opaque = crate::api::redact::opaque_label(row.id);
            format!("{} · {}", row.asset_label, &opaque["Device ".len()..])
        } else {
            row.asset_label.to_string()
        }
    }

    /// The device named by a lower-case host or DNS name, if one is.
    pub fn named(&self, name: &str) -> Option<&Arc<Row>> {
        self.row(*self.names.get(name)?)
    }

    /// A page of the ranking, filtered, searched and sorted as `q` says.
    pub fn ranking(&self, q: &RankQuery, network: bool) -> RankPage {
        let per_page = q.per_page();
        let search = q.search();
        let sort = q.sort.as_deref().unwrap_or("rank");
        let (desc, column) = match sort.strip_prefix('-') {
            Some(c) => (true, c),
            None => (false, sort),
        };
        let plain = q.filter.is_empty() && search.is_none() && column == "rank";
        // A page past the end is empty (its totals still say how many there are).
        let page_of = |matching: usize| {
            let pages = matching.div_ceil(per_page).max(1);
            (q.page.unwrap_or(1).max(1), pages)
        };
        if plain {
            let matching = self.rows.len();
            let (page, pages) = page_of(matching);
            let start = (page - 1) * per_page;
            let rows: Vec<(usize, Arc<Row>)> = if desc {
                self.rows
                    .values()
                    .rev()
                    .skip(start)
                    .take(per_page)
                    .enumerate()
                    .map(|(i, r)| (matching - start - i, r.clone()))
                    .collect()
            } else {
                self.rows
                    .values()
                    .skip(start)
                    .take(per_page)
                    .enumerate()
                    .map(|(i, r)| (start + i + 1, r.clone()))
                    .collect()
            };
            return RankPage {
                matching,
                estate: matching,
                page,
                pages,
                per_page,
                rows,
            };
        }
        let mut hits: Vec<(usize, &Arc<Row>)> = self
            .rows
            .values()
            .enumerate()
            .filter(|(_, r)| q.filter.matches(r))
            .filter(|(_, r)| search.as_deref().is_none_or(|s| self.finds(r, s, network)))
            .map(|(i, r)| (i + 1, r))
            .collect();
        let text = |v: &Option<Sym>| v.as_deref().map(str::to_lowercase);
        match column {
            "hostname" | "name" => {
                if network {
                    hits.sort_by_cached_key(|(rank, r)| {
                        (text(&r.hostname).is_none(), text(&r.hostname), *rank)
                    });
                } else {
                    hits.sort_by_cached_key(|(rank, r)| {
                        (self.asset_label(r).to_lowercase(), *rank)
                    });
                }
            }
            "site" => hits.sort_by_cached_key(|(rank, r)| (r.site.is_none(), text(&r.site), *rank)),
            "department" => hits.sort_by_cached_key(|(rank, r)| {
                (r.department.is_none(), text(&r.department), *rank)
            }),
            "os" => {
                hits.sort_by_cached_key(|(rank, r)| (r.os_name.is_none(), text(&r.os_name), *rank))
            }
            "score" => hits.sort_by_key(|(rank, r)| (std::cmp::Reverse(r.score), *rank)),
            "remedy" => hits.sort_by_key(|(rank, r)| (r.remedy, *rank)),
            "last_seen" => hits.sort_by_key(|(rank, r)| (std::cmp::Reverse(r.last_seen), *rank)),
            _ => {}
        }
        if desc {
            hits.reverse();
        }
        let matching = hits.len();
        let (page, pages) = page_of(matching);
        let rows = hits
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(rank, r)| (rank, r.clone()))
            .collect();
        RankPage {
            matching,
            estate: self.rows.len(),
            page,
            pages,
            per_page,
            rows,
        }
    }

    /// Whether the row matches a lower-case search.
    fn finds(&self, row: &Row, q: &str, network: bool) -> bool {
        let has = |v: &Option<Sym>| v.as_deref().is_some_and(|x| x.to_lowercase().contains(q));
        if has(&row.serial) || self.asset_label(row).to_lowercase().contains(q) {
            return true;
        }
        network
            && (has(&row.hostname)
                || has(&row.fqdn)
                || row.ips.iter().any(|ip| ip.starts_with(q) || **ip == *q)
                || row.macs.iter().any(|m| m.to_lowercase().contains(q)))
    }

    /// Every row the filter keeps, most urgent first, with its place in the whole ranking.
    pub fn select<'a>(
        &'a self,
        filter: &'a RankFilter,
    ) -> impl Iterator<Item = (usize, &'a Arc<Row>)> + 'a {
        self.rows
            .values()
            .enumerate()
            .filter(move |(_, r)| filter.matches(r))
            .map(|(i, r)| (i + 1, r))
    }

    pub fn catalog(&self) -> CatalogInfo {
        self.ctx.catalog.info()
    }

    pub fn summary(&self) -> Summary {
        let c = &self.counts;
        let devices = to_usize(c.devices);
        Summary {
            catalog: self.catalog(),
            devices,
            by_os_family: c
                .by_os_family
                .iter()
                .map(|(k, v)| ((*k).to_owned(), to_usize(*v)))
                .collect(),
            by_lifecycle: keyed(&c.by_lifecycle),
            unsupported: to_usize(c.unsupported),
            unsupported_share: if devices == 0 {
                0.0
            } else {
                c.unsupported as f64 / devices as f64
            },
            wannacry_exposed: to_usize(c.wannacry),
            windows11_readiness: keyed(&c.readiness),
            by_remedy: keyed(&c.by_remedy),
        }
    }

    /// Coverage by site and the devices seen only from outside (`devices::coverage`).
    pub fn coverage(&self, now: DateTime<Utc>) -> Coverage {
        let c = &self.counts;
        let reach = |m: &HashMap<Reach, i64>, r: Reach| to_usize(m.get(&r).copied().unwrap_or(0));
        let share = |part: usize, whole: usize| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        let devices = to_usize(c.active);
        let managed = reach(&c.by_reach, Reach::Managed);
        let mut by_site: BTreeMap<String, SiteCoverage> = BTreeMap::new();
        for (site, m) in &c.by_site {
            let name = site.as_deref().unwrap_or(NO_SITE).to_owned();
            let e = by_site.entry(name.clone()).or_insert_with(|| SiteCoverage {
                site: name,
                devices: 0,
                managed: 0,
                imported: 0,
                unmanaged: 0,
                managed_share: 0.0,
            });
            e.managed += reach(m, Reach::Managed);
            e.imported += reach(m, Reach::Imported);
            e.unmanaged += reach(m, Reach::Unmanaged);
            e.devices = e.managed + e.imported + e.unmanaged;
            e.managed_share = share(e.managed, e.devices);
        }
        let mut unmanaged_devices: Vec<UnmanagedDevice> = self
            .rows
            .values()
            .filter(|r| r.outside_only)
            .map(|r| UnmanagedDevice {
                id: r.id,
                hostname: r.hostname.as_deref().map(str::to_owned),
                fqdn: r.fqdn.as_deref().map(str::to_owned),
                os_name: r.os_name.as_deref().map(str::to_owned),
                ip_addresses: r.ips.iter().map(|s| s.to_string()).collect(),
                mac_addresses: r.macs.iter().map(|s| s.to_string()).collect(),
                site: r.site.as_deref().map(str::to_owned),
                sources: r.sources.iter().collect(),
                last_seen: r.last_seen,
                active: r.active,
            })
            .collect();
        unmanaged_devices.sort_by(|a, b| {
            b.active
                .cmp(&a.active)
                .then(b.last_seen.cmp(&a.last_seen))
                .then(a.id.cmp(&b.id))
        });
        Coverage {
            generated_at: now,
            stale_after_days: self.ctx.weights.stale_after_days,
            devices,
            managed,
            imported: reach(&c.by_reach, Reach::Imported),
            unmanaged: reach(&c.by_reach, Reach::Unmanaged),
            managed_share: share(managed, devices),
            stale: to_usize(c.stale),
            by_site: by_site.into_values().collect(),
            by_source: c
                .by_source
                .iter()
                .map(|(k, v)| ((*k).to_owned(), to_usize(*v)))
                .collect(),
            unmanaged_devices,
        }
    }
}

/// Lower-case names of a row (host name, DNS name) at least three characters long (shorter
/// ones would match ordinary words in free text).
fn name_keys(row: &Row) -> Vec<Sym> {
    [&row.hostname, &row.fqdn]
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| n.len() >= 3)
        .map(Sym::from)
        .collect()
}
