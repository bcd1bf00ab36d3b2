//! The OS from `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, with the known quirks
//! corrected (DOMAIN.md section 3):
//!
//! - Windows 11 keeps "Windows 10" in `ProductName`: a client build of 22000 or later is
//!   Windows 11 whatever the name says.
//! - `ReleaseId` is frozen at "2009" from 20H2 on: `DisplayVersion` is read first.
//! - `CurrentVersion` is frozen at "6.3" on Windows 10/11: the major/minor DWORDs are read first.

use ward_shared::Os;

use super::{RegKey, WmiRow, dates, non_empty};

/// Builds of 22000 and later on a client are Windows 11.
pub const FIRST_WINDOWS_11_BUILD: u32 = 22000;

/// Fills `os` from the CurrentVersion key. `caption` is `Win32_OperatingSystem.Caption` when it
/// was read (used only when the registry has no product name).
pub fn fill_from_registry(os: &mut Os, cv: &RegKey, caption: Option<&str>) {
    os.id = Some("windows".into());
    os.build = cv
        .str("CurrentBuildNumber")
        .or_else(|| cv.str("CurrentBuild"));
    os.revision = cv.dword("UBR");
    os.edition = cv.str("EditionID");
    os.installation_type = cv.str("InstallationType");
    os.display_version = cv.str("DisplayVersion").or_else(|| cv.str("ReleaseId"));
    os.service_pack = cv.str("CSDVersion");
    os.version = match (
        cv.dword("CurrentMajorVersionNumber"),
        cv.dword("CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => Some(format!("{major}.{minor}")),
        _ => cv.str("CurrentVersion"),
    };
    os.install_date = cv
        .get("InstallTime")
        .and_then(|v| match v {
            super::RegValue::Qword(t) => dates::filetime(*t),
            _ => None,
        })
        .or_else(|| {
            cv.dword("InstallDate")
                .and_then(|s| dates::unix_seconds(s.into()))
        });

    let name = cv
        .str("ProductName")
        .or_else(|| caption.and_then(non_empty))
        .map(|n| n.trim_start_matches("Microsoft ").trim().to_owned());
    let build: Option<u32> = os.build.as_deref().and_then(|b| b.parse().ok());
    os.name = name.map(|n| product_name(&n, build, os.installation_type.as_deref()));
}

/// `ProductName` corrected for Windows 11 ("Windows 10 Pro" on build 22621 -> "Windows 11 Pro").
pub fn product_name(name: &str, build: Option<u32>, installation_type: Option<&str>) -> String {
    let server = installation_type.is_some_and(|t| t.to_ascii_lowercase().starts_with("server"))
        || name.contains("Server");
    match (name.strip_prefix("Windows 10"), build) {
        (Some(rest), Some(b)) if b >= FIRST_WINDOWS_11_BUILD && !server => {
            format!("Windows 11{rest}")
        }
        _ => name.to_owned(),
    }
}

/// Reconciles with `Win32_OperatingSystem` (Caption, Version, BuildNumber, CSDVersion,
/// InstallDate, LastBootUpTime), which reports the running kernel's version.
///
/// The registry is self-reported (DOMAIN.md 3a): when its `CurrentBuildNumber` differs from the
/// running system's, the running system wins, the registry-only fields (UBR, DisplayVersion,
/// EditionID) are dropped as describing another OS, and the returned note says so. That happens
/// on an edited registry and under Wine told to be another Windows version.
/// Otherwise WMI only fills what the registry left empty.
pub fn fill_from_wmi(os: &mut Os, row: &WmiRow) -> Option<String> {
    let running_build = row.str("BuildNumber");
    let caption_name = |os: &Os| {
        let build = row.str("BuildNumber").and_then(|b| b.parse().ok());
        row.str("Caption").map(|c| {
            product_name(
                c.trim_start_matches("Microsoft ").trim(),
                build,
                os.installation_type.as_deref(),
            )
        })
    };
    // "10.0.19045" -> "10.0"
    let short_version = row
        .str("Version")
        .map(|v| v.splitn(3, '.').take(2).collect::<Vec<_>>().join("."));
    if let Some(version) = row.str("Version") {
        os.kernel = Some(version);
    }
    let mut note = None;
    if let (Some(registry), Some(running)) = (&os.build, &running_build)
        && registry != running
    {
        note = Some(format!(
            "the registry's CurrentBuildNumber {registry} is not the running system's build \
             {running}; reporting the running system and leaving out UBR, DisplayVersion and \
             EditionID"
        ));
        os.build = Some(running.clone());
        os.version = short_version.clone();
        os.name = caption_name(os).or(os.name.take());
        os.service_pack = row.str("CSDVersion");
        os.revision = None;
        os.display_version = None;
        os.edition = None;
    }
    if os.name.is_none() {
        os.name = caption_name(os);
    }
    if os.build.is_none() {
        os.build = running_build;
    }
    if os.version.is_none() {
        os.version = short_version;
    }
    if os.install_date.is_none() {
        os.install_date = row.str("InstallDate").and_then(|d| dates::cim_datetime(&d));
    }
    if os.boot_time.is_none() {
        os.boot_time = row
            .str("LastBootUpTime")
            .and_then(|d| dates::cim_datetime(&d));
    }
    note
}

/// The marketing generation a build belongs to, for display: "Windows 11" from 22000 on a client.
pub fn is_windows_11(build: Option<&str>, installation_type: Option<&str>) -> bool {
    let server = installation_type.is_some_and(|t| t.to_ascii_lowercase().starts_with("server"));
    !server
        && build
            .and_then(|b| b.parse::<u32>().ok())
            .is_some_and(|b| b >= FIRST_WINDOWS_11_BUILD)
}

#[cfg(test)]
mod tests {
    use super::super::{RegValue, WmiValue, key, row};
    use super::*;

    fn s(v: &str) -> RegValue {
        RegValue::Str(v.into())
    }

    /// A Windows 11 23H2 Enterprise machine as `reg query` shows it.
    fn win11_23h2() -> RegKey {
        key([
            ("ProductName", s("Windows 10 Enterprise")),
            ("EditionID", s("Enterprise")),
            ("DisplayVersion", s("23H2")),
            ("ReleaseId", s("2009")),
            ("CurrentBuildNumber", s("22631")),
            ("CurrentBuild", s("22631")),
            ("UBR", RegValue::Dword(3007)),
            ("CurrentVersion", s("6.3")),
            ("CurrentMajorVersionNumber", RegValue::Dword(10)),
            ("CurrentMinorVersionNumber", RegValue::Dword(0)),
            ("InstallationType", s("Client")),
            ("InstallDate", RegValue::Dword(1_700_000_000)),
        ])
    }

    #[test]
    fn windows_11_is_named_by_build_not_product_name() {
        let mut os = Os::default();
        fill_from_registry(&mut os, &win11_23h2(), None);
        assert_eq!(os.name.as_deref(), Some("Windows 11 Enterprise"));
        assert_eq!(os.display_version.as_deref(), Some("23H2"));
        assert_eq!(os.build.as_deref(), Some("22631"));
        assert_eq!(os.revision, Some(3007));
        assert_eq!(os.version.as_deref(), Some("10.0"));
        assert_eq!(os.edition.as_deref(), Some("Enterprise"));
        assert_eq!(os.installation_type.as_deref(), Some("Client"));
        assert_eq!(
            os.install_date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2023-11-14T22:13:20+00:00")
        );
        assert_eq!(os.id.as_deref(), Some("windows"));
    }

    #[test]
    fn windows_10_1909_uses_release_id_and_keeps_its_name() {
        let mut os = Os::default();
        fill_from_registry(
            &mut os,
            &key([
                ("ProductName", s("Windows 10 Pro")),
                ("EditionID", s("Professional")),
                ("ReleaseId", s("1909")),
                ("CurrentBuildNumber", s("18363")),
                ("UBR", RegValue::Dword(1556)),
                ("CurrentVersion", s("6.3")),
                ("CurrentMajorVersionNumber", RegValue::Dword(10)),
                ("CurrentMinorVersionNumber", RegValue::Dword(0)),
                ("InstallationType", s("Client")),
            ]),
            None,
        );
        assert_eq!(os.name.as_deref(), Some("Windows 10 Pro"));
        assert_eq!(os.display_version.as_deref(), Some("1909"));
        assert_eq!(os.revision, Some(1556));
    }

    #[test]
    fn server_2025_on_a_windows_11_build_stays_server() {
        let mut os = Os::default();
        fill_from_registry(
            &mut os,
            &key([
                ("ProductName", s("Windows Server 2025 Datacenter")),
                ("EditionID", s("ServerDatacenter")),
                ("DisplayVersion", s("24H2")),
                ("CurrentBuildNumber", s("26100")),
                ("InstallationType", s("Server")),
            ]),
            None,
        );
        assert_eq!(os.name.as_deref(), Some("Windows Server 2025 Datacenter"));
        assert!(!is_windows_11(
            os.build.as_deref(),
            os.installation_type.as_deref()
        ));
        assert!(is_windows_11(Some("26100"), Some("Client")));
    }

    #[test]
    fn windows_7_as_wine_reports_it() {
        // Wine 8's default prefix: no major/minor DWORDs, no DisplayVersion.
        let mut os = Os::default();
        fill_from_registry(
            &mut os,
            &key([
                ("ProductName", s("Microsoft Windows 7")),
                ("CSDVersion", s("Service Pack 1")),
                ("CurrentBuildNumber", s("7601")),
                ("CurrentVersion", s("6.1")),
            ]),
            None,
        );
        assert_eq!(os.name.as_deref(), Some("Windows 7"));
        assert_eq!(os.version.as_deref(), Some("6.1"));
        assert_eq!(os.service_pack.as_deref(), Some("Service Pack 1"));
        assert_eq!(os.revision, None);
        assert_eq!(os.display_version, None);
    }

    #[test]
    fn wmi_fills_only_the_gaps() {
        let mut os = Os::default();
        let wmi = row([
            ("Caption", WmiValue::Str("Microsoft Windows 11 Pro".into())),
            ("Version", WmiValue::Str("10.0.22631".into())),
            ("BuildNumber", WmiValue::Str("22631".into())),
            (
                "LastBootUpTime",
                WmiValue::Str("20240115093000.500000+060".into()),
            ),
        ]);
        assert_eq!(fill_from_wmi(&mut os, &wmi), None);
        assert_eq!(os.name.as_deref(), Some("Windows 11 Pro"));
        assert_eq!(os.kernel.as_deref(), Some("10.0.22631"));
        assert_eq!(os.version.as_deref(), Some("10.0"));
        assert_eq!(os.build.as_deref(), Some("22631"));
        assert_eq!(
            os.boot_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-01-15T08:30:00+00:00")
        );

        let mut os = Os::default();
        fill_from_registry(&mut os, &win11_23h2(), None);
        assert_eq!(fill_from_wmi(&mut os, &wmi), None);
        assert_eq!(os.name.as_deref(), Some("Windows 11 Enterprise"));
        assert_eq!(os.revision, Some(3007));
    }

    #[test]
    fn the_running_build_wins_over_a_registry_describing_another_os() {
        // Wine with HKCU\Software\Wine Version=win10: the registry still says Windows 7.
        let mut os = Os::default();
        fill_from_registry(
            &mut os,
            &key([
                ("ProductName", s("Microsoft Windows 7")),
                ("CSDVersion", s("Service Pack 1")),
                ("CurrentBuildNumber", s("7601")),
                ("CurrentVersion", s("6.1")),
                ("UBR", RegValue::Dword(24000)),
            ]),
            None,
        );
        let note = fill_from_wmi(
            &mut os,
            &row([
                ("Caption", WmiValue::Str("Microsoft Windows 10 Pro".into())),
                ("Version", WmiValue::Str("10.0.18362".into())),
                ("BuildNumber", WmiValue::Str("18362".into())),
            ]),
        );
        assert!(note.is_some_and(|n| n.contains("7601") && n.contains("18362")));
        assert_eq!(os.name.as_deref(), Some("Windows 10 Pro"));
        assert_eq!(os.build.as_deref(), Some("18362"));
        assert_eq!(os.version.as_deref(), Some("10.0"));
        assert_eq!(os.revision, None);
        assert_eq!(os.service_pack, None);
    }
}
