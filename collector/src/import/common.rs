//! Small helpers the parsers share: record ids, KB ids, dates, the empty report.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use ward_shared::{AgentInfo, Report};

use super::record::Format;

/// Report ids derived from the file's bytes, the format and each record's position: importing
/// the same file again gives the same ids, so the store can tell a repeat from news. The file
/// is hashed once, not once per record (a 20 000-row export would otherwise hash its bytes
/// 20 000 times).
pub struct RecordIds {
    format: Format,
    file_digest: [u8; 32],
}

impl RecordIds {
    pub fn new(bytes: &[u8], format: Format) -> Self {
        Self {
            format,
            file_digest: Sha256::digest(bytes).into(),
        }
    }

    /// The id of the record at `index`.
    pub fn id(&self, index: usize) -> Uuid {
        let mut h = Sha256::new();
        h.update(self.format.as_str().as_bytes());
        h.update((index as u64).to_be_bytes());
        h.update(self.file_digest);
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(id).into_uuid()
    }
}

/// An empty report written by the importer of `format`.
pub fn import_report(format: Format, id: Uuid, collected_at: DateTime<Utc>) -> Report {
    let mut r = Report::new(
        AgentInfo {
            id: None,
            name: format!("ward-import-{}", format.as_str()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        collected_at,
    );
    r.report_id = id;
    r
}

/// "KB4462930", "KB2803821-v2 - Update", "KB973540_WM11x64", "http://...?kbid=2919355" ->
/// `KB4462930` etc.; "Q147222" stays a Q number; a bare "943729" is a KB number. `None` for
/// entries without one ("File 1", a GUID).
pub fn kb_id(s: &str) -> Option<String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    if let Some(pos) = upper.find("KB") {
        let digits: String = upper[pos + 2..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if digits.len() >= 4 {
            return Some(format!("KB{digits}"));
        }
    }
    if let Some(rest) = upper.strip_prefix('Q') {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.len() >= 5 {
            return Some(format!("Q{digits}"));
        }
    }
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 5 && t[digits.len()..].trim().is_empty() {
        return Some(format!("KB{digits}"));
    }
    None
}

/// Day order of a numeric date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    Mdy,
    Dmy,
}

/// The three numbers of a date ("24/12/2015", "2019-03-07", "17.04.2020", "2021/3/15") and
/// whether the year came first.
pub fn date_parts(s: &str) -> Option<([u32; 3], bool, char)> {
    let s = s.trim().trim_end_matches('.');
    let sep = s.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
    if parts.len() != 3 {
        return None;
    }
    let mut n = [0u32; 3];
    for (slot, p) in n.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 4 || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    Some((n, parts[0].len() == 4, sep))
}

/// What a set of dates says about the day order: a first number over 12 means day first, a
/// second over 12 means month first; dots mean day first.
pub fn infer_order<'a>(dates: impl IntoIterator<Item = &'a str>) -> Option<DateOrder> {
    for d in dates {
        let d = d.trim().split([',', ' ']).next().unwrap_or("");
        let Some((n, year_first, sep)) = date_parts(d) else {
            continue;
        };
        if year_first {
            continue;
        }
        if sep == '.' || n[0] > 12 {
            return Some(DateOrder::Dmy);
        }
        if n[1] > 12 {
            return Some(DateOrder::Mdy);
        }
    }
    None
}

pub fn parse_date(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let (n, year_first, _) = date_parts(s)?;
    let (y, m, d) = if year_first {
        (n[0], n[1], n[2])
    } else {
        match order {
            DateOrder::Mdy => (n[2], n[0], n[1]),
            DateOrder::Dmy => (n[2], n[1], n[0]),
        }
    };
    let y = if y < 100 { y + 2000 } else { y };
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// "3/4/2025, 5:29:19 PM", "29/04/2019, 18:52:20", "2019-03-01, 05:05:05", "17.04.2020, 7:15:57",
/// "3/11/2020 12:00:00 AM", "2021/3/15, 下午 3:04:05".
pub fn parse_datetime(s: &str, order: DateOrder) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (date, rest) = match s.find([',', ' ']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let date = parse_date(date, order)?;
    let lower = rest.to_lowercase();
    let pm = ["pm", "p.m.", "p. m.", "下午", "午後", "nachm."]
        .iter()
        .any(|t| lower.contains(t));
    let am = ["am", "a.m.", "a. m.", "上午", "午前", "vorm."]
        .iter()
        .any(|t| lower.contains(t));
    let clock: String = rest
        .split_whitespace()
        .find(|t| t.contains(':'))
        .unwrap_or("")
        .to_string();
    let mut hms = clock.split(':').map(|p| p.trim().parse::<u32>().ok());
    let (h, m, sec) = match (hms.next(), hms.next(), hms.next()) {
        (Some(Some(h)), Some(Some(m)), sec) => (h, m, sec.flatten().unwrap_or(0)),
        _ => (0, 0, 0),
    };
    let h = match (am, pm) {
        (_, true) if h < 12 => h + 12,
        (true, false) if h == 12 => 0,
        _ => h,
    };
    Some(date.and_time(NaiveTime::from_hms_opt(h, m, sec)?))
}

/// Windows FILETIME (100 ns ticks since 1601-01-01 UTC) -> time. 0 and "never" values give `None`.
pub fn filetime(ticks: i64) -> Option<DateTime<Utc>> {
    const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
    if ticks <= 0 || ticks == i64::MAX {
        return None;
    }
    let secs = ticks / 10_000_000 - EPOCH_DIFF_SECS;
    let nanos = u32::try_from((ticks % 10_000_000) * 100).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// Digits of a number written with any grouping ("2,047", "32 503", "8.073", "4 096") -> u64.
pub fn grouped_number(s: &str) -> Option<u64> {
    let head: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | ' ' | '\u{A0}' | '\u{202F}'))
        .filter(char::is_ascii_digit)
        .collect();
    head.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_ids() {
        assert_eq!(kb_id("KB4462930").as_deref(), Some("KB4462930"));
        assert_eq!(kb_id("KB2803821-v2 - Update").as_deref(), Some("KB2803821"));
        assert_eq!(kb_id("KB973540_WM11x64").as_deref(), Some("KB973540"));
        assert_eq!(kb_id("Q147222").as_deref(), Some("Q147222"));
        assert_eq!(kb_id("943729").as_deref(), Some("KB943729"));
        assert_eq!(kb_id("File 1"), None);
        assert_eq!(kb_id("{7A068575-C5DB-43D9-BE20-3895D0C69B17}"), None);
    }

    #[test]
    fn dates() {
        let d = |s| parse_datetime(s, DateOrder::Mdy).map(|d| d.to_string());
        assert_eq!(
            d("3/4/2025, 5:29:19 PM").as_deref(),
            Some("2025-03-04 17:29:19")
        );
        assert_eq!(
            d("12/8/2019, 12:50:43 AM").as_deref(),
            Some("2019-12-08 00:50:43")
        );
        assert_eq!(
            d("2019-03-01, 05:05:05").as_deref(),
            Some("2019-03-01 05:05:05")
        );
        let e = |s| parse_datetime(s, DateOrder::Dmy).map(|d| d.to_string());
        assert_eq!(
            e("17.04.2020, 7:15:57").as_deref(),
            Some("2020-04-17 07:15:57")
        );
        assert_eq!(
            e("2021/3/15, 下午 3:04:05").as_deref(),
            Some("2021-03-15 15:04:05")
        );
        assert_eq!(e("31/02/2020, 1:00:00"), None);
        assert_eq!(
            infer_order(["03/05/2018, 09:31:28", "21/08/2018"]),
            Some(DateOrder::Dmy)
        );
        assert_eq!(infer_order(["5/24/2018, 9:07:00 AM"]), Some(DateOrder::Mdy));
        assert_eq!(infer_order(["3/4/2025"]), None);
        assert_eq!(
            filetime(132_000_000_000_000_000).map(|t| t.date_naive().to_string()),
            Some("2019-04-17".into())
        );
        assert_eq!(grouped_number("32\u{a0}503 MB"), Some(32503));
        assert_eq!(grouped_number("2.047 MB"), Some(2047));
    }
}
