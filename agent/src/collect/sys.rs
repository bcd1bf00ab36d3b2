//! The facts sysinfo gives cheaply on every platform: CPU brand and counts, RAM, fixed disks,
//! network addresses, host name. Only what is needed is refreshed: no process list, no CPU usage.

use std::net::IpAddr;

use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System,
};
use ward_shared::{Disk, DiskKind, Report};

pub fn fill(report: &mut Report) {
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_memory(MemoryRefreshKind::nothing().with_ram())
            .with_cpu(CpuRefreshKind::nothing()),
    );
    let cpu = &mut report.hardware.cpu;
    if let Some(first) = system.cpus().first() {
        cpu.brand = non_empty(first.brand());
        cpu.vendor = non_empty(first.vendor_id());
    }
    cpu.threads = u32::try_from(system.cpus().len()).ok().filter(|n| *n > 0);
    cpu.cores = System::physical_core_count().and_then(|n| u32::try_from(n).ok());
    report.hardware.ram_bytes = Some(system.total_memory()).filter(|b| *b > 0);

    report.host.hostname = System::host_name().and_then(|h| non_empty(&h));
    report.os.kernel = System::kernel_version().and_then(|k| non_empty(&k));
    report.os.architecture = Some(std::env::consts::ARCH.to_owned());
    let boot = System::boot_time();
    report.os.boot_time = i64::try_from(boot)
        .ok()
        .filter(|b| *b > 0)
        .and_then(|b| chrono::DateTime::from_timestamp(b, 0));

    let disks = Disks::new_with_refreshed_list_specifics(
        DiskRefreshKind::nothing().with_kind().with_storage(),
    );
    report.hardware.disks = fixed_disks(disks.list().iter().map(|d| DiskFacts {
        name: d.name().to_string_lossy().into_owned(),
        mount_point: d.mount_point().to_string_lossy().into_owned(),
        file_system: d.file_system().to_string_lossy().into_owned(),
        total: d.total_space(),
        available: d.available_space(),
        kind: match d.kind() {
            sysinfo::DiskKind::SSD => DiskKind::Ssd,
            sysinfo::DiskKind::HDD => DiskKind::Hdd,
            sysinfo::DiskKind::Unknown(_) => DiskKind::Unknown,
        },
        removable: d.is_removable(),
    }));

    let networks = Networks::new_with_refreshed_list();
    let (macs, ips) = addresses(networks.list().iter().map(|(name, data)| {
        let mac = data.mac_address();
        (
            name.as_str(),
            (!mac.is_unspecified()).then(|| mac.to_string()),
            data.ip_networks()
                .iter()
                .map(|n| n.addr)
                .collect::<Vec<_>>(),
        )
    }));
    report.host.mac_addresses = macs;
    report.host.ip_addresses = ips;
}

/// One volume as sysinfo lists it.
#[derive(Debug, Clone)]
pub struct DiskFacts {
    pub name: String,
    pub mount_point: String,
    pub file_system: String,
    pub total: u64,
    pub available: u64,
    pub kind: DiskKind,
    pub removable: bool,
}

/// File systems that live on a local block device. Everything else (tmpfs, overlay, squashfs,
/// network file systems, FUSE other than ntfs-3g's `fuseblk`) is not a fixed disk.
const DISK_FILE_SYSTEMS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "bcachefs", "ntfs",
    "ntfs3", "fuseblk", "vfat", "exfat", "apfs", "hfs", "hfsplus", "refs", "fat32",
];

/// The fixed, non-removable volumes, one per device (a btrfs device mounted at several subvolumes
/// is listed once, preferring its `/` mount). `system` marks the volume mounted at `/`.
pub fn fixed_disks(facts: impl IntoIterator<Item = DiskFacts>) -> Vec<Disk> {
    let mut disks: Vec<Disk> = Vec::new();
    for f in facts {
        let fs = f.file_system.to_ascii_lowercase();
        if f.removable || f.total == 0 || !DISK_FILE_SYSTEMS.contains(&fs.as_str()) {
            continue;
        }
        let system = f.mount_point == "/" || f.mount_point.eq_ignore_ascii_case("C:\\");
        let disk = Disk {
            name: f.name,
            mount_point: Some(f.mount_point),
            file_system: Some(fs),
            size_bytes: Some(f.total),
            free_bytes: Some(f.available),
            kind: f.kind,
            system,
        };
        match disks.iter_mut().find(|d| d.name == disk.name) {
            Some(existing) if disk.system => *existing = disk,
            Some(_) => {}
            None => disks.push(disk),
        }
    }
    disks
}

/// Virtual interfaces whose addresses say nothing about the machine: container bridges, VPN and
/// VM tunnels, traffic-shaping (`ifb`) and dummy devices. Matched by name prefix.
pub fn is_virtual_interface(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "lo",
        "docker",
        "veth",
        "br-",
        "virbr",
        "vnet",
        "tun",
        "tap",
        "wg",
        "cni",
        "flannel",
        "cali",
        "vxlan",
        "lxc",
        "lxd",
        "tailscale",
        "zt",
        "podman",
        "kube",
        "utun",
        "awdl",
        "llw",
        "bridge",
        "gif",
        "stf",
        "anpi",
        "ap1",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Sorted, de-duplicated MACs and IPs of the real interfaces; loopback and link-local addresses
/// are dropped.
pub fn addresses<'a>(
    interfaces: impl IntoIterator<Item = (&'a str, Option<String>, Vec<IpAddr>)>,
) -> (Vec<String>, Vec<String>) {
    let mut macs = Vec::new();
    let mut ips = Vec::new();
    for (name, mac, addrs) in interfaces {
        if is_virtual_interface(name) {
            continue;
        }
        macs.extend(mac.map(|m| m.to_ascii_lowercase()));
        ips.extend(
            addrs
                .into_iter()
                .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip))
                .map(|ip| ip.to_string()),
        );
    }
    macs.sort();
    macs.dedup();
    ips.sort();
    ips.dedup();
    (macs, ips)
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: &str, mount: &str, fs: &str, removable: bool) -> DiskFacts {
        DiskFacts {
            name: name.into(),
            mount_point: mount.into(),
            file_system: fs.into(),
            total: 100,
            available: 40,
            kind: DiskKind::Ssd,
            removable,
        }
    }

    #[test]
    fn only_fixed_real_file_systems() {
        let disks = fixed_disks([
            facts("/dev/nvme0n1p2", "/", "ext4", false),
            facts("tmpfs", "/run", "tmpfs", false),
            facts(
                "overlay",
                "/var/lib/docker/overlay2/x/merged",
                "overlay",
                false,
            ),
            facts("/dev/loop3", "/snap/core22/1122", "squashfs", false),
            facts("/dev/nvme0n1p1", "/boot/efi", "vfat", false),
            facts("/dev/sdb1", "/media/usb", "vfat", true),
            facts("server:/export", "/mnt/share", "nfs4", false),
        ]);
        let mounts: Vec<_> = disks.iter().map(|d| d.mount_point.as_deref()).collect();
        assert_eq!(mounts, [Some("/"), Some("/boot/efi")]);
        assert!(disks[0].system);
        assert!(!disks[1].system);
        assert_eq!(disks[0].free_bytes, Some(40));
    }

    #[test]
    fn btrfs_subvolumes_are_one_disk() {
        let disks = fixed_disks([
            facts("/dev/mapper/luks-1", "/home", "btrfs", false),
            facts("/dev/mapper/luks-1", "/", "btrfs", false),
        ]);
        assert_eq!(disks.len(), 1);
        assert_eq!(disks[0].mount_point.as_deref(), Some("/"));
        assert!(disks[0].system);
    }

    #[test]
    fn addresses_skip_loopback_link_local_and_virtual() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let (macs, ips) = addresses([
            ("lo", None, vec![ip("127.0.0.1"), ip("::1")]),
            (
                "enp0s31f6",
                Some("AA:BB:CC:00:11:22".into()),
                vec![ip("10.20.30.40"), ip("fe80::1"), ip("2001:db8::5")],
            ),
            (
                "docker0",
                Some("02:42:ac:11:00:02".into()),
                vec![ip("172.17.0.1")],
            ),
            ("wlp2s0", Some("aa:bb:cc:00:11:22".into()), vec![]),
        ]);
        assert_eq!(macs, ["aa:bb:cc:00:11:22"]);
        assert_eq!(ips, ["10.20.30.40", "2001:db8::5"]);
    }
}
