//! Pure parsers for what Windows answers: registry values, WMI rows, `wmic` text and Windows
//! Update Agent results. Nothing here is `cfg`-gated or calls the OS; `super::windows` drives
//! these through the [`super::windows::WindowsSource`] seam and the Linux CI tests them with
//! captured shapes (see `testdata/windows/`).

pub mod dates;
pub mod hardware;
pub mod os;
pub mod qfe;
pub mod security;
pub mod wua;

use std::collections::BTreeMap;

/// One registry value as the registry types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    /// REG_SZ and REG_EXPAND_SZ (unexpanded).
    Str(String),
    /// REG_MULTI_SZ.
    MultiStr(Vec<String>),
    Dword(u32),
    Qword(u64),
    Binary(Vec<u8>),
}

/// The values of one registry key, by name. Names are compared case-insensitively by
/// [`RegKey::get`], as Windows does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegKey(pub BTreeMap<String, RegValue>);

impl RegKey {
    pub fn get(&self, name: &str) -> Option<&RegValue> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A string value, trimmed; empty strings are `None`. A DWORD is given in decimal.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            RegValue::Str(s) => non_empty(s),
            RegValue::Dword(n) => Some(n.to_string()),
            RegValue::Qword(n) => Some(n.to_string()),
            RegValue::MultiStr(v) => v.first().and_then(|s| non_empty(s)),
            RegValue::Binary(_) => None,
        }
    }

    /// A DWORD (or QWORD that fits, or a decimal string: some tools write numbers as REG_SZ).
    pub fn dword(&self, name: &str) -> Option<u32> {
        match self.get(name)? {
            RegValue::Dword(n) => Some(*n),
            RegValue::Qword(n) => u32::try_from(*n).ok(),
            RegValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One WMI property value, reduced to what the parsers need.
#[derive(Debug, Clone, PartialEq)]
pub enum WmiValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Real(f64),
    Str(String),
    Array(Vec<WmiValue>),
}

/// One WMI instance: property name -> value. Lookups are case-insensitive, as in WQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WmiRow(pub BTreeMap<String, WmiValue>);

impl WmiRow {
    pub fn get(&self, name: &str) -> Option<&WmiValue> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A trimmed, non-empty string; numbers are given in decimal.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            WmiValue::Str(s) => non_empty(s),
            WmiValue::Int(n) => Some(n.to_string()),
            WmiValue::UInt(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// An unsigned number; WMI hands uint64 properties over as strings, so those parse too.
    pub fn u64(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            WmiValue::UInt(n) => Some(*n),
            WmiValue::Int(n) => u64::try_from(*n).ok(),
            WmiValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn u32(&self, name: &str) -> Option<u32> {
        self.u64(name).and_then(|n| u32::try_from(n).ok())
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            WmiValue::Bool(b) => Some(*b),
            WmiValue::Int(n) => Some(*n != 0),
            WmiValue::UInt(n) => Some(*n != 0),
            WmiValue::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The numbers of an array property (Win32_SystemEnclosure.ChassisTypes).
    pub fn u64_array(&self, name: &str) -> Vec<u64> {
        match self.get(name) {
            Some(WmiValue::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    WmiValue::UInt(n) => Some(*n),
                    WmiValue::Int(n) => u64::try_from(*n).ok(),
                    WmiValue::Str(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .collect(),
            Some(WmiValue::UInt(n)) => vec![*n],
            Some(WmiValue::Int(n)) => u64::try_from(*n).ok().into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// Builds a [`WmiRow`] from pairs; for tests and fakes.
pub fn row<const N: usize>(pairs: [(&str, WmiValue); N]) -> WmiRow {
    WmiRow(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Builds a [`RegKey`] from pairs; for tests and fakes.
pub fn key<const N: usize>(pairs: [(&str, RegValue); N]) -> RegKey {
    RegKey(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub(crate) fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}
