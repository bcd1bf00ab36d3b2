//! Importers against real captures: every systeminfo and qfe file under
//! `../shared/realdata/systeminfo` parses with the OS, build, service pack, architecture and
//! hotfix count written here after reading each file; every nmap XML under
//! `../shared/realdata/nmap` parses or is refused with a reason. Skips when the captures are
//! absent.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ward_collector::import::{self, Format, Source};

fn realdata() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = workspace.join("../shared/realdata");
    p.is_dir().then_some(p)
}

fn now() -> DateTime<Utc> {
    "2026-12-01T00:00:00Z".parse().expect("time")
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// (file under realdata/systeminfo, host, OS name, version, build, service pack, architecture,
/// distinct hotfix ids). "" = not in the file.
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    usize,
);

const SYSTEMINFO: &[Expected] = &[
    (
        "7Ragnarok7__Windows-Exploit-Suggester-2/systeminfo.txt",
        "RETROWEB",
        "Microsoft Windows Server 2016 Standard",
        "10.0",
        "14393",
        "",
        "x86_64",
        1,
    ),
    (
        "CoderJSanchez__pentest_tools/systeminfo.txt",
        "LIVDA",
        "Microsoft Windows Server 2008 Standard",
        "6.0",
        "6001",
        "Service Pack 1",
        "x86",
        0,
    ),
    (
        "Karthika1991-SAM__windows-vm-task/systeminfo.txt",
        "EC2AMAZ-0A3MS1B",
        "Microsoft Windows Server 2025 Datacenter",
        "10.0",
        "26100",
        "",
        "x86_64",
        3,
    ),
    (
        "bitsadmin__wesng/validation/10_1803_x64_education_en-us_systeminfo.txt",
        "LAPTOP",
        "Microsoft Windows 10 Education",
        "10.0",
        "17134",
        "",
        "x86_64",
        5,
    ),
    (
        "bitsadmin__wesng/validation/10_1803_x64_enterprise_es-ar_20190307_systeminfo.txt",
        "",
        "Microsoft Windows 10 Enterprise",
        "10.0",
        "17134",
        "",
        "x86_64",
        6,
    ),
    (
        "bitsadmin__wesng/validation/10_1803_x64_pro_it_systeminfo.txt",
        "PC044",
        "Microsoft Windows 10 Pro",
        "10.0",
        "17134",
        "",
        "x86_64",
        10,
    ),
    (
        "bitsadmin__wesng/validation/10_1803_x64_proforworkstations_en-us_A_20190305_systeminfo.txt",
        "DESKTOP-OOF6NB5",
        "Microsoft Windows 10 Pro for Workstations",
        "10.0",
        "17134",
        "",
        "x86_64",
        4,
    ),
    (
        "bitsadmin__wesng/validation/10_1803_x64_proforworkstations_en-us_systeminfo.txt",
        "DESKTOP-OOF6NB5",
        "Microsoft Windows 10 Pro for Workstations",
        "10.0",
        "17134",
        "",
        "x86_64",
        0,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_education_en-us_20190306_systeminfo.txt",
        "LAPTOP",
        "Microsoft Windows 10 Education",
        "10.0",
        "17763",
        "",
        "x86_64",
        9,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_education_en-us_systeminfo.txt",
        "LAPTOP",
        "Microsoft Windows 10 Education",
        "10.0",
        "17763",
        "",
        "x86_64",
        6,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_education_es_systeminfo.txt",
        "",
        "Microsoft Windows 10 Education",
        "10.0",
        "17763",
        "",
        "x86_64",
        9,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_pro_en-us_20190307_systeminfo.txt",
        "DESKTOP-LOQ9L09",
        "Microsoft Windows 10 Pro",
        "10.0",
        "17763",
        "",
        "x86_64",
        5,
    ),
    (
        "bitsadmin__wesng/validation/10_21H1_x64_enterprise_systeminfo.txt",
        "DESKTOP-92B51CV",
        "Microsoft Windows 10 Enterprise",
        "10.0",
        "19043",
        "",
        "x86_64",
        4,
    ),
    (
        "bitsadmin__wesng/validation/10_22H2_x64_enterprise_en-us_systeminfo.txt",
        "DESKTOP-92B51CV",
        "Microsoft Windows 10 Enterprise",
        "10.0",
        "19045",
        "",
        "x86_64",
        1,
    ),
    (
        "bitsadmin__wesng/validation/11_21H2_x64_enterprise_systeminfo.txt",
        "WINXI21H2",
        "Microsoft Windows 11 Enterprise",
        "10.0",
        "22000",
        "",
        "x86_64",
        4,
    ),
    (
        "bitsadmin__wesng/validation/11_23H2_x64_enterprise_systeminfo.txt",
        "DESKTOP-JNEKK9U",
        "Microsoft Windows 11 Enterprise",
        "10.0",
        "22631",
        "",
        "x86_64",
        4,
    ),
    (
        "bitsadmin__wesng/validation/11_24H2_x64_enterprise_systeminfo.txt",
        "WINXI24H2LTSC",
        "Microsoft Windows 11 Enterprise LTSC",
        "10.0",
        "26100",
        "",
        "x86_64",
        3,
    ),
    (
        "bitsadmin__wesng/validation/7_sp1_x64_enterprise_en-us_20190305_systeminfo.txt",
        "WIN7SP1X64",
        "Microsoft Windows 7 Enterprise",
        "6.1",
        "7601",
        "Service Pack 1",
        "x86_64",
        245,
    ),
    (
        "bitsadmin__wesng/validation/7_sp1_x64_enterprise_en-us_A_systeminfo.txt",
        "WIN7SP1X64",
        "Microsoft Windows 7 Enterprise",
        "6.1",
        "7601",
        "Service Pack 1",
        "x86_64",
        219,
    ),
    (
        "bitsadmin__wesng/validation/7_sp1_x64_enterprise_fr_systeminfo_cmd.txt",
        "WIN-IDKKFN87EL8",
        "Microsoft Windows 7 Entreprise N",
        "6.1",
        "7601",
        "Service Pack 1",
        "x86_64",
        73,
    ),
    (
        "bitsadmin__wesng/validation/7_sp1_x86_enterprise_en-us_systeminfo.txt",
        "WIN7SP1X86",
        "Microsoft Windows 7 Enterprise",
        "6.1",
        "7601",
        "Service Pack 1",
        "x86",
        2,
    ),
    (
        "bitsadmin__wesng/validation/8.1_u1_x64_enterprise_en-us_systeminfo.txt",
        "WIN81U1X64",
        "Microsoft Windows 8.1 Enterprise",
        "6.3",
        "9600",
        "",
        "x86_64",
        6,
    ),
    (
        "bitsadmin__wesng/validation/srv_2003_rtm_x86_standard_en-us_systeminfo.txt",
        "WINSRV2K3SP0X86",
        "Microsoft Windows Server 2003, Standard Edition",
        "5.2",
        "3790",
        "",
        "x86",
        2,
    ),
    (
        "bitsadmin__wesng/validation/srv_2003_sp1_x64_standard_en-us_systeminfo.txt",
        "WINSRV2K3SP1X64",
        "Microsoft Windows Server 2003 Standard x64 Edition",
        "5.2",
        "3790",
        "Service Pack 1",
        "x86_64",
        1,
    ),
    (
        "bitsadmin__wesng/validation/srv_2003r2_sp2_rtm_x64_standard_en-us_systeminfo.txt",
        "SRV2K3R2SP2X64",
        "Microsoft Windows Server 2003 Standard x64 Edition",
        "5.2",
        "3790",
        "Service Pack 2",
        "x86_64",
        1,
    ),
    (
        "bitsadmin__wesng/validation/srv_2008_rtm_x64_standard_en-us_systeminfo.txt",
        "SRV2K8SP0X64",
        "Microsoft Windows Server 2008 Standard",
        "6.0",
        "6001",
        "Service Pack 1",
        "x86_64",
        1,
    ),
    (
        "bitsadmin__wesng/validation/srv_2008r2_sp1_x64_standard_en-us_systeminfo.txt",
        "SRV2K8R2SP1X64",
        "Microsoft Windows Server 2008 R2 Standard",
        "6.1",
        "7601",
        "Service Pack 1",
        "x86_64",
        2,
    ),
    (
        "bitsadmin__wesng/validation/srv_2012r2_u1_systeminfo.txt",
        "SRV12R2U1X64",
        "Microsoft Windows Server 2012 R2 Standard",
        "6.3",
        "9600",
        "",
        "x86_64",
        154,
    ),
    (
        "bitsadmin__wesng/validation/srv_2012r2_u1_systeminfo2.txt",
        "SRV12R2U1X64",
        "Microsoft Windows Server 2012 R2 Standard",
        "6.3",
        "9600",
        "",
        "x86_64",
        156,
    ),
    (
        "bitsadmin__wesng/validation/srv_2012r2_x64_standard_ru_systeminfo.txt",
        "DC",
        "Майкрософт Ознакомительная версия Windows Server 2012 R2 Standard",
        "6.3",
        "9600",
        "",
        "x86_64",
        7,
    ),
    (
        "bitsadmin__wesng/validation/srv_2016_1607_datacenter_en-us_systeminfo.txt",
        "MYSERVER",
        "Microsoft Windows Server 2016 Datacenter",
        "10.0",
        "14393",
        "",
        "x86_64",
        5,
    ),
    (
        "bitsadmin__wesng/validation/srv_2022_systeminfo.txt",
        "WIN-RIBN7SM07BK",
        "Microsoft Windows Server 2022 Standard",
        "10.0",
        "20348",
        "",
        "x86_64",
        3,
    ),
    (
        "bitsadmin__wesng/validation/vista_x64_sp0_systeminfo.txt",
        "WINVISTASP0X64",
        "Microsoft Windows Vista Enterprise",
        "6.0",
        "6000",
        "",
        "x86_64",
        104,
    ),
    (
        "bitsadmin__wesng/validation/vista_x64_sp2_systeminfo.txt",
        "WINVISTASP0X64",
        "Microsoft Windows Vista Enterprise",
        "6.0",
        "6002",
        "Service Pack 2",
        "x86_64",
        174,
    ),
    (
        "bitsadmin__wesng/validation/xp_rtm_x86_professional_en-us_systeminfo.txt",
        "WINXPSP0",
        "Microsoft Windows XP Professional",
        "5.1",
        "2600",
        "",
        "x86",
        2,
    ),
    (
        "bitsadmin__wesng/validation/xp_sp2_x64_systeminfo.txt",
        "USER-8CEF73C787",
        "Microsoft Windows XP Professional x64 Edition",
        "5.2",
        "3790",
        "Service Pack 2",
        "x86_64",
        83,
    ),
    (
        "bitsadmin__wesng/validation/xp_sp2_x86_systeminfo.txt",
        "WINXPSP2",
        "Microsoft Windows XP Professional",
        "5.1",
        "2600",
        "Service Pack 2",
        "x86",
        1,
    ),
    (
        "sangeetha190__AWS-Task-1/systeminfo.txt",
        "EC2AMAZ-JR4MRTI",
        "Microsoft Windows Server 2022 Datacenter",
        "10.0",
        "20348",
        "",
        "x86_64",
        5,
    ),
];

#[test]
fn every_real_systeminfo_capture_parses_to_the_expected_values() {
    let Some(root) = realdata() else {
        println!("skipped: ../shared/realdata not present");
        return;
    };
    let dir = root.join("systeminfo");
    let mut failures = Vec::new();
    for (file, host, name, version, build, sp, arch, hotfixes) in SYSTEMINFO {
        let bytes = std::fs::read(dir.join(file)).expect("capture listed here exists");
        let parsed = match import::parse(&bytes, file, now()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{file}: {e}"));
                continue;
            }
        };
        assert_eq!(parsed.format, Format::Systeminfo, "{file}");
        assert_eq!(parsed.records.len(), 1, "{file}");
        let r = &parsed.records[0];
        let os = &r.report.os;
        let got = (
            r.identity.host_name.as_deref(),
            os.name.as_deref(),
            os.version.as_deref(),
            os.build.as_deref(),
            os.service_pack.as_deref(),
            os.architecture.as_deref(),
            r.report.patches.installed.len(),
        );
        let want = (
            opt(host),
            opt(name),
            opt(version),
            opt(build),
            opt(sp),
            opt(arch),
            *hotfixes,
        );
        if got != want {
            failures.push(format!("{file}: got {got:?}, want {want:?}"));
        }
        assert_eq!(r.source, Source::Systeminfo);
        assert_eq!(r.hotfix_list_complete, Some(false), "{file}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every systeminfo capture in the folder is in the table.
    let listed: Vec<&str> = SYSTEMINFO.iter().map(|row| row.0).collect();
    for f in files(&dir) {
        let rel = rel(&dir, &f);
        if rel.contains("systeminfo") {
            assert!(
                listed.contains(&rel.as_str()),
                "{rel} has no expected values"
            );
        }
    }
}

/// (file under realdata/systeminfo, host ("" = the listing has no host column), distinct KB/Q
/// ids, entries without an id such as XP's "File 1").
const QFE: &[(&str, &str, usize, u32)] = &[
    (
        "bitsadmin__wesng/validation/10_1803_x64_proforworkstations_en-us_A_20190305_qfe.txt",
        "",
        4,
        0,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_education_en-us_20190306_qfe.txt",
        "",
        9,
        0,
    ),
    (
        "bitsadmin__wesng/validation/10_1809_x64_pro_en-us_20190307_qfe.txt",
        "",
        5,
        0,
    ),
    (
        "bitsadmin__wesng/validation/7_sp1_x64_enterprise_en-us_20190305_qfe.txt",
        "",
        276,
        0,
    ),
    (
        "bitsadmin__wesng/validation/srv_2012r2_u1_qfe.txt",
        "SRV12R2U1X64",
        154,
        0,
    ),
    (
        "bitsadmin__wesng/validation/srv_2012r2_x64_standard_ru_qfe.txt",
        "DC",
        7,
        0,
    ),
    (
        "bitsadmin__wesng/validation/vista_x64_sp2_qfe.txt",
        "WINVISTASP0X64",
        174,
        1,
    ),
    (
        "bitsadmin__wesng/validation/xp_rtm_x86_professional_en-us_qfe.txt",
        "WINXPSP0",
        2,
        1,
    ),
    (
        "bitsadmin__wesng/validation/xp_sp2_x64_qfe.txt",
        "USER-8CEF73C787",
        150,
        144,
    ),
    (
        "bitsadmin__wesng/validation/xp_sp2_x86_qfe.txt",
        "WINXPSP2",
        1,
        0,
    ),
];

#[test]
fn every_real_qfe_capture_parses_to_the_expected_values() {
    let Some(root) = realdata() else {
        println!("skipped: ../shared/realdata not present");
        return;
    };
    let dir = root.join("systeminfo");
    for (file, host, kbs, without) in QFE {
        let bytes = std::fs::read(dir.join(file)).expect("capture listed here exists");
        let parsed = import::parse(&bytes, file, now()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.format, Format::Qfe, "{file}");
        assert_eq!(parsed.records.len(), 1, "{file}");
        let r = &parsed.records[0];
        assert_eq!(r.identity.host_name.as_deref(), opt(host), "{file}");
        assert_eq!(r.report.patches.installed.len(), *kbs, "{file}");
        assert_eq!(r.hotfix_list_complete, Some(true), "{file}");
        let import::SourceDetail::Qfe(d) = &r.detail else {
            panic!("{file}: qfe detail");
        };
        assert_eq!(d.entries_without_kb, *without, "{file}");
    }
    // Dates: the Russian listing's InstalledOn survives the misaligned Cyrillic column, and
    // Vista's hexadecimal FILETIME dates are read.
    let ru = std::fs::read(dir.join(QFE[5].0)).expect("ru");
    let p = import::parse(&ru, "ru", now()).expect("ru parses");
    assert!(
        p.records[0]
            .report
            .patches
            .installed
            .iter()
            .all(|u| u.installed_on.is_some())
    );
    let vista = std::fs::read(dir.join(QFE[6].0)).expect("vista");
    let p = import::parse(&vista, "vista", now()).expect("vista parses");
    let first = &p.records[0].report.patches.installed[0];
    assert_eq!(first.id, "KB937286");
    assert_eq!(
        first.installed_on.map(|d| d.to_string()).as_deref(),
        Some("2019-03-21")
    );
    // The wesng "updates" lists (KB: title, from the Windows Update Agent) are not qfe
    // listings and are refused with a reason rather than misread.
    for f in files(&dir) {
        let rel = rel(&dir, &f);
        if rel.contains("_updates") {
            let bytes = std::fs::read(&f).expect("read");
            let err = import::parse(&bytes, &rel, now()).expect_err("not a known format");
            assert!(err.to_string().contains("not recognised"), "{rel}: {err}");
        }
    }
}

#[test]
fn every_real_nmap_scan_parses_or_is_refused_with_a_reason() {
    let Some(root) = realdata() else {
        println!("skipped: ../shared/realdata not present");
        return;
    };
    let dir = root.join("nmap");
    let mut imported = 0;
    let mut hosts = 0;
    let mut refused = Vec::new();
    for f in files(&dir) {
        let rel = rel(&dir, &f);
        let bytes = std::fs::read(&f).expect("read");
        match import::parse(&bytes, &rel, now()) {
            Ok(p) => {
                assert_eq!(p.format, Format::Nmap, "{rel}");
                assert!(!p.records.is_empty(), "{rel}");
                for r in &p.records {
                    assert_eq!(r.source, Source::Nmap);
                    assert!(
                        !r.identity.ips.is_empty() || !r.identity.macs.is_empty(),
                        "{rel}: a host without an address"
                    );
                    assert!(r.origin.starts_with(&rel), "{rel}: {}", r.origin);
                }
                imported += 1;
                hosts += p.records.len();
            }
            Err(e) => {
                assert!(!e.to_string().trim().is_empty(), "{rel}: empty reason");
                refused.push(format!("{rel}: {e}"));
            }
        }
    }
    println!("nmap: {imported} files imported ({hosts} hosts), refused: {refused:#?}");
    assert!(
        imported >= 30,
        "only {imported} scans imported; refused: {refused:#?}"
    );

    let one = |rel: &str| {
        let bytes = std::fs::read(dir.join(rel)).expect("scan listed here exists");
        import::parse(&bytes, rel, now()).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    // HTB "Blue": Windows 7 SP1 by smb-os-discovery, scanned 2020-02-18.
    let blue = one("1nj3ct10n__HackTheBox/htb-blue/nmap.xml");
    let r = &blue.records[0];
    assert_eq!(r.identity.ips[0].to_string(), "10.10.10.40");
    assert_eq!(r.identity.host_name.as_deref(), Some("haris-PC"));
    assert_eq!(r.report.os.build.as_deref(), Some("7601"));
    assert_eq!(r.report.os.version.as_deref(), Some("6.1"));
    assert_eq!(r.report.os.service_pack.as_deref(), Some("Service Pack 1"));
    assert_eq!(r.observed_at.to_rfc3339(), "2020-02-18T18:57:19+00:00");
    // The same box scanned with smb-vuln-ms17-010: VULNERABLE is evidence for the engine.
    let blue2 = one("michoo__sec-learning/2_Windows/Blue/nmap/initial.xml");
    assert!(blue2.records[0].evidence.iter().any(|e| matches!(
        e,
        ward_collector::risk::ExtraEvidence::Ms17010Vulnerable { .. }
    )));
    // Dionaea's emulated XP: SMBv1 offered, MS17-010 vulnerable, MAC from the scan.
    let xp = one("savon-noir__python-libnmap/libnmap/test/files/dionaea_scan.xml");
    let r = &xp.records[0];
    assert_eq!(r.report.os.name.as_deref(), Some("Windows XP"));
    assert_eq!(r.report.os.build.as_deref(), Some("2600"));
    assert_eq!(r.identity.host_name.as_deref(), Some("HOMEUSER-3AF6FE"));
    assert_eq!(r.identity.macs, ["02:42:AC:1C:01:03"]);
    let import::SourceDetail::Nmap(d) = &r.detail else {
        panic!("nmap detail")
    };
    assert_eq!(d.smb1_offered, Some(true));
    assert_eq!(d.ms17_010, Some(import::Ms17Verdict::Vulnerable));
    // A domain controller: FQDN and domain from smb-os-discovery.
    let forest = one("1nj3ct10n__HackTheBox/htb-forest/nmap.xml");
    let r = &forest.records[0];
    assert_eq!(r.identity.fqdn.as_deref(), Some("FOREST.htb.local"));
    assert_eq!(r.identity.domain.as_deref(), Some("htb.local"));
    assert_eq!(r.report.os.build.as_deref(), Some("14393"));
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn rel(dir: &Path, f: &Path) -> String {
    f.strip_prefix(dir)
        .expect("under dir")
        .to_string_lossy()
        .replace('\\', "/")
}
