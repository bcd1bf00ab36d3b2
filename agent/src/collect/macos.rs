//! macOS: a few cheap commands (`sw_vers`, `sysctl`, `ioreg`, `fdesetup`, `socketfilterfw`).
//!
//! Everything here goes through [`Commands`], so it is compiled and tested on every platform; only
//! the call in [`super::collect`] is limited to macOS. Pending updates are not collected:
//! `softwareupdate -l` contacts Apple's servers and can take minutes.

use ward_shared::{CollectionError, FirewallProfile, OsFamily, Report, VolumeEncryption};

use super::cmd::{Commands, QUICK};

/// Fills `report` from the macOS tools. sysinfo has already filled RAM, disks, addresses.
pub fn collect(cmds: &dyn Commands, report: &mut Report) {
    report.os.family = OsFamily::Macos;
    report.os.id = Some("macos".into());
    report.os.architecture = Some(std::env::consts::ARCH.into());

    match run(cmds, "sw_vers", &[]) {
        Ok(out) => {
            let v = parse_sw_vers(&out);
            report.os.name = match (&v.product_name, &v.product_version) {
                (Some(n), Some(ver)) => Some(format!("{n} {ver}")),
                (n, _) => n.clone(),
            };
            report.os.display_version = v
                .product_version
                .as_deref()
                .and_then(release_name)
                .map(str::to_owned);
            report.os.version = v.product_version;
            report.os.build = v.build_version;
        }
        Err(reason) => push(report, "os.version", reason),
    }

    match run(cmds, "sysctl", &["-n", "machdep.cpu.brand_string"]) {
        Ok(out) if !out.trim().is_empty() => report.hardware.cpu.brand = Some(out.trim().into()),
        Ok(_) => {}
        Err(reason) => push(report, "hardware.cpu.brand", reason),
    }

    match run(cmds, "ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"]) {
        Ok(out) => {
            let p = parse_ioreg_platform(&out);
            report.hardware.serial = p.serial;
            report.host.hardware_uuid = p.uuid.map(|u| u.to_ascii_lowercase());
            report.hardware.model = p.model;
            report.hardware.manufacturer = p.manufacturer.or_else(|| Some("Apple Inc.".into()));
        }
        Err(reason) => push(report, "hardware.serial", reason),
    }

    // Macs ship with Apple's T2/Secure Enclave secure boot, not UEFI Secure Boot or a TPM: leave
    // those fields unknown rather than false.
    match run(cmds, "fdesetup", &["status"]) {
        Ok(out) => match parse_fdesetup(&out) {
            Some(on) => {
                report.security.system_disk_encrypted = Some(on);
                report.security.encrypted_volumes.push(VolumeEncryption {
                    volume: "/".into(),
                    encrypted: Some(on),
                    method: on.then(|| "FileVault".into()),
                });
            }
            None => push(
                report,
                "security.system_disk_encrypted",
                format!("fdesetup status: unexpected output {:?}", first_line(&out)),
            ),
        },
        Err(reason) => push(report, "security.system_disk_encrypted", reason),
    }

    match run(
        cmds,
        "/usr/libexec/ApplicationFirewall/socketfilterfw",
        &["--getglobalstate"],
    ) {
        Ok(out) => match parse_socketfilterfw(&out) {
            Some(on) => {
                report.security.firewall_enabled = Some(on);
                report.security.firewall_profiles.push(FirewallProfile {
                    name: "Application Firewall".into(),
                    enabled: on,
                });
            }
            None => push(
                report,
                "security.firewall_enabled",
                format!("socketfilterfw: unexpected output {:?}", first_line(&out)),
            ),
        },
        Err(reason) => push(report, "security.firewall_enabled", reason),
    }

    report.errors.push(CollectionError::new(
        "patches.pending_count",
        "not collected on macOS: softwareupdate -l contacts Apple and can take minutes",
    ));
}

fn run(cmds: &dyn Commands, program: &str, args: &[&str]) -> Result<String, String> {
    let out = cmds.run(program, args, QUICK).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(out.failure(program))
    }
}

fn push(report: &mut Report, field: &str, reason: impl Into<String>) {
    report.errors.push(CollectionError::new(field, reason));
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// `sw_vers` output: `ProductName:\tmacOS` / `ProductVersion:\t14.4.1` / `BuildVersion:\t23E224`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SwVers {
    pub product_name: Option<String>,
    pub product_version: Option<String>,
    pub build_version: Option<String>,
}

pub fn parse_sw_vers(output: &str) -> SwVers {
    let mut v = SwVers::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = Some(value.trim().to_owned()).filter(|s| !s.is_empty());
        match key.trim() {
            "ProductName" => v.product_name = value,
            "ProductVersion" => v.product_version = value,
            "BuildVersion" => v.build_version = value,
            _ => {}
        }
    }
    v
}

/// The marketing name of a macOS major version.
pub fn release_name(version: &str) -> Option<&'static str> {
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some(match (major, minor) {
        (10, 13) => "High Sierra",
        (10, 14) => "Mojave",
        (10, 15) => "Catalina",
        (11, _) => "Big Sur",
        (12, _) => "Monterey",
        (13, _) => "Ventura",
        (14, _) => "Sonoma",
        (15, _) => "Sequoia",
        (26, _) => "Tahoe",
        _ => return None,
    })
}

/// The facts of `ioreg -rd1 -c IOPlatformExpertDevice`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PlatformExpert {
    pub serial: Option<String>,
    pub uuid: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
}

/// Lines look like `    "IOPlatformSerialNumber" = "C02XG0FDH7JY"` or, for data values,
/// `    "model" = <"MacBookPro16,1">`.
pub fn parse_ioreg_platform(output: &str) -> PlatformExpert {
    let mut p = PlatformExpert::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        let value = value
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim_matches('"')
            .trim_end_matches('\0')
            .trim();
        let value = Some(value.to_owned()).filter(|v| !v.is_empty());
        match key {
            "IOPlatformSerialNumber" => p.serial = value,
            "IOPlatformUUID" => p.uuid = value,
            "model" => p.model = value,
            "manufacturer" => p.manufacturer = value,
            _ => {}
        }
    }
    p
}

/// `fdesetup status`: "FileVault is On." / "FileVault is Off."; while converting,
/// "Encryption in progress: ..." (counted as on) or "Decryption in progress: ..." (off).
pub fn parse_fdesetup(output: &str) -> Option<bool> {
    let text = output.trim();
    if text.starts_with("FileVault is On") || text.contains("Encryption in progress") {
        Some(true)
    } else if text.starts_with("FileVault is Off") || text.contains("Decryption in progress") {
        Some(false)
    } else {
        None
    }
}

/// `socketfilterfw --getglobalstate`: "Firewall is enabled. (State = 1)",
/// "Firewall is disabled. (State = 0)", "Firewall is blocking all non-essential incoming
/// connections. (State = 2)" on some versions.
pub fn parse_socketfilterfw(output: &str) -> Option<bool> {
    let text = output.trim();
    if let Some((_, state)) = text.split_once("State = ") {
        let n: u32 = state.trim_end_matches(')').trim().parse().ok()?;
        return Some(n >= 1);
    }
    if text.contains("enabled") || text.contains("blocking") {
        Some(true)
    } else if text.contains("disabled") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::cmd::FakeCommands;
    use super::*;

    const SW_VERS: &str = include_str!("testdata/macos-sw_vers.txt");
    const IOREG: &str = include_str!("testdata/macos-ioreg-platform.txt");

    #[test]
    fn sw_vers() {
        let v = parse_sw_vers(SW_VERS);
        assert_eq!(v.product_name.as_deref(), Some("macOS"));
        assert_eq!(v.product_version.as_deref(), Some("14.4.1"));
        assert_eq!(v.build_version.as_deref(), Some("23E224"));
        assert_eq!(release_name("14.4.1"), Some("Sonoma"));
        assert_eq!(release_name("10.15.7"), Some("Catalina"));
        assert_eq!(release_name("10.9"), None);
    }

    #[test]
    fn ioreg() {
        let p = parse_ioreg_platform(IOREG);
        assert_eq!(p.serial.as_deref(), Some("C02XG0FDH7JY"));
        assert_eq!(
            p.uuid.as_deref(),
            Some("6C3D3E4F-8A1B-5C2D-9E0F-1A2B3C4D5E6F")
        );
        assert_eq!(p.model.as_deref(), Some("MacBookPro16,1"));
        assert_eq!(p.manufacturer.as_deref(), Some("Apple Inc."));
    }

    #[test]
    fn filevault_and_firewall() {
        assert_eq!(parse_fdesetup("FileVault is On.\n"), Some(true));
        assert_eq!(parse_fdesetup("FileVault is Off.\n"), Some(false));
        assert_eq!(
            parse_fdesetup("FileVault is On.\nEncryption in progress: Percent completed = 40.5\n"),
            Some(true)
        );
        assert_eq!(parse_fdesetup("huh"), None);
        assert_eq!(
            parse_socketfilterfw("Firewall is enabled. (State = 1)\n"),
            Some(true)
        );
        assert_eq!(
            parse_socketfilterfw("Firewall is disabled. (State = 0)\n"),
            Some(false)
        );
        assert_eq!(
            parse_socketfilterfw(
                "Firewall is blocking all non-essential incoming connections. (State = 2)"
            ),
            Some(true)
        );
    }

    #[test]
    fn glue_fills_the_report_from_commands() {
        let cmds = FakeCommands::new()
            .with("sw_vers", 0, SW_VERS, "")
            .with(
                "sysctl -n machdep.cpu.brand_string",
                0,
                "Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz\n",
                "",
            )
            .with("ioreg -rd1 -c IOPlatformExpertDevice", 0, IOREG, "")
            .with("fdesetup status", 0, "FileVault is On.\n", "")
            .with(
                "/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate",
                0,
                "Firewall is disabled. (State = 0)\n",
                "",
            );
        let mut report = super::super::tests::empty_report();
        collect(&cmds, &mut report);
        assert_eq!(report.os.family, OsFamily::Macos);
        assert_eq!(report.os.name.as_deref(), Some("macOS 14.4.1"));
        assert_eq!(report.os.display_version.as_deref(), Some("Sonoma"));
        assert_eq!(report.os.build.as_deref(), Some("23E224"));
        assert_eq!(report.hardware.serial.as_deref(), Some("C02XG0FDH7JY"));
        assert_eq!(
            report.host.hardware_uuid.as_deref(),
            Some("6c3d3e4f-8a1b-5c2d-9e0f-1a2b3c4d5e6f")
        );
        assert_eq!(report.security.system_disk_encrypted, Some(true));
        assert_eq!(report.security.firewall_enabled, Some(false));
        let fields: Vec<&str> = report.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["patches.pending_count"]);
    }

    #[test]
    fn glue_without_tools_reports_errors() {
        let mut report = super::super::tests::empty_report();
        collect(&FakeCommands::new(), &mut report);
        assert_eq!(report.os.family, OsFamily::Macos);
        assert!(report.errors.len() >= 5, "{:?}", report.errors);
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.reason.contains("sw_vers not found"))
        );
    }
}
