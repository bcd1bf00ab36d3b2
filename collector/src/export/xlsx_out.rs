//! XLSX with rust_xlsxwriter: a bold, frozen header row with an autofilter on every sheet,
//! column widths, money as numbers in a GBP format, dates as dates, total rows in bold, A4
//! landscape printing fitted to the page width with the header repeated, and the document
//! properties (title, subject, author, comment, creation time).

use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::{Cell, Column, DocMeta, Document, ExportError, Row, Sheet, Table};

/// Excel's own format for an amount in pounds sterling (en-GB), negatives with a minus.
pub(crate) const MONEY_FORMAT: &str = "[$£-809]#,##0.00;-[$£-809]#,##0.00";
/// 1 Apr 2026: unambiguous in every locale.
pub(crate) const DATE_FORMAT: &str = "d mmm yyyy";
pub(crate) const DATETIME_FORMAT: &str = "d mmm yyyy hh:mm";
/// The most characters Excel keeps in one cell.
const MAX_CELL_CHARS: usize = 32_767;
/// A4 in the OOXML paper size list.
const PAPER_A4: u8 = 9;
/// Points per line of the default 11-point font, and the tallest row Excel allows.
const LINE_HEIGHT: f64 = 15.0;
const MAX_ROW_HEIGHT: f64 = 409.0;
/// Column-width units one printed landscape A4 page holds at a readable size.
const PAGE_WIDTH_UNITS: f64 = 230.0;

struct Formats {
    header: Format,
    text: Format,
    wrap: Format,
    money: Format,
    date: Format,
    datetime: Format,
    int: Format,
}

impl Formats {
    fn new(bold: bool) -> Formats {
        let base = if bold {
            Format::new().set_bold().set_border_top(FormatBorder::Thin)
        } else {
            Format::new()
        }
        .set_align(FormatAlign::Top);
        Formats {
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border_bottom(FormatBorder::Thin),
            text: base.clone(),
            wrap: base.clone().set_text_wrap(),
            money: base.clone().set_num_format(MONEY_FORMAT),
            date: base.clone().set_num_format(DATE_FORMAT),
            datetime: base.clone().set_num_format(DATETIME_FORMAT),
            int: base.set_num_format("0").set_align(FormatAlign::Center),
        }
    }
}

pub(super) fn write(doc: &Document) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::new();
    let sheets = doc.sheets.iter().cloned().map(Table::into_sheet).collect();
    write_to(&doc.meta(), sheets, &mut out, false)?;
    Ok(out)
}

/// Writes a workbook whose rows stream. With `constant_memory` each sheet's rows go to a
/// temporary file as they are written (rust_xlsxwriter's constant-memory mode), so memory stays
/// flat however many rows there are.
pub(super) fn write_to<W: std::io::Write + Send>(
    meta: &DocMeta,
    sheets: Vec<Sheet<'_>>,
    out: W,
    constant_memory: bool,
) -> Result<(), ExportError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(&meta.title)
            .set_subject(&meta.subject)
            .set_author("Ward")
            .set_comment(&meta.comment)
            .set_keywords("Ward, IT risk, inventory")
            .set_creation_datetime(&meta.created),
    );
    let plain = Formats::new(false);
    let bold = Formats::new(true);
    for sheet in sheets {
        let ws = if constant_memory {
            workbook.add_worksheet_with_constant_memory()?
        } else {
            workbook.add_worksheet()
        };
        write_sheet(ws, sheet, &plain, &bold)?;
    }
    workbook.save_to_writer(out)?;
    Ok(())
}

fn write_sheet(
    ws: &mut Worksheet,
    sheet: Sheet<'_>,
    plain: &Formats,
    bold: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(&sheet.name)?;
    for (c, column) in sheet.columns.iter().enumerate() {
        let c = col(c)?;
        ws.write_string_with_format(0, c, column.title, &plain.header)?;
        ws.set_column_width(c, column.width)?;
    }
    let header_lines = sheet
        .columns
        .iter()
        .map(|c| lines(c.title, c.width * 0.85))
        .max()
        .unwrap_or(1);
    ws.set_row_height(0, row_height(header_lines))?;
    let mut rows = 0u32;
    for (r, row) in sheet.rows.enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        rows = r;
        write_row(
            ws,
            r,
            &row,
            &sheet.columns,
            if row.total { bold } else { plain },
        )?;
        // Spreadsheet programs differ in whether they grow a row for wrapped text on opening;
        // set the height so the text shows (and prints) the same everywhere.
        let wrapped_lines = row
            .cells
            .iter()
            .zip(&sheet.columns)
            .filter(|(_, c)| c.wrap)
            .filter_map(|(cell, c)| match cell {
                Cell::Text(s) => Some(lines(s, c.width)),
                _ => None,
            })
            .max()
            .unwrap_or(1);
        if wrapped_lines > 1 {
            ws.set_row_height(r, row_height(wrapped_lines))?;
        }
    }
    if !sheet.columns.is_empty() {
        let last_col = col(sheet.columns.len() - 1)?;
        ws.autofilter(0, 0, rows, last_col)?;
        ws.set_freeze_panes(1, 0)?;
        ws.set_repeat_rows(0, 0)?;
    }
    ws.set_landscape()
        .set_paper_size(PAPER_A4)
        .set_print_fit_to_pages(pages_wide(&sheet.columns), 0)
        .set_header(format!("&L&\"-,Bold\"{}", header_text(&sheet.name)))
        .set_footer("&LWard&RPage &P of &N");
    Ok(())
}

/// Lines `text` takes in a wrapped column `width` units wide (a unit is about one character).
fn lines(text: &str, width: f64) -> usize {
    let per_line = (width * 1.1).max(1.0) as usize;
    text.split('\n')
        .map(|segment| segment.chars().count().div_ceil(per_line).max(1))
        .sum()
}

fn row_height(lines: usize) -> f64 {
    (lines as f64 * LINE_HEIGHT).min(MAX_ROW_HEIGHT)
}

/// Narrow sheets print one page wide; wide ones (the device list) across as many pages as
/// keep the text readable.
fn pages_wide(columns: &[Column]) -> u16 {
    let width: f64 = columns.iter().map(|c| c.width).sum();
    (width / PAGE_WIDTH_UNITS).ceil().clamp(1.0, 20.0) as u16
}

/// Sheet names go into the print header; `&` starts a code there.
fn header_text(name: &str) -> String {
    name.replace('&', "&&")
}

fn col(c: usize) -> Result<u16, XlsxError> {
    u16::try_from(c).map_err(|_| XlsxError::RowColumnLimitError)
}

fn write_row(
    sheet: &mut Worksheet,
    r: u32,
    row: &Row,
    columns: &[Column],
    f: &Formats,
) -> Result<(), XlsxError> {
    for (c, cell) in row.cells.iter().enumerate() {
        let wrap = columns.get(c).is_some_and(|col| col.wrap);
        let text_format = if wrap { &f.wrap } else { &f.text };
        let c = col(c)?;
        match cell {
            Cell::Empty => sheet.write_blank(r, c, text_format)?,
            Cell::Text(s) => sheet.write_string_with_format(
                r,
                c,
                super::csv_out::visible_controls(clip(s)),
                text_format,
            )?,
            // Exact: amounts are at most £100bn in pence, well inside an f64's 2^53.
            Cell::Money(m) => {
                sheet.write_number_with_format(r, c, m.pence() as f64 / 100.0, &f.money)?
            }
            Cell::Int(n) => sheet.write_number_with_format(r, c, *n as f64, &f.int)?,
            Cell::Date(d) => sheet.write_date_with_format(r, c, d, &f.date)?,
            Cell::DateTime(t) => {
                sheet.write_datetime_with_format(r, c, t.naive_utc(), &f.datetime)?
            }
            Cell::Bool(b) => {
                sheet.write_string_with_format(r, c, if *b { "Yes" } else { "No" }, text_format)?
            }
        };
    }
    Ok(())
}

/// Text cut to what one cell holds, on a character boundary.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
