//! UEFI Secure Boot state and TPM facts as Linux exposes them in sysfs and efivarfs.

/// The `SecureBoot` variable of the EFI global-variable GUID (UEFI spec 2.10, section 3.3).
pub const SECURE_BOOT_EFIVAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// The same variable through the older sysfs interface (`CONFIG_EFI_VARS`): data only.
pub const SECURE_BOOT_SYSFS: &str =
    "/sys/firmware/efi/vars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c/data";

/// An efivarfs file is a 4-byte little-endian attribute mask followed by the data; SecureBoot's
/// data is one byte, 1 = enforcing.
pub fn secure_boot_from_efivar(bytes: &[u8]) -> Option<bool> {
    bytes.get(4).map(|b| *b == 1)
}

/// The legacy sysfs `data` file holds only the data byte.
pub fn secure_boot_from_sysfs_data(bytes: &[u8]) -> Option<bool> {
    bytes.first().map(|b| *b == 1)
}

/// `tpm_version_major` ("2" or "1", kernel 5.6+) to the spec version the wire expects.
pub fn tpm_version(major: &str) -> Option<&'static str> {
    match major.trim() {
        "2" => Some("2.0"),
        "1" => Some("1.2"),
        _ => None,
    }
}

/// The TPM 1.x `caps` file: `TCG version: 1.2` line, when `tpm_version_major` is missing.
pub fn tpm_version_from_caps(caps: &str) -> Option<String> {
    caps.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "TCG version").then(|| v.trim().to_owned())
    })
}

/// sysfs boolean files (`enabled`, `active`): "1"/"0".
pub fn sysfs_flag(text: &str) -> Option<bool> {
    match text.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_boot_variable() {
        // EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS = 0x06, then data.
        assert_eq!(secure_boot_from_efivar(&[0x06, 0, 0, 0, 1]), Some(true));
        assert_eq!(secure_boot_from_efivar(&[0x06, 0, 0, 0, 0]), Some(false));
        assert_eq!(secure_boot_from_efivar(&[0x06, 0, 0, 0]), None);
        assert_eq!(secure_boot_from_sysfs_data(&[1]), Some(true));
        assert_eq!(secure_boot_from_sysfs_data(&[]), None);
    }

    #[test]
    fn tpm_versions() {
        assert_eq!(tpm_version("2\n"), Some("2.0"));
        assert_eq!(tpm_version("1"), Some("1.2"));
        assert_eq!(tpm_version("3"), None);
        let caps = "Manufacturer: 0x49465800\nTCG version: 1.2\nFirmware version: 6.40\n";
        assert_eq!(tpm_version_from_caps(caps).as_deref(), Some("1.2"));
        assert_eq!(sysfs_flag("1\n"), Some(true));
        assert_eq!(sysfs_flag("0"), Some(false));
        assert_eq!(sysfs_flag(""), None);
    }
}
