//! Exports for people who work in spreadsheets: the ranking, the device list with its findings,
//! and the budget plan, as CSV and XLSX. One place per export: the CLI, the API and the pages
//! all call these functions.
//!
//! Each export is built once as format-neutral [`Table`]s (one per sheet, typed [`Cell`]s),
//! then written by `csv_out` or `xlsx_out`. Pure: data in, bytes out; no store, no clock (the
//! caller passes the moment the export is made, used for the document properties and the file
//! name).
//!
//! Architecture invariant: a CSV text cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is written with a leading `'`, so a spreadsheet never runs a hostname or a
//! site name from a report as a formula. Numbers, money and dates are written by Ward itself
//! and are not escaped. In XLSX every cell is typed (text is stored as text), so nothing is
//! ever a formula.
//!
//! Architecture invariant: with `include_network_details: false` (finance) no IP address, MAC
//! address, FQDN or domain appears anywhere in an export: those columns are left out and any
//! address inside free text (evidence, reasons) is replaced by [`network::HIDDEN`].

mod csv_out;
pub mod devices;
pub mod network;
pub mod plan;
pub mod ranking;
mod table;
#[cfg(test)]
mod tests;
mod xlsx_out;

use chrono::{DateTime, NaiveDate, Utc};

pub use table::{Cell, Column, Row, Sheet, Table};

/// How an export is written; the API sets these from the request and the caller's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// IP and MAC addresses, FQDN and domain. Off for finance; the default is off.
    pub include_network_details: bool,
    /// Start CSV files with a UTF-8 byte order mark, so Excel reads them as UTF-8.
    pub csv_bom: bool,
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` or `xlsx`.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// The download name: `ward-ranking-2026-12-01.xlsx`.
pub fn file_name(what: &str, format: Format, day: NaiveDate) -> String {
    format!("ward-{what}-{day}.{}", format.extension())
}

/// A workbook: its sheets and what its document properties say.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    pub subject: String,
    /// Shown as the document's comments: where the figures come from.
    pub comment: String,
    pub created: DateTime<Utc>,
    pub sheets: Vec<Table>,
}

impl Document {
    pub fn xlsx(&self) -> Result<Vec<u8>, ExportError> {
        xlsx_out::write(self)
    }

    pub fn meta(&self) -> DocMeta {
        DocMeta {
            title: self.title.clone(),
            subject: self.subject.clone(),
            comment: self.comment.clone(),
            created: self.created,
        }
    }
}

/// What a workbook's document properties say.
#[derive(Debug, Clone, PartialEq)]
pub struct DocMeta {
    pub title: String,
    pub subject: String,
    pub comment: String,
    pub created: DateTime<Utc>,
}

/// A workbook whose sheets' rows stream (see [`Sheet`]).
#[derive(Debug)]
pub struct StreamDocument<'a> {
    pub meta: DocMeta,
    pub sheets: Vec<Sheet<'a>>,
}

impl StreamDocument<'_> {
    /// Writes the workbook to `out`, holding at most one row in memory (the sheets go through
    /// temporary files first, as XLSX is a zip written at the end).
    pub fn write_xlsx<W: std::io::Write + Send>(self, out: W) -> Result<(), ExportError> {
        xlsx_out::write_to(&self.meta, self.sheets, out, true)
    }
}

/// Writes one table as CSV (UTF-8, a header row of the columns' keys).
pub fn csv(table: &Table, opts: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    csv_out::write(table, opts)
}

/// Writes one sheet as CSV as its rows come.
pub fn csv_to(
    sheet: Sheet<'_>,
    opts: &ExportOptions,
    out: &mut dyn std::io::Write,
) -> Result<(), ExportError> {
    csv_out::write_to(sheet, opts, out)
}

/// A CSV text cell made safe to open in a spreadsheet (see the module note).
pub fn escape_formula(text: &str) -> std::borrow::Cow<'_, str> {
    csv_out::escape_formula(text)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}
