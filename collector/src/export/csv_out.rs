//! CSV: UTF-8 (optionally with a byte order mark), one header row of column keys, text cells
//! protected against formula injection.

use std::borrow::Cow;
use std::io::Write;

use super::{Cell, ExportError, ExportOptions, Sheet, Table};

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) fn write(table: &Table, opts: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::new();
    write_to(table.clone().into_sheet(), opts, &mut out)?;
    Ok(out)
}

/// Writes the sheet's rows as they come.
pub(super) fn write_to(
    sheet: Sheet<'_>,
    opts: &ExportOptions,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    if opts.csv_bom {
        out.write_all(BOM).map_err(|e| ExportError::Csv(e.into()))?;
    }
    let mut w = csv::Writer::from_writer(out);
    w.write_record(sheet.columns.iter().map(|c| c.key))?;
    for row in sheet.rows {
        w.write_record(row.cells.iter().map(|c| cell_text(c).into_owned()))?;
    }
    w.flush().map_err(|e| ExportError::Csv(e.into()))?;
    Ok(())
}

fn cell_text(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Empty => Cow::Borrowed(""),
        Cell::Text(s) => match visible_controls(s) {
            Cow::Borrowed(s) => escape_formula(s),
            Cow::Owned(s) => Cow::Owned(escape_formula(&s).into_owned()),
        },
        Cell::Int(n) => Cow::Owned(n.to_string()),
        Cell::Money(m) => Cow::Owned(m.pounds_decimal()),
        Cell::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
        Cell::DateTime(t) => Cow::Owned(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        Cell::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
    }
}

/// Control characters (NUL, escape, DEL, C1) as U+FFFD, so none reaches a spreadsheet raw;
/// tab and line ends stay. Reports are refused with them at ingest, but an import or an older
/// store may still hold one.
pub(super) fn visible_controls(text: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if text.chars().any(bad) {
        Cow::Owned(
            text.chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Prefixes `'` to text a spreadsheet would read as a formula (OWASP "CSV injection").
pub(super) fn escape_formula(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}
