//! The device list: one row per device with its assessment, and a findings sheet with one row
//! per finding and its evidence.

use chrono::{DateTime, Utc};

use super::table::Field;
use super::{Cell, Column, DocMeta, ExportOptions, Sheet, StreamDocument, network};
use crate::catalog::CatalogInfo;
use crate::estate::key;
use crate::estate::row::{Row, RowFinding};

/// One device and its place in the whole ranking.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    pub rank: usize,
    pub row: &'a Row,
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
            Cell::int(r.row.score)
        }),
        (Column::new("remedy", "Remedy", 18.0), |r| {
            Cell::Text(key(&r.row.remedy))
        }),
        (
            Column::wrapped("remedy_reason", "Why this remedy", 50.0),
            |r| Cell::text(&*r.row.remedy_reason),
        ),
        (Column::new("device_id", "Device id", 38.0), |r| {
            Cell::Text(r.row.id.to_string())
        }),
        (Column::new("hostname", "Host name", 22.0), |r| {
            Cell::opt_text(r.row.hostname.as_deref())
        }),
        (Column::new("site", "Site", 16.0), |r| {
            Cell::opt_text(r.row.site.as_deref())
        }),
        (Column::new("department", "Department", 16.0), |r| {
            Cell::opt_text(r.row.department.as_deref())
        }),
        (Column::new("clinical", "Clinical", 9.0), |r| {
            opt_bool(r.row.clinical)
        }),
        (Column::new("os_family", "OS family", 10.0), |r| {
            Cell::text(r.row.os_family)
        }),
        (Column::new("os", "Operating system", 30.0), |r| {
            Cell::opt_text(r.row.os_name.as_deref())
        }),
        (Column::new("os_version", "Version", 10.0), |r| {
            Cell::opt_text(r.row.os_version.as_deref())
        }),
        (Column::new("os_build", "Build", 14.0), |r| {
            Cell::opt_text(r.row.os_build.as_deref())
        }),
        (Column::new("lifecycle", "Support status", 16.0), |r| {
            Cell::Text(key(&r.row.lifecycle))
        }),
        (
            Column::new("support_ends", "Security updates end", 14.0),
            |r| r.row.support_ends.map_or(Cell::Empty, Cell::Date),
        ),
        (Column::new("days_past_end", "Days past end", 9.0), |r| {
            r.row.days_past_end.map_or(Cell::Empty, Cell::Int)
        }),
        (Column::new("extension", "Paid extension", 20.0), |r| {
            Cell::opt_text(r.row.extension.as_deref())
        }),
        (Column::new("ms17_010", "MS17-010 fix", 12.0), |r| {
            Cell::Text(key(&r.row.ms17))
        }),
        (Column::new("smb1_enabled", "SMBv1 on", 9.0), |r| {
            opt_bool(r.row.smb1)
        }),
        (
            Column::new("wannacry_exposed", "WannaCry exposed", 11.0),
            |r| Cell::Bool(r.row.wannacry),
        ),
        (
            Column::new("windows11", "Windows 11 readiness", 16.0),
            |r| r.row.readiness.map_or(Cell::Empty, |x| Cell::Text(key(&x))),
        ),
        (Column::new("findings", "Findings", 9.0), |r| {
            Cell::count(r.row.findings.len() as u64)
        }),
        (Column::wrapped("top_finding", "Top finding", 60.0), |r| {
            Cell::opt_text(r.row.findings.first().map(|f| &*f.sentence))
        }),
        (Column::new("manufacturer", "Manufacturer", 16.0), |r| {
            Cell::opt_text(r.row.manufacturer.as_deref())
        }),
        (Column::new("model", "Model", 20.0), |r| {
            Cell::opt_text(r.row.model.as_deref())
        }),
        (Column::new("serial", "Serial number", 16.0), |r| {
            Cell::opt_text(r.row.serial.as_deref())
        }),
        (Column::new("last_report", "Last report (UTC)", 17.0), |r| {
            Cell::DateTime(r.row.last_seen)
        }),
    ]
}

/// Shown only with `include_network_details`.
fn network_fields<'a>() -> Vec<Field<Ranked<'a>>> {
    vec![
        (Column::new("fqdn", "FQDN", 28.0), |r| {
            Cell::opt_text(r.row.fqdn.as_deref())
        }),
        (Column::new("domain", "Domain", 18.0), |r| {
            Cell::opt_text(r.row.domain.as_deref())
        }),
        (Column::new("ip_addresses", "IP addresses", 24.0), |r| {
            Cell::Text(r.row.ips.join(", "))
        }),
        (Column::new("mac_addresses", "MAC addresses", 24.0), |r| {
            Cell::Text(r.row.macs.join(", "))
        }),
    ]
}

/// One row per device, as the rows come.
pub fn device_sheet<'a>(
    devices: impl Iterator<Item = Ranked<'a>> + Send + 'a,
    opts: &ExportOptions,
) -> Sheet<'a> {
    let mut fields = device_fields();
    if opts.include_network_details {
        fields.extend(network_fields());
    }
    let sheet = Sheet::from_fields("Devices", fields, devices);
    if opts.include_network_details {
        sheet
    } else {
        network::hide_in_sheet(sheet)
    }
}

/// One finding of one device.
#[derive(Debug, Clone, Copy)]
pub struct FindingRow<'a> {
    pub rank: usize,
    pub row: &'a Row,
    pub finding: &'a RowFinding,
}

fn finding_fields<'a>() -> Vec<Field<FindingRow<'a>>> {
    vec![
        (Column::new("rank", "Rank", 7.0), |f| {
            Cell::count(f.rank as u64)
        }),
        (Column::new("device_id", "Device id", 38.0), |f| {
            Cell::Text(f.row.id.to_string())
        }),
        (Column::new("hostname", "Host name", 22.0), |f| {
            Cell::opt_text(f.row.hostname.as_deref())
        }),
        (Column::new("rule", "Rule", 22.0), |f| {
            Cell::text(&*f.finding.rule)
        }),
        (Column::new("points", "Points", 8.0), |f| {
            Cell::int(f.finding.points)
        }),
        (Column::wrapped("finding", "Finding", 60.0), |f| {
            Cell::text(&*f.finding.sentence)
        }),
        (Column::wrapped("evidence", "Evidence", 60.0), |f| {
            Cell::Text(evidence_text(f.finding))
        }),
    ]
}

/// Each piece of evidence on its own line: `field = value (catalog: row)`.
pub fn evidence_text(finding: &RowFinding) -> String {
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
pub fn findings_sheet<'a>(
    devices: impl Iterator<Item = Ranked<'a>> + Send + 'a,
    opts: &ExportOptions,
) -> Sheet<'a> {
    let rows = devices.flat_map(|d| {
        d.row.findings.iter().map(move |finding| FindingRow {
            rank: d.rank,
            row: d.row,
            finding,
        })
    });
    let sheet = Sheet::from_fields("Findings", finding_fields(), rows);
    if opts.include_network_details {
        sheet
    } else {
        network::hide_in_sheet(sheet)
    }
}

/// The device list and the findings as a workbook of two sheets; `devices` gives the devices
/// once per sheet.
pub fn document<'a, I: Iterator<Item = Ranked<'a>> + Send + 'a>(
    devices: impl Fn() -> I,
    opts: &ExportOptions,
    created: DateTime<Utc>,
    catalog: &CatalogInfo,
) -> StreamDocument<'a> {
    StreamDocument {
        meta: DocMeta {
            title: "Ward: devices and findings".into(),
            subject: "Every device with its assessment, and every finding with its evidence".into(),
            comment: format!(
                "Assessed {} against catalog version {} of {}. See docs/risk-model.md for every rule and weight.",
                created.format("%Y-%m-%d %H:%M UTC"),
                catalog.version,
                catalog.date
            ),
            created,
        },
        sheets: vec![
            device_sheet(devices(), opts),
            findings_sheet(devices(), opts),
        ],
    }
}
