//! The device list: one row per device with its assessment, and a findings sheet with one row
//! per finding and its evidence.

use chrono::{DateTime, Utc};

use super::table::Field;
use super::{Cell, Column, Document, ExportOptions, Table, network};
use crate::catalog::CatalogInfo;
use crate::estate::{Assessed, RankFilter, key};

/// One device and its place in the whole ranking.
pub struct Ranked<'a> {
    pub rank: usize,
    pub device: &'a Assessed,
}

/// The devices `filter` keeps, ranks counted over the whole estate (as the ranking does).
/// `all` is in ranking order, as `estate::assess_all` returns it.
pub fn select<'a>(all: &'a [Assessed], filter: &RankFilter) -> Vec<Ranked<'a>> {
    all.iter()
        .enumerate()
        .filter(|(_, a)| filter.matches(a))
        .map(|(i, device)| Ranked {
            rank: i + 1,
            device,
        })
        .collect()
}

fn opt_bool(b: Option<bool>) -> Cell {
    b.map_or(Cell::Empty, Cell::Bool)
}

fn device_fields<'a>() -> Vec<Field<Ranked<'a>>> {
    vec![
        (Column::new("rank", "Rank", 7.0), |r| {
            Cell::count(r.rank as u64)
        }),
        (Column::new("score", "Score", 7.0), |r| {
            Cell::int(r.device.assessment.score)
        }),
        (Column::new("remedy", "Remedy", 18.0), |r| {
            Cell::Text(key(&r.device.assessment.remedy.class))
        }),
        (
            Column::wrapped("remedy_reason", "Why this remedy", 50.0),
            |r| Cell::text(&r.device.assessment.remedy.reason),
        ),
        (Column::new("device_id", "Device id", 38.0), |r| {
            Cell::Text(r.device.id.to_string())
        }),
        (Column::new("hostname", "Host name", 22.0), |r| {
            Cell::opt_text(r.device.assessment.hostname.as_deref())
        }),
        (Column::new("site", "Site", 16.0), |r| {
            Cell::opt_text(r.device.report.tags.site.as_deref())
        }),
        (Column::new("department", "Department", 16.0), |r| {
            Cell::opt_text(r.device.report.tags.department.as_deref())
        }),
        (Column::new("clinical", "Clinical", 9.0), |r| {
            opt_bool(r.device.report.tags.clinical)
        }),
        (Column::new("os_family", "OS family", 10.0), |r| {
            Cell::text(r.device.assessment.os_family)
        }),
        (Column::new("os", "Operating system", 30.0), |r| {
            Cell::opt_text(r.device.report.os.name.as_deref())
        }),
        (Column::new("os_version", "Version", 10.0), |r| {
            let os = &r.device.report.os;
            Cell::opt_text(os.display_version.as_deref().or(os.version.as_deref()))
        }),
        (Column::new("os_build", "Build", 14.0), |r| {
            let os = &r.device.report.os;
            match (&os.build, os.revision) {
                (Some(b), Some(rev)) => Cell::Text(format!("{b}.{rev}")),
                (Some(b), None) => Cell::text(b),
                _ => Cell::Empty,
            }
        }),
        (Column::new("lifecycle", "Support status", 16.0), |r| {
            Cell::Text(key(&r.device.assessment.lifecycle.state))
        }),
        (
            Column::new("support_ends", "Security updates end", 14.0),
            |r| {
                r.device
                    .assessment
                    .lifecycle
                    .end
                    .map_or(Cell::Empty, Cell::Date)
            },
        ),
        (Column::new("days_past_end", "Days past end", 9.0), |r| {
            r.device
                .assessment
                .lifecycle
                .days_past_end
                .map_or(Cell::Empty, Cell::Int)
        }),
        (Column::new("extension", "Paid extension", 20.0), |r| {
            Cell::opt_text(
                r.device
                    .assessment
                    .lifecycle
                    .extension
                    .as_ref()
                    .map(|e| e.name.as_str()),
            )
        }),
        (Column::new("ms17_010", "MS17-010 fix", 12.0), |r| {
            Cell::Text(key(&r.device.assessment.ms17_010.state))
        }),
        (Column::new("smb1_enabled", "SMBv1 on", 9.0), |r| {
            opt_bool(r.device.assessment.smb1_enabled)
        }),
        (
            Column::new("wannacry_exposed", "WannaCry exposed", 11.0),
            |r| Cell::Bool(r.device.assessment.wannacry_exposed),
        ),
        (
            Column::new("windows11", "Windows 11 readiness", 16.0),
            |r| {
                r.device
                    .assessment
                    .readiness
                    .as_ref()
                    .map_or(Cell::Empty, |x| Cell::Text(key(&x.verdict)))
            },
        ),
        (Column::new("findings", "Findings", 9.0), |r| {
            Cell::count(r.device.assessment.findings.len() as u64)
        }),
        (Column::wrapped("top_finding", "Top finding", 60.0), |r| {
            Cell::opt_text(
                r.device
                    .assessment
                    .top_finding()
                    .map(|f| f.sentence.as_str()),
            )
        }),
        (Column::new("manufacturer", "Manufacturer", 16.0), |r| {
            Cell::opt_text(r.device.report.hardware.manufacturer.as_deref())
        }),
        (Column::new("model", "Model", 20.0), |r| {
            Cell::opt_text(r.device.report.hardware.model.as_deref())
        }),
        (Column::new("serial", "Serial number", 16.0), |r| {
            Cell::opt_text(r.device.report.hardware.serial.as_deref())
        }),
        (Column::new("last_report", "Last report (UTC)", 17.0), |r| {
            Cell::DateTime(r.device.report.collected_at)
        }),
    ]
}

/// Shown only with `include_network_details`.
fn network_fields<'a>() -> Vec<Field<Ranked<'a>>> {
    vec![
        (Column::new("fqdn", "FQDN", 28.0), |r| {
            Cell::opt_text(r.device.report.host.fqdn.as_deref())
        }),
        (Column::new("domain", "Domain", 18.0), |r| {
            Cell::opt_text(r.device.report.host.domain.as_deref())
        }),
        (Column::new("ip_addresses", "IP addresses", 24.0), |r| {
            Cell::Text(r.device.report.host.ip_addresses.join(", "))
        }),
        (Column::new("mac_addresses", "MAC addresses", 24.0), |r| {
            Cell::Text(r.device.report.host.mac_addresses.join(", "))
        }),
    ]
}

/// One row per device.
pub fn device_table(devices: &[Ranked<'_>], opts: &ExportOptions) -> Table {
    let mut fields = device_fields();
    if opts.include_network_details {
        fields.extend(network_fields());
    }
    let mut table = Table::from_fields("Devices", &fields, devices);
    if !opts.include_network_details {
        network::hide_in_table(&mut table);
    }
    table
}

/// One finding of one device.
pub struct FindingRow<'a> {
    pub device: &'a Ranked<'a>,
    pub finding: &'a crate::risk::Finding,
}

fn finding_fields<'a>() -> Vec<Field<FindingRow<'a>>> {
    vec![
        (Column::new("rank", "Rank", 7.0), |f| {
            Cell::count(f.device.rank as u64)
        }),
        (Column::new("device_id", "Device id", 38.0), |f| {
            Cell::Text(f.device.device.id.to_string())
        }),
        (Column::new("hostname", "Host name", 22.0), |f| {
            Cell::opt_text(f.device.device.assessment.hostname.as_deref())
        }),
        (Column::new("rule", "Rule", 22.0), |f| {
            Cell::text(&f.finding.rule)
        }),
        (Column::new("points", "Points", 8.0), |f| {
            Cell::int(f.finding.points)
        }),
        (Column::wrapped("finding", "Finding", 60.0), |f| {
            Cell::text(&f.finding.sentence)
        }),
        (Column::wrapped("evidence", "Evidence", 60.0), |f| {
            Cell::Text(evidence_text(f.finding))
        }),
    ]
}

/// Each piece of evidence on its own line: `field = value (catalog: row)`.
pub fn evidence_text(finding: &crate::risk::Finding) -> String {
    finding
        .evidence
        .iter()
        .map(|e| match &e.catalog {
            Some(row) => format!("{} = {} (catalog: {row})", e.field, e.value),
            None => format!("{} = {}", e.field, e.value),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One row per finding, devices in ranking order, each device's findings highest points first.
pub fn findings_table(devices: &[Ranked<'_>], opts: &ExportOptions) -> Table {
    let rows: Vec<FindingRow<'_>> = devices
        .iter()
        .flat_map(|d| {
            d.device
                .assessment
                .findings
                .iter()
                .map(move |finding| FindingRow { device: d, finding })
        })
        .collect();
    let mut table = Table::from_fields("Findings", &finding_fields(), &rows);
    if !opts.include_network_details {
        network::hide_in_table(&mut table);
    }
    table
}

/// The device list and the findings as a workbook of two sheets.
pub fn document(
    devices: &[Ranked<'_>],
    opts: &ExportOptions,
    created: DateTime<Utc>,
    catalog: &CatalogInfo,
) -> Document {
    Document {
        title: "Ward: devices and findings".into(),
        subject: "Every device with its assessment, and every finding with its evidence".into(),
        comment: format!(
            "Assessed {} against catalog version {} of {}. See docs/risk-model.md for every rule and weight.",
            created.format("%Y-%m-%d %H:%M UTC"),
            catalog.version,
            catalog.date
        ),
        created,
        sheets: vec![device_table(devices, opts), findings_table(devices, opts)],
    }
}
