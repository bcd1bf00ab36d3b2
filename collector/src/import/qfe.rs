//! Hotfix listings: `wmic qfe` (table, `list full`, `/format:csv`), `Get-HotFix` (table and
//! `Export-Csv`, with or without the `#TYPE` line) -> one record per host with its KBs.
//!
//! The host column is `CSName` (wmic), `Source` (Get-HotFix table), `PSComputerName` or `Node`
//! (CSV). `InstalledOn` comes as `M/D/YYYY` (WMI's own format on every language), `YYYYMMDD`, or
//! on Vista/2008 sometimes a hexadecimal FILETIME (`01d4dfd0fb4eb361`); all are read.
//! Win32_QuickFixEngineering lists every installed update the component servicing knows, so the
//! list counts as complete (`hotfix_list_complete = Some(true)`), unlike systeminfo's.

use chrono::{DateTime, NaiveDate, Utc};
use ward_shared::InstalledUpdate;

use super::common::{self, DateOrder};
use super::record::{
    Format, Identity, ImportError, ImportRecord, Parsed, QfeDetail, Source, SourceDetail,
};
use super::text;

/// One listing row: column name (lower case) -> value.
type Row = Vec<(String, String)>;

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: Format::Qfe,
        reason: reason.into(),
    }
}

pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    let ids = common::RecordIds::new(bytes, Format::Qfe);
    let decoded = text::decode(bytes)?;
    let lines = text::lines(&decoded.text);
    let (rows, tool) = if let Some(r) = list_rows(&lines) {
        (r, "wmic qfe list")
    } else if let Some(r) = csv_rows(&lines) {
        r
    } else if let Some(r) = table_rows(&lines) {
        r
    } else {
        return Err(invalid("no HotFixID column or HotFixID= lines"));
    };
    if rows.is_empty() {
        return Err(invalid("a HotFixID header but no rows under it"));
    }
    let get = |row: &Row, names: &[&str]| -> Option<String> {
        names.iter().find_map(|n| {
            row.iter()
                .find(|(k, v)| k == n && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let dates: Vec<String> = rows
        .iter()
        .filter_map(|r| get(r, &["installedon"]))
        .collect();
    let order = common::infer_order(dates.iter().map(String::as_str)).unwrap_or(DateOrder::Mdy);

    // Group by host, in order of first appearance.
    let mut hosts: Vec<(Option<String>, Vec<InstalledUpdate>, u32)> = Vec::new();
    for row in &rows {
        let host = get(
            row,
            &["csname", "source", "pscomputername", "node", "__server"],
        );
        let key = host.as_ref().map(|h| h.to_lowercase());
        let idx = match hosts
            .iter()
            .position(|(h, _, _)| h.as_ref().map(|h| h.to_lowercase()) == key)
        {
            Some(i) => i,
            None => {
                hosts.push((host.clone(), Vec::new(), 0));
                hosts.len() - 1
            }
        };
        let entry = &mut hosts[idx];
        let Some(id) = get(row, &["hotfixid"]).and_then(|h| common::kb_id(&h)) else {
            entry.2 += 1;
            continue;
        };
        let installed_on = get(row, &["installedon"]).and_then(|d| installed_on(&d, order));
        let kind = get(row, &["description"]);
        match entry.1.iter_mut().find(|u| u.id == id) {
            Some(u) => {
                u.installed_on = u.installed_on.or(installed_on);
            }
            None => entry.1.push(InstalledUpdate {
                id,
                kind,
                installed_on,
            }),
        }
    }
    let mut warnings = Vec::new();
    let several = hosts.len() > 1;
    let mut records = Vec::new();
    for (i, (host, updates, no_kb)) in hosts.into_iter().enumerate() {
        if host.is_none() {
            warnings.push(
                "rows without a host name (no CSName/Source column): the device cannot be matched by name"
                    .to_string(),
            );
        }
        if no_kb > 0 {
            warnings.push(format!(
                "{}: {no_kb} entries without a KB number (\"File 1\", GUIDs) were not listed",
                host.as_deref().unwrap_or("(no host)")
            ));
        }
        let mut report = common::import_report(Format::Qfe, ids.id(i), now);
        report.host.hostname = host.clone();
        report.patches.last_installed_at = updates
            .iter()
            .filter_map(|u| u.installed_on)
            .max()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc());
        report.patches.installed = updates;
        records.push(ImportRecord {
            source: Source::Qfe,
            observed_at: now,
            origin: match (&host, several) {
                (Some(h), true) => format!("{origin}#{h}"),
                _ => origin.to_string(),
            },
            identity: Identity {
                host_name: host,
                ..Identity::default()
            },
            report,
            evidence: Vec::new(),
            hotfix_list_complete: Some(true),
            detail: SourceDetail::Qfe(QfeDetail {
                tool: Some(tool.to_string()),
                entries_without_kb: no_kb,
            }),
        });
    }
    Ok(Parsed {
        format: Format::Qfe,
        records,
        warnings,
    })
}

/// "3/18/2014", "20190321", "01d4dfd0fb4eb361" (FILETIME in hex), "3/11/2020 12:00:00 AM".
fn installed_on(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        let ticks = i64::from_str_radix(s, 16).ok()?;
        return common::filetime(ticks).map(|t| t.date_naive());
    }
    if s.len() == 8 && s.chars().all(|c| c.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    common::parse_datetime(s, order).map(|d| d.date())
}

/// `wmic qfe list full`: `Name=value` lines, blank lines between entries.
fn list_rows(lines: &[&str]) -> Option<Vec<Row>> {
    if !lines
        .iter()
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("hotfixid="))
    {
        return None;
    }
    let mut rows = Vec::new();
    let mut cur: Row = Vec::new();
    for l in lines {
        let t = l.trim();
        if t.is_empty() {
            if cur.iter().any(|(k, _)| k == "hotfixid") {
                rows.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            let k = k.trim().to_ascii_lowercase();
            if cur.iter().any(|(c, _)| *c == k) {
                rows.push(std::mem::take(&mut cur));
            }
            cur.push((k, v.trim().to_string()));
        }
    }
    if cur.iter().any(|(k, _)| k == "hotfixid") {
        rows.push(cur);
    }
    Some(rows)
}

/// CSV with a header holding `HotFixID` (wmic `/format:csv`, `Get-HotFix | Export-Csv`).
fn csv_rows(lines: &[&str]) -> Option<(Vec<Row>, &'static str)> {
    let start = lines.iter().position(|l| {
        let lower = l.to_ascii_lowercase();
        lower.contains("hotfixid") && lower.contains(',')
    })?;
    let header_line = lines[start].to_ascii_lowercase();
    let tool = if header_line.contains("pscomputername") || header_line.contains("__genus") {
        "Get-HotFix | Export-Csv"
    } else {
        "wmic qfe /format:csv"
    };
    let body = lines[start..].join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .ok()?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let rows = rdr
        .records()
        .filter_map(Result::ok)
        .map(|r| {
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect::<Row>()
        })
        .filter(|r: &Row| r.iter().any(|(k, v)| k == "hotfixid" && v != "HotFixID"))
        .collect();
    Some((rows, tool))
}

/// Fixed-width table: wmic (`Caption  CSName ... HotFixID ...`) or Get-HotFix (`Source
/// Description HotFixID InstalledBy InstalledOn` with a `------` line). Column starts come from
/// the header words; a banner glued to the header line ("...being installed.Caption") is cut.
fn table_rows(lines: &[&str]) -> Option<(Vec<Row>, &'static str)> {
    let hi = lines
        .iter()
        .position(|l| l.to_ascii_lowercase().contains("hotfixid"))?;
    let raw: Vec<char> = lines[hi].chars().collect();
    let lower: String = raw.iter().collect::<String>().to_ascii_lowercase();
    // Cut a banner glued in front of the first column name.
    let first_col = ["caption", "source", "csname", "description", "hotfixid"]
        .iter()
        .filter_map(|n| lower.find(n).map(|byte| lower[..byte].chars().count()))
        .min()
        .unwrap_or(0);
    let header: Vec<char> = raw[first_col..].to_vec();
    let mut cols: Vec<(usize, String)> = Vec::new();
    for (i, c) in header.iter().enumerate() {
        if !c.is_whitespace() && (i == 0 || header[i - 1].is_whitespace()) {
            let name: String = header[i..]
                .iter()
                .take_while(|c| !c.is_whitespace())
                .collect();
            cols.push((i, name.to_ascii_lowercase()));
        }
    }
    let tool = if cols.iter().any(|(_, n)| n == "source") {
        "Get-HotFix"
    } else {
        "wmic qfe"
    };
    let mut rows = Vec::new();
    for l in &lines[hi + 1..] {
        let chars: Vec<char> = l.chars().collect();
        if l.trim().is_empty() || l.trim().chars().all(|c| c == '-' || c == ' ') {
            continue;
        }
        let row = if aligned(&chars, &cols) {
            sliced(&chars, &cols)
        } else {
            by_cells(&chars, &cols)
        };
        rows.push(row);
    }
    Some((rows, tool))
}

type Cols = [(usize, String)];

/// Every cell starts at a column start: the row lines up with the header.
fn aligned(chars: &[char], cols: &Cols) -> bool {
    cells(chars)
        .iter()
        .all(|(start, _)| cols.iter().any(|(c, _)| c == start))
}

fn sliced(chars: &[char], cols: &Cols) -> Row {
    cols.iter()
        .enumerate()
        .map(|(k, (start, name))| {
            let end = cols
                .get(k + 1)
                .map_or(chars.len(), |c| c.0)
                .min(chars.len());
            let start = (*start).min(chars.len());
            let v: String = chars[start..end.max(start)].iter().collect();
            (name.clone(), v.trim().to_string())
        })
        .collect()
}

/// Runs of text separated by two or more spaces, with their start.
fn cells(chars: &[char]) -> Vec<(usize, String)> {
    let mut cells: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && !(chars[i].is_whitespace() && chars.get(i + 1).is_none_or(|c| c.is_whitespace()))
        {
            i += 1;
        }
        cells.push((start, chars[start..i].iter().collect()));
    }
    cells
}

/// A row that does not line up (wmic pads by bytes, so a non-ASCII value shifts the rest):
/// cells are runs separated by two or more spaces, each given to the nearest column start
/// after the previous cell's column.
fn by_cells(chars: &[char], cols: &Cols) -> Row {
    let mut row: Row = cols
        .iter()
        .map(|(_, n)| (n.clone(), String::new()))
        .collect();
    let mut next = 0;
    for (start, value) in cells(chars) {
        let Some(k) = (next..cols.len()).min_by_key(|k| cols[*k].0.abs_diff(start)) else {
            break;
        };
        row[k].1 = value.trim().to_string();
        next = k + 1;
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    #[test]
    fn get_hotfix_table_two_hosts() {
        let t = "\r\nSource        Description      HotFixID      InstalledBy          InstalledOn\r\n------        -----------      --------      -----------          -----------\r\nPC01          Update           KB4534132     NT AUTHORITY\\SYSTEM  3/11/2020 12:00:00 AM\r\nPC01          Security Update  KB4537759     NT AUTHORITY\\SYSTEM  2/12/2020 12:00:00 AM\r\npc02          Security Update  KB4012212     NT AUTHORITY\\SYSTEM  3/14/2017 12:00:00 AM\r\n";
        let p = parse(t.as_bytes(), "hf.txt", now()).expect("parse");
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.identity.host_name.as_deref(), Some("PC01"));
        assert_eq!(a.report.patches.installed.len(), 2);
        assert_eq!(
            a.report.patches.installed[0].installed_on,
            NaiveDate::from_ymd_opt(2020, 3, 11)
        );
        assert_eq!(
            a.report.patches.installed[1].kind.as_deref(),
            Some("Security Update")
        );
        assert_eq!(a.hotfix_list_complete, Some(true));
        assert_eq!(p.records[1].origin, "hf.txt#pc02");
    }

    #[test]
    fn get_hotfix_csv_with_type_line() {
        let t = "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_QuickFixEngineering\r\n\"PSComputerName\",\"InstalledOn\",\"__GENUS\",\"Description\",\"HotFixID\",\"CSName\"\r\n\"WS7\",\"3/14/2017 12:00:00 AM\",\"2\",\"Security Update\",\"KB4012212\",\"WS7\"\r\n";
        let p = parse(t.as_bytes(), "hf.csv", now()).expect("parse");
        let r = &p.records[0];
        assert_eq!(r.identity.host_name.as_deref(), Some("WS7"));
        assert_eq!(r.report.patches.installed[0].id, "KB4012212");
        let SourceDetail::Qfe(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.tool.as_deref(), Some("Get-HotFix | Export-Csv"));
    }

    #[test]
    fn wmic_list_full_and_hex_filetime() {
        let t = "\r\r\n\r\r\nCaption=http://support.microsoft.com/?kbid=937286\r\r\nCSName=VISTA\r\r\nDescription=Update\r\r\nHotFixID=KB937286\r\r\nInstalledOn=01d4dfd0fb4eb361\r\r\n\r\r\n\r\r\nCaption=\r\r\nCSName=VISTA\r\r\nHotFixID=File 1\r\r\n\r\r\n";
        let p = parse(t.as_bytes(), "q.txt", now()).expect("parse");
        let r = &p.records[0];
        assert_eq!(r.report.patches.installed.len(), 1);
        assert_eq!(
            r.report.patches.installed[0].installed_on,
            NaiveDate::from_ymd_opt(2019, 3, 21)
        );
        let SourceDetail::Qfe(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.entries_without_kb, 1);
    }

    #[test]
    fn header_without_rows_is_refused() {
        assert!(parse(b"HotFixID  InstalledOn\r\n", "q", now()).is_err());
    }
}
