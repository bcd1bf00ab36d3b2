//! Linux: reads a machine's facts from a root directory and a [`Commands`] runner.
//!
//! Nothing here calls the OS except through [`Root`] (plain file reads below a base directory) and
//! [`Commands`]: [`super::collect`] passes `/` and the real runner on Linux, tests pass a fake tree
//! in a `TempDir` and canned outputs. The parsing lives in the per-source modules.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use ward_shared::{
    CollectionError, FirewallProfile, Limits, OsFamily, PendingUpdate, Report, VolumeEncryption,
};

use super::cmd::{self, CmdOutput, Commands};
use super::fsroot::Root;
use super::{
    apt, apt_native, cpuinfo, crypt, dmi, dnf, firewall, firmware, host, os_release, samba,
};

/// Fills `report` from the Linux machine whose file system is at `root`.
/// sysinfo's facts (RAM, disks, addresses) are filled separately by the caller.
pub fn collect(root: &Path, cmds: &dyn Commands, report: &mut Report) {
    let root = Root::new(root);
    let mut c = Linux {
        root: &root,
        cmds,
        report,
    };
    timed("os", || c.os());
    timed("host", || c.host());
    timed("dmi", || c.dmi());
    timed("firmware", || c.firmware());
    timed("tpm", || c.tpm());
    timed("cpu", || c.cpu());
    timed("patches", || c.patches());
    timed("samba", || c.samba());
    timed("firewall", || c.firewall());
    timed("encryption", || c.encryption());
}

fn timed(source: &str, f: impl FnOnce()) {
    let started = Instant::now();
    f();
    tracing::debug!(
        source,
        elapsed_ms = started.elapsed().as_millis(),
        "collected"
    );
}

struct Linux<'a> {
    root: &'a Root,
    cmds: &'a dyn Commands,
    report: &'a mut Report,
}

const DMI: &str = "/sys/class/dmi/id";
const TPM_CLASS: &str = "/sys/class/tpm";
const EFI: &str = "/sys/firmware/efi";

impl Linux<'_> {
    fn error(&mut self, field: &str, reason: impl Into<String>) {
        self.report.errors.push(CollectionError::new(field, reason));
    }

    /// A file's trimmed text; an unreadable file becomes an error entry for `field`, a missing one
    /// is just `None`.
    fn read(&mut self, path: &str, field: &str) -> Option<String> {
        match self.root.read_trimmed(path) {
            Ok(text) => text,
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    /// Runs a command; a missing program, a timeout or an unexpected exit code becomes an error
    /// entry for `field`. `ok` lists the exit codes that count as an answer.
    fn run(
        &mut self,
        field: &str,
        program: &str,
        args: &[&str],
        timeout: std::time::Duration,
        ok: &[i32],
    ) -> Option<CmdOutput> {
        match self.cmds.run(program, args, timeout) {
            Ok(out) if out.code.is_some_and(|c| ok.contains(&c)) => Some(out),
            Ok(out) => {
                let reason = out.failure(&format!("{program} {}", args.join(" ")));
                self.error(field, reason);
                None
            }
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    fn os(&mut self) {
        let os = &mut self.report.os;
        os.family = OsFamily::Linux;
        os.architecture = Some(std::env::consts::ARCH.to_owned());

        let text = match self.root.read("/etc/os-release") {
            Ok(Some(text)) => Ok(Some(text)),
            Ok(None) => self.root.read("/usr/lib/os-release"),
            Err(e) => Err(e),
        };
        match text {
            Ok(Some(text)) => os_release::apply(&os_release::parse(&text), &mut self.report.os),
            Ok(None) => self.error(
                "os.name",
                "neither /etc/os-release nor /usr/lib/os-release exists",
            ),
            Err(e) => self.error("os.name", e.to_string()),
        }
        // Debian's point release ("12.5") is only in /etc/debian_version; Ubuntu's says "bookworm/sid".
        if self.report.os.id.as_deref() == Some("debian")
            && let Some(v) = self.read("/etc/debian_version", "os.build")
            && v.starts_with(|c: char| c.is_ascii_digit())
        {
            self.report.os.build = Some(v);
        }

        match self.read("/proc/sys/kernel/osrelease", "os.kernel") {
            Some(k) => self.report.os.kernel = Some(k),
            None if self.report.os.kernel.is_none() => {
                self.error("os.kernel", "/proc/sys/kernel/osrelease does not exist");
            }
            None => {}
        }

        match self
            .read("/proc/stat", "os.boot_time")
            .as_deref()
            .and_then(btime)
        {
            Some(t) => self.report.os.boot_time = Some(t),
            None if self.report.os.boot_time.is_none() => {
                self.error("os.boot_time", "no btime line in /proc/stat");
            }
            None => {}
        }

        self.report.os.install_date = self.install_date();
        if self.report.os.install_date.is_none() {
            self.error(
                "os.install_date",
                "the file system of / records no birth time, and neither /var/log/installer \
                 nor /etc/machine-id exists",
            );
        }
    }

    /// Best effort, in this order: the birth time of `/` (set by mkfs at install; statx), the
    /// Debian/Ubuntu installer's log directory, the mtime of `/etc/machine-id` (written on first
    /// boot). Times before 1990 (an unset clock, or a file system reporting 0) are ignored.
    fn install_date(&self) -> Option<DateTime<Utc>> {
        let plausible = |t: &DateTime<Utc>| t.timestamp() > 631_152_000;
        self.root
            .created("/")
            .filter(plausible)
            .or_else(|| {
                self.root
                    .modified("/var/log/installer")
                    .ok()
                    .flatten()
                    .filter(plausible)
            })
            .or_else(|| {
                self.root
                    .modified("/etc/machine-id")
                    .ok()
                    .flatten()
                    .filter(plausible)
            })
    }

    fn host(&mut self) {
        match self.root.read_trimmed("/proc/sys/kernel/hostname") {
            Ok(Some(h)) => self.report.host.hostname = Some(h),
            Ok(None) if self.report.host.hostname.is_none() => {
                self.error("host.hostname", "/proc/sys/kernel/hostname does not exist");
            }
            Ok(None) => {}
            Err(e) => self.error("host.hostname", e.to_string()),
        }
        if let Some(hostname) = self.report.host.hostname.clone() {
            let hosts = self.root.read("/etc/hosts").ok().flatten();
            let resolv = self.root.read("/etc/resolv.conf").ok().flatten();
            let (fqdn, domain) =
                host::fqdn_and_domain(&hostname, hosts.as_deref(), resolv.as_deref());
            self.report.host.fqdn = fqdn;
            self.report.host.domain = domain;
        }
        if self.root.exists(DMI) {
            let uuid = self.read(&format!("{DMI}/product_uuid"), "host.hardware_uuid");
            self.report.host.hardware_uuid = uuid
                .as_deref()
                .and_then(dmi::clean)
                .map(|u| u.to_ascii_lowercase());
        }
    }

    fn dmi(&mut self) {
        if !self.root.exists(DMI) {
            self.error(
                "hardware.manufacturer",
                format!(
                    "{DMI} does not exist: the firmware exposes no SMBIOS/DMI tables (usual on \
                     ARM boards and some VMs); manufacturer, model, serial, chassis and BIOS are unknown"
                ),
            );
            return;
        }
        let mut field = |file: &str, field: &str| {
            self.read(&format!("{DMI}/{file}"), field)
                .as_deref()
                .and_then(dmi::clean)
        };
        let manufacturer = field("sys_vendor", "hardware.manufacturer");
        let model = field("product_name", "hardware.model");
        let serial = field("product_serial", "hardware.serial");
        let chassis = field("chassis_type", "hardware.chassis_type");
        let bios_vendor = field("bios_vendor", "hardware.bios.vendor");
        let bios_version = field("bios_version", "hardware.bios.version");
        let bios_date = field("bios_date", "hardware.bios.release_date");

        let hw = &mut self.report.hardware;
        hw.manufacturer = manufacturer;
        hw.model = model;
        hw.serial = serial;
        hw.chassis_type = chassis
            .as_deref()
            .and_then(dmi::chassis_type)
            .map(str::to_owned);
        hw.bios.vendor = bios_vendor;
        hw.bios.version = bios_version;
        hw.bios.release_date = bios_date.as_deref().and_then(dmi::bios_date);
    }

    fn firmware(&mut self) {
        let uefi = self.root.exists(EFI);
        self.report.hardware.uefi = Some(uefi);
        if !uefi {
            // Legacy BIOS boot: Secure Boot cannot be on.
            self.report.hardware.secure_boot = Some(false);
            return;
        }
        let efivar = self.root.read_bytes(firmware::SECURE_BOOT_EFIVAR);
        let state = match efivar {
            Ok(Some(bytes)) => firmware::secure_boot_from_efivar(&bytes),
            Ok(None) => match self.root.read_bytes(firmware::SECURE_BOOT_SYSFS) {
                Ok(Some(bytes)) => firmware::secure_boot_from_sysfs_data(&bytes),
                Ok(None) if !self.root.list(&format!("{EFI}/efivars")).is_empty() => {
                    // Variables are readable and SecureBoot is not among them: no Secure Boot support.
                    Some(false)
                }
                Ok(None) => {
                    self.error(
                        "hardware.secure_boot",
                        format!("{EFI}/efivars is empty or not mounted (efivarfs)"),
                    );
                    return;
                }
                Err(e) => {
                    self.error("hardware.secure_boot", e.to_string());
                    return;
                }
            },
            Err(e) => {
                self.error("hardware.secure_boot", e.to_string());
                return;
            }
        };
        match state {
            Some(on) => self.report.hardware.secure_boot = Some(on),
            None => self.error(
                "hardware.secure_boot",
                format!("{}: shorter than 5 bytes", firmware::SECURE_BOOT_EFIVAR),
            ),
        }
    }

    fn tpm(&mut self) {
        let Some(dev) = self
            .root
            .list(TPM_CLASS)
            .into_iter()
            .find(|n| n.starts_with("tpm"))
        else {
            self.report.hardware.tpm.present = Some(false);
            return;
        };
        let base = format!("{TPM_CLASS}/{dev}");
        self.report.hardware.tpm.present = Some(true);
        let version = self
            .read(&format!("{base}/tpm_version_major"), "hardware.tpm.version")
            .as_deref()
            .and_then(firmware::tpm_version)
            .map(str::to_owned)
            .or_else(|| self.root.exists("/dev/tpmrm0").then(|| "2.0".to_owned()))
            .or_else(|| {
                [format!("{base}/device/caps"), format!("{base}/caps")]
                    .iter()
                    .find_map(|p| self.root.read(p).ok().flatten())
                    .as_deref()
                    .and_then(firmware::tpm_version_from_caps)
            });
        match version.as_deref() {
            Some("2.0") => {
                // TPM 2.0 has no separate enable/activate switches visible to the OS: a device the
                // kernel exposes is usable (Windows reports both as true for it).
                self.report.hardware.tpm.enabled = Some(true);
                self.report.hardware.tpm.activated = Some(true);
            }
            Some(_) => {
                let mut flag = |name: &str, field: &str| {
                    [format!("{base}/device/{name}"), format!("{base}/{name}")]
                        .iter()
                        .find_map(|p| self.read(p, field))
                        .as_deref()
                        .and_then(firmware::sysfs_flag)
                };
                let enabled = flag("enabled", "hardware.tpm.enabled");
                let active = flag("active", "hardware.tpm.activated");
                self.report.hardware.tpm.enabled = enabled;
                self.report.hardware.tpm.activated = active;
            }
            None => self.error(
                "hardware.tpm.version",
                format!("{base}: no tpm_version_major, caps or /dev/tpmrm0"),
            ),
        }
        self.report.hardware.tpm.version = version;
    }

    fn cpu(&mut self) {
        let info = match self.read("/proc/cpuinfo", "hardware.cpu") {
            Some(text) => cpuinfo::parse(&text),
            None => {
                if self.report.hardware.cpu.brand.is_none() {
                    self.error("hardware.cpu", "/proc/cpuinfo does not exist");
                }
                return;
            }
        };
        let identifier = cpuinfo::identifier(&info);
        let cpu = &mut self.report.hardware.cpu;
        cpu.identifier = identifier;
        if cpu.vendor.is_none() {
            cpu.vendor = info.vendor;
        }
        if cpu.brand.is_none() {
            cpu.brand = info.brand;
        }
        if cpu.threads.is_none() && info.threads > 0 {
            cpu.threads = Some(info.threads);
        }
        if cpu.cores.is_none() {
            cpu.cores = info.cores;
        }
        let max = self
            .root
            .read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
            .ok()
            .flatten()
            .as_deref()
            .and_then(cpuinfo::max_freq_mhz)
            .or_else(|| {
                self.report
                    .hardware
                    .cpu
                    .brand
                    .as_deref()
                    .and_then(cpuinfo::brand_clock_mhz)
            });
        self.report.hardware.cpu.max_clock_mhz = max;
        if max.is_none() {
            self.error(
                "hardware.cpu.max_clock_mhz",
                "no cpufreq driver (cpu0/cpufreq/cpuinfo_max_freq) and no clock in the brand string",
            );
        }
    }

    fn patches(&mut self) {
        if self.root.exists(apt_native::STATUS)
            && (self.root.exists(apt_native::LISTS) || self.cmds.find("apt-get").is_some())
        {
            self.apt();
        } else if let Some(pm) = ["dnf", "yum"]
            .into_iter()
            .find(|p| self.cmds.find(p).is_some())
        {
            self.dnf(pm);
        } else {
            self.error(
                "patches.pending_count",
                "no supported package manager found (apt-get with dpkg, dnf, yum)",
            );
        }
    }

    fn set_pending(&mut self, mut pending: Vec<PendingUpdate>, security: Option<u32>) {
        let p = &mut self.report.patches;
        p.pending_count = Some(u32::try_from(pending.len()).unwrap_or(u32::MAX));
        p.pending_security_count = security;
        pending.truncate(Limits::V1.max_updates);
        p.pending = pending;
    }

    fn apt(&mut self) {
        let field = "patches.pending_count";
        // apt's own files first: apt-get's simulation costs seconds of CPU and ~80 MB where it
        // has to rebuild its cache, which is every run on images that disable pkgcache.bin.
        match apt_native::pending_upgrades(self.root) {
            Ok(up) => {
                tracing::debug!(
                    method = "native",
                    installed = up.installed,
                    indices = up.indices,
                    pending = up.pending.len(),
                    security = up.security,
                    "apt pending upgrades"
                );
                let security = u32::try_from(up.security).unwrap_or(u32::MAX);
                self.set_pending(up.pending, Some(security));
            }
            Err(why) if self.cmds.find("apt-get").is_some() => {
                tracing::debug!(
                    method = "apt-get -s dist-upgrade",
                    reason = %why,
                    "apt pending upgrades: the native reader cannot answer"
                );
                if let Some(out) = self.run(
                    field,
                    "apt-get",
                    apt::SIMULATE_ARGS,
                    cmd::PACKAGE_MANAGER,
                    &[0],
                ) {
                    let pending = apt::parse_simulation(&out.stdout);
                    let security = pending.iter().filter(|p| p.security).count();
                    self.set_pending(pending, Some(u32::try_from(security).unwrap_or(u32::MAX)));
                }
            }
            Err(why) => self.error(field, why.to_string()),
        }

        let mut last = None;
        for (path, gz) in [
            ("/var/log/apt/history.log", false),
            ("/var/log/apt/history.log.1.gz", true),
        ] {
            let text = if gz {
                self.root.read_gz(path)
            } else {
                self.root.read(path)
            };
            match text {
                Ok(Some(text)) => last = apt::history_last_install(&text),
                Ok(None) => {}
                Err(e) => self.error("patches.last_installed_at", e.to_string()),
            }
            if last.is_some() {
                break;
            }
        }
        if last.is_none() {
            for path in ["/var/log/dpkg.log", "/var/log/dpkg.log.1"] {
                match self.root.read(path) {
                    Ok(Some(text)) => last = apt::dpkg_last_install(&text),
                    Ok(None) => {}
                    Err(e) => self.error("patches.last_installed_at", e.to_string()),
                }
                if last.is_some() {
                    break;
                }
            }
        }
        self.report.patches.last_installed_at = last.and_then(local_to_utc);
        if self.report.patches.last_installed_at.is_none() {
            self.error(
                "patches.last_installed_at",
                "no completed install or upgrade in /var/log/apt/history.log or /var/log/dpkg.log",
            );
        }

        self.report.patches.last_refreshed_at = self
            .root
            .modified("/var/lib/apt/periodic/update-success-stamp")
            .ok()
            .flatten()
            .or_else(|| self.root.newest_file("/var/lib/apt/lists", &["lock"]))
            .or_else(|| {
                self.root
                    .modified("/var/cache/apt/pkgcache.bin")
                    .ok()
                    .flatten()
            });
        if self.report.patches.last_refreshed_at.is_none() {
            self.error(
                "patches.last_refreshed_at",
                "no update-success-stamp, package lists or pkgcache.bin",
            );
        }

        // Debian Policy 9.12: packages that need a reboot touch /run/reboot-required.
        self.report.patches.reboot_pending = Some(
            self.root.exists("/run/reboot-required")
                || self.root.exists("/var/run/reboot-required"),
        );
    }

    fn dnf(&mut self, pm: &str) {
        let field = "patches.pending_count";
        let listed = self.run(
            field,
            pm,
            dnf::CHECK_UPDATE_ARGS,
            cmd::PACKAGE_MANAGER,
            &[0, 100],
        );
        if let Some(out) = listed {
            let mut pending = dnf::parse_check_update(&out.stdout);
            let security = if pending.is_empty() {
                Some(0)
            } else {
                self.run(
                    "patches.pending_security_count",
                    pm,
                    dnf::SECURITY_ARGS,
                    cmd::PACKAGE_MANAGER,
                    &[0],
                )
                .map(|out| {
                    dnf::mark_security(&mut pending, &dnf::parse_security_names(&out.stdout))
                })
            };
            self.set_pending(pending, security);
        }

        let last = match self.root.read("/var/log/dnf.rpm.log") {
            Ok(Some(text)) => dnf::rpm_log_last_install(&text),
            Ok(None) => match (
                self.root.read("/var/log/yum.log"),
                self.root.modified("/var/log/yum.log"),
            ) {
                (Ok(Some(text)), Ok(Some(mtime))) => {
                    let written = mtime.with_timezone(&Local).date_naive();
                    dnf::yum_log_last_install(&text, written).and_then(local_to_utc)
                }
                (Err(e), _) | (_, Err(e)) => {
                    self.error("patches.last_installed_at", e.to_string());
                    None
                }
                _ => None,
            },
            Err(e) => {
                self.error("patches.last_installed_at", e.to_string());
                None
            }
        };
        self.report.patches.last_installed_at = last;
        if last.is_none() {
            self.error(
                "patches.last_installed_at",
                "no install or upgrade in /var/log/dnf.rpm.log or /var/log/yum.log",
            );
        }

        self.report.patches.last_refreshed_at = ["/var/cache/dnf", "/var/cache/libdnf5"]
            .iter()
            .find_map(|dir| self.root.newest_file(dir, &[]));
        if self.report.patches.last_refreshed_at.is_none() {
            self.error(
                "patches.last_refreshed_at",
                "no metadata files in /var/cache/dnf or /var/cache/libdnf5",
            );
        }

        if self.cmds.find("needs-restarting").is_some() {
            // needs-restarting -r: exit 1 = reboot needed, 0 = not needed.
            if let Some(out) = self.run(
                "patches.reboot_pending",
                "needs-restarting",
                &["-r"],
                cmd::QUICK,
                &[0, 1],
            ) {
                self.report.patches.reboot_pending = Some(out.code == Some(1));
            }
        } else {
            self.error(
                "patches.reboot_pending",
                "needs-restarting (dnf-utils / yum-utils) is not installed",
            );
        }
    }

    fn samba(&mut self) {
        let field = "security.smb1_server_enabled";
        if self.cmds.find("smbd").is_none() {
            // No Samba server. smb.conf alone proves nothing: client tools ship it too.
            self.report.security.smb1_server_enabled = Some(false);
            return;
        }
        // testparm knows every include and the defaults; our own smb.conf reading is the fallback.
        let configured = if self.cmds.find("testparm").is_some() {
            self.run(field, "testparm", samba::TESTPARM_ARGS, cmd::QUICK, &[0])
                .and_then(|out| samba::parse_testparm(&out.stdout))
        } else {
            None
        };
        let configured = configured.or_else(|| self.smb_conf_min_protocol());
        if let Some(allows) = configured
            .as_deref()
            .and_then(samba::min_protocol_allows_smb1)
        {
            self.report.security.smb1_server_enabled = Some(allows);
            return;
        }
        // Not set (or "default"): the default depends on the version.
        if let Some(out) = self.run(field, "smbd", &["--version"], cmd::QUICK, &[0]) {
            match samba::parse_version(&out.stdout) {
                Some(v) => {
                    self.report.security.smb1_server_enabled = Some(samba::default_allows_smb1(v))
                }
                None => self.error(
                    field,
                    format!("smbd --version: unexpected output {:?}", out.stdout.trim()),
                ),
            }
        }
    }

    /// `server min protocol` from smb.conf and the files it includes (one level; paths with `%`
    /// macros depend on the client and are skipped).
    fn smb_conf_min_protocol(&mut self) -> Option<String> {
        let text = self.read("/etc/samba/smb.conf", "security.smb1_server_enabled")?;
        let conf = samba::parse_smb_conf(&text);
        let mut value = conf.min_protocol;
        for include in conf.includes.iter().filter(|p| !p.contains('%')) {
            if let Some(text) = self.read(include, "security.smb1_server_enabled")
                && let Some(v) = samba::parse_smb_conf(&text).min_protocol
            {
                value = Some(v);
            }
        }
        value
    }

    fn firewall(&mut self) {
        let field = "security.firewall_enabled";
        let mut profiles = Vec::new();
        let mut unknown = false;

        if self.cmds.find("ufw").is_some() || self.root.exists("/etc/ufw/ufw.conf") {
            match self
                .read("/etc/ufw/ufw.conf", field)
                .as_deref()
                .map(firewall::ufw_enabled)
            {
                Some(Some(on)) => profiles.push(("ufw", on)),
                _ => unknown = true,
            }
        }

        if self.cmds.find("firewall-cmd").is_some() {
            // 0 = running, 252 = not running.
            let state = self
                .run(field, "firewall-cmd", &["--state"], cmd::QUICK, &[0, 252])
                .and_then(|out| firewall::firewalld_running(&out.stdout));
            match state {
                Some(on) => profiles.push(("firewalld", on)),
                None => unknown = true,
            }
        }

        if self.cmds.find("nft").is_some() {
            match self.cmds.run("nft", &["list", "ruleset"], cmd::QUICK) {
                Ok(out) if out.success() => {
                    profiles.push(("nftables", firewall::nft_filters_input(&out.stdout)));
                }
                Ok(out) => {
                    unknown = true;
                    let mut reason = out.failure("nft list ruleset");
                    if out.stderr.contains("Operation not permitted") {
                        reason.push_str(" (needs root)");
                    }
                    self.error(field, reason);
                }
                Err(e) => {
                    unknown = true;
                    self.error(field, e.to_string());
                }
            }
        } else if self.cmds.find("iptables").is_some() {
            match self.cmds.run("iptables", &["-S"], cmd::QUICK) {
                Ok(out) if out.success() => {
                    profiles.push(("iptables", firewall::iptables_filters_input(&out.stdout)));
                }
                Ok(out) => {
                    unknown = true;
                    let mut reason = out.failure("iptables -S");
                    if out.stderr.contains("Permission denied")
                        || out.stderr.contains("must be root")
                    {
                        reason.push_str(" (needs root)");
                    }
                    self.error(field, reason);
                }
                Err(e) => {
                    unknown = true;
                    self.error(field, e.to_string());
                }
            }
        }

        let any_on = profiles.iter().any(|(_, on)| *on);
        self.report.security.firewall_enabled = if any_on {
            Some(true)
        } else if unknown {
            None
        } else {
            Some(false)
        };
        self.report.security.firewall_profiles = profiles
            .into_iter()
            .map(|(name, enabled)| FirewallProfile {
                name: name.to_owned(),
                enabled,
            })
            .collect();
    }

    fn encryption(&mut self) {
        let field = "security.system_disk_encrypted";
        let crypt_volumes: Vec<(String, VolumeEncryption)> = self
            .root
            .list("/sys/class/block")
            .into_iter()
            .filter_map(|dev| {
                let uuid = self
                    .root
                    .read_trimmed(&format!("/sys/class/block/{dev}/dm/uuid"))
                    .ok()??;
                let method = crypt::crypt_method(&uuid)?;
                let name = self
                    .root
                    .read_trimmed(&format!("/sys/class/block/{dev}/dm/name"))
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| dev.clone());
                Some((
                    dev,
                    VolumeEncryption {
                        volume: format!("/dev/mapper/{name}"),
                        encrypted: Some(true),
                        method: Some(method),
                    },
                ))
            })
            .collect();

        let Some(mountinfo) = self.read("/proc/self/mountinfo", field) else {
            self.error(field, "/proc/self/mountinfo does not exist");
            return;
        };
        let Some(mount) = crypt::root_mount(&mountinfo) else {
            self.error(field, "no mount of / in /proc/self/mountinfo");
            return;
        };
        let Some(dev) = self.block_device(&mount) else {
            self.error(
                field,
                format!(
                    "no block device for / ({} on {}, {}:{})",
                    mount.fs_type, mount.source, mount.major, mount.minor
                ),
            );
            return;
        };
        let method = self.crypt_below(&dev, 0);
        self.report.security.system_disk_encrypted = Some(method.is_some());
        let mut volumes: Vec<VolumeEncryption> =
            crypt_volumes.into_iter().map(|(_, v)| v).collect();
        if method.is_none() {
            volumes.insert(
                0,
                VolumeEncryption {
                    volume: mount.source.clone(),
                    encrypted: Some(false),
                    method: None,
                },
            );
        }
        self.report.security.encrypted_volumes = volumes;
    }

    /// The `/sys/class/block` name of the device mounted at `/`: by major:minor, or for file systems
    /// with anonymous device numbers (btrfs) by the mount source.
    fn block_device(&self, mount: &crypt::RootMount) -> Option<String> {
        let devices = self.root.list("/sys/class/block");
        if mount.major != 0 {
            let want = format!("{}:{}", mount.major, mount.minor);
            return devices.into_iter().find(|d| {
                self.root
                    .read_trimmed(&format!("/sys/class/block/{d}/dev"))
                    .ok()
                    .flatten()
                    .is_some_and(|v| v == want)
            });
        }
        if let Some(name) = mount.source.strip_prefix("/dev/mapper/") {
            return devices.into_iter().find(|d| {
                self.root
                    .read_trimmed(&format!("/sys/class/block/{d}/dm/name"))
                    .ok()
                    .flatten()
                    .is_some_and(|v| v == name)
            });
        }
        let name = mount.source.strip_prefix("/dev/")?;
        devices.into_iter().find(|d| d == name)
    }

    /// The crypt method of `dev` or of any device it is built on (LVM on LUKS, RAID on LUKS).
    fn crypt_below(&self, dev: &str, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        let uuid = self
            .root
            .read_trimmed(&format!("/sys/class/block/{dev}/dm/uuid"))
            .ok()
            .flatten();
        if let Some(method) = uuid.as_deref().and_then(crypt::crypt_method) {
            return Some(method);
        }
        self.root
            .list(&format!("/sys/class/block/{dev}/slaves"))
            .iter()
            .find_map(|slave| self.crypt_below(slave, depth + 1))
    }
}

/// `/proc/stat`'s `btime` line: boot time in seconds since the epoch.
pub fn btime(stat: &str) -> Option<DateTime<Utc>> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Log times are local wall-clock times; an ambiguous one (DST fall-back) takes the earlier instant.
fn local_to_utc(t: NaiveDateTime) -> Option<DateTime<Utc>> {
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;
    use ward_shared::OsFamily;

    use super::super::cmd::FakeCommands;
    use super::super::tests::empty_report;
    use super::*;
    use crate::collect::tests::put;

    fn mkdir(root: &Path, path: &str) {
        std::fs::create_dir_all(root.join(path.trim_start_matches('/'))).expect("mkdir");
    }

    /// An Ubuntu 22.04 desktop on UEFI with Secure Boot, TPM 2.0, LVM on LUKS2, ufw, Samba.
    fn ubuntu_tree(root: &Path) {
        put(
            root,
            "/etc/os-release",
            include_str!("testdata/os-release-ubuntu-22.04"),
        );
        put(root, "/etc/debian_version", "bookworm/sid\n");
        put(root, "/proc/sys/kernel/osrelease", "5.15.0-97-generic\n");
        put(
            root,
            "/proc/stat",
            "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1709280000\nprocesses 7\n",
        );
        put(
            root,
            "/etc/machine-id",
            "0123456789abcdef0123456789abcdef\n",
        );
        put(root, "/proc/sys/kernel/hostname", "pc-0042\n");
        put(
            root,
            "/etc/hosts",
            "127.0.0.1 localhost\n127.0.1.1 pc-0042.radiology.example.nhs.uk pc-0042\n",
        );
        put(
            root,
            "/etc/resolv.conf",
            "nameserver 127.0.0.53\nsearch example.nhs.uk\n",
        );

        let dmi = "/sys/class/dmi/id";
        put(root, &format!("{dmi}/sys_vendor"), "Dell Inc.\n");
        put(root, &format!("{dmi}/product_name"), "OptiPlex 7050\n");
        put(root, &format!("{dmi}/product_serial"), "5CG7123XYZ\n");
        put(
            root,
            &format!("{dmi}/product_uuid"),
            "4C4C4544-0042-3010-8052-B4C04F4D4E32\n",
        );
        put(root, &format!("{dmi}/chassis_type"), "3\n");
        put(root, &format!("{dmi}/bios_vendor"), "Dell Inc.\n");
        put(root, &format!("{dmi}/bios_version"), "1.25.0\n");
        put(root, &format!("{dmi}/bios_date"), "03/14/2023\n");

        put(root, firmware::SECURE_BOOT_EFIVAR, [0x06, 0, 0, 0, 1]);
        put(root, "/sys/class/tpm/tpm0/tpm_version_major", "2\n");

        put(
            root,
            "/proc/cpuinfo",
            include_str!("testdata/cpuinfo-intel-i5-7500"),
        );
        put(
            root,
            "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
            "3800000\n",
        );

        put(
            root,
            "/var/lib/dpkg/status",
            "Package: base-files\nStatus: install ok installed\n",
        );
        put(
            root,
            "/var/log/apt/history.log",
            include_str!("testdata/apt-history.log"),
        );
        put(root, "/var/lib/apt/periodic/update-success-stamp", "");
        put(
            root,
            "/run/reboot-required",
            "*** System restart required ***\n",
        );

        put(
            root,
            "/etc/ufw/ufw.conf",
            "# ufw.conf\nENABLED=yes\nLOGLEVEL=low\n",
        );

        put(
            root,
            "/proc/self/mountinfo",
            include_str!("testdata/mountinfo-luks-lvm"),
        );
        let block = "/sys/class/block";
        put(root, &format!("{block}/nvme0n1/dev"), "259:0\n");
        put(root, &format!("{block}/nvme0n1p3/dev"), "259:3\n");
        put(root, &format!("{block}/dm-0/dev"), "253:0\n");
        put(
            root,
            &format!("{block}/dm-0/dm/uuid"),
            "CRYPT-LUKS2-3f6f1c7c2e9b4e0f9d7c6b5a4f3e2d1c-nvme0n1p3_crypt\n",
        );
        put(root, &format!("{block}/dm-0/dm/name"), "nvme0n1p3_crypt\n");
        mkdir(root, &format!("{block}/dm-0/slaves/nvme0n1p3"));
        put(root, &format!("{block}/dm-1/dev"), "253:1\n");
        put(root, &format!("{block}/dm-1/dm/uuid"), "LVM-abcdefABCDEF\n");
        put(root, &format!("{block}/dm-1/dm/name"), "vg0-root\n");
        mkdir(root, &format!("{block}/dm-1/slaves/dm-0"));
    }

    fn ubuntu_commands() -> FakeCommands {
        FakeCommands::new()
            .with(
                "apt-get -s -o Debug::NoLocking=1 dist-upgrade",
                0,
                include_str!("testdata/apt-get-s-ubuntu-22.04.txt"),
                "",
            )
            .installed("ufw")
            .installed("smbd")
            .with(
                "testparm -s --parameter-name=server min protocol",
                0,
                "NT1\n",
                "Load smb config files from /etc/samba/smb.conf\nLoaded services file OK.\n",
            )
            .with(
                "nft list ruleset",
                0,
                include_str!("testdata/nft-ruleset-filter.txt"),
                "",
            )
    }

    #[test]
    fn a_full_ubuntu_tree_fills_every_linux_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        ubuntu_tree(dir.path());
        let mut report = empty_report();
        collect(dir.path(), &ubuntu_commands(), &mut report);

        assert!(report.errors.is_empty(), "{:#?}", report.errors);

        let os = &report.os;
        assert_eq!(os.family, OsFamily::Linux);
        assert_eq!(os.name.as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(os.id.as_deref(), Some("ubuntu"));
        assert_eq!(os.version.as_deref(), Some("22.04"));
        assert_eq!(os.display_version.as_deref(), Some("jammy"));
        assert_eq!(os.build, None, "Ubuntu's debian_version is not a release");
        assert_eq!(os.kernel.as_deref(), Some("5.15.0-97-generic"));
        assert_eq!(os.architecture.as_deref(), Some(std::env::consts::ARCH));
        assert_eq!(os.boot_time, DateTime::from_timestamp(1_709_280_000, 0));
        assert!(os.install_date.is_some());

        let h = &report.host;
        assert_eq!(h.hostname.as_deref(), Some("pc-0042"));
        assert_eq!(h.fqdn.as_deref(), Some("pc-0042.radiology.example.nhs.uk"));
        assert_eq!(h.domain.as_deref(), Some("radiology.example.nhs.uk"));
        assert_eq!(
            h.hardware_uuid.as_deref(),
            Some("4c4c4544-0042-3010-8052-b4c04f4d4e32")
        );

        let hw = &report.hardware;
        assert_eq!(hw.manufacturer.as_deref(), Some("Dell Inc."));
        assert_eq!(hw.model.as_deref(), Some("OptiPlex 7050"));
        assert_eq!(hw.serial.as_deref(), Some("5CG7123XYZ"));
        assert_eq!(hw.chassis_type.as_deref(), Some("Desktop"));
        assert_eq!(hw.bios.vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(hw.bios.version.as_deref(), Some("1.25.0"));
        assert_eq!(hw.bios.release_date, NaiveDate::from_ymd_opt(2023, 3, 14));
        assert_eq!(hw.uefi, Some(true));
        assert_eq!(hw.secure_boot, Some(true));
        assert_eq!(hw.tpm.present, Some(true));
        assert_eq!(hw.tpm.version.as_deref(), Some("2.0"));
        assert_eq!(hw.tpm.enabled, Some(true));
        assert_eq!(hw.tpm.activated, Some(true));
        assert_eq!(
            hw.cpu.brand.as_deref(),
            Some("Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz")
        );
        assert_eq!(hw.cpu.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!(
            hw.cpu.identifier.as_deref(),
            Some("Intel64 Family 6 Model 158 Stepping 9")
        );
        assert_eq!(hw.cpu.cores, Some(4));
        assert_eq!(hw.cpu.threads, Some(4));
        assert_eq!(hw.cpu.max_clock_mhz, Some(3800));

        let p = &report.patches;
        assert_eq!(p.pending_count, Some(8));
        assert_eq!(p.pending_security_count, Some(6));
        assert_eq!(p.pending.len(), 8);
        assert!(p.pending.iter().any(|u| u.name == "libc6" && u.security));
        assert_eq!(
            p.last_installed_at,
            local_to_utc(
                NaiveDate::from_ymd_opt(2024, 3, 1)
                    .and_then(|d| d.and_hms_opt(10, 22, 33))
                    .expect("time")
            )
        );
        assert!(p.last_refreshed_at.is_some());
        assert_eq!(p.reboot_pending, Some(true));
        assert!(p.installed.is_empty());

        let s = &report.security;
        assert_eq!(s.smb1_server_enabled, Some(true));
        assert_eq!(s.firewall_enabled, Some(true));
        let profiles: Vec<(&str, bool)> = s
            .firewall_profiles
            .iter()
            .map(|f| (f.name.as_str(), f.enabled))
            .collect();
        assert_eq!(profiles, [("ufw", true), ("nftables", true)]);
        assert_eq!(s.system_disk_encrypted, Some(true));
        assert_eq!(
            s.encrypted_volumes,
            [VolumeEncryption {
                volume: "/dev/mapper/nvme0n1p3_crypt".into(),
                encrypted: Some(true),
                method: Some("LUKS2".into()),
            }]
        );
        report
            .validate(&Limits::V1, Utc::now())
            .expect("valid report");
    }

    #[test]
    fn an_empty_tree_gives_errors_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut report = empty_report();
        collect(dir.path(), &FakeCommands::new(), &mut report);

        let fields: Vec<&str> = report.errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "os.name",
            "os.kernel",
            "os.boot_time",
            "host.hostname",
            "hardware.manufacturer",
            "hardware.cpu",
            "patches.pending_count",
            "security.system_disk_encrypted",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.reason.contains("/sys/class/dmi/id")),
            "{:?}",
            report.errors
        );
        // Absence answers these: no EFI dir, no TPM, no smbd, no firewall tool.
        assert_eq!(report.os.family, OsFamily::Linux);
        assert_eq!(report.hardware.uefi, Some(false));
        assert_eq!(report.hardware.secure_boot, Some(false));
        assert_eq!(report.hardware.tpm.present, Some(false));
        assert_eq!(report.security.smb1_server_enabled, Some(false));
        assert_eq!(report.security.firewall_enabled, Some(false));
        assert_eq!(report.patches.pending_count, None);
        report
            .validate(&Limits::V1, Utc::now())
            .expect("valid report");
    }

    #[test]
    fn a_rhel_tree_uses_dnf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(
            root,
            "/usr/lib/os-release",
            include_str!("testdata/os-release-rhel-9.3"),
        );
        put(
            root,
            "/var/log/dnf.rpm.log",
            include_str!("testdata/dnf.rpm.log"),
        );
        put(root, "/var/cache/dnf/last_makecache", "");
        mkdir(root, "/sys/firmware/efi/efivars");
        put(
            root,
            "/sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c",
            [7, 0, 0, 0, 1, 0],
        );
        put(
            root,
            "/sys/class/tpm/tpm0/device/caps",
            "TCG version: 1.2\n",
        );
        put(root, "/sys/class/tpm/tpm0/device/enabled", "1\n");
        put(root, "/sys/class/tpm/tpm0/device/active", "0\n");
        let cmds = FakeCommands::new()
            .with(
                "dnf -q -C check-update",
                100,
                include_str!("testdata/dnf-check-update-rhel9.txt"),
                "",
            )
            .with(
                "dnf -q -C updateinfo list --security",
                0,
                include_str!("testdata/dnf-updateinfo-security-rhel9.txt"),
                "",
            )
            .with("needs-restarting -r", 1, "Reboot is required\n", "")
            .with("firewall-cmd --state", 252, "not running\n", "")
            .with("smbd --version", 0, "Version 4.18.6\n", "")
            .installed("testparm");
        let mut report = empty_report();
        collect(root, &cmds, &mut report);

        assert_eq!(
            report.os.name.as_deref(),
            Some("Red Hat Enterprise Linux 9.3 (Plow)")
        );
        let p = &report.patches;
        assert_eq!(p.pending_count, Some(9));
        assert_eq!(p.pending_security_count, Some(4));
        assert_eq!(p.reboot_pending, Some(true));
        assert_eq!(
            p.last_installed_at,
            DateTime::from_timestamp(1_709_649_011, 0)
        );
        assert!(p.last_refreshed_at.is_some());
        // UEFI without a SecureBoot variable: no Secure Boot support.
        assert_eq!(report.hardware.uefi, Some(true));
        assert_eq!(report.hardware.secure_boot, Some(false));
        let tpm = &report.hardware.tpm;
        assert_eq!(
            (
                tpm.present,
                tpm.version.as_deref(),
                tpm.enabled,
                tpm.activated
            ),
            (Some(true), Some("1.2"), Some(true), Some(false))
        );
        assert_eq!(report.security.firewall_enabled, Some(false));
        // testparm answered nothing usable, so the error is recorded; smbd's version decides.
        assert_eq!(report.security.smb1_server_enabled, Some(false));
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.field == "security.smb1_server_enabled")
        );
    }

    #[test]
    fn timeouts_and_denials_become_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "/var/lib/dpkg/status", "");
        let cmds = FakeCommands::new()
            .with_timeout("apt-get -s -o Debug::NoLocking=1 dist-upgrade")
            .with(
                "nft list ruleset",
                1,
                "",
                "netlink: Error: cache initialization failed: Operation not permitted\n",
            );
        let mut report = empty_report();
        collect(root, &cmds, &mut report);
        let reason = |field: &str| {
            report
                .errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.reason.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            reason("patches.pending_count"),
            "apt-get did not finish within 60 s and was killed"
        );
        assert_eq!(
            reason("security.firewall_enabled"),
            "nft list ruleset exited with status 1: netlink: Error: cache initialization failed: \
             Operation not permitted (needs root)"
        );
        assert_eq!(report.security.firewall_enabled, None);
        assert_eq!(report.patches.pending_count, None);
    }

    /// A Debian tree with one plain index and its InRelease file.
    fn debian_apt_tree(root: &Path) {
        put(
            root,
            apt_native::STATUS,
            include_str!("testdata/apt-native/status"),
        );
        let lists = apt_native::LISTS;
        put(
            root,
            &format!("{lists}/deb.debian.org_debian-security_dists_bookworm-security_InRelease"),
            include_str!("testdata/apt-native/bookworm-security_InRelease"),
        );
        put(
            root,
            &format!(
                "{lists}/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"
            ),
            include_str!("testdata/apt-native/bookworm-security_main_amd64_Packages"),
        );
    }

    #[test]
    fn apt_pending_upgrades_come_from_the_lists_without_apt_get() {
        let dir = tempfile::tempdir().expect("tempdir");
        debian_apt_tree(dir.path());
        let mut report = empty_report();
        collect(dir.path(), &FakeCommands::new(), &mut report);
        let p = &report.patches;
        assert_eq!(p.pending_count, Some(2));
        assert_eq!(p.pending_security_count, Some(2));
        let names: Vec<&str> = p.pending.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["libgcrypt20", "libssl3"]);
        assert!(
            !report
                .errors
                .iter()
                .any(|e| e.field == "patches.pending_count"),
            "{:?}",
            report.errors
        );
    }

    #[test]
    fn apt_get_answers_when_the_lists_cannot_be_read_natively() {
        let dir = tempfile::tempdir().expect("tempdir");
        debian_apt_tree(dir.path());
        put(
            dir.path(),
            &format!(
                "{}/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.xz",
                apt_native::LISTS
            ),
            "",
        );
        let cmds = FakeCommands::new().with(
            "apt-get -s -o Debug::NoLocking=1 dist-upgrade",
            0,
            include_str!("testdata/apt-get-s-debian-12.txt"),
            "",
        );
        let mut report = empty_report();
        collect(dir.path(), &cmds, &mut report);
        assert_eq!(report.patches.pending_count, Some(10));
        assert_eq!(report.patches.pending_security_count, Some(7));

        // Without apt-get the native reader's reason is the error.
        let mut report = empty_report();
        collect(dir.path(), &FakeCommands::new(), &mut report);
        assert_eq!(report.patches.pending_count, None);
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.field == "patches.pending_count"
                    && e.reason.contains("xz-compressed index")),
            "{:?}",
            report.errors
        );
    }

    #[test]
    fn unencrypted_root_lists_the_root_volume() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(
            root,
            "/proc/self/mountinfo",
            "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n",
        );
        put(root, "/sys/class/block/vda/dev", "254:0\n");
        mkdir(root, "/sys/class/block/vda/slaves");
        let mut report = empty_report();
        collect(root, &FakeCommands::new(), &mut report);
        assert_eq!(report.security.system_disk_encrypted, Some(false));
        assert_eq!(
            report.security.encrypted_volumes,
            [VolumeEncryption {
                volume: "/dev/vda".into(),
                encrypted: Some(false),
                method: None,
            }]
        );
    }

    #[test]
    fn proc_stat_btime() {
        assert_eq!(
            btime("cpu 1\nbtime 1795565636\n"),
            DateTime::from_timestamp(1_795_565_636, 0)
        );
        assert_eq!(btime("cpu 1\n"), None);
    }
}
