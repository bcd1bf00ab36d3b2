//! The date formats Windows hands out.
//!
//! `Win32_QuickFixEngineering.InstalledOn` is a string whose shape depends on the OS version and
//! the locale it was written under: `3/2/2019` (M/D/YYYY, the usual one, also on non-English
//! systems), `18.03.2014` (D.M.YYYY), `2019-03-02`, `20190321` (YYYYMMDD, Vista), and on Vista
//! also a FILETIME as 16 hex digits (`01d4dfd0f2d5a3b0`). WMI datetimes are CIM_DATETIME
//! (`20190305123456.000000+060`), the registry's `InstallDate` is Unix seconds, and the Windows
//! Update Agent gives OLE automation dates (days since 1899-12-30).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// How to read an ambiguous `a/b/yyyy` date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashOrder {
    MonthFirst,
    DayFirst,
}

/// Decides the order for a whole listing: day first if any slash date there has a first part
/// above 12 and none has a second part above 12; month first otherwise (what WMI writes on
/// nearly every system).
pub fn slash_order<'a>(values: impl IntoIterator<Item = &'a str>) -> SlashOrder {
    let (mut first_big, mut second_big) = (false, false);
    for v in values {
        let parts: Vec<&str> = v.trim().split('/').collect();
        if let [a, b, _] = parts.as_slice() {
            first_big |= a.parse::<u32>().is_ok_and(|n| n > 12);
            second_big |= b.parse::<u32>().is_ok_and(|n| n > 12);
        }
    }
    if first_big && !second_big {
        SlashOrder::DayFirst
    } else {
        SlashOrder::MonthFirst
    }
}

/// Parses one `InstalledOn` value in any of the shapes above; `None` for empty or unknown.
pub fn installed_on(value: &str, order: SlashOrder) -> Option<NaiveDate> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return filetime_hex(v).map(|t| t.date_naive());
    }
    if v.len() >= 14 && v.as_bytes().get(14) == Some(&b'.') {
        return cim_datetime(v).map(|t| t.date_naive());
    }
    if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(v, "%Y%m%d").ok();
    }
    // Drop a time part ("3/2/2019 12:00:00 AM").
    let date = v.split_whitespace().next().unwrap_or(v);
    let nums: Vec<&str> = date.split(['/', '.', '-']).collect();
    let [a, b, c] = nums.as_slice() else {
        return None;
    };
    let (a, b, c): (u32, u32, i32) = (a.parse().ok()?, b.parse().ok()?, c.parse().ok()?);
    if a > 31 {
        // yyyy-mm-dd / yyyy.mm.dd / yyyy/mm/dd
        return NaiveDate::from_ymd_opt(i32::try_from(a).ok()?, b, u32::try_from(c).ok()?);
    }
    let year = if c < 100 { 2000 + c } else { c };
    let (month, day) = if date.contains('/') {
        match order {
            SlashOrder::MonthFirst if a <= 12 => (a, b),
            _ => (b, a),
        }
    } else {
        // D.M.YYYY and D-M-YYYY are day first everywhere they occur.
        (b, a)
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A FILETIME (100 ns ticks since 1601-01-01 UTC) written as hex digits.
pub fn filetime_hex(value: &str) -> Option<DateTime<Utc>> {
    let ticks = u64::from_str_radix(value.trim(), 16).ok()?;
    filetime(ticks)
}

/// A FILETIME value; zero and out-of-range values are `None`.
pub fn filetime(ticks: u64) -> Option<DateTime<Utc>> {
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    if ticks == 0 {
        return None;
    }
    let since_unix = i64::try_from(ticks).ok()? - i64::try_from(UNIX_EPOCH_TICKS).ok()?;
    let secs = since_unix.div_euclid(10_000_000);
    let nanos = u32::try_from(since_unix.rem_euclid(10_000_000) * 100).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// CIM_DATETIME: `yyyymmddHHMMSS.mmmmmmsUUU`, where `sUUU` is the offset from UTC in minutes.
/// Fields may be `*` when unknown; a date-only value (`20190305******.******+***`) gives midnight.
pub fn cim_datetime(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    let date = NaiveDate::parse_from_str(v.get(..8)?, "%Y%m%d").ok()?;
    let hms = v.get(8..14).unwrap_or("000000");
    let hms = if hms.contains('*') { "000000" } else { hms };
    let naive =
        NaiveDateTime::parse_from_str(&format!("{}{hms}", date.format("%Y%m%d")), "%Y%m%d%H%M%S")
            .ok()?;
    let offset_minutes: i64 = match v.get(21..25) {
        Some(off) if !off.contains('*') => {
            let sign = if off.starts_with('-') { -1 } else { 1 };
            sign * off.get(1..)?.parse::<i64>().ok()?
        }
        _ => 0,
    };
    Some(naive.and_utc() - Duration::minutes(offset_minutes))
}

/// An OLE automation date (days since 1899-12-30, fraction = time of day), as the Windows Update
/// Agent's `IUpdateHistoryEntry::Date` gives it, in UTC.
pub fn ole_date(days: f64) -> Option<DateTime<Utc>> {
    if !days.is_finite() || days <= 0.0 {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    // Whole milliseconds: the type is only that precise.
    let millis = (days * 86_400_000.0).round();
    if millis > 1e15 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    let millis = millis as i64;
    Some((base + Duration::milliseconds(millis)).and_utc())
}

/// The registry's `InstallDate` (REG_DWORD, Unix seconds).
pub fn unix_seconds(secs: u64) -> Option<DateTime<Utc>> {
    (secs > 0)
        .then(|| DateTime::from_timestamp(i64::try_from(secs).ok()?, 0))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn installed_on_shapes() {
        let m = SlashOrder::MonthFirst;
        assert_eq!(installed_on("3/2/2019", m), d(2019, 3, 2));
        assert_eq!(installed_on("10/22/2018", m), d(2018, 10, 22));
        assert_eq!(
            installed_on("3/2/2019", SlashOrder::DayFirst),
            d(2019, 2, 3)
        );
        // A first part above 12 cannot be a month, whatever the listing says.
        assert_eq!(installed_on("22/10/2018", m), d(2018, 10, 22));
        assert_eq!(installed_on("18.03.2014", m), d(2014, 3, 18));
        assert_eq!(installed_on("5.1.2024", m), d(2024, 1, 5));
        assert_eq!(installed_on("2019-03-02", m), d(2019, 3, 2));
        assert_eq!(installed_on("20190321", m), d(2019, 3, 21));
        assert_eq!(installed_on("3/2/2019 12:00:00 AM", m), d(2019, 3, 2));
        assert_eq!(installed_on("20190305000000.000000-000", m), d(2019, 3, 5));
        assert_eq!(installed_on("", m), None);
        assert_eq!(installed_on("13/13/2019", m), None);
        assert_eq!(installed_on("yesterday", m), None);
    }

    #[test]
    fn hex_filetime_as_vista_writes_it() {
        // 0x01d4dfd0f2d5a3b0 ticks = 2019-03-21 (the Vista capture's neighbouring YYYYMMDD rows say so).
        let t = filetime_hex("01d4dfd0f2d5a3b0").expect("filetime");
        assert_eq!(
            t.date_naive(),
            NaiveDate::from_ymd_opt(2019, 3, 21).expect("date")
        );
        assert_eq!(
            installed_on("01d4dfd0f2d5a3b0", SlashOrder::MonthFirst),
            Some(t.date_naive())
        );
        assert_eq!(filetime(0), None);
    }

    #[test]
    fn slash_order_of_a_listing() {
        assert_eq!(
            slash_order(["3/2/2019", "10/22/2018"]),
            SlashOrder::MonthFirst
        );
        assert_eq!(
            slash_order(["03/02/2019", "22/10/2018"]),
            SlashOrder::DayFirst
        );
        assert_eq!(slash_order(["18.03.2014"]), SlashOrder::MonthFirst);
        assert_eq!(
            installed_on("03/02/2019", slash_order(["03/02/2019", "22/10/2018"])),
            d(2019, 2, 3)
        );
    }

    #[test]
    fn cim_datetime_with_offset_and_unknowns() {
        let t = cim_datetime("20240115093000.000000+060").expect("cim");
        assert_eq!(t.to_rfc3339(), "2024-01-15T08:30:00+00:00");
        let t = cim_datetime("20240115093000.000000-300").expect("cim");
        assert_eq!(t.to_rfc3339(), "2024-01-15T14:30:00+00:00");
        let t = cim_datetime("20171211******.******+***").expect("date only");
        assert_eq!(t.to_rfc3339(), "2017-12-11T00:00:00+00:00");
        assert_eq!(cim_datetime("garbage"), None);
        assert_eq!(cim_datetime(""), None);
    }

    #[test]
    fn ole_and_unix_dates() {
        // 45306.5 = 2024-01-15 12:00.
        assert_eq!(
            ole_date(45306.5).map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-01-15T12:00:00+00:00")
        );
        assert_eq!(ole_date(0.0), None);
        assert_eq!(ole_date(f64::NAN), None);
        assert_eq!(
            unix_seconds(1_700_000_000)
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2023-11-14T22:13:20+00:00")
        );
        assert_eq!(unix_seconds(0), None);
    }
}
