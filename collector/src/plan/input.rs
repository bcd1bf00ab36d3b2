//! What the planner is given: devices with their remedy options, unit costs, and a budget per year.

use std::fmt;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::Money;

/// Risk in points. A device's score is 0-100; an option removes part or all of it.
pub type Points = u32;

/// One device as the planner sees it: its current risk and what could be done about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDevice {
    pub id: Uuid,
    /// Hostname, for people.
    pub label: String,
    /// The device's current risk score (0-100 points).
    pub risk: Points,
    #[serde(default)]
    pub options: Vec<RemedyOption>,
}

/// One thing that could be done to a device.
///
/// Options of one device are alternatives: each brings the device down to `risk - risk_removed`
/// (clamped at zero). A device that already had one permanent option applied can later take a
/// stronger one and removes only the difference, paying its full cost (patched now, replaced later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemedyOption {
    pub kind: RemedyKind,
    /// One-off cost; for a recurring option, the cost of each year. For [`RemedyKind::Esu`] the
    /// planner prices every year itself from [`UnitCosts`] (the cumulative rule depends on the year
    /// and on what the device already paid), so this field is informational there.
    pub cost: Money,
    /// Points of the device's risk this option removes (clamped to the device's risk).
    pub risk_removed: Points,
    /// Paid per year and removes risk only for the year paid (ESU). `Esu` is always treated as
    /// recurring, whatever this says.
    #[serde(default)]
    pub recurring: bool,
}

impl RemedyOption {
    /// An option priced from `costs` (ESU at its year-1 price, see [`RemedyOption::cost`]).
    pub fn priced(kind: RemedyKind, risk_removed: Points, costs: &UnitCosts) -> RemedyOption {
        RemedyOption {
            cost: costs.price(&kind),
            recurring: kind == RemedyKind::Esu,
            kind,
            risk_removed,
        }
    }

    pub(crate) fn is_recurring(&self) -> bool {
        self.recurring || self.kind == RemedyKind::Esu
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RemedyKind {
    ReplaceHardware {
        form_factor: FormFactor,
    },
    UpgradeOs,
    FixFirmware,
    ComponentUpgrade {
        ram: bool,
        ssd: bool,
    },
    Patch,
    /// Windows 10 Extended Security Updates for one more year.
    Esu,
}

impl fmt::Display for RemedyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemedyKind::ReplaceHardware { form_factor } => {
                write!(f, "Replace hardware ({form_factor})")
            }
            RemedyKind::UpgradeOs => f.write_str("Upgrade OS"),
            RemedyKind::FixFirmware => f.write_str("Fix firmware settings"),
            RemedyKind::ComponentUpgrade { ram, ssd } => match (ram, ssd) {
                (true, true) => f.write_str("Upgrade RAM and SSD"),
                (true, false) => f.write_str("Upgrade RAM"),
                (false, true) => f.write_str("Upgrade to SSD"),
                (false, false) => f.write_str("Component upgrade"),
            },
            RemedyKind::Patch => f.write_str("Patch"),
            RemedyKind::Esu => f.write_str("Windows 10 ESU for the year"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFactor {
    Desktop,
    Laptop,
    ThinClient,
    Server,
}

impl fmt::Display for FormFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormFactor::Desktop => "desktop",
            FormFactor::Laptop => "laptop",
            FormFactor::ThinClient => "thin client",
            FormFactor::Server => "server",
        })
    }
}

/// Pence per US dollar used to turn Microsoft's dollar ESU prices into the defaults below.
/// An assumption (roughly the 2024-25 exchange rate); GBP price lists were not read (DOMAIN.md §8 [U]).
pub const DEFAULT_PENCE_PER_USD: i64 = 79;

/// Windows 10 commercial ESU list prices in dollars, years 1-3 (DOMAIN.md §1b, press reports of
/// Microsoft's April 2024 post [S]). Years are cumulative: joining in year 2 means paying year 1 too.
pub const ESU_COMMERCIAL_USD: [i64; 3] = [61, 122, 244];

/// Unit costs. Every default is an assumption to be replaced by the trust's own prices; the
/// sourced ones say where they come from. In a config file every field is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnitCosts {
    /// Default £678: average PC/laptop price paid by 197 English trusts 2013-mid 2017
    /// (Crucial FOI, DOMAIN.md §8 [S]; an ITPro write-up of the same FOI says £650).
    pub desktop: Money,
    /// Default £678: the same FOI average covers PCs and laptops together. Assumption.
    pub laptop: Money,
    /// Default £300. Assumption, no public NHS figure found.
    pub thin_client: Money,
    /// Default £5,000. Assumption, no public NHS figure found.
    pub server: Money,
    /// Default £25 (about 30 minutes of a technician's time). Assumption.
    pub firmware_fix_labour: Money,
    /// Default £40. Assumption.
    pub ram_upgrade: Money,
    /// Default £60. Assumption.
    pub ssd_upgrade: Money,
    /// Default £50 (in-place upgrade, about an hour with checks). Assumption.
    pub os_upgrade_labour: Money,
    /// Windows 10 ESU per device for programme years 1, 2, 3. Default: $61/$122/$244
    /// ([`ESU_COMMERCIAL_USD`]) at [`DEFAULT_PENCE_PER_USD`] = £48.19/£96.38/£192.76.
    pub esu_per_device_per_year: Vec<Money>,
    /// First day of ESU programme year 1. Default 2025-10-15, the day after Windows 10 22H2 end of
    /// support (2025-10-14, DOMAIN.md §1b [V]); year 1 runs to 2026-10-13, year 3 to 2028-10-10.
    pub esu_programme_start: NaiveDate,
    /// Where these numbers come from, printed with the plan.
    pub basis: String,
}

impl Default for UnitCosts {
    fn default() -> UnitCosts {
        UnitCosts {
            desktop: Money::from_pounds(678),
            laptop: Money::from_pounds(678),
            thin_client: Money::from_pounds(300),
            server: Money::from_pounds(5_000),
            firmware_fix_labour: Money::from_pounds(25),
            ram_upgrade: Money::from_pounds(40),
            ssd_upgrade: Money::from_pounds(60),
            os_upgrade_labour: Money::from_pounds(50),
            esu_per_device_per_year: ESU_COMMERCIAL_USD
                .iter()
                .map(|usd| Money::from_pence(usd * DEFAULT_PENCE_PER_USD))
                .collect(),
            esu_programme_start: NaiveDate::from_ymd_opt(2025, 10, 15).unwrap_or_default(),
            basis: "Ward defaults, assumptions to be replaced by the trust's own prices: PC and \
                    laptop £678 (Crucial FOI 2017 average); ESU $61/$122/$244 at 79p per dollar; \
                    other figures are estimates"
                .to_owned(),
        }
    }
}

impl UnitCosts {
    /// The price of one remedy on one device. ESU: the year-1 price (the planner applies the
    /// cumulative rule itself, see [`UnitCosts::esu_cost`]). Patching: free (done with the
    /// trust's existing update tooling).
    pub fn price(&self, kind: &RemedyKind) -> Money {
        match kind {
            RemedyKind::ReplaceHardware { form_factor } => match form_factor {
                FormFactor::Desktop => self.desktop,
                FormFactor::Laptop => self.laptop,
                FormFactor::ThinClient => self.thin_client,
                FormFactor::Server => self.server,
            },
            RemedyKind::UpgradeOs => self.os_upgrade_labour,
            RemedyKind::FixFirmware => self.firmware_fix_labour,
            RemedyKind::ComponentUpgrade { ram, ssd } => {
                let mut total = Money::ZERO;
                if *ram {
                    total += self.ram_upgrade;
                }
                if *ssd {
                    total += self.ssd_upgrade;
                }
                total
            }
            RemedyKind::Patch => Money::ZERO,
            RemedyKind::Esu => self
                .esu_per_device_per_year
                .first()
                .copied()
                .unwrap_or(Money::ZERO),
        }
    }

    /// The ESU programme year (1-based) that is in force on `day`; 0 before the programme starts.
    pub fn esu_year_on(&self, day: NaiveDate) -> usize {
        if day < self.esu_programme_start {
            return 0;
        }
        let mut year = 1;
        while let Some(next) = self
            .esu_programme_start
            .checked_add_months(Months::new(12 * year as u32))
        {
            if next > day || year > self.esu_per_device_per_year.len() {
                break;
            }
            year += 1;
        }
        year
    }

    /// What ESU costs to keep a device covered through UK financial year `fy` (to 31 March of
    /// `fy + 1`), given it already paid programme years `1..=paid_through`: every unpaid year up
    /// to the one in force on 31 March, because years are cumulative. Returns the cost and the new
    /// `paid_through`, or `None` when ESU cannot cover the whole financial year (the programme
    /// has ended by 31 March, or the year has not started and there is nothing to buy).
    pub fn esu_cost(&self, fy: i32, paid_through: usize) -> Option<(Money, usize)> {
        let fy_end = NaiveDate::from_ymd_opt(fy.checked_add(1)?, 3, 31)?;
        let needed = self.esu_year_on(fy_end);
        if needed == 0 || needed > self.esu_per_device_per_year.len() {
            return None;
        }
        let cost = self
            .esu_per_device_per_year
            .iter()
            .take(needed)
            .skip(paid_through)
            .copied()
            .sum();
        Some((cost, needed.max(paid_through)))
    }
}

/// Money available per UK financial year (April to March).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The first financial year by its starting calendar year: 2026 is FY 2026/27, April 2026 to
    /// March 2027.
    pub first_year: i32,
    /// One amount per consecutive financial year; unspent money does not carry over.
    pub per_year: Vec<Money>,
}

/// "2026/27" for the financial year starting April 2026.
pub fn fy_label(fy: i32) -> String {
    format!("{fy}/{:02}", (fy + 1).rem_euclid(100))
}
