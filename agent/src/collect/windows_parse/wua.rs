//! Windows Update Agent results: pending updates from `IUpdateSearcher::Search`, and the update
//! history from `IUpdateSearcher::QueryHistory`. The COM calls live in the Windows glue; these
//! are the plain facts they yield and what is made of them.

use chrono::{DateTime, Utc};
use ward_shared::PendingUpdate;

/// One update the searcher found not installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WuaUpdate {
    pub title: String,
    /// `IUpdate::MsrcSeverity`: "Critical", "Important", ... or empty.
    pub msrc_severity: Option<String>,
    /// Category names ("Security Updates", "Critical Updates", "Definition Updates", ...).
    pub categories: Vec<String>,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WuaHistoryEntry {
    pub title: String,
    /// `UpdateOperation`: 1 installation, 2 uninstallation.
    pub operation: i32,
    /// `OperationResultCode`: 2 succeeded, 3 succeeded with errors.
    pub result_code: i32,
    pub date: Option<DateTime<Utc>>,
}

/// What one Windows Update Agent session answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WuaResult {
    pub pending: Vec<WuaUpdate>,
    pub history: Vec<WuaHistoryEntry>,
    /// `ISystemInformation::RebootRequired`.
    pub reboot_required: Option<bool>,
}

/// A pending update is a security update when Microsoft rated it (MSRC severity) or filed it
/// under "Security Updates" or "Critical Updates".
pub fn is_security(u: &WuaUpdate) -> bool {
    u.msrc_severity
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
        || u.categories.iter().any(|c| {
            c.eq_ignore_ascii_case("Security Updates") || c.eq_ignore_ascii_case("Critical Updates")
        })
}

/// The pending list as the report carries it.
pub fn pending(updates: &[WuaUpdate]) -> Vec<PendingUpdate> {
    updates
        .iter()
        .map(|u| PendingUpdate {
            name: u.title.trim().to_owned(),
            version: None,
            security: is_security(u),
        })
        .collect()
}

/// When an update was last installed successfully (installations with result 2 or 3).
pub fn last_successful_install(history: &[WuaHistoryEntry]) -> Option<DateTime<Utc>> {
    history
        .iter()
        .filter(|h| h.operation == 1 && matches!(h.result_code, 2 | 3))
        .filter_map(|h| h.date)
        .max()
}

/// KB numbers in a title ("2024-01 Cumulative Update for Windows 11 (KB5034123)").
pub fn kb_in_title(title: &str) -> Option<String> {
    let start = title.find("KB")?;
    let digits: String = title[start + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (digits.len() >= 6).then(|| format!("KB{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::windows_parse::dates::ole_date;

    fn update(title: &str, severity: Option<&str>, categories: &[&str]) -> WuaUpdate {
        WuaUpdate {
            title: title.into(),
            msrc_severity: severity.map(str::to_owned),
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn security_classification() {
        let list = [
            update(
                "2024-01 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5034123)",
                Some("Critical"),
                &["Security Updates"],
            ),
            update(
                "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602",
                None,
                &["Definition Updates"],
            ),
            update("Intel - System - 10.1.1.44", Some(""), &["Drivers"]),
            update(
                "2024-01 Servicing Stack Update",
                None,
                &["Critical Updates"],
            ),
        ];
        let p = pending(&list);
        assert_eq!(
            p.iter().map(|u| u.security).collect::<Vec<_>>(),
            [true, false, false, true]
        );
        assert_eq!(kb_in_title(&list[0].title).as_deref(), Some("KB5034123"));
        assert_eq!(kb_in_title(&list[1].title).as_deref(), Some("KB2267602"));
        assert_eq!(kb_in_title("no kb"), None);
    }

    #[test]
    fn last_install_ignores_failures_and_removals() {
        let entry = |operation, result_code, days| WuaHistoryEntry {
            title: "x".into(),
            operation,
            result_code,
            date: ole_date(days),
        };
        let history = [
            entry(1, 2, 45300.0),
            entry(1, 4, 45310.0), // failed
            entry(2, 2, 45320.0), // uninstall
            entry(1, 3, 45305.25),
        ];
        assert_eq!(last_successful_install(&history), ole_date(45305.25));
        assert_eq!(last_successful_install(&[]), None);
    }
}
