//! The ranking: one row per device, most urgent first, with the reason.

use chrono::{DateTime, Utc};

use super::table::Field;
use super::{
    Cell, Column, DocMeta, Document, ExportOptions, Sheet, StreamDocument, Table, network,
};
use crate::catalog::CatalogInfo;
use crate::estate::{RankRow, key};

fn fields() -> Vec<Field<RankRow>> {
    vec![
        (Column::new("rank", "Rank", 7.0), |r| {
            Cell::count(r.rank as u64)
        }),
        (Column::new("score", "Score", 7.0), |r| Cell::int(r.score)),
        (Column::new("remedy", "Remedy", 18.0), |r| {
            Cell::Text(key(&r.remedy))
        }),
        (Column::new("device_id", "Device id", 38.0), |r| {
            Cell::Text(r.device_id.to_string())
        }),
        (Column::new("hostname", "Host name", 22.0), |r| {
            Cell::opt_text(r.hostname.as_deref())
        }),
        (Column::new("os", "Operating system", 30.0), |r| {
            Cell::opt_text(r.os.as_deref())
        }),
        (Column::new("site", "Site", 16.0), |r| {
            Cell::opt_text(r.site.as_deref())
        }),
        (
            Column::new("wannacry_exposed", "WannaCry exposed", 11.0),
            |r| Cell::Bool(r.wannacry_exposed),
        ),
        (Column::wrapped("reason", "Why", 70.0), |r| {
            Cell::text(&r.reason)
        }),
    ]
}

/// The ranking table; the CSV `ward-collector rank --format csv` and the API write.
pub fn table(rows: &[RankRow], opts: &ExportOptions) -> Table {
    sheet(rows.iter().cloned(), opts).collect()
}

/// The ranking as a sheet whose rows stream (one [`RankRow`] at a time).
pub fn sheet<'a>(
    rows: impl Iterator<Item = RankRow> + Send + 'a,
    opts: &ExportOptions,
) -> Sheet<'a> {
    let sheet = Sheet::from_fields("Ranking", fields(), rows);
    if opts.include_network_details {
        sheet
    } else {
        network::hide_in_sheet(sheet)
    }
}

fn meta(created: DateTime<Utc>, catalog: &CatalogInfo) -> DocMeta {
    DocMeta {
        title: "Ward: devices ranked by risk".into(),
        subject: "Every device, most urgent first, with the reason and the remedy".into(),
        comment: format!(
            "Assessed {} against catalog version {} of {}. See docs/risk-model.md for every rule and weight.",
            created.format("%Y-%m-%d %H:%M UTC"),
            catalog.version,
            catalog.date
        ),
        created,
    }
}

/// The ranking as a workbook of one sheet.
pub fn document(
    rows: &[RankRow],
    opts: &ExportOptions,
    created: DateTime<Utc>,
    catalog: &CatalogInfo,
) -> Document {
    let meta = meta(created, catalog);
    Document {
        title: meta.title,
        subject: meta.subject,
        comment: meta.comment,
        created,
        sheets: vec![table(rows, opts)],
    }
}

/// [`document`] with the rows streaming.
pub fn stream_document<'a>(
    rows: impl Iterator<Item = RankRow> + Send + 'a,
    opts: &ExportOptions,
    created: DateTime<Utc>,
    catalog: &CatalogInfo,
) -> StreamDocument<'a> {
    StreamDocument {
        meta: meta(created, catalog),
        sheets: vec![sheet(rows, opts)],
    }
}
