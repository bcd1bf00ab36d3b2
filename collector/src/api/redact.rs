//! What the finance role does not see: a device's network details (IP and MAC addresses, DNS
//! name and domain, and any evidence read from the network, such as host names seen by scans).

use ward_shared::Report;

use crate::risk::Assessment;

/// Shown instead of a withheld value.
pub const WITHHELD: &str = "(withheld for this role)";

/// Whether a report field or evidence field names network details.
pub fn is_network_field(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    [
        "ip", "mac", "fqdn", "domain", "network", "scan", "nmap", "dns", "port", "address",
    ]
    .iter()
    .any(|k| {
        f.split(['.', '_', '[', ']'])
            .any(|part| part == *k || part.starts_with(k))
    })
}

pub fn report(report: &mut Report) {
    report.host.ip_addresses.clear();
    report.host.mac_addresses.clear();
    report.host.fqdn = None;
    report.host.domain = None;
}

pub fn assessment(assessment: &mut Assessment) {
    for finding in &mut assessment.findings {
        for evidence in &mut finding.evidence {
            if is_network_field(&evidence.field) {
                evidence.value = WITHHELD.into();
            }
        }
    }
    if let Some(readiness) = &mut assessment.readiness {
        for c in &mut readiness.criteria {
            if is_network_field(c.field) {
                c.evidence = WITHHELD.into();
            }
        }
    }
}

/// A host name as finance sees it: an address is hidden, a name with a domain
/// (`pc-1.trust.nhs.uk`) cut to its first label.
pub fn host_label(name: &str) -> String {
    let hidden = crate::export::network::redact(name);
    if hidden == crate::export::network::HIDDEN {
        return hidden;
    }
    match hidden.split_once('.') {
        Some((first, _)) => first.to_owned(),
        None => hidden,
    }
}

/// A device as a role without network details names it: make, model and serial when known,
/// else an opaque label from the device id ("Device 3f2a9c1b"), never its host name.
pub fn asset_label(report: &Report, id: uuid::Uuid) -> String {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && !is_placeholder(s))
            .map(str::to_owned)
    };
    let model = clean(&report.hardware.model);
    // "HP" + "HP EliteDesk 800 G3" names the maker once.
    let make = clean(&report.hardware.manufacturer).filter(|m| {
        model.as_ref().is_none_or(|model| {
            !model
                .to_ascii_lowercase()
                .starts_with(&m.to_ascii_lowercase())
        })
    });
    let make_model: Vec<String> = [make, model].into_iter().flatten().collect();
    let opaque = opaque_label(id);
    let serial = clean(&report.hardware.serial).map(|s| crate::export::network::redact(&s));
    match (make_model.is_empty(), serial) {
        (true, None) => opaque,
        (true, Some(serial)) => format!("Device serial {serial}"),
        (false, Some(serial)) => format!("{} · serial {serial}", make_model.join(" ")),
        (false, None) => format!("{} · {}", make_model.join(" "), &opaque["Device ".len()..]),
    }
}

/// "Device 3f2a9c1b": the random end of the device id, the same on every page and export.
pub fn opaque_label(id: uuid::Uuid) -> String {
    let hex = id.simple().to_string();
    format!("Device {}", &hex[hex.len() - 8..])
}

/// Vendor filler that names nothing ("To be filled by O.E.M.", "System Serial Number").
fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    [
        "to be filled",
        "system serial",
        "system product",
        "default string",
        "not specified",
        "o.e.m.",
    ]
    .iter()
    .any(|p| l.contains(p))
        || l == "none"
        || l == "0"
}

/// A plan as finance sees it: device labels cut to their first label, free text without
/// addresses.
pub fn plan(plan: &mut crate::plan::Plan) {
    for year in &mut plan.years {
        for action in &mut year.actions {
            action.label = host_label(&action.label);
        }
    }
    for keep in &mut plan.esu {
        keep.label = host_label(&keep.label);
        keep.reason = crate::export::network::redact(&keep.reason);
    }
    for u in &mut plan.unfunded {
        u.label = host_label(&u.label);
    }
}

#[cfg(test)]
mod tests {
    use super::{asset_label, host_label, is_network_field, opaque_label};

    #[test]
    fn asset_labels_never_name_the_host() {
        let mut r: ward_shared::Report =
            serde_json::from_str(include_str!("../../../shared/tests/golden/v1-windows.json"))
                .unwrap();
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            asset_label(&r, id),
            "HP EliteDesk 800 G3 SFF · serial CZC7281XYZ"
        );
        r.hardware.serial = Some("To be filled by O.E.M.".into());
        let label = asset_label(&r, id);
        assert!(label.starts_with("HP EliteDesk 800 G3 SFF · "), "{label}");
        assert!(label.ends_with(&opaque_label(id)["Device ".len()..]));
        r.hardware.manufacturer = None;
        r.hardware.model = None;
        r.hardware.serial = None;
        assert_eq!(asset_label(&r, id), opaque_label(id));
        assert!(!asset_label(&r, id).contains("PACS"));
    }

    #[test]
    fn host_labels_lose_their_domain() {
        assert_eq!(host_label("pc-1.trust.nhs.uk"), "pc-1");
        assert_eq!(host_label("PACS-VIEW-07"), "PACS-VIEW-07");
        assert!(!host_label("10.1.2.3").contains("10.1"));
    }

    #[test]
    fn network_fields() {
        for f in [
            "host.ip_addresses",
            "host.mac_addresses[0]",
            "host.fqdn",
            "scan.hostname",
            "nmap.ports",
        ] {
            assert!(is_network_field(f), "{f}");
        }
        for f in [
            "os.name",
            "hardware.tpm.version",
            "patches.installed",
            "hardware.cpu.brand",
            "host.hostname",
        ] {
            assert!(!is_network_field(f), "{f}");
        }
    }
}
