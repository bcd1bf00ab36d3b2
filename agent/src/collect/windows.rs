//! Windows collection: what to read and how it maps to the report, over the [`WindowsSource`]
//! seam. The real source (`windows_native`, `cfg(windows)`) only calls the registry, WMI, the
//! version resource of a file and the Windows Update Agent; everything else happens here and in
//! [`super::windows_parse`], and the Linux CI runs it against a fake source.
//!
//! | Field | Source |
//! |---|---|
//! | `os.*` | `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` (ProductName corrected to Windows 11 from build 22000, DisplayVersion before ReleaseId, UBR, EditionID, InstallationType, InstallTime/InstallDate); `Win32_OperatingSystem` (the running kernel's version) fills gaps and wins when the registry's build differs; `os.kernel` is its Version |
//! | `host.*` | `Win32_ComputerSystem` (DNSHostName, Domain when PartOfDomain), `Win32_ComputerSystemProduct.UUID` |
//! | `patches.installed` | `Win32_QuickFixEngineering` (HotFixID, Description, InstalledOn in any of its date shapes) |
//! | `patches.pending*`, `last_installed_at`, `reboot_pending` | Windows Update Agent (`IUpdateSearcher::Search("IsInstalled=0 and IsHidden=0")`, `QueryHistory`, `ISystemInformation::RebootRequired`) on a worker thread with a time limit; on failure or timeout a collection error, the reboot flag from the `RebootRequired`/`RebootPending` registry keys |
//! | `hardware.*` | `Win32_ComputerSystem`, `Win32_BIOS`, `Win32_SystemEnclosure`, `Win32_Processor`, `Win32_LogicalDisk` (DriveType 3) with `MSFT_PhysicalDisk.MediaType`, `Win32_Tpm`; `PEFirmwareType` and `SecureBoot\State` registry values |
//! | `security.smb1_server_enabled` | `Win32_OptionalFeature` SMB1Protocol(-Server), `MSFT_SmbServerConfiguration.EnableSMB1Protocol`, `LanmanServer\Parameters` `SMB1` (DOMAIN.md 5d) |
//! | `security.srv_sys_version` | version resource of `%SystemRoot%\System32\drivers\srv.sys` (absent = no SMBv1 driver) |
//! | `security.firewall_*` | `FirewallPolicy\{Domain,Standard,Public}Profile` `EnableFirewall`, overridden by group policy |
//! | `security.*encrypt*` | `Win32_EncryptableVolume` (BitLocker) |
//!
//! Every source that fails becomes one [`CollectionError`] naming the fields it feeds and why.

use std::time::Duration;

use ward_shared::{CollectionError, OsFamily, Report};

use super::windows_parse::{
    RegKey, WmiRow, hardware, os, qfe, security,
    wua::{self, WuaResult},
};

/// How long the Windows Update Agent may search before the report goes without it.
pub const WUA_TIME_LIMIT: Duration = Duration::from_secs(120);

pub const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";
const CONTROL: &str = r"SYSTEM\CurrentControlSet\Control";
const SECURE_BOOT_STATE: &str = r"SYSTEM\CurrentControlSet\Control\SecureBoot\State";
const LANMAN_SERVER: &str = r"SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";
const FIREWALL_LOCAL: &str =
    r"SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy";
const FIREWALL_POLICY: &str = r"SOFTWARE\Policies\Microsoft\WindowsFirewall";
const REBOOT_KEYS: [&str; 2] = [
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
];

pub const CIMV2: &str = r"ROOT\CIMV2";
const TPM_NS: &str = r"ROOT\CIMV2\Security\MicrosoftTpm";
const BITLOCKER_NS: &str = r"ROOT\CIMV2\Security\MicrosoftVolumeEncryption";
const STORAGE_NS: &str = r"ROOT\Microsoft\Windows\Storage";
const SMB_NS: &str = r"ROOT\Microsoft\Windows\SMB";

/// What the Windows glue can be asked. Errors are the reason as a person reads it.
pub trait WindowsSource {
    /// The values of `HKLM\path`; `Ok(None)` when the key does not exist.
    fn registry(&self, path: &str) -> Result<Option<RegKey>, String>;
    /// The rows of a WQL query in a WMI namespace.
    fn wmi(&self, namespace: &str, query: &str) -> Result<Vec<WmiRow>, String>;
    /// The file version ("10.0.19041.3636") of a file below the system directory
    /// (`drivers\srv.sys`); `Ok(None)` when the file does not exist.
    fn system_file_version(&self, relative: &str) -> Result<Option<String>, String>;
    /// Pending updates, history and reboot flag from the Windows Update Agent, within `limit`.
    fn windows_update(&self, limit: Duration) -> Result<WuaResult, String>;
}

/// Fills `report` with what Windows says; sysinfo's facts (already in the report) stay where
/// Windows has nothing better.
pub fn collect(src: &dyn WindowsSource, wua_limit: Duration, report: &mut Report) {
    report.os.family = OsFamily::Windows;
    report.os.id = Some("windows".into());
    let errors = &mut report.errors;
    let mut fail = |field: &str, reason: String| errors.push(CollectionError::new(field, reason));

    // OS.
    let os_row = match src.wmi(
        CIMV2,
        "SELECT Caption, Version, BuildNumber, CSDVersion, InstallDate, LastBootUpTime, SystemDrive FROM Win32_OperatingSystem",
    ) {
        Ok(rows) => rows.into_iter().next(),
        Err(e) => {
            fail("os.boot_time", format!("Win32_OperatingSystem: {e}"));
            None
        }
    };
    match src.registry(CURRENT_VERSION) {
        Ok(Some(cv)) => os::fill_from_registry(
            &mut report.os,
            &cv,
            os_row.as_ref().and_then(|r| r.str("Caption")).as_deref(),
        ),
        Ok(None) => fail("os", format!("HKLM\\{CURRENT_VERSION} does not exist")),
        Err(e) => fail("os", format!("HKLM\\{CURRENT_VERSION}: {e}")),
    }
    if let Some(row) = &os_row
        && let Some(note) = os::fill_from_wmi(&mut report.os, row)
    {
        fail("os.revision", note);
    }
    let system_drive = os_row
        .as_ref()
        .and_then(|r| r.str("SystemDrive"))
        .unwrap_or_else(|| "C:".to_owned());

    // Host and hardware.
    let hw = &mut report.hardware;
    let host = &mut report.host;
    match first_row(
        src,
        CIMV2,
        "SELECT Manufacturer, Model, TotalPhysicalMemory, DNSHostName, Name, Domain, PartOfDomain FROM Win32_ComputerSystem",
    ) {
        Ok(Some(row)) => hardware::computer_system(hw, host, &row),
        Ok(None) => {}
        Err(e) => fail(
            "hardware.manufacturer",
            format!("Win32_ComputerSystem: {e}"),
        ),
    }
    match first_row(src, CIMV2, "SELECT UUID FROM Win32_ComputerSystemProduct") {
        Ok(Some(row)) => hardware::system_product(host, &row),
        Ok(None) => {}
        Err(e) => fail(
            "host.hardware_uuid",
            format!("Win32_ComputerSystemProduct: {e}"),
        ),
    }
    match first_row(
        src,
        CIMV2,
        "SELECT Manufacturer, SMBIOSBIOSVersion, Version, ReleaseDate, SerialNumber FROM Win32_BIOS",
    ) {
        Ok(Some(row)) => hardware::bios(hw, &row),
        Ok(None) => {}
        Err(e) => fail("hardware.bios", format!("Win32_BIOS: {e}")),
    }
    match first_row(
        src,
        CIMV2,
        "SELECT ChassisTypes, SerialNumber FROM Win32_SystemEnclosure",
    ) {
        Ok(Some(row)) => hardware::enclosure(hw, &row),
        Ok(None) => {}
        Err(e) => fail(
            "hardware.chassis_type",
            format!("Win32_SystemEnclosure: {e}"),
        ),
    }
    match src.wmi(CIMV2, "SELECT Name, Manufacturer, Caption, NumberOfCores, NumberOfLogicalProcessors, MaxClockSpeed FROM Win32_Processor") {
        Ok(rows) => hardware::processors(hw, &rows),
        Err(e) => fail("hardware.cpu", format!("Win32_Processor: {e}")),
    }
    match src.wmi(CIMV2, "SELECT DeviceID, DriveType, FileSystem, Size, FreeSpace FROM Win32_LogicalDisk WHERE DriveType = 3") {
        Ok(rows) => {
            let media = match src.wmi(STORAGE_NS, "SELECT MediaType FROM MSFT_PhysicalDisk") {
                Ok(disks) => disks.iter().filter_map(|d| d.u64("MediaType")).collect(),
                Err(e) => {
                    fail("hardware.disks.kind", format!("MSFT_PhysicalDisk: {e}"));
                    Vec::new()
                }
            };
            let disks = hardware::logical_disks(&rows, Some(&system_drive), &media);
            if !disks.is_empty() {
                hw.disks = disks;
            }
        }
        Err(e) => fail("hardware.disks", format!("Win32_LogicalDisk: {e}")),
    }
    match src.wmi(
        TPM_NS,
        "SELECT SpecVersion, IsEnabled_InitialValue, IsActivated_InitialValue FROM Win32_Tpm",
    ) {
        Ok(rows) => hardware::tpm(hw, &rows),
        Err(e) => fail("hardware.tpm", format!("Win32_Tpm: {e}")),
    }
    match src.registry(CONTROL) {
        Ok(Some(control)) => hw.uefi = hardware::uefi(&control),
        Ok(None) => {}
        Err(e) => fail("hardware.uefi", format!("HKLM\\{CONTROL}: {e}")),
    }
    match src.registry(SECURE_BOOT_STATE) {
        Ok(state) => hw.secure_boot = hardware::secure_boot(state.as_ref(), hw.uefi),
        Err(e) => fail(
            "hardware.secure_boot",
            format!("HKLM\\{SECURE_BOOT_STATE}: {e}"),
        ),
    }
    if hw.uefi.is_none() {
        fail("hardware.uefi", "PEFirmwareType is not set".into());
    }

    // Installed updates.
    match src.wmi(
        CIMV2,
        "SELECT HotFixID, Description, InstalledOn FROM Win32_QuickFixEngineering",
    ) {
        Ok(rows) => report.patches.installed = qfe::from_wmi(&rows),
        Err(e) => fail(
            "patches.installed",
            format!("Win32_QuickFixEngineering: {e}"),
        ),
    }
    // Pending updates and history.
    let patches = &mut report.patches;
    match src.windows_update(wua_limit) {
        Ok(result) => {
            let pending = wua::pending(&result.pending);
            patches.pending_count = u32::try_from(pending.len()).ok();
            patches.pending_security_count =
                u32::try_from(pending.iter().filter(|p| p.security).count()).ok();
            patches.pending = pending;
            patches.last_installed_at = wua::last_successful_install(&result.history);
            patches.reboot_pending = result.reboot_required;
        }
        Err(e) => fail(
            "patches.pending_count",
            format!("Windows Update Agent: {e}"),
        ),
    }
    if patches.last_installed_at.is_none() {
        // The newest InstalledOn, at midnight UTC: a day is what Win32_QuickFixEngineering knows.
        patches.last_installed_at = patches
            .installed
            .iter()
            .filter_map(|u| u.installed_on)
            .max()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
    }
    if patches.reboot_pending.is_none() {
        let mut any = Some(false);
        for path in REBOOT_KEYS {
            match src.registry(path) {
                Ok(Some(_)) => any = any.map(|_| true),
                Ok(None) => {}
                Err(e) => {
                    fail("patches.reboot_pending", format!("HKLM\\{path}: {e}"));
                    any = None;
                    break;
                }
            }
        }
        patches.reboot_pending = any;
    }

    // Security.
    let sec = &mut report.security;
    let mut smb = security::Smb1Facts::default();
    match src.registry(LANMAN_SERVER) {
        Ok(Some(k)) => {
            smb.registry_read = true;
            smb.registry_smb1 = k.dword("SMB1");
        }
        Ok(None) => {}
        Err(e) => fail(
            "security.smb1_server_enabled",
            format!("HKLM\\{LANMAN_SERVER}: {e}"),
        ),
    }
    match src.wmi(
        CIMV2,
        "SELECT Name, InstallState FROM Win32_OptionalFeature WHERE Name LIKE 'SMB1Protocol%'",
    ) {
        Ok(rows) => smb.feature_state = security::smb1_feature_state(&rows),
        Err(e) => fail(
            "security.smb1_server_enabled",
            format!("Win32_OptionalFeature: {e}"),
        ),
    }
    if smb.feature_state != Some(2) && smb.feature_state != Some(3) {
        match first_row(
            src,
            SMB_NS,
            "SELECT EnableSMB1Protocol FROM MSFT_SmbServerConfiguration",
        ) {
            Ok(row) => smb.server_config = row.and_then(|r| r.bool("EnableSMB1Protocol")),
            Err(e) => fail(
                "security.smb1_server_enabled",
                format!("MSFT_SmbServerConfiguration: {e}"),
            ),
        }
    }
    sec.smb1_server_enabled = security::smb1_server_enabled(&smb);
    match src.system_file_version(r"drivers\srv.sys") {
        Ok(v) => sec.srv_sys_version = v,
        Err(e) => fail("security.srv_sys_version", format!("srv.sys: {e}")),
    }
    let read = |path: String, fail: &mut dyn FnMut(&str, String)| match src.registry(&path) {
        Ok(k) => k,
        Err(e) => {
            fail("security.firewall_profiles", format!("HKLM\\{path}: {e}"));
            None
        }
    };
    let local = ["DomainProfile", "StandardProfile", "PublicProfile"]
        .map(|p| read(format!(r"{FIREWALL_LOCAL}\{p}"), &mut fail));
    let policy = ["DomainProfile", "PrivateProfile", "PublicProfile"]
        .map(|p| read(format!(r"{FIREWALL_POLICY}\{p}"), &mut fail));
    sec.firewall_profiles = security::firewall_profiles(
        [local[0].as_ref(), local[1].as_ref(), local[2].as_ref()],
        [policy[0].as_ref(), policy[1].as_ref(), policy[2].as_ref()],
    );
    sec.firewall_enabled = if sec.firewall_profiles.is_empty() {
        fail(
            "security.firewall_enabled",
            "no firewall profile has EnableFirewall set".into(),
        );
        None
    } else {
        Some(sec.firewall_profiles.iter().any(|p| p.enabled))
    };
    match src.wmi(BITLOCKER_NS, "SELECT DriveLetter, DeviceID, VolumeType, ProtectionStatus, EncryptionMethod FROM Win32_EncryptableVolume") {
        Ok(rows) => {
            let (volumes, system) = security::bitlocker(&rows, Some(&system_drive));
            sec.encrypted_volumes = volumes;
            sec.system_disk_encrypted = system;
        }
        Err(e) => fail("security.encrypted_volumes", format!("Win32_EncryptableVolume: {e}")),
    }
}

fn first_row(src: &dyn WindowsSource, ns: &str, query: &str) -> Result<Option<WmiRow>, String> {
    src.wmi(ns, query).map(|rows| rows.into_iter().next())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::windows_parse::{RegValue, WmiValue, key, row};
    use super::*;

    /// A machine made of registry keys and WMI rows; anything not in it fails like Wine does.
    #[derive(Default)]
    struct Fake {
        registry: BTreeMap<String, RegKey>,
        wmi: BTreeMap<String, Vec<WmiRow>>,
        srv: Option<String>,
        wua: Option<WuaResult>,
    }

    impl WindowsSource for Fake {
        fn registry(&self, path: &str) -> Result<Option<RegKey>, String> {
            Ok(self.registry.get(path).cloned())
        }
        fn wmi(&self, namespace: &str, query: &str) -> Result<Vec<WmiRow>, String> {
            let class = query
                .split(" FROM ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_default();
            self.wmi
                .get(class)
                .cloned()
                .ok_or_else(|| format!("{namespace}: invalid class (0x80041010)"))
        }
        fn system_file_version(&self, _: &str) -> Result<Option<String>, String> {
            Ok(self.srv.clone())
        }
        fn windows_update(&self, limit: Duration) -> Result<WuaResult, String> {
            self.wua
                .clone()
                .ok_or_else(|| format!("no answer within {} s", limit.as_secs()))
        }
    }

    fn s(v: &str) -> WmiValue {
        WmiValue::Str(v.into())
    }

    fn win11_pc() -> Fake {
        let mut f = Fake::default();
        f.registry.insert(
            CURRENT_VERSION.into(),
            key([
                ("ProductName", RegValue::Str("Windows 10 Enterprise".into())),
                ("CurrentBuildNumber", RegValue::Str("22631".into())),
                ("DisplayVersion", RegValue::Str("23H2".into())),
                ("ReleaseId", RegValue::Str("2009".into())),
                ("UBR", RegValue::Dword(3007)),
                ("InstallationType", RegValue::Str("Client".into())),
            ]),
        );
        f.registry.insert(
            CONTROL.into(),
            key([("PEFirmwareType", RegValue::Dword(2))]),
        );
        f.registry.insert(
            SECURE_BOOT_STATE.into(),
            key([("UEFISecureBootEnabled", RegValue::Dword(1))]),
        );
        f.registry.insert(LANMAN_SERVER.into(), RegKey::default());
        for p in ["DomainProfile", "StandardProfile", "PublicProfile"] {
            f.registry.insert(
                format!(r"{FIREWALL_LOCAL}\{p}"),
                key([("EnableFirewall", RegValue::Dword(1))]),
            );
        }
        f.wmi.insert(
            "Win32_OperatingSystem".into(),
            vec![row([
                ("SystemDrive", s("C:")),
                ("Caption", s("Microsoft Windows 11 Enterprise")),
            ])],
        );
        f.wmi.insert(
            "Win32_ComputerSystem".into(),
            vec![row([
                ("Manufacturer", s("HP")),
                ("Model", s("EliteDesk 800 G6")),
                ("DNSHostName", s("WS-0001")),
            ])],
        );
        f.wmi.insert(
            "Win32_QuickFixEngineering".into(),
            vec![row([
                ("HotFixID", s("KB5034123")),
                ("Description", s("Security Update")),
                ("InstalledOn", s("1/10/2024")),
            ])],
        );
        f.wmi.insert(
            "Win32_OptionalFeature".into(),
            vec![row([
                ("Name", s("SMB1Protocol")),
                ("InstallState", WmiValue::UInt(2)),
            ])],
        );
        f.wmi.insert(
            "Win32_Tpm".into(),
            vec![row([
                ("SpecVersion", s("2.0, 0, 1.38")),
                ("IsEnabled_InitialValue", WmiValue::Bool(true)),
                ("IsActivated_InitialValue", WmiValue::Bool(true)),
            ])],
        );
        f.wmi.insert(
            "Win32_LogicalDisk".into(),
            vec![row([
                ("DeviceID", s("C:")),
                ("DriveType", WmiValue::UInt(3)),
                ("FileSystem", s("NTFS")),
                ("Size", s("500000000000")),
                ("FreeSpace", s("1000")),
            ])],
        );
        f.wmi.insert(
            "MSFT_PhysicalDisk".into(),
            vec![row([("MediaType", WmiValue::UInt(4))])],
        );
        f.wmi.insert(
            "Win32_EncryptableVolume".into(),
            vec![row([
                ("DriveLetter", s("C:")),
                ("VolumeType", WmiValue::UInt(0)),
                ("ProtectionStatus", WmiValue::UInt(1)),
                ("EncryptionMethod", WmiValue::UInt(7)),
            ])],
        );
        f
    }

    #[test]
    fn a_windows_11_pc_fills_the_report() {
        let mut f = win11_pc();
        f.wua = Some(WuaResult {
            pending: vec![wua::WuaUpdate {
                title: "2024-02 Cumulative Update (KB5034765)".into(),
                msrc_severity: Some("Important".into()),
                categories: vec!["Security Updates".into()],
            }],
            history: vec![],
            reboot_required: Some(false),
        });
        let mut report = crate::collect::tests::empty_report();
        collect(&f, Duration::from_secs(1), &mut report);
        assert_eq!(report.os.family, OsFamily::Windows);
        assert_eq!(report.os.name.as_deref(), Some("Windows 11 Enterprise"));
        assert_eq!(report.os.display_version.as_deref(), Some("23H2"));
        assert_eq!(report.os.revision, Some(3007));
        assert_eq!(report.hardware.manufacturer.as_deref(), Some("HP"));
        assert_eq!(report.host.hostname.as_deref(), Some("WS-0001"));
        assert_eq!(report.hardware.uefi, Some(true));
        assert_eq!(report.hardware.secure_boot, Some(true));
        assert_eq!(report.hardware.tpm.version.as_deref(), Some("2.0"));
        assert_eq!(report.hardware.disks.len(), 1);
        assert!(report.hardware.disks[0].system);
        assert_eq!(report.patches.installed.len(), 1);
        assert_eq!(report.patches.pending_count, Some(1));
        assert_eq!(report.patches.pending_security_count, Some(1));
        assert_eq!(report.patches.reboot_pending, Some(false));
        assert_eq!(
            report
                .patches
                .last_installed_at
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2024-01-10T00:00:00+00:00")
        );
        assert_eq!(report.security.smb1_server_enabled, Some(false));
        assert_eq!(report.security.firewall_enabled, Some(true));
        assert_eq!(report.security.firewall_profiles.len(), 3);
        assert_eq!(report.security.system_disk_encrypted, Some(true));
        // Only what the fake lacks is an error: BIOS, enclosure, processor, product, SMB config.
        let fields: Vec<&str> = report.errors.iter().map(|e| e.field.as_str()).collect();
        assert!(!fields.contains(&"os"), "{fields:?}");
        assert!(
            !fields.iter().any(|f| f.starts_with("patches")),
            "{fields:?}"
        );
        assert!(fields.contains(&"hardware.bios"), "{fields:?}");
    }

    #[test]
    fn a_silent_windows_update_agent_is_an_error_not_a_hang() {
        let mut f = win11_pc();
        f.registry.insert(REBOOT_KEYS[0].into(), RegKey::default());
        let mut report = crate::collect::tests::empty_report();
        collect(&f, Duration::from_secs(7), &mut report);
        let e = report
            .errors
            .iter()
            .find(|e| e.field == "patches.pending_count")
            .expect("error entry");
        assert_eq!(e.reason, "Windows Update Agent: no answer within 7 s");
        assert_eq!(report.patches.pending_count, None);
        assert_eq!(
            report.patches.reboot_pending,
            Some(true),
            "from the registry"
        );
    }

    #[test]
    fn nothing_answers_and_the_report_still_validates() {
        let mut report = crate::collect::tests::empty_report();
        collect(&Fake::default(), Duration::from_secs(1), &mut report);
        assert_eq!(report.os.family, OsFamily::Windows);
        assert!(report.errors.iter().any(|e| e.field == "os"));
        report
            .validate(&ward_shared::Limits::V1, chrono::Utc::now())
            .expect("valid");
    }
}
