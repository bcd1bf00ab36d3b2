//! The format-neutral shape of an export: a named table of typed cells.

use chrono::{DateTime, NaiveDate, Utc};

use crate::plan::Money;

/// One value. The type decides how each format writes it: money is a number in pounds with a
/// GBP format in XLSX and `1234.50` in CSV; dates are real dates in XLSX and ISO 8601 in CSV.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Money(Money),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Bool(bool),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// Text, or empty when absent.
    pub fn opt_text(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    pub fn int(n: impl Into<i64>) -> Cell {
        Cell::Int(n.into())
    }

    /// A count that does not fit an `i64` is written as text (never happens in practice).
    pub fn count(n: u64) -> Cell {
        i64::try_from(n).map_or_else(|_| Cell::Text(n.to_string()), Cell::Int)
    }
}

/// A column: its machine name (the CSV header), its title (the XLSX header) and its width in
/// characters in XLSX.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub key: &'static str,
    pub title: &'static str,
    pub width: f64,
    /// Long text: wrapped in XLSX.
    pub wrap: bool,
}

impl Column {
    pub const fn new(key: &'static str, title: &'static str, width: f64) -> Column {
        Column {
            key,
            title,
            width,
            wrap: false,
        }
    }

    pub const fn wrapped(key: &'static str, title: &'static str, width: f64) -> Column {
        Column {
            key,
            title,
            width,
            wrap: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// A total line: bold in XLSX.
    pub total: bool,
}

/// A sheet: a header row, then rows with as many cells as there are columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet name (at most 31 characters, none of `: \ / ? * [ ]`).
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// A column and how to fill it from one item.
pub(crate) type Field<T> = (Column, fn(&T) -> Cell);

impl Table {
    /// A table with one row per item, its columns and cells from `fields`, so a header and its
    /// cells cannot drift apart.
    pub(crate) fn from_fields<T>(name: &str, fields: &[Field<T>], items: &[T]) -> Table {
        Table {
            name: name.to_owned(),
            columns: fields.iter().map(|(c, _)| c.clone()).collect(),
            rows: items
                .iter()
                .map(|item| Row {
                    cells: fields.iter().map(|(_, f)| f(item)).collect(),
                    total: false,
                })
                .collect(),
        }
    }

    pub fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }
}

/// A sheet whose rows come one at a time, so that a large export never holds them all.
pub struct Sheet<'a> {
    /// The sheet name (as [`Table::name`]).
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Box<dyn Iterator<Item = Row> + Send + 'a>,
}

impl std::fmt::Debug for Sheet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sheet")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl Table {
    pub fn into_sheet(self) -> Sheet<'static> {
        Sheet {
            name: self.name,
            columns: self.columns,
            rows: Box::new(self.rows.into_iter()),
        }
    }
}

impl<'a> Sheet<'a> {
    /// A sheet with one row per item, as [`Table::from_fields`].
    pub(crate) fn from_fields<T: 'a>(
        name: &str,
        fields: Vec<Field<T>>,
        items: impl Iterator<Item = T> + Send + 'a,
    ) -> Sheet<'a>
    where
        Field<T>: Send,
    {
        Sheet {
            name: name.to_owned(),
            columns: fields.iter().map(|(c, _)| c.clone()).collect(),
            rows: Box::new(items.map(move |item| Row {
                cells: fields.iter().map(|(_, f)| f(&item)).collect(),
                total: false,
            })),
        }
    }

    pub fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }

    /// Every row as one table (for small sheets and tests).
    pub fn collect(self) -> Table {
        Table {
            name: self.name,
            columns: self.columns,
            rows: self.rows.collect(),
        }
    }
}
