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

#[cfg(test)]
mod tests {
    use super::is_network_field;

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
