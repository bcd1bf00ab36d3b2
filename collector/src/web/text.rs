//! Plain words for the engine's enums, dates and amounts.

use chrono::NaiveDate;

use crate::risk::{Assessment, CriterionStatus, LifecycleState, ReadinessVerdict, RemedyClass};

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn month_year(d: NaiveDate) -> String {
    d.format("%B %Y").to_string()
}

pub fn lifecycle(state: LifecycleState) -> &'static str {
    match state {
        LifecycleState::Supported => "Supported",
        LifecycleState::NearingEnd => "Support ends within a year",
        LifecycleState::ExtendedSupport => "On paid extended support",
        LifecycleState::EndOfSupport => "No security updates",
        LifecycleState::Unknown => "Not known",
    }
}

/// "Windows 7: no security updates since January 2023".
pub fn lifecycle_sentence(a: &Assessment) -> String {
    let product = a
        .lifecycle
        .product
        .clone()
        .unwrap_or_else(|| "This system".into());
    let l = &a.lifecycle;
    match l.state {
        // The last paid extension counts when it is over; one still running is not this
        // device's unless it is enrolled, so the vendor's end is the date then.
        LifecycleState::EndOfSupport => match l
            .last_extension_end
            .filter(|d| *d < a.assessed_at.date_naive())
            .or(l.end)
        {
            Some(d) => format!("{product}: no security updates since {}", month_year(d)),
            None => format!("{product}: no security updates"),
        },
        LifecycleState::ExtendedSupport => match &l.extension {
            Some(e) => format!(
                "{product}: security updates only through {} until {}",
                e.name,
                month_year(e.end)
            ),
            None => format!("{product}: on paid extended support"),
        },
        LifecycleState::NearingEnd => match l.end {
            Some(d) => format!("{product}: security updates end in {}", month_year(d)),
            None => format!("{product}: support ends soon"),
        },
        LifecycleState::Supported => match l.end {
            Some(d) => format!("{product}: supported until {}", month_year(d)),
            None => format!("{product}: supported"),
        },
        LifecycleState::Unknown => l.unknown_reason.clone().map_or_else(
            || "Operating system not recognised".into(),
            |r| format!("Operating system not recognised: {r}"),
        ),
    }
}

pub fn remedy(class: RemedyClass) -> &'static str {
    match class {
        RemedyClass::ReplaceHardware => "Replace the hardware",
        RemedyClass::UpgradeOs => "Upgrade the operating system",
        RemedyClass::FixFirmware => "Change firmware settings, then upgrade",
        RemedyClass::Patch => "Install updates",
        RemedyClass::Isolate => "Keep isolated (exception)",
        RemedyClass::NoAction => "Nothing to do",
        RemedyClass::Unknown => "Needs a look (too little data)",
    }
}

pub fn remedy_key(key: &str) -> &str {
    match key {
        "replace_hardware" => "Replace the hardware",
        "upgrade_os" => "Upgrade the operating system",
        "fix_firmware" => "Change firmware settings",
        "patch" => "Install updates",
        "isolate" => "Keep isolated (exception)",
        "no_action" => "Nothing to do",
        "unknown" => "Needs a look",
        other => other,
    }
}

pub fn readiness(v: ReadinessVerdict) -> &'static str {
    match v {
        ReadinessVerdict::Capable => "Ready for Windows 11",
        ReadinessVerdict::FixableInFirmware => "Ready after a firmware setting change",
        ReadinessVerdict::ComponentUpgrade => "Ready after a part upgrade",
        ReadinessVerdict::Replace => "Cannot run Windows 11: replace",
        ReadinessVerdict::Unknown => "Not known",
    }
}

pub fn criterion(s: CriterionStatus) -> (&'static str, &'static str) {
    match s {
        CriterionStatus::Pass => ("Meets it", "ok"),
        CriterionStatus::FixableInFirmware => ("Fixable in firmware settings", "warn"),
        CriterionStatus::ComponentUpgrade => ("Needs a part upgrade", "warn"),
        CriterionStatus::Fail => ("Does not meet it", "bad"),
        CriterionStatus::Unknown => ("Not known", "unknown"),
    }
}

pub fn os_family(key: &str) -> &str {
    match key {
        "windows" => "Windows",
        "linux" => "Linux",
        "macos" => "macOS",
        "other" => "Other",
        other => other,
    }
}

pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}
