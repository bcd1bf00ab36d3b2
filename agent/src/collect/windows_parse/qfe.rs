//! Installed updates: `Win32_QuickFixEngineering` rows, and the text `wmic qfe` prints (the
//! shape admins capture and the realdata corpus holds).
//!
//! `wmic qfe` output is a fixed-width table whose columns start where their header words start.
//! It comes as UTF-16LE with a BOM (redirected from cmd), UTF-8 or the OEM code page, and on XP
//! as an ASCII "Please wait while WMIC is being installed." followed by UTF-16LE without a BOM.

use ward_shared::InstalledUpdate;

use super::WmiRow;
use super::dates::{self, SlashOrder};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QfeError {
    #[error("no wmic qfe header line (with HotFixID) found")]
    NoHeader,
}

/// Decodes captured `wmic` bytes to text, whatever of the encodings above they are in.
pub fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16le(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    // An 8-bit prefix, then UTF-16LE from the first "x\0" pair on.
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        let start = nul.saturating_sub(1);
        let mut text = String::from_utf8_lossy(&bytes[..start]).into_owned();
        text.push_str(&utf16le(&bytes[start..]));
        return text;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Parses `wmic qfe` (or `wmic qfe list`) table text into updates, keeping the order and
/// dropping rows without a usable id (XP's "File 1" rows).
pub fn parse_wmic_table(text: &str) -> Result<Vec<InstalledUpdate>, QfeError> {
    let lines: Vec<&str> = text.lines().collect();
    let header_at = lines
        .iter()
        .position(|l| l.contains("HotFixID"))
        .ok_or(QfeError::NoHeader)?;
    let raw_header = lines[header_at];
    // XP prints its installing notice on the header line itself.
    let first_column = ["Caption", "CSName", "Description"]
        .iter()
        .filter_map(|c| raw_header.find(c))
        .min()
        .unwrap_or(0);
    let header: Vec<char> = raw_header[first_column..].chars().collect();
    let columns = column_starts(&header);
    let index = |name: &str| columns.iter().position(|(n, _)| n == name);
    let (Some(id_col), desc_col, on_col) = (
        index("HotFixID"),
        index("Description"),
        index("InstalledOn"),
    ) else {
        return Err(QfeError::NoHeader);
    };

    let rows: Vec<Vec<String>> = lines[header_at + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| cells(&l.chars().collect::<Vec<_>>(), &columns))
        .collect();
    let order = dates::slash_order(
        rows.iter()
            .filter_map(|r| on_col.and_then(|c| r.get(c)).map(String::as_str)),
    );
    Ok(rows
        .iter()
        .filter_map(|r| {
            update(
                r.get(id_col).map(String::as_str),
                desc_col.and_then(|c| r.get(c)).map(String::as_str),
                on_col.and_then(|c| r.get(c)).map(String::as_str),
                order,
            )
        })
        .collect())
}

/// `(name, start)` of each header word.
fn column_starts(header: &[char]) -> Vec<(String, usize)> {
    let mut columns = Vec::new();
    let mut i = 0;
    while i < header.len() {
        if header[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < header.len() && !header[i].is_whitespace() {
            i += 1;
        }
        columns.push((header[start..i].iter().collect(), start));
    }
    columns
}

/// The cells of one row. Values are the runs of text between gaps of two or more spaces (wmic
/// puts at least two between columns); each goes to the last column starting at or before it.
/// Some captures were re-encoded after wmic padded them (the realdata Russian one is 19
/// characters short after a Cyrillic user name), so a value that lands in a column already
/// taken moves on to the next one.
fn cells(line: &[char], columns: &[(String, usize)]) -> Vec<String> {
    let mut cells = vec![String::new(); columns.len()];
    let mut next_free = 0;
    for (start, value) in fields(line) {
        let by_position = columns.iter().rposition(|(_, s)| *s <= start).unwrap_or(0);
        let col = by_position
            .max(next_free)
            .min(columns.len().saturating_sub(1));
        if cells[col].is_empty() {
            cells[col] = value;
        } else {
            cells[col].push(' ');
            cells[col].push_str(&value);
        }
        next_free = col + 1;
    }
    cells
}

/// `(start, text)` of each run of text separated by two or more spaces.
fn fields(line: &[char]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() {
            let gap = line[i].is_whitespace() && line.get(i + 1).is_none_or(|c| c.is_whitespace());
            if gap {
                break;
            }
            i += 1;
        }
        let text: String = line[start..i].iter().collect();
        out.push((start, text.trim().to_owned()));
    }
    out
}

/// One update from its id, description and InstalledOn, or `None` when the id is not usable.
fn update(
    id: Option<&str>,
    kind: Option<&str>,
    installed_on: Option<&str>,
    order: SlashOrder,
) -> Option<InstalledUpdate> {
    let id = id?.trim();
    if id.is_empty() || id.starts_with("File ") {
        return None;
    }
    Some(InstalledUpdate {
        id: id.to_owned(),
        kind: kind
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        installed_on: installed_on.and_then(|d| dates::installed_on(d, order)),
    })
}

/// Updates from `Win32_QuickFixEngineering` rows (HotFixID, Description, InstalledOn).
pub fn from_wmi(rows: &[WmiRow]) -> Vec<InstalledUpdate> {
    let on: Vec<Option<String>> = rows.iter().map(|r| r.str("InstalledOn")).collect();
    let order = dates::slash_order(on.iter().flatten().map(String::as_str));
    rows.iter()
        .zip(&on)
        .filter_map(|(r, on)| {
            update(
                r.str("HotFixID").as_deref(),
                r.str("Description").as_deref(),
                on.as_deref(),
                order,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::{WmiValue, row};
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn table_columns_follow_the_header() {
        let text = "\
Description      FixComments  HotFixID   InstallDate  InstalledBy          InstalledOn  Name  ServicePackInEffect  Status  \r
Update                        KB4462930               NT AUTHORITY\\SYSTEM  3/2/2019                                        \r
Security Update               KB4485449               NT AUTHORITY\\SYSTEM  10/22/2018                                      \r
\r
";
        let updates = parse_wmic_table(text).expect("parses");
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].id, "KB4462930");
        assert_eq!(updates[0].kind.as_deref(), Some("Update"));
        assert_eq!(updates[0].installed_on, date(2019, 3, 2));
        assert_eq!(updates[1].kind.as_deref(), Some("Security Update"));
        assert_eq!(updates[1].installed_on, date(2018, 10, 22));
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = "Caption  HotFixID   InstalledOn\r\n         KB1234567  18.03.2014\r\n";
        let mut bom = vec![0xFF, 0xFE];
        bom.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut xp = b"Please wait while WMIC is being installed.".to_vec();
        xp.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        for bytes in [bom, xp] {
            let updates = parse_wmic_table(&decode(&bytes)).expect("parses");
            assert_eq!(updates.len(), 1);
            assert_eq!(updates[0].id, "KB1234567");
            assert_eq!(updates[0].installed_on, date(2014, 3, 18));
        }
    }

    #[test]
    fn no_header_is_an_error() {
        assert_eq!(
            parse_wmic_table("No Instance(s) Available.\r\n"),
            Err(QfeError::NoHeader)
        );
    }

    #[test]
    fn wmi_rows_with_day_first_listing() {
        let rows = [
            row([
                ("HotFixID", WmiValue::Str("KB5034441".into())),
                ("Description", WmiValue::Str("Security Update".into())),
                ("InstalledOn", WmiValue::Str("03/02/2024".into())),
            ]),
            row([
                ("HotFixID", WmiValue::Str("KB5033372".into())),
                ("Description", WmiValue::Str("Update".into())),
                ("InstalledOn", WmiValue::Str("22/01/2024".into())),
            ]),
            row([
                ("HotFixID", WmiValue::Str("File 1".into())),
                ("InstalledOn", WmiValue::Null),
            ]),
            row([
                ("HotFixID", WmiValue::Str("KB5031234".into())),
                ("InstalledOn", WmiValue::Str("01d9e5c0a1b2c3d4".into())),
            ]),
        ];
        let updates = from_wmi(&rows);
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[0].installed_on, date(2024, 2, 3));
        assert_eq!(updates[1].installed_on, date(2024, 1, 22));
        assert_eq!(updates[2].kind, None);
        assert!(updates[2].installed_on.is_some());
    }

    /// Every real `wmic qfe` capture in the shared realdata corpus parses, with the counts and
    /// spot values checked against the files by hand.
    #[test]
    fn real_wmic_qfe_captures() {
        let Some(dir) = crate::collect::tests::realdata("systeminfo/bitsadmin__wesng/validation")
        else {
            return;
        };
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if !name.ends_with("_qfe.txt") {
                continue;
            }
            seen += 1;
            let text = decode(&std::fs::read(&path).expect("read"));
            let updates = parse_wmic_table(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!updates.is_empty(), "{name}: no updates");
            for u in &updates {
                assert!(
                    !u.id.is_empty() && !u.id.contains(' '),
                    "{name}: id {:?}",
                    u.id
                );
            }
            let find = |id: &str| {
                updates
                    .iter()
                    .find(|u| u.id == id)
                    .unwrap_or_else(|| panic!("{name}: {id} missing"))
                    .clone()
            };
            match name.as_str() {
                "10_1803_x64_proforworkstations_en-us_A_20190305_qfe.txt" => {
                    assert_eq!(updates.len(), 4);
                    assert_eq!(find("KB4485449").kind.as_deref(), Some("Security Update"));
                    assert_eq!(find("KB4485449").installed_on, date(2019, 3, 2));
                }
                "10_1809_x64_education_en-us_20190306_qfe.txt" => {
                    assert_eq!(updates.len(), 9);
                    assert_eq!(find("KB4465477").installed_on, date(2018, 10, 22));
                }
                "10_1809_x64_pro_en-us_20190307_qfe.txt" => {
                    assert_eq!(updates.len(), 5);
                    assert_eq!(find("KB4486553").installed_on, date(2019, 3, 7));
                }
                "7_sp1_x64_enterprise_en-us_20190305_qfe.txt" => {
                    assert_eq!(updates.len(), 276);
                    assert_eq!(find("KB2849697").installed_on, date(2015, 5, 22));
                }
                "srv_2012r2_u1_qfe.txt" => {
                    assert_eq!(updates.len(), 154);
                    assert_eq!(find("KB2919355").installed_on, date(2014, 3, 18));
                    assert_eq!(find("KB2894852").kind.as_deref(), Some("Security Update"));
                }
                "srv_2012r2_x64_standard_ru_qfe.txt" => {
                    assert_eq!(updates.len(), 7);
                    assert_eq!(find("KB2919355").installed_on, date(2014, 3, 18));
                }
                "vista_x64_sp2_qfe.txt" => {
                    // GUID ids, bare numbers, YYYYMMDD and hex FILETIME dates.
                    assert_eq!(
                        find("{7A068575-C5DB-43D9-BE20-3895D0C69B17}").installed_on,
                        date(2019, 3, 21)
                    );
                    assert!(find("943729").installed_on.is_some());
                    assert_eq!(
                        find("KB937286")
                            .installed_on
                            .map(|d| d.to_string().get(..4).map(str::to_owned)),
                        Some(Some("2019".into()))
                    );
                }
                "xp_rtm_x86_professional_en-us_qfe.txt" | "xp_sp2_x86_qfe.txt" => {
                    find("Q147222");
                }
                "xp_sp2_x64_qfe.txt" => {
                    assert!(updates.len() > 100);
                }
                other => panic!("new capture {other}: add its expectations"),
            }
        }
        assert_eq!(seen, 10, "every wmic qfe capture was read");
    }
}
