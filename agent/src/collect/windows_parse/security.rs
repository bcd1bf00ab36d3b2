//! Security settings: the SMBv1 server (DOMAIN.md 5d), firewall profiles and BitLocker.

use ward_shared::{FirewallProfile, VolumeEncryption};

use super::{RegKey, WmiRow};

/// What is known about the SMBv1 server, from the three places that say something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Smb1Facts {
    /// `Win32_OptionalFeature.InstallState` of `SMB1Protocol-Server` (Windows 10 1709+), else of
    /// `SMB1Protocol`: 1 enabled, 2 disabled, 3 absent. `None` when not read.
    pub feature_state: Option<u32>,
    /// `MSFT_SmbServerConfiguration.EnableSMB1Protocol` (Windows 8 / 2012 and later).
    pub server_config: Option<bool>,
    /// `LanmanServer\Parameters` `SMB1` DWORD: 0 disabled; absent means enabled (default).
    pub registry_smb1: Option<u32>,
    /// The `LanmanServer\Parameters` key could be read at all.
    pub registry_read: bool,
}

/// Whether the SMBv1 server accepts connections:
/// a disabled or absent optional feature means no SMBv1 server at all; otherwise the server
/// configuration decides; otherwise the registry value (absent = enabled, the documented
/// default for the versions where that value is the method).
pub fn smb1_server_enabled(f: &Smb1Facts) -> Option<bool> {
    if matches!(f.feature_state, Some(2 | 3)) {
        return Some(false);
    }
    if let Some(enabled) = f.server_config {
        return Some(enabled);
    }
    match f.registry_smb1 {
        Some(v) => Some(v != 0),
        None if f.registry_read => Some(true),
        None => None,
    }
}

/// Picks the install state of the SMBv1 server feature from `Win32_OptionalFeature` rows for
/// `SMB1Protocol` and `SMB1Protocol-Server`; the more specific one wins.
pub fn smb1_feature_state(rows: &[WmiRow]) -> Option<u32> {
    let state = |name: &str| {
        rows.iter()
            .find(|r| r.str("Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|r| r.u32("InstallState"))
    };
    state("SMB1Protocol-Server").or_else(|| state("SMB1Protocol"))
}

/// The three firewall profiles. Each is enabled per the group policy key when that sets
/// `EnableFirewall`, else per the local key. Registry paths:
/// `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\{Domain,Private,Public}Profile` (policy)
/// and `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\
/// {Domain,Standard,Public}Profile` (local; "Standard" is the Private profile).
pub fn firewall_profiles(
    local: [Option<&RegKey>; 3],
    policy: [Option<&RegKey>; 3],
) -> Vec<FirewallProfile> {
    ["Domain", "Private", "Public"]
        .iter()
        .zip(local.iter().zip(policy.iter()))
        .filter_map(|(name, (local, policy))| {
            let enabled = policy
                .and_then(|k| k.dword("EnableFirewall"))
                .or_else(|| local.and_then(|k| k.dword("EnableFirewall")))?;
            Some(FirewallProfile {
                name: (*name).to_owned(),
                enabled: enabled != 0,
            })
        })
        .collect()
}

/// BitLocker per fixed volume from `Win32_EncryptableVolume` (namespace
/// `root\cimv2\Security\MicrosoftVolumeEncryption`; needs administrator rights). Removable
/// volumes (VolumeType 2) are skipped. Returns the volumes and whether the system drive is
/// protected. `ProtectionStatus`: 0 off, 1 on, 2 unknown (locked).
pub fn bitlocker(
    rows: &[WmiRow],
    system_drive: Option<&str>,
) -> (Vec<VolumeEncryption>, Option<bool>) {
    let mut volumes = Vec::new();
    let mut system = None;
    for r in rows {
        if r.u32("VolumeType") == Some(2) {
            continue;
        }
        let Some(volume) = r.str("DriveLetter").or_else(|| r.str("DeviceID")) else {
            continue;
        };
        let method = r.u32("EncryptionMethod").and_then(encryption_method);
        let encrypted = match r.u32("ProtectionStatus") {
            Some(1) => Some(true),
            // Off but fully encrypted with a method is still "encrypted, suspended": report the
            // protection, which is what matters for a lost laptop.
            Some(0) => Some(false),
            _ => None,
        };
        let is_system = r.u32("VolumeType") == Some(0)
            || system_drive.is_some_and(|s| s.eq_ignore_ascii_case(&volume));
        if is_system {
            system = encrypted;
        }
        volumes.push(VolumeEncryption {
            volume,
            encrypted,
            method: method.map(|m| format!("BitLocker {m}")),
        });
    }
    (volumes, system)
}

/// `Win32_EncryptableVolume.EncryptionMethod` codes.
pub fn encryption_method(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "AES 128 with diffuser",
        2 => "AES 256 with diffuser",
        3 => "AES 128",
        4 => "AES 256",
        5 => "hardware encryption",
        6 => "XTS-AES 128",
        7 => "XTS-AES 256",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{RegValue, WmiValue, key, row};
    use super::*;

    #[test]
    fn smb1_decisions() {
        let f = |feature_state, server_config, registry_smb1, registry_read| Smb1Facts {
            feature_state,
            server_config,
            registry_smb1,
            registry_read,
        };
        // Windows 10 1709+ clean install: the feature is absent.
        assert_eq!(
            smb1_server_enabled(&f(Some(2), Some(true), None, true)),
            Some(false)
        );
        assert_eq!(
            smb1_server_enabled(&f(Some(3), None, None, true)),
            Some(false)
        );
        // Feature installed, server configuration says off.
        assert_eq!(
            smb1_server_enabled(&f(Some(1), Some(false), None, true)),
            Some(false)
        );
        assert_eq!(
            smb1_server_enabled(&f(Some(1), Some(true), None, true)),
            Some(true)
        );
        // Windows 7 style: only the registry value; absent means enabled.
        assert_eq!(
            smb1_server_enabled(&f(None, None, Some(0), true)),
            Some(false)
        );
        assert_eq!(
            smb1_server_enabled(&f(None, None, Some(1), true)),
            Some(true)
        );
        assert_eq!(smb1_server_enabled(&f(None, None, None, true)), Some(true));
        // Nothing could be read.
        assert_eq!(smb1_server_enabled(&f(None, None, None, false)), None);
    }

    #[test]
    fn smb1_feature_rows() {
        let rows = [
            row([
                ("Name", WmiValue::Str("SMB1Protocol".into())),
                ("InstallState", WmiValue::UInt(1)),
            ]),
            row([
                ("Name", WmiValue::Str("SMB1Protocol-Server".into())),
                ("InstallState", WmiValue::UInt(2)),
            ]),
        ];
        assert_eq!(smb1_feature_state(&rows), Some(2));
        assert_eq!(smb1_feature_state(&rows[..1]), Some(1));
        assert_eq!(smb1_feature_state(&[]), None);
    }

    #[test]
    fn firewall_policy_overrides_local() {
        let on = key([("EnableFirewall", RegValue::Dword(1))]);
        let off = key([("EnableFirewall", RegValue::Dword(0))]);
        let profiles =
            firewall_profiles([Some(&on), Some(&on), Some(&on)], [Some(&off), None, None]);
        let states: Vec<_> = profiles
            .iter()
            .map(|p| (p.name.as_str(), p.enabled))
            .collect();
        assert_eq!(
            states,
            [("Domain", false), ("Private", true), ("Public", true)]
        );
        assert!(firewall_profiles([None, None, None], [None, None, None]).is_empty());
    }

    #[test]
    fn bitlocker_volumes() {
        let rows = [
            row([
                ("DriveLetter", WmiValue::Str("C:".into())),
                ("VolumeType", WmiValue::UInt(0)),
                ("ProtectionStatus", WmiValue::UInt(1)),
                ("EncryptionMethod", WmiValue::UInt(6)),
            ]),
            row([
                ("DriveLetter", WmiValue::Str("D:".into())),
                ("VolumeType", WmiValue::UInt(1)),
                ("ProtectionStatus", WmiValue::UInt(0)),
                ("EncryptionMethod", WmiValue::UInt(0)),
            ]),
            row([
                ("DriveLetter", WmiValue::Str("E:".into())),
                ("VolumeType", WmiValue::UInt(2)),
                ("ProtectionStatus", WmiValue::UInt(1)),
            ]),
        ];
        let (volumes, system) = bitlocker(&rows, Some("C:"));
        assert_eq!(system, Some(true));
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[0].method.as_deref(), Some("BitLocker XTS-AES 128"));
        assert_eq!(volumes[1].encrypted, Some(false));
        assert_eq!(volumes[1].method, None);
    }
}
