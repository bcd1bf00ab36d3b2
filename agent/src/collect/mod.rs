//! Collection: read this machine's facts into a [`Report`].
//!
//! Architecture invariant: collection never fails as a whole. Every source that cannot be read
//! (missing file, missing tool, permission denied, timeout) becomes a [`ward_shared::CollectionError`]
//! entry naming the field and the reason. A source that does not apply to this machine (no dnf on
//! Debian, no Samba installed) is not an error: its field is left empty or answered from absence.
//!
//! Architecture invariant: parsing is pure and never `cfg`-gated; only the calls that pick the real
//! OS (root `/`, the real [`cmd::SystemCommands`]) are. Readers take a root path ([`fsroot::Root`])
//! and a [`cmd::Commands`] so tests run them on a fake tree with captured outputs.
//!
//! # Sources
//!
//! Every platform ([`sys`], sysinfo, refreshing only RAM and the CPU list): CPU brand, vendor,
//! logical and physical core counts, RAM, fixed disks (local block file systems, not removable),
//! MAC and IP addresses of non-virtual interfaces, host name, kernel, boot time.
//!
//! Linux ([`linux`], from `/` and a few commands):
//!
//! | Field | Source |
//! |---|---|
//! | `os.*` | `/etc/os-release` (fallback `/usr/lib/os-release`): PRETTY_NAME, ID, VERSION_ID, VERSION_CODENAME, VARIANT; Debian's point release from `/etc/debian_version` into `os.build` |
//! | `os.kernel`, `os.boot_time` | `/proc/sys/kernel/osrelease`; `btime` in `/proc/stat` |
//! | `os.install_date` | birth time of `/` (statx), else mtime of `/var/log/installer`, else of `/etc/machine-id` |
//! | `host.hostname`, `fqdn`, `domain` | `/proc/sys/kernel/hostname`; a dotted hostname, else `/etc/hosts`, else `domain`/`search` in `/etc/resolv.conf`. Never a DNS query |
//! | `host.hardware_uuid`, `hardware.*` | `/sys/class/dmi/id/*` (`product_uuid`, `product_serial` need root); placeholders dropped; chassis code to words per SMBIOS DSP0134 |
//! | `hardware.uefi`, `secure_boot` | `/sys/firmware/efi` exists; the `SecureBoot` efivar's data byte |
//! | `hardware.tpm` | `/sys/class/tpm/tpm0` (`tpm_version_major`, `/dev/tpmrm0`, 1.2's `enabled`/`active`) |
//! | `hardware.cpu` identifier, clock | `/proc/cpuinfo` family/model/stepping in Windows' `Identifier` form; `cpufreq/cpuinfo_max_freq`, else the brand string's `@ x.xxGHz` |
//! | `patches` (Debian/Ubuntu) | [`apt_native`]: installed packages from `/var/lib/dpkg/status`, candidates from the indices in `/var/lib/apt/lists` (plain, lz4, gz, zst) with their Release files and apt's pin policy (security = candidate published in a `-security` archive); `apt-get -s -o Debug::NoLocking=1 dist-upgrade` when that reader cannot answer (no lists, xz/bz2 indices, regex or `src:` pins, `APT::Default-Release`); `/var/log/apt/history.log` (+ `.1.gz`), else `dpkg.log`; mtime of `update-success-stamp`, else newest file in `/var/lib/apt/lists`, else `pkgcache.bin`; `/run/reboot-required` |
//! | `patches` (RHEL/Fedora) | `dnf -q -C check-update` (exit 100 = updates), `dnf -q -C updateinfo list --security`; `/var/log/dnf.rpm.log`, else `/var/log/yum.log`; newest file in `/var/cache/dnf`; `needs-restarting -r` |
//! | `security.smb1_server_enabled` | no `smbd` = false; else `testparm`'s `server min protocol` (or smb.conf and its includes), else the version default (SMB1 off from Samba 4.11) |
//! | `security.firewall_*` | `/etc/ufw/ufw.conf`, `firewall-cmd --state`, `nft list ruleset` (or `iptables -S`; root) |
//! | `security.*encrypt*` | the device under `/` (mountinfo major:minor) and its `slaves`, looking for a dm `CRYPT-` uuid |
//!
//! macOS ([`macos`]): `sw_vers`, `sysctl machdep.cpu.brand_string`, `ioreg` (serial, UUID, model),
//! `fdesetup status`, `socketfilterfw --getglobalstate`. Pending updates are not collected.
//!
//! Windows ([`windows`]): registry, WMI, the version resource of `srv.sys` and the Windows Update
//! Agent through the thin `windows_native` glue; the table of sources is in [`windows`].
//!
//! Commands run with `LC_ALL=C` and a timeout (10 s; 60 s for package managers), and are killed
//! when it passes. The report is finally trimmed to [`Limits::V1`].

pub mod apt;
pub mod apt_native;
pub mod apt_prefs;
pub mod cmd;
pub mod cpuinfo;
pub mod crypt;
pub mod deb822;
pub mod debver;
pub mod dmi;
pub mod dnf;
pub mod firewall;
pub mod firmware;
pub mod fsroot;
pub mod host;
pub mod linux;
pub mod macos;
pub mod os_release;
pub mod samba;
pub mod sys;
pub mod windows;
#[cfg(windows)]
pub mod windows_native;
pub mod windows_parse;

use chrono::Utc;
use ward_shared::{AgentInfo, CollectionError, Limits, Report, Tags};

/// What the caller decides about a collection run.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// The enrolled agent id, if any.
    pub agent_id: Option<uuid::Uuid>,
    /// Tags from the agent's configuration, copied into the report.
    pub tags: Tags,
}

/// Collects this machine's report.
pub fn collect(opts: &CollectOptions) -> Report {
    let agent = AgentInfo {
        id: opts.agent_id,
        name: "ward-agent".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let mut report = Report::new(agent, Utc::now());
    report.tags = opts.tags.clone();

    let started = std::time::Instant::now();
    sys::fill(&mut report);
    tracing::debug!(
        source = "sysinfo",
        elapsed_ms = started.elapsed().as_millis(),
        "collected"
    );

    #[cfg(target_os = "linux")]
    linux::collect(std::path::Path::new("/"), &cmd::SystemCommands, &mut report);

    #[cfg(target_os = "macos")]
    macos::collect(&cmd::SystemCommands, &mut report);

    #[cfg(windows)]
    windows::collect(
        &windows_native::NativeSource::default(),
        windows::WUA_TIME_LIMIT,
        &mut report,
    );

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    report.errors.push(CollectionError::new(
        "os",
        format!(
            "collection for {} is not implemented in this build",
            std::env::consts::OS
        ),
    ));

    // Control characters out of every text field, impossible dates left out (each named in
    // `errors`), so the collector never refuses this report for what the machine said.
    report.clean();
    fit_to_limits(&mut report, &Limits::V1);
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis(),
        errors = report.errors.len(),
        "collection finished"
    );
    report
}

/// Trims lists and strings so the report passes [`Report::validate`]. Counts stay exact; the last
/// error entry says how many errors were dropped.
pub fn fit_to_limits(report: &mut Report, limits: &Limits) {
    let max = limits.max_string;
    let clip = |s: &mut String| {
        let keep = cmd::clip(s, max).len();
        s.truncate(keep);
    };
    let clip_opt = |s: &mut Option<String>| {
        if let Some(s) = s {
            let keep = cmd::clip(s, max).len();
            s.truncate(keep);
        }
    };

    let h = &mut report.host;
    for s in [
        &mut h.hostname,
        &mut h.fqdn,
        &mut h.domain,
        &mut h.hardware_uuid,
    ] {
        clip_opt(s);
    }
    h.mac_addresses.truncate(limits.max_addresses);
    h.ip_addresses.truncate(limits.max_addresses);
    h.mac_addresses
        .iter_mut()
        .chain(h.ip_addresses.iter_mut())
        .for_each(clip);

    let o = &mut report.os;
    for s in [
        &mut o.name,
        &mut o.id,
        &mut o.edition,
        &mut o.version,
        &mut o.display_version,
        &mut o.build,
        &mut o.service_pack,
        &mut o.architecture,
        &mut o.kernel,
        &mut o.installation_type,
    ] {
        clip_opt(s);
    }

    let p = &mut report.patches;
    p.installed.truncate(limits.max_updates);
    p.pending.truncate(limits.max_updates);
    for u in &mut p.installed {
        clip(&mut u.id);
        clip_opt(&mut u.kind);
    }
    for u in &mut p.pending {
        clip(&mut u.name);
        clip_opt(&mut u.version);
    }

    let hw = &mut report.hardware;
    for s in [
        &mut hw.manufacturer,
        &mut hw.model,
        &mut hw.serial,
        &mut hw.chassis_type,
        &mut hw.bios.vendor,
        &mut hw.bios.version,
        &mut hw.tpm.version,
        &mut hw.cpu.brand,
        &mut hw.cpu.vendor,
        &mut hw.cpu.identifier,
    ] {
        clip_opt(s);
    }
    hw.disks.truncate(limits.max_disks);
    for d in &mut hw.disks {
        clip(&mut d.name);
        clip_opt(&mut d.mount_point);
        clip_opt(&mut d.file_system);
    }

    let s = &mut report.security;
    clip_opt(&mut s.srv_sys_version);
    s.firewall_profiles.truncate(limits.max_firewall_profiles);
    s.firewall_profiles
        .iter_mut()
        .for_each(|f| clip(&mut f.name));
    s.encrypted_volumes.truncate(limits.max_volumes);
    for v in &mut s.encrypted_volumes {
        clip(&mut v.volume);
        clip_opt(&mut v.method);
    }

    if report.errors.len() > limits.max_errors {
        let dropped = report.errors.len() - limits.max_errors + 1;
        report.errors.truncate(limits.max_errors.saturating_sub(1));
        report.errors.push(CollectionError::new(
            "errors",
            format!("{dropped} more collection errors were dropped"),
        ));
    }
    for e in &mut report.errors {
        clip(&mut e.field);
        clip(&mut e.reason);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ward_shared::{AgentInfo, Limits, PendingUpdate, Report};

    use super::*;

    /// Writes `contents` at `path` below `root`, creating folders: one file of a fake machine.
    pub(crate) fn put(root: &std::path::Path, path: &str, contents: impl AsRef<[u8]>) {
        let full = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, contents).expect("write");
    }

    /// `../shared/realdata/SUB` beside the workspace, or `None` (and a "skipped" line) when this
    /// machine does not have it.
    pub(crate) fn realdata(sub: &str) -> Option<std::path::PathBuf> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/realdata")
            .join(sub);
        if p.exists() {
            Some(p)
        } else {
            println!("skipped: {} not present", p.display());
            None
        }
    }

    pub(crate) fn empty_report() -> Report {
        Report::new(
            AgentInfo {
                id: None,
                name: "ward-agent".into(),
                version: "test".into(),
            },
            Utc::now(),
        )
    }

    #[test]
    fn fit_to_limits_trims_lists_and_strings() {
        let mut report = empty_report();
        report.os.name = Some("é".repeat(600));
        report.patches.pending = (0..6000)
            .map(|i| PendingUpdate {
                name: format!("pkg{i}"),
                version: None,
                security: false,
            })
            .collect();
        report.patches.pending_count = Some(6000);
        report.errors = (0..300)
            .map(|i| CollectionError::new("x", format!("e{i}")))
            .collect();
        fit_to_limits(&mut report, &Limits::V1);
        report.validate(&Limits::V1, Utc::now()).expect("valid");
        assert_eq!(report.patches.pending.len(), 5000);
        assert_eq!(report.patches.pending_count, Some(6000));
        assert_eq!(report.os.name.as_deref().map(str::len), Some(1024));
        assert_eq!(report.errors.len(), 256);
        assert_eq!(
            report.errors.last().map(|e| e.reason.as_str()),
            Some("45 more collection errors were dropped")
        );
    }

    /// Collects this real machine; `cargo test -p ward-agent -- --nocapture real_machine` prints it.
    #[cfg(target_os = "linux")]
    #[test]
    fn real_machine_report_is_valid() {
        let report = collect(&CollectOptions::default());
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialises")
        );
        report
            .validate(&Limits::V1, Utc::now())
            .expect("valid report");
        assert_eq!(report.os.family, ward_shared::OsFamily::Linux);
        assert!(report.host.hostname.is_some());
        assert!(report.hardware.ram_bytes.is_some_and(|b| b > 0));
        assert!(report.os.name.is_some());
        assert!(report.hardware.cpu.threads.is_some());
    }
}
