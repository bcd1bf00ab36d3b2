//! Hardware from WMI rows: `Win32_ComputerSystem`, `Win32_ComputerSystemProduct`, `Win32_BIOS`,
//! `Win32_SystemEnclosure`, `Win32_Processor`, `Win32_LogicalDisk` (fixed disks),
//! `MSFT_PhysicalDisk` (SSD or HDD), `Win32_Tpm`, and the firmware registry values.
//! SMBIOS placeholders ("To be filled by O.E.M.") are dropped as on Linux ([`crate::collect::dmi`]).

use ward_shared::{Disk, DiskKind, Hardware, Host};

use super::{RegKey, WmiRow, dates};
use crate::collect::dmi;

/// `Win32_ComputerSystem`: manufacturer, model, RAM; host name and domain.
pub fn computer_system(hw: &mut Hardware, host: &mut Host, row: &WmiRow) {
    hw.manufacturer = row.str("Manufacturer").and_then(|s| dmi::clean(&s));
    hw.model = row.str("Model").and_then(|s| dmi::clean(&s));
    if let Some(ram) = row.u64("TotalPhysicalMemory").filter(|b| *b > 0) {
        hw.ram_bytes = Some(ram);
    }
    let name = row.str("DNSHostName").or_else(|| row.str("Name"));
    if host.hostname.is_none() {
        host.hostname = name.clone();
    }
    // Domain is the workgroup name when PartOfDomain is false.
    if row.bool("PartOfDomain") == Some(true) {
        host.domain = row.str("Domain").map(|d| d.to_ascii_lowercase());
        if let (Some(h), Some(d)) = (&name, &host.domain) {
            host.fqdn = Some(format!("{}.{d}", h.to_ascii_lowercase()));
        }
    }
}

/// `Win32_ComputerSystemProduct.UUID` (SMBIOS system UUID).
pub fn system_product(host: &mut Host, row: &WmiRow) {
    host.hardware_uuid = row
        .str("UUID")
        .and_then(|u| dmi::clean(&u))
        .map(|u| u.to_ascii_lowercase());
}

/// `Win32_BIOS`: vendor, SMBIOS version, release date (CIM_DATETIME), serial number.
pub fn bios(hw: &mut Hardware, row: &WmiRow) {
    hw.bios.vendor = row.str("Manufacturer").and_then(|s| dmi::clean(&s));
    hw.bios.version = row
        .str("SMBIOSBIOSVersion")
        .or_else(|| row.str("Version"))
        .and_then(|s| dmi::clean(&s));
    hw.bios.release_date = row
        .str("ReleaseDate")
        .and_then(|d| dates::cim_datetime(&d))
        .map(|t| t.date_naive());
    if hw.serial.is_none() {
        hw.serial = row.str("SerialNumber").and_then(|s| dmi::clean(&s));
    }
}

/// `Win32_SystemEnclosure`: the first known chassis type, and the serial when the BIOS had none.
pub fn enclosure(hw: &mut Hardware, row: &WmiRow) {
    hw.chassis_type = row
        .u64_array("ChassisTypes")
        .into_iter()
        .find_map(|c| dmi::chassis_type(&c.to_string()))
        .map(str::to_owned);
    if hw.serial.is_none() {
        hw.serial = row.str("SerialNumber").and_then(|s| dmi::clean(&s));
    }
}

/// `Win32_Processor` (one row per socket): brand, vendor, identifier, cores, threads, clock.
pub fn processors(hw: &mut Hardware, rows: &[WmiRow]) {
    let Some(first) = rows.first() else {
        return;
    };
    let cpu = &mut hw.cpu;
    if let Some(name) = first.str("Name") {
        cpu.brand = Some(name);
    }
    if let Some(vendor) = first.str("Manufacturer") {
        cpu.vendor = Some(vendor);
    }
    // Caption is "Intel64 Family 6 Model 158 Stepping 9", the registry's Identifier form.
    cpu.identifier = first.str("Caption").filter(|c| c.contains("Family"));
    let sum = |name: &str| -> Option<u32> {
        rows.iter()
            .map(|r| r.u32(name))
            .sum::<Option<u32>>()
            .filter(|n| *n > 0)
    };
    cpu.cores = sum("NumberOfCores").or(cpu.cores);
    cpu.threads = sum("NumberOfLogicalProcessors").or(cpu.threads);
    cpu.max_clock_mhz = first.u32("MaxClockSpeed").filter(|n| *n > 0);
}

/// Fixed disks from `Win32_LogicalDisk WHERE DriveType = 3`. `system_drive` is
/// `Win32_OperatingSystem.SystemDrive` ("C:"). `media` is the media type of every physical disk
/// (`MSFT_PhysicalDisk.MediaType`: 3 HDD, 4 SSD); it is given to each volume when all physical
/// disks agree, since mapping volumes to disks needs the partition associations.
pub fn logical_disks(rows: &[WmiRow], system_drive: Option<&str>, media: &[u64]) -> Vec<Disk> {
    let kind = match media {
        [first, rest @ ..] if rest.iter().all(|m| m == first) => media_kind(*first),
        _ => DiskKind::Unknown,
    };
    rows.iter()
        .filter(|r| r.u64("DriveType").is_none_or(|t| t == 3))
        .filter_map(|r| {
            let name = r.str("DeviceID")?;
            let size = r.u64("Size").filter(|s| *s > 0)?;
            Some(Disk {
                mount_point: Some(format!("{name}\\")),
                system: system_drive.is_some_and(|s| s.eq_ignore_ascii_case(&name)),
                file_system: r.str("FileSystem").map(|f| f.to_ascii_lowercase()),
                size_bytes: Some(size),
                free_bytes: r.u64("FreeSpace"),
                kind,
                name,
            })
        })
        .collect()
}

/// `MSFT_PhysicalDisk.MediaType`: 3 HDD, 4 SSD, 5 SCM (storage-class memory, counted as SSD).
pub fn media_kind(code: u64) -> DiskKind {
    match code {
        3 => DiskKind::Hdd,
        4 | 5 => DiskKind::Ssd,
        _ => DiskKind::Unknown,
    }
}

/// `Win32_Tpm` (namespace `root\cimv2\Security\MicrosoftTpm`; needs administrator rights). No row
/// means no TPM. `SpecVersion` is "2.0, 0, 1.38": the first item is the spec version.
pub fn tpm(hw: &mut Hardware, rows: &[WmiRow]) {
    let Some(row) = rows.first() else {
        hw.tpm.present = Some(false);
        return;
    };
    hw.tpm.present = Some(true);
    hw.tpm.version = row
        .str("SpecVersion")
        .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
        .filter(|v| !v.is_empty());
    hw.tpm.enabled = row.bool("IsEnabled_InitialValue");
    hw.tpm.activated = row.bool("IsActivated_InitialValue");
}

/// UEFI or legacy boot from `HKLM\SYSTEM\CurrentControlSet\Control` `PEFirmwareType`
/// (1 BIOS, 2 UEFI); `None` when absent or another value.
pub fn uefi(control: &RegKey) -> Option<bool> {
    match control.dword("PEFirmwareType")? {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

/// Secure Boot from `...\Control\SecureBoot\State` `UEFISecureBootEnabled`. The key is absent
/// on legacy-BIOS machines, which cannot have Secure Boot on.
pub fn secure_boot(state: Option<&RegKey>, uefi: Option<bool>) -> Option<bool> {
    match state.and_then(|k| k.dword("UEFISecureBootEnabled")) {
        Some(v) => Some(v == 1),
        None if uefi == Some(false) => Some(false),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RegValue, WmiValue, key, row};
    use super::*;

    fn s(v: &str) -> WmiValue {
        WmiValue::Str(v.into())
    }

    #[test]
    fn a_dell_optiplex() {
        let mut hw = Hardware::default();
        let mut host = Host::default();
        computer_system(
            &mut hw,
            &mut host,
            &row([
                ("Manufacturer", s("Dell Inc.")),
                ("Model", s("OptiPlex 7060")),
                ("TotalPhysicalMemory", s("17041866752")),
                ("DNSHostName", s("WS-RAD-0042")),
                ("Domain", s("TRUST.NHS.UK")),
                ("PartOfDomain", WmiValue::Bool(true)),
            ]),
        );
        system_product(
            &mut host,
            &row([("UUID", s("4C4C4544-0042-3510-8051-B4C04F4E4B32"))]),
        );
        bios(
            &mut hw,
            &row([
                ("Manufacturer", s("Dell Inc.")),
                ("SMBIOSBIOSVersion", s("1.25.0")),
                ("ReleaseDate", s("20230314000000.000000+000")),
                ("SerialNumber", s("5Q8BKN2")),
            ]),
        );
        enclosure(
            &mut hw,
            &row([
                ("ChassisTypes", WmiValue::Array(vec![WmiValue::UInt(3)])),
                ("SerialNumber", s("other")),
            ]),
        );
        processors(
            &mut hw,
            &[row([
                ("Name", s("Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz")),
                ("Manufacturer", s("GenuineIntel")),
                ("Caption", s("Intel64 Family 6 Model 158 Stepping 10")),
                ("NumberOfCores", WmiValue::UInt(6)),
                ("NumberOfLogicalProcessors", WmiValue::UInt(6)),
                ("MaxClockSpeed", WmiValue::UInt(3000)),
            ])],
        );
        assert_eq!(hw.manufacturer.as_deref(), Some("Dell Inc."));
        assert_eq!(hw.model.as_deref(), Some("OptiPlex 7060"));
        assert_eq!(hw.ram_bytes, Some(17_041_866_752));
        assert_eq!(hw.serial.as_deref(), Some("5Q8BKN2"));
        assert_eq!(hw.chassis_type.as_deref(), Some("Desktop"));
        assert_eq!(hw.bios.version.as_deref(), Some("1.25.0"));
        assert_eq!(
            hw.bios.release_date.map(|d| d.to_string()).as_deref(),
            Some("2023-03-14")
        );
        assert_eq!(
            hw.cpu.identifier.as_deref(),
            Some("Intel64 Family 6 Model 158 Stepping 10")
        );
        assert_eq!(hw.cpu.cores, Some(6));
        assert_eq!(hw.cpu.max_clock_mhz, Some(3000));
        assert_eq!(host.hostname.as_deref(), Some("WS-RAD-0042"));
        assert_eq!(host.domain.as_deref(), Some("trust.nhs.uk"));
        assert_eq!(host.fqdn.as_deref(), Some("ws-rad-0042.trust.nhs.uk"));
        assert_eq!(
            host.hardware_uuid.as_deref(),
            Some("4c4c4544-0042-3510-8051-b4c04f4e4b32")
        );
    }

    #[test]
    fn placeholders_and_workgroups_are_dropped() {
        let mut hw = Hardware::default();
        let mut host = Host::default();
        computer_system(
            &mut hw,
            &mut host,
            &row([
                ("Manufacturer", s("To be filled by O.E.M.")),
                ("Model", s("System Product Name")),
                ("Name", s("PC1")),
                ("Domain", s("WORKGROUP")),
                ("PartOfDomain", WmiValue::Bool(false)),
            ]),
        );
        enclosure(
            &mut hw,
            &row([
                (
                    "ChassisTypes",
                    WmiValue::Array(vec![WmiValue::UInt(2), WmiValue::UInt(10)]),
                ),
                ("SerialNumber", s("Default string")),
            ]),
        );
        assert_eq!(hw.manufacturer, None);
        assert_eq!(hw.model, None);
        assert_eq!(hw.serial, None);
        assert_eq!(hw.chassis_type.as_deref(), Some("Notebook"));
        assert_eq!(host.hostname.as_deref(), Some("PC1"));
        assert_eq!(host.domain, None);
    }

    #[test]
    fn two_sockets_add_up() {
        let mut hw = Hardware::default();
        let socket = || {
            row([
                ("Name", s("Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz")),
                ("NumberOfCores", WmiValue::UInt(12)),
                ("NumberOfLogicalProcessors", WmiValue::UInt(24)),
            ])
        };
        processors(&mut hw, &[socket(), socket()]);
        assert_eq!(hw.cpu.cores, Some(24));
        assert_eq!(hw.cpu.threads, Some(48));
        assert_eq!(hw.cpu.identifier, None);
    }

    #[test]
    fn fixed_disks_and_media() {
        let rows = [
            row([
                ("DeviceID", s("C:")),
                ("DriveType", WmiValue::UInt(3)),
                ("FileSystem", s("NTFS")),
                ("Size", s("255465435136")),
                ("FreeSpace", s("101234567168")),
            ]),
            row([
                ("DeviceID", s("D:")),
                ("DriveType", WmiValue::UInt(3)),
                ("FileSystem", s("NTFS")),
                ("Size", s("1000202039296")),
                ("FreeSpace", s("5")),
            ]),
            // A card reader with no medium: no size.
            row([("DeviceID", s("E:")), ("DriveType", WmiValue::UInt(3))]),
        ];
        let disks = logical_disks(&rows, Some("C:"), &[4]);
        assert_eq!(disks.len(), 2);
        assert!(disks[0].system && !disks[1].system);
        assert_eq!(disks[0].mount_point.as_deref(), Some("C:\\"));
        assert_eq!(disks[0].file_system.as_deref(), Some("ntfs"));
        assert_eq!(disks[0].size_bytes, Some(255_465_435_136));
        assert_eq!(disks[0].kind, DiskKind::Ssd);
        assert_eq!(
            logical_disks(&rows, None, &[4, 3])[0].kind,
            DiskKind::Unknown
        );
        assert_eq!(logical_disks(&rows, None, &[3, 3])[0].kind, DiskKind::Hdd);
        assert_eq!(logical_disks(&rows, None, &[])[0].kind, DiskKind::Unknown);
    }

    #[test]
    fn tpm_rows() {
        let mut hw = Hardware::default();
        tpm(
            &mut hw,
            &[row([
                ("SpecVersion", s("2.0, 0, 1.38")),
                ("IsEnabled_InitialValue", WmiValue::Bool(true)),
                ("IsActivated_InitialValue", WmiValue::Bool(true)),
            ])],
        );
        assert_eq!(hw.tpm.present, Some(true));
        assert_eq!(hw.tpm.version.as_deref(), Some("2.0"));
        assert_eq!(hw.tpm.enabled, Some(true));
        assert_eq!(hw.tpm.activated, Some(true));
        let mut hw = Hardware::default();
        tpm(&mut hw, &[]);
        assert_eq!(hw.tpm.present, Some(false));
        assert_eq!(hw.tpm.version, None);
    }

    #[test]
    fn firmware_type_and_secure_boot() {
        let uefi_key = key([("PEFirmwareType", RegValue::Dword(2))]);
        assert_eq!(uefi(&uefi_key), Some(true));
        assert_eq!(
            uefi(&key([("PEFirmwareType", RegValue::Dword(1))])),
            Some(false)
        );
        assert_eq!(uefi(&RegKey::default()), None);
        let on = key([("UEFISecureBootEnabled", RegValue::Dword(1))]);
        let off = key([("UEFISecureBootEnabled", RegValue::Dword(0))]);
        assert_eq!(secure_boot(Some(&on), Some(true)), Some(true));
        assert_eq!(secure_boot(Some(&off), Some(true)), Some(false));
        assert_eq!(secure_boot(None, Some(false)), Some(false));
        assert_eq!(secure_boot(None, None), None);
    }
}
