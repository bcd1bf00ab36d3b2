//! SMBIOS/DMI values as Linux exposes them in `/sys/class/dmi/id/*`: placeholder filtering, the
//! chassis type table and the BIOS date format.

use chrono::NaiveDate;

/// Strings firmware vendors leave in SMBIOS fields they did not fill in. Compared case-insensitively.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "to be filled by oem",
    "default string",
    "system serial number",
    "system product name",
    "system manufacturer",
    "system version",
    "chassis serial number",
    "base board serial number",
    "serial number",
    "0123456789",
    "1234567890",
    "none",
    "not specified",
    "not applicable",
    "not available",
    "n/a",
    "na",
    "oem",
    "o.e.m.",
    "unknown",
    "invalid",
    "type1productconfigid",
    "type1family",
    // AMI's default system UUID on many unbranded boards.
    "03000200-0400-0500-0006-000700080009",
];

/// The trimmed value, or `None` when it is empty or a known placeholder (including strings of one
/// repeated character such as `00000000` or `FFFFFFFF-FFFF-...`).
pub fn clean(value: &str) -> Option<String> {
    let v = value.trim().trim_matches(char::from(0)).trim();
    if v.is_empty() {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    if PLACEHOLDERS.contains(&lower.as_str()) {
        return None;
    }
    let mut significant = lower
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '.' | ':'));
    if let Some(first) = significant.next()
        && significant.all(|c| c == first)
        && v.len() > 1
    {
        return None;
    }
    Some(v.to_owned())
}

/// SMBIOS chassis type code to words, from DMTF DSP0134 (SMBIOS Reference Specification) 3.7,
/// section 7.4.1, "System Enclosure or Chassis Types". Bit 7 (chassis lock) is ignored; code 2
/// ("Unknown") is `None`.
pub fn chassis_type(code: &str) -> Option<&'static str> {
    let code: u8 = code.trim().parse().ok()?;
    Some(match code & 0x7f {
        0x01 => "Other",
        0x03 => "Desktop",
        0x04 => "Low Profile Desktop",
        0x05 => "Pizza Box",
        0x06 => "Mini Tower",
        0x07 => "Tower",
        0x08 => "Portable",
        0x09 => "Laptop",
        0x0a => "Notebook",
        0x0b => "Hand Held",
        0x0c => "Docking Station",
        0x0d => "All in One",
        0x0e => "Sub Notebook",
        0x0f => "Space-saving",
        0x10 => "Lunch Box",
        0x11 => "Main Server Chassis",
        0x12 => "Expansion Chassis",
        0x13 => "SubChassis",
        0x14 => "Bus Expansion Chassis",
        0x15 => "Peripheral Chassis",
        0x16 => "RAID Chassis",
        0x17 => "Rack Mount Chassis",
        0x18 => "Sealed-case PC",
        0x19 => "Multi-system chassis",
        0x1a => "Compact PCI",
        0x1b => "Advanced TCA",
        0x1c => "Blade",
        0x1d => "Blade Enclosure",
        0x1e => "Tablet",
        0x1f => "Convertible",
        0x20 => "Detachable",
        0x21 => "IoT Gateway",
        0x22 => "Embedded PC",
        0x23 => "Mini PC",
        0x24 => "Stick PC",
        _ => return None,
    })
}

/// SMBIOS BIOS release date: `MM/DD/YYYY`, or `MM/DD/YY` on old firmware (years 00-79 read as 20xx).
pub fn bios_date(value: &str) -> Option<NaiveDate> {
    let mut parts = value.trim().split('/');
    let month: u32 = parts.next()?.trim().parse().ok()?;
    let day: u32 = parts.next()?.trim().parse().ok()?;
    let year_text = parts.next()?.trim();
    if parts.next().is_some() {
        return None;
    }
    let year: i32 = year_text.parse().ok()?;
    let year = match (year_text.len(), year) {
        (2, y) if y < 80 => 2000 + y,
        (2, y) => 1900 + y,
        (4, y) => y,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_dropped() {
        for v in [
            "To Be Filled By O.E.M.",
            "Default string",
            "System Serial Number",
            "0123456789",
            "None",
            "",
            "   ",
            "00000000",
            "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
            "00000000-0000-0000-0000-000000000000",
            "03000200-0400-0500-0006-000700080009",
        ] {
            assert_eq!(clean(v), None, "{v:?}");
        }
        assert_eq!(clean(" Dell Inc. \n").as_deref(), Some("Dell Inc."));
        assert_eq!(clean("5CG1234XYZ").as_deref(), Some("5CG1234XYZ"));
        assert_eq!(clean("1").as_deref(), Some("1"));
    }

    #[test]
    fn chassis_types_follow_smbios() {
        assert_eq!(chassis_type("3\n"), Some("Desktop"));
        assert_eq!(chassis_type("9"), Some("Laptop"));
        assert_eq!(chassis_type("10"), Some("Notebook"));
        assert_eq!(chassis_type("13"), Some("All in One"));
        assert_eq!(chassis_type("31"), Some("Convertible"));
        assert_eq!(chassis_type("35"), Some("Mini PC"));
        assert_eq!(chassis_type("131"), Some("Desktop"), "lock bit ignored");
        assert_eq!(chassis_type("2"), None);
        assert_eq!(chassis_type("99"), None);
        assert_eq!(chassis_type("desk"), None);
    }

    #[test]
    fn bios_dates() {
        assert_eq!(
            bios_date("03/14/2023\n"),
            NaiveDate::from_ymd_opt(2023, 3, 14)
        );
        assert_eq!(bios_date("12/01/09"), NaiveDate::from_ymd_opt(2009, 12, 1));
        assert_eq!(bios_date("12/01/99"), NaiveDate::from_ymd_opt(1999, 12, 1));
        assert_eq!(bios_date("13/01/2020"), None);
        assert_eq!(bios_date("2020-01-01"), None);
    }
}
