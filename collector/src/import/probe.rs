//! Report files in the agent's wire format (`ward_shared::Report` as JSON), as written by the
//! legacy probe `deploy/legacy/ward-probe.vbs` into a share, or by `ward-agent collect`.
//!
//! The report is validated with the same limits the API applies to agents; its own
//! `report_id` and `collected_at` are kept, so importing the same file twice is one report.

use chrono::{DateTime, Utc};
use ward_shared::{Limits, Report};

use super::record::{
    Format, Identity, ImportError, ImportRecord, Parsed, ProbeDetail, Source, SourceDetail,
};

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: Format::Probe,
        reason: reason.into(),
    }
}

pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    // The probe writes ASCII; a file re-saved as UTF-16 is read too.
    let utf16;
    let body = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        utf16 = super::text::decode(bytes)?.text;
        utf16.as_bytes()
    } else {
        bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes)
    };
    let report: Report = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "not a report in the agent's wire format (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    report
        .validate(&Limits::V1, now)
        .map_err(|e| invalid(format!("the report breaks a wire-format limit: {e}")))?;
    let h = &report.host;
    let identity = Identity {
        hardware_uuid: h.hardware_uuid.clone(),
        serial: report.hardware.serial.clone(),
        macs: h.mac_addresses.clone(),
        fqdn: h.fqdn.clone(),
        host_name: h.hostname.clone(),
        domain: h.domain.clone(),
        ips: h
            .ip_addresses
            .iter()
            .filter_map(|ip| ip.parse().ok())
            .collect(),
    };
    // The probe lists Win32_QuickFixEngineering in full; another writer's list is taken as is.
    let from_probe = report.agent.name == "ward-probe";
    let hotfix_list_complete = if from_probe {
        Some(true)
    } else if report.patches.installed.is_empty() {
        None
    } else {
        Some(false)
    };
    let writer = format!("{} {}", report.agent.name, report.agent.version);
    let mut warnings = Vec::new();
    if !report.errors.is_empty() {
        warnings.push(format!(
            "{}: {} field(s) the probe could not read (listed in the report's errors)",
            h.hostname.as_deref().unwrap_or(origin),
            report.errors.len()
        ));
    }
    Ok(Parsed {
        format: Format::Probe,
        records: vec![ImportRecord {
            source: Source::Probe,
            observed_at: report.collected_at,
            origin: origin.to_string(),
            identity,
            report,
            evidence: Vec::new(),
            hotfix_list_complete,
            detail: SourceDetail::Probe(ProbeDetail {
                writer: Some(writer),
            }),
        }],
        warnings,
    })
}
