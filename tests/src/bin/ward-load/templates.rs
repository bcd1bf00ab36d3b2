//! Realistic reports for simulated agents: hospital desktops running Windows 10 22H2 (most) or
//! Ubuntu 22.04 (some), with the lists a real agent sends (installed KBs, pending updates, disks,
//! addresses, firmware, tags). One template per simulated agent; only `report_id` and
//! `collected_at` change from one request to the next (see `body.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use uuid::Uuid;
use ward_shared::{
    AgentInfo, Bios, CollectionError, Cpu, Disk, DiskKind, FirewallProfile, Hardware, Host,
    InstalledUpdate, Os, OsFamily, Patches, PendingUpdate, Report, Security, Tags, Tpm,
    VolumeEncryption,
};

/// Share of simulated agents that are Windows machines (the rest are Ubuntu desktops).
const WINDOWS_SHARE: f64 = 0.8;

const DEPARTMENTS: &[(&str, &str)] = &[
    ("CARD", "Cardiology"),
    ("RAD", "Radiology"),
    ("ED", "Emergency Department"),
    ("PATH", "Pathology"),
    ("PHARM", "Pharmacy"),
    ("ONC", "Oncology"),
    ("ADM", "Administration"),
    ("ICU", "Intensive Care"),
];
const SITES: &[&str] = &[
    "St Elsewhere General",
    "Riverside Community",
    "North Park Clinic",
];

struct Model {
    manufacturer: &'static str,
    model: &'static str,
    chassis: &'static str,
    bios_vendor: &'static str,
    bios_version: &'static str,
    cpu_brand: &'static str,
    cpu_identifier: &'static str,
    cores: u32,
    threads: u32,
    mhz: u32,
    ram_gib: u64,
}

const MODELS: &[Model] = &[
    Model {
        manufacturer: "Dell Inc.",
        model: "OptiPlex 7070",
        chassis: "Desktop",
        bios_vendor: "Dell Inc.",
        bios_version: "1.24.0",
        cpu_brand: "Intel(R) Core(TM) i5-9500 CPU @ 3.00GHz",
        cpu_identifier: "Intel64 Family 6 Model 158 Stepping 10",
        cores: 6,
        threads: 6,
        mhz: 3000,
        ram_gib: 16,
    },
    Model {
        manufacturer: "HP",
        model: "HP EliteDesk 800 G5 SFF",
        chassis: "Desktop",
        bios_vendor: "HP",
        bios_version: "R01 Ver. 02.19.00",
        cpu_brand: "Intel(R) Core(TM) i7-9700 CPU @ 3.00GHz",
        cpu_identifier: "Intel64 Family 6 Model 158 Stepping 13",
        cores: 8,
        threads: 8,
        mhz: 3000,
        ram_gib: 16,
    },
    Model {
        manufacturer: "LENOVO",
        model: "ThinkPad T14 Gen 2",
        chassis: "Notebook",
        bios_vendor: "LENOVO",
        bios_version: "N34ET62W (1.62 )",
        cpu_brand: "11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz",
        cpu_identifier: "Intel64 Family 6 Model 140 Stepping 1",
        cores: 4,
        threads: 8,
        mhz: 2611,
        ram_gib: 16,
    },
    Model {
        manufacturer: "Dell Inc.",
        model: "OptiPlex 3060",
        chassis: "Desktop",
        bios_vendor: "Dell Inc.",
        bios_version: "1.27.0",
        cpu_brand: "Intel(R) Core(TM) i3-8100 CPU @ 3.60GHz",
        cpu_identifier: "Intel64 Family 6 Model 158 Stepping 11",
        cores: 4,
        threads: 4,
        mhz: 3600,
        ram_gib: 8,
    },
];

const UBUNTU_PACKAGES: &[&str] = &[
    "firefox",
    "libssl3",
    "openssl",
    "linux-image-generic",
    "linux-firmware",
    "libc6",
    "sudo",
    "openssh-client",
    "libglib2.0-0",
    "thunderbird",
    "libreoffice-core",
    "curl",
    "libcurl4",
    "python3.10",
    "snapd",
    "systemd",
];

fn rand_hex<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.gen_range(0..16)]))
        .collect()
}

fn mac<R: Rng>(rng: &mut R) -> String {
    let bytes: [u8; 6] = [0xd4, 0x81, 0xd7, rng.r#gen(), rng.r#gen(), rng.r#gen()];
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn date_before(now: DateTime<Utc>, max_days: i64, rng: &mut impl Rng) -> NaiveDate {
    (now - Duration::days(rng.gen_range(1..=max_days))).date_naive()
}

/// One simulated machine's report. `agent_id` is the id the collector gave this agent.
pub fn report<R: Rng>(rng: &mut R, index: usize, agent_id: Uuid, now: DateTime<Utc>) -> Report {
    let windows = rng.gen_bool(WINDOWS_SHARE);
    let (dept_code, department) = *DEPARTMENTS.choose(rng).unwrap_or(&DEPARTMENTS[0]);
    let model = MODELS.choose(rng).unwrap_or(&MODELS[0]);
    let hostname = if windows {
        format!("WS-{dept_code}-{index:04}")
    } else {
        format!("ws-{}-{index:04}", dept_code.to_ascii_lowercase())
    };
    let domain = "clinical.example-trust.test";

    let mut report = Report::new(
        AgentInfo {
            id: Some(agent_id),
            name: "ward-agent".into(),
            version: "0.1.0".into(),
        },
        now,
    );
    report.host = Host {
        fqdn: Some(format!("{}.{domain}", hostname.to_ascii_lowercase())),
        hostname: Some(hostname),
        domain: Some(domain.into()),
        hardware_uuid: Some(
            Uuid::from_u128(rng.r#gen())
                .hyphenated()
                .to_string()
                .to_uppercase(),
        ),
        mac_addresses: vec![mac(rng), mac(rng)],
        ip_addresses: vec![
            format!(
                "10.{}.{}.{}",
                rng.gen_range(16..32),
                rng.gen_range(0..255),
                rng.gen_range(2..254)
            ),
            format!("10.200.{}.{}", rng.gen_range(0..255), rng.gen_range(2..254)),
            format!(
                "fe80::{:x}:{:x}ff:fe{:x}:{:x}",
                rng.gen_range(0x1000..0xffff_u32),
                rng.gen_range(0x10..0xff_u32),
                rng.gen_range(0x10..0xff_u32),
                rng.gen_range(0x1000..0xffff_u32)
            ),
        ],
    };
    let boot_time = now - Duration::minutes(rng.gen_range(30..60 * 24 * 20));
    let install_date = now - Duration::days(rng.gen_range(200..1500));
    let system_disk = 256u64 << 30;
    let data_disk = 1000u64 * 1000 * 1000 * 1000;
    report.hardware = Hardware {
        manufacturer: Some(model.manufacturer.into()),
        model: Some(model.model.into()),
        serial: Some(rand_hex(rng, 7)),
        chassis_type: Some(model.chassis.into()),
        bios: Bios {
            vendor: Some(model.bios_vendor.into()),
            version: Some(model.bios_version.into()),
            release_date: Some(date_before(now, 900, rng)),
        },
        uefi: Some(true),
        secure_boot: Some(rng.gen_bool(0.85)),
        tpm: Tpm {
            present: Some(true),
            version: Some("2.0".into()),
            enabled: Some(true),
            activated: Some(true),
        },
        cpu: Cpu {
            brand: Some(model.cpu_brand.into()),
            vendor: Some("GenuineIntel".into()),
            identifier: Some(model.cpu_identifier.into()),
            cores: Some(model.cores),
            threads: Some(model.threads),
            max_clock_mhz: Some(model.mhz),
        },
        ram_bytes: Some(model.ram_gib << 30),
        disks: Vec::new(),
    };
    report.tags = Tags {
        site: SITES.choose(rng).map(|s| (*s).to_owned()),
        department: Some(department.into()),
        clinical: Some(dept_code != "ADM"),
        labels: BTreeMap::from([
            (
                "asset".to_owned(),
                format!("HX-{:06}", rng.gen_range(0..1_000_000)),
            ),
            (
                "ward".to_owned(),
                format!(
                    "{}{}",
                    dept_code.chars().next().unwrap_or('W'),
                    rng.gen_range(1..9)
                ),
            ),
            ("support_group".to_owned(), "Desktop Services".to_owned()),
        ]),
    };

    if windows {
        fill_windows(
            &mut report,
            rng,
            now,
            boot_time,
            install_date,
            system_disk,
            data_disk,
        );
    } else {
        fill_ubuntu(
            &mut report,
            rng,
            now,
            boot_time,
            install_date,
            system_disk,
            data_disk,
        );
    }
    report
}

#[allow(clippy::too_many_arguments)]
fn fill_windows<R: Rng>(
    report: &mut Report,
    rng: &mut R,
    now: DateTime<Utc>,
    boot_time: DateTime<Utc>,
    install_date: DateTime<Utc>,
    system_disk: u64,
    data_disk: u64,
) {
    let ubr: u32 = rng.gen_range(3930..5131);
    report.os = Os {
        family: OsFamily::Windows,
        name: Some("Windows 10 Enterprise".into()),
        id: Some("windows".into()),
        edition: Some("Enterprise".into()),
        version: Some("10.0".into()),
        display_version: Some("22H2".into()),
        build: Some("19045".into()),
        revision: Some(ubr),
        service_pack: None,
        architecture: Some("x86_64".into()),
        kernel: Some(format!("10.0.19045.{ubr}")),
        installation_type: Some("Client".into()),
        install_date: Some(install_date),
        boot_time: Some(boot_time),
    };
    let installed_count = rng.gen_range(30..=80);
    let mut installed: Vec<InstalledUpdate> = (0..installed_count)
        .map(|_| InstalledUpdate {
            id: format!("KB{}", rng.gen_range(4_500_000..5_040_000)),
            kind: Some(["Security Update", "Update", "Hotfix"][rng.gen_range(0..3)].to_owned()),
            installed_on: Some(date_before(now, 1000, rng)),
        })
        .collect();
    installed.sort_by_key(|u| u.installed_on);
    let pending_count = rng.gen_range(3..=10);
    let pending: Vec<PendingUpdate> = (0..pending_count)
        .map(|i| {
            let kb = rng.gen_range(5_030_000..5_040_000);
            let (name, security) = match i % 3 {
                0 => (
                    format!("2024-0{} Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB{kb})", 1 + i % 9),
                    true,
                ),
                1 => (
                    format!("Security Intelligence Update for Microsoft Defender Antivirus - KB{kb} (Version 1.409.{}.0)", rng.gen_range(100..999)),
                    true,
                ),
                _ => (
                    format!("2024-0{} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Windows 10 Version 22H2 for x64 (KB{kb})", 1 + i % 9),
                    false,
                ),
            };
            PendingUpdate {
                name,
                version: None,
                security,
            }
        })
        .collect();
    report.patches = Patches {
        last_installed_at: Some(now - Duration::days(rng.gen_range(1..60))),
        last_refreshed_at: Some(now - Duration::hours(rng.gen_range(1..48))),
        pending_count: Some(pending_count),
        pending_security_count: Some(pending.iter().filter(|p| p.security).count() as u32),
        installed,
        pending,
        reboot_pending: Some(rng.gen_bool(0.3)),
    };
    report.hardware.disks = vec![
        Disk {
            name: "C:".into(),
            mount_point: Some("C:\\".into()),
            file_system: Some("NTFS".into()),
            size_bytes: Some(system_disk),
            free_bytes: Some(rng.gen_range(10..120) << 30),
            kind: DiskKind::Ssd,
            system: true,
        },
        Disk {
            name: "D:".into(),
            mount_point: Some("D:\\".into()),
            file_system: Some("NTFS".into()),
            size_bytes: Some(data_disk),
            free_bytes: Some(rng.gen_range(100..900) << 30),
            kind: DiskKind::Hdd,
            system: false,
        },
    ];
    let encrypted = rng.gen_bool(0.9);
    report.security = Security {
        smb1_server_enabled: Some(rng.gen_bool(0.05)),
        srv_sys_version: Some(format!("10.0.19041.{}", rng.gen_range(3000..4500))),
        firewall_enabled: Some(true),
        firewall_profiles: ["Domain", "Private", "Public"]
            .iter()
            .map(|name| FirewallProfile {
                name: (*name).into(),
                enabled: true,
            })
            .collect(),
        system_disk_encrypted: Some(encrypted),
        encrypted_volumes: vec![
            VolumeEncryption {
                volume: "C:".into(),
                encrypted: Some(encrypted),
                method: encrypted.then(|| "BitLocker XTS-AES 128".to_owned()),
            },
            VolumeEncryption {
                volume: "D:".into(),
                encrypted: Some(false),
                method: None,
            },
        ],
    };
}

#[allow(clippy::too_many_arguments)]
fn fill_ubuntu<R: Rng>(
    report: &mut Report,
    rng: &mut R,
    now: DateTime<Utc>,
    boot_time: DateTime<Utc>,
    install_date: DateTime<Utc>,
    system_disk: u64,
    data_disk: u64,
) {
    report.os = Os {
        family: OsFamily::Linux,
        name: Some("Ubuntu 22.04.4 LTS".into()),
        id: Some("ubuntu".into()),
        edition: None,
        version: Some("22.04".into()),
        display_version: Some("jammy".into()),
        build: None,
        revision: None,
        service_pack: None,
        architecture: Some("x86_64".into()),
        kernel: Some(format!("6.5.0-{}-generic", rng.gen_range(14..45))),
        installation_type: None,
        install_date: Some(install_date),
        boot_time: Some(boot_time),
    };
    let mut names: Vec<&str> = UBUNTU_PACKAGES.to_vec();
    names.shuffle(rng);
    let pending_count = rng.gen_range(3..=10);
    let pending: Vec<PendingUpdate> = names
        .iter()
        .take(pending_count)
        .map(|name| PendingUpdate {
            name: (*name).into(),
            version: Some(format!(
                "{}.{}.{}-0ubuntu0.22.04.{}",
                rng.gen_range(1..20),
                rng.gen_range(0..20),
                rng.gen_range(0..20),
                rng.gen_range(1..5)
            )),
            security: rng.gen_bool(0.6),
        })
        .collect();
    report.patches = Patches {
        // Linux agents send no installed-update list (see `Patches::installed`).
        installed: Vec::new(),
        last_installed_at: Some(now - Duration::days(rng.gen_range(1..60))),
        last_refreshed_at: Some(now - Duration::hours(rng.gen_range(1..48))),
        pending_count: Some(pending_count as u32),
        pending_security_count: Some(pending.iter().filter(|p| p.security).count() as u32),
        pending,
        reboot_pending: Some(rng.gen_bool(0.2)),
    };
    report.hardware.disks = vec![
        Disk {
            name: "/dev/mapper/vgubuntu-root".into(),
            mount_point: Some("/".into()),
            file_system: Some("ext4".into()),
            size_bytes: Some(system_disk),
            free_bytes: Some(rng.gen_range(10..120) << 30),
            kind: DiskKind::Ssd,
            system: true,
        },
        Disk {
            name: "/dev/sda1".into(),
            mount_point: Some("/srv/data".into()),
            file_system: Some("ext4".into()),
            size_bytes: Some(data_disk),
            free_bytes: Some(rng.gen_range(100..900) << 30),
            kind: DiskKind::Hdd,
            system: false,
        },
    ];
    report.security = Security {
        smb1_server_enabled: Some(false),
        srv_sys_version: None,
        firewall_enabled: Some(true),
        firewall_profiles: vec![FirewallProfile {
            name: "ufw".into(),
            enabled: true,
        }],
        system_disk_encrypted: Some(true),
        encrypted_volumes: vec![VolumeEncryption {
            volume: "/dev/nvme0n1p3".into(),
            encrypted: Some(true),
            method: Some("LUKS2".into()),
        }],
    };
    report.errors = vec![CollectionError::new(
        "hardware.tpm.activated",
        "/sys/class/tpm/tpm0/device/owned: permission denied",
    )];
}
