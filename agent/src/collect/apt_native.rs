//! Debian/Ubuntu pending upgrades computed from dpkg's and apt's own files, without running apt.
//!
//! `apt-get -s dist-upgrade` loads apt's binary package cache, and rebuilds it first when it is
//! stale or, as on container-derived images that set `Dir::Cache::pkgcache ""`, on every run:
//! seconds of CPU and ~80 MB of memory. The answer the agent needs is much smaller: which
//! installed packages have a newer candidate, and whether that candidate is a security update.
//! This module reads it straight from the files apt itself reads:
//!
//! 1. `/var/lib/dpkg/status`: the packages whose `Status` is `install ok installed` (name,
//!    architecture, version). Held packages (`hold ok installed`) are left out, as apt keeps
//!    them back.
//! 2. `/var/lib/apt/lists/*_Packages`, plain or compressed (`.lz4`, `.gz`, `.zst`): every
//!    version of an installed package that an index offers, for the same architecture
//!    (`Architecture: all` counts as the native one, as in apt).
//! 3. For each index, the `*_InRelease` (PGP clear-signed) or `*_Release` file of its archive,
//!    paired by the longest file-name prefix (`host_path_dists_<dist>`): `Origin`, `Label`,
//!    `Suite`, `Codename`, `Version`, `NotAutomatic`, `ButAutomaticUpgrades`.
//! 4. `/etc/apt/preferences` and `/etc/apt/preferences.d/*`: pins ([`super::apt_prefs`]).
//!
//! # The candidate, as apt's policy picks it (`pkgPolicy::GetCandidateVer`, apt 2.x)
//!
//! Every index has a priority: 500, or 1 when its Release says `NotAutomatic: yes`
//! (experimental, backports), or 100 with `NotAutomatic: yes` + `ButAutomaticUpgrades: yes`;
//! the installed version also counts as offered by the dpkg status file at 100. General pins
//! (`Package: *`) replace an index's priority (the first matching pin wins; `never` always).
//! A version's priority is that of the first specific pin (`Package: name`) matching it,
//! otherwise the highest priority of the indices offering it. The candidate is the version with
//! the highest priority, the higher version on a tie; versions older than the installed one are
//! only considered at priority 1000 and above (a pinned downgrade); priority 0 never.
//!
//! A package is pending when its candidate differs from the installed version; it is a security
//! update when any index offering that exact candidate version belongs to a security archive:
//! `Suite` or `Codename` ending in `-security` (Debian 11+, Ubuntu `jammy-security`, Ubuntu Pro
//! `jammy-infra-security`), or `Label: Debian-Security` (Debian 10 and older). That is the same
//! rule [`super::apt::parse_simulation`] applies to apt's own output.
//!
//! # Where the answer can differ from `apt-get -s dist-upgrade`
//!
//! - It is the list of installed packages with a newer candidate, as `apt list --upgradable`
//!   prints it. New packages that a dist-upgrade would install alongside (a new kernel ABI
//!   package pulled in by `linux-image-generic`) are not counted, nor removals; an upgrade apt
//!   would keep back because its dependencies cannot be met is still counted.
//! - Ubuntu's phased updates are counted as soon as they are published; apt holds some back
//!   until the machine's turn in the rollout comes.
//! - Every `_Packages` file in the lists folder is read. `apt update` deletes the files of a
//!   source removed from `sources.list`, so they only linger until the next update.
//!
//! The reader gives up ([`NativeError`]) rather than guess when: the lists folder or the status
//! file is missing or unreadable, an index is compressed with xz, bzip2 or lzma, a preference uses
//! a regular expression or a `src:` pin, or an apt.conf file sets `APT::Default-Release`. The
//! caller then runs apt's simulation instead.
//!
//! Invariant: memory is bounded by the installed packages, not by the indices. Each index is
//! decompressed and scanned through a fixed buffer; stanzas of packages that are not installed
//! are skipped at their first line, and only the versions of installed packages are kept.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};

use ward_shared::PendingUpdate;

use super::apt_prefs::{self, NEVER, Pin, PinTarget};
use super::deb822::{self, Flow, Sink, text};
use super::debver;
use super::fsroot::{ReadError, Root};

pub const STATUS: &str = "/var/lib/dpkg/status";
pub const LISTS: &str = "/var/lib/apt/lists";

/// Why the native reader cannot answer for this machine; the caller then asks apt itself.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("{path} does not exist")]
    Missing { path: String },
    #[error("{path}: {what}, which the native reader does not handle")]
    Unsupported { path: String, what: String },
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl NativeError {
    pub(crate) fn unsupported(path: &str, what: impl Into<String>) -> Self {
        NativeError::Unsupported {
            path: path.to_owned(),
            what: what.into(),
        }
    }
}

/// The upgrades apt would offer for the installed packages.
#[derive(Debug, Clone, Default)]
pub struct Upgrades {
    /// Security updates first, then by name, so a list cut to the wire limit keeps them.
    /// Packages of a foreign architecture are named `name:arch`, as apt prints them.
    pub pending: Vec<PendingUpdate>,
    /// How many of `pending` are security updates.
    pub security: usize,
    /// Installed packages and package indices read, for the debug log.
    pub installed: usize,
    pub indices: usize,
}

/// Reads the pending upgrades of the Debian/Ubuntu system at `root`.
pub fn pending_upgrades(root: &Root) -> Result<Upgrades, NativeError> {
    apt_prefs::check_apt_conf(root)?;
    let pins = apt_prefs::read_preferences(root)?;
    if !root.path(LISTS).is_dir() {
        return Err(NativeError::Missing {
            path: LISTS.to_owned(),
        });
    }
    let plan = plan_indices(&root.list(LISTS))?;

    let status = match open(root, STATUS)? {
        Some(file) => deb822::scan(file, STATUS, StatusSink::default())?,
        None => {
            return Err(NativeError::Missing {
                path: STATUS.to_owned(),
            });
        }
    };
    let mut pkgs = Packages::new(status);

    let mut files = vec![PackageFile::status()];
    let mut releases: HashMap<String, Release> = HashMap::new();
    for index in &plan {
        let release = match &index.release {
            Some(name) => match releases.get(name) {
                Some(r) => r.clone(),
                None => {
                    let r = read_release(root, &format!("{LISTS}/{name}"))?;
                    releases.insert(name.clone(), r.clone());
                    r
                }
            },
            None => Release::default(),
        };
        let id = files.len();
        files.push(PackageFile {
            status: false,
            site: index.site.clone(),
            release,
            component: index.component.clone(),
            architecture: index.architecture.clone(),
        });
        let path = format!("{LISTS}/{}", index.name);
        let Some(file) = open(root, &path)? else {
            continue; // deleted by a concurrent `apt update`
        };
        let sink = IndexSink::new(&mut pkgs, id);
        let result = match index.compression {
            Compression::Plain => deb822::scan(file, &path, sink),
            Compression::Lz4 => deb822::scan(lz4_flex::frame::FrameDecoder::new(file), &path, sink),
            Compression::Gz => deb822::scan(
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
                &path,
                sink,
            ),
            Compression::Zst => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(BufReader::new(file))
                    .map_err(|e| {
                        ReadError::new(&path, io::Error::new(io::ErrorKind::InvalidData, e))
                    })?;
                deb822::scan(decoder, &path, sink)
            }
        };
        result?;
    }

    let priorities = file_priorities(&files, &pins);
    let policy = Policy {
        files: &files,
        priorities: &priorities,
        pins: &pins,
        native: &pkgs.native,
    };
    let mut pending: Vec<PendingUpdate> = pkgs
        .installed
        .iter()
        .filter_map(|pkg| policy.pending(pkg))
        .collect();
    pending.sort_by(|a, b| {
        b.security
            .cmp(&a.security)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(Upgrades {
        security: pending.iter().filter(|p| p.security).count(),
        pending,
        installed: pkgs.installed.len(),
        indices: plan.len(),
    })
}

fn open(root: &Root, path: &str) -> Result<Option<File>, ReadError> {
    match File::open(root.path(path)) {
        Ok(f) => Ok(Some(f)),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(ReadError::new(path, e)),
    }
}

// ---------------------------------------------------------------------------------------------
// dpkg status.

#[derive(Debug, Default)]
struct StatusStanza {
    package: Option<String>,
    architecture: Option<String>,
    version: Option<String>,
    installed: Option<bool>,
}

#[derive(Debug, Default)]
struct StatusSink {
    stanza: StatusStanza,
    /// `(name, architecture, version)` of each installed package.
    installed: Vec<(String, Option<String>, String)>,
    /// dpkg's own architecture is the native one.
    native: Option<String>,
}

impl Sink for StatusSink {
    fn field(&mut self, key: &[u8], value: &[u8]) -> Flow {
        let s = &mut self.stanza;
        if key.eq_ignore_ascii_case(b"Package") {
            s.package = Some(text(value));
        } else if key.eq_ignore_ascii_case(b"Status") {
            let words: Vec<&[u8]> = value.split(|b| b.is_ascii_whitespace()).collect();
            s.installed = Some(words == [&b"install"[..], b"ok", b"installed"]);
        } else if key.eq_ignore_ascii_case(b"Architecture") {
            s.architecture = Some(text(value));
        } else if key.eq_ignore_ascii_case(b"Version") {
            s.version = Some(text(value));
        }
        let complete = s.package.is_some()
            && s.architecture.is_some()
            && s.version.is_some()
            && s.installed.is_some();
        if complete || s.installed == Some(false) {
            Flow::Skip
        } else {
            Flow::Continue
        }
    }

    fn end(&mut self) {
        let s = std::mem::take(&mut self.stanza);
        let (Some(package), Some(version), Some(true)) = (s.package, s.version, s.installed) else {
            return;
        };
        if package == "dpkg" && s.architecture.is_some() {
            self.native.clone_from(&s.architecture);
        }
        self.installed.push((package, s.architecture, version));
    }
}

/// The native architecture when dpkg's own status entry does not say it.
fn built_for_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "loongarch64" => "loong64",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The installed packages and the versions the indices offer for them.

/// One installed package and every version of it the indices offer.
#[derive(Debug)]
struct Installed {
    name: String,
    /// Normalised: `all` is the native architecture.
    arch: String,
    version: String,
    /// The installed version comes first, offered by the status file (id 0).
    offers: Vec<Offer>,
}

#[derive(Debug)]
struct Offer {
    version: String,
    /// Ids of the package files (status file, indices) that carry this version.
    files: Vec<usize>,
}

#[derive(Debug)]
struct Packages {
    installed: Vec<Installed>,
    by_name: HashMap<String, Vec<usize>>,
    native: String,
}

impl Packages {
    fn new(status: StatusSink) -> Self {
        let native = status.native.unwrap_or_else(|| built_for_arch().to_owned());
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let installed: Vec<Installed> = status
            .installed
            .into_iter()
            .enumerate()
            .map(|(i, (name, arch, version))| {
                by_name.entry(name.clone()).or_default().push(i);
                Installed {
                    arch: normalise_arch(arch.as_deref(), &native),
                    offers: vec![Offer {
                        version: version.clone(),
                        files: vec![0],
                    }],
                    name,
                    version,
                }
            })
            .collect();
        Self {
            installed,
            by_name,
            native,
        }
    }
}

fn normalise_arch(arch: Option<&str>, native: &str) -> String {
    match arch {
        None | Some("all" | "") => native.to_owned(),
        Some(a) => a.to_owned(),
    }
}

/// Records the versions an index offers for installed packages.
struct IndexSink<'a> {
    pkgs: &'a mut Packages,
    file: usize,
    matched: Vec<usize>,
    version: Option<String>,
    arch: Option<String>,
}

impl<'a> IndexSink<'a> {
    fn new(pkgs: &'a mut Packages, file: usize) -> Self {
        Self {
            pkgs,
            file,
            matched: Vec::new(),
            version: None,
            arch: None,
        }
    }
}

impl Sink for IndexSink<'_> {
    fn field(&mut self, key: &[u8], value: &[u8]) -> Flow {
        if key.eq_ignore_ascii_case(b"Package") {
            let ids = std::str::from_utf8(value)
                .ok()
                .and_then(|name| self.pkgs.by_name.get(name));
            match ids {
                Some(ids) => self.matched.extend_from_slice(ids),
                None => return Flow::Skip,
            }
        } else if key.eq_ignore_ascii_case(b"Version") {
            self.version = Some(text(value));
        } else if key.eq_ignore_ascii_case(b"Architecture") {
            self.arch = Some(text(value));
        }
        if !self.matched.is_empty() && self.version.is_some() && self.arch.is_some() {
            Flow::Skip
        } else {
            Flow::Continue
        }
    }

    fn end(&mut self) {
        let version = self.version.take();
        let arch = self.arch.take();
        if let Some(version) = version {
            let arch = normalise_arch(arch.as_deref(), &self.pkgs.native);
            for &id in &self.matched {
                let pkg = &mut self.pkgs.installed[id];
                if pkg.arch != arch {
                    continue;
                }
                match pkg.offers.iter_mut().find(|o| o.version == version) {
                    Some(offer) => {
                        if offer.files.last() != Some(&self.file) {
                            offer.files.push(self.file);
                        }
                    }
                    None => pkg.offers.push(Offer {
                        version: version.clone(),
                        files: vec![self.file],
                    }),
                }
            }
        }
        self.matched.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// The lists folder: which files are indices, and the Release file of each.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Plain,
    Lz4,
    Gz,
    Zst,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexFile {
    name: String,
    compression: Compression,
    /// The `_InRelease`/`_Release` file of its archive, if there is one.
    release: Option<String>,
    /// The host the source is fetched from (empty for `file:` and `cdrom:` sources).
    site: String,
    component: Option<String>,
    architecture: Option<String>,
}

/// The `_Packages` indices among the lists folder's file names.
fn plan_indices(names: &[String]) -> Result<Vec<IndexFile>, NativeError> {
    let mut releases: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|n| {
            n.strip_suffix("_InRelease")
                .or_else(|| n.strip_suffix("_Release"))
                .map(|prefix| (prefix, n.as_str()))
        })
        .collect();
    // The longest prefix first; InRelease before Release for the same archive.
    releases.sort_by(|a, b| {
        b.0.len().cmp(&a.0.len()).then_with(|| {
            b.1.ends_with("_InRelease")
                .cmp(&a.1.ends_with("_InRelease"))
        })
    });

    let mut plan = Vec::new();
    for name in names {
        let (stem, compression) = if let Some(stem) = name.strip_suffix("_Packages") {
            (stem, Compression::Plain)
        } else {
            let Some((base, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let Some(stem) = base.strip_suffix("_Packages") else {
                continue;
            };
            let compression = match ext {
                "lz4" => Compression::Lz4,
                "gz" => Compression::Gz,
                "zst" => Compression::Zst,
                "xz" | "bz2" | "lzma" => {
                    return Err(NativeError::unsupported(
                        &format!("{LISTS}/{name}"),
                        format!("a {ext}-compressed index"),
                    ));
                }
                _ => continue,
            };
            (stem, compression)
        };
        let release = releases.iter().find(|(prefix, _)| {
            stem == *prefix
                || stem
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('_'))
        });
        let (component, architecture) = match release {
            Some((prefix, _)) => {
                let rest = stem[prefix.len()..].trim_start_matches('_');
                match rest.rsplit_once("_binary-") {
                    Some((component, arch)) => {
                        (Some(component.replace('_', "/")), Some(arch.to_owned()))
                    }
                    None => (None, None),
                }
            }
            None => (None, None),
        };
        let site = stem.split('_').next().unwrap_or_default();
        plan.push(IndexFile {
            name: name.clone(),
            compression,
            release: release.map(|(_, file)| (*file).to_owned()),
            site: site.replace("%5f", "_").replace("%5F", "_"),
            component: component.filter(|c| !c.is_empty()),
            architecture,
        });
    }
    Ok(plan)
}

/// The fields of a Release file that the policy looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub not_automatic: bool,
    pub but_automatic_upgrades: bool,
}

fn read_release(root: &Root, path: &str) -> Result<Release, ReadError> {
    let Some(file) = open(root, path)? else {
        return Ok(Release::default());
    };
    parse_release(BufReader::new(file)).map_err(|e| ReadError::new(path, e))
}

/// The top-level fields of a Release or clear-signed InRelease file. In the signed form the
/// fields sit between the armour header (ended by a blank line) and `-----BEGIN PGP SIGNATURE`.
fn parse_release(mut reader: impl BufRead) -> io::Result<Release> {
    let mut release = Release::default();
    let mut line = String::new();
    let mut first = true;
    let mut in_armour_header = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end_matches(['\n', '\r']);
        if first {
            first = false;
            if l.starts_with("-----BEGIN PGP SIGNED MESSAGE") {
                in_armour_header = true;
                continue;
            }
        }
        if in_armour_header {
            in_armour_header = !l.trim().is_empty();
            continue;
        }
        if l.starts_with("-----BEGIN PGP SIGNATURE") {
            break;
        }
        if l.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let set = |slot: &mut Option<String>| *slot = Some(value.to_owned());
        match key.trim().to_ascii_lowercase().as_str() {
            "origin" => set(&mut release.origin),
            "label" => set(&mut release.label),
            "suite" => set(&mut release.suite),
            "codename" => set(&mut release.codename),
            "version" => set(&mut release.version),
            "notautomatic" => release.not_automatic = is_yes(value),
            "butautomaticupgrades" => release.but_automatic_upgrades = is_yes(value),
            _ => {}
        }
    }
    Ok(release)
}

fn is_yes(value: &str) -> bool {
    ["yes", "true", "with", "on", "enable"]
        .iter()
        .any(|y| value.eq_ignore_ascii_case(y))
}

/// An index or the dpkg status file, as apt's policy sees it.
#[derive(Debug, Clone)]
pub struct PackageFile {
    /// dpkg's status file, which offers the installed versions.
    pub status: bool,
    pub site: String,
    pub release: Release,
    pub component: Option<String>,
    pub architecture: Option<String>,
}

impl PackageFile {
    /// apt's status file: archive `now`, no site.
    pub fn status() -> Self {
        Self {
            status: true,
            site: String::new(),
            release: Release {
                suite: Some("now".into()),
                ..Release::default()
            },
            component: None,
            architecture: None,
        }
    }

    fn default_priority(&self) -> i32 {
        let r = &self.release;
        if self.status || (r.not_automatic && r.but_automatic_upgrades) {
            100
        } else if r.not_automatic {
            1
        } else {
            500
        }
    }

    fn is_security(&self) -> bool {
        if self.status {
            return false;
        }
        let r = &self.release;
        let ends = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().ends_with("-security"))
        };
        ends(&r.suite)
            || ends(&r.codename)
            || r.label
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case("Debian-Security"))
    }
}

// ---------------------------------------------------------------------------------------------
// The policy.

/// Each package file's priority: the default, replaced by the first general pin matching it
/// (`never` replaces any).
fn file_priorities(files: &[PackageFile], pins: &[Pin]) -> Vec<i32> {
    let mut priorities: Vec<i32> = files.iter().map(PackageFile::default_priority).collect();
    let mut fixed = vec![false; files.len()];
    for pin in pins.iter().filter(|p| p.packages.is_none()) {
        for (i, file) in files.iter().enumerate() {
            if (!fixed[i] || pin.priority == NEVER)
                && priorities[i] != NEVER
                && pin.target.matches_file(file)
            {
                priorities[i] = pin.priority;
                fixed[i] = true;
            }
        }
    }
    priorities
}

struct Policy<'a> {
    files: &'a [PackageFile],
    priorities: &'a [i32],
    pins: &'a [Pin],
    native: &'a str,
}

impl Policy<'_> {
    /// apt's `pkgPolicy::GetPriority(Ver)`.
    fn priority(&self, pkg: &Installed, offer: &Offer) -> i32 {
        let pin = self.pins.iter().find(|pin| {
            pin.applies_to(&pkg.name, &pkg.arch, self.native)
                && match &pin.target {
                    PinTarget::Version(pattern) => {
                        apt_prefs::version_matches(pattern, &offer.version)
                    }
                    target => offer
                        .files
                        .iter()
                        .any(|&f| target.matches_file(&self.files[f])),
                }
        });
        if let Some(pin) = pin {
            if pin.priority == NEVER {
                return NEVER;
            }
            if offer.files.iter().any(|&f| self.priorities[f] != NEVER) {
                return pin.priority;
            }
        }
        offer
            .files
            .iter()
            .map(|&f| self.priorities[f])
            .max()
            .unwrap_or(0)
    }

    /// apt's `pkgPolicy::GetCandidateVer`.
    fn candidate<'p>(&self, pkg: &'p Installed) -> Option<&'p Offer> {
        let mut offers: Vec<&Offer> = pkg.offers.iter().collect();
        offers.sort_by(|a, b| debver::compare(&b.version, &a.version));
        let mut candidate = None;
        let mut best = -1;
        for offer in offers {
            let priority = self.priority(pkg, offer);
            if priority == 0 || priority <= best {
                continue;
            }
            if priority < 1000 && debver::compare(&offer.version, &pkg.version) == Ordering::Less {
                continue;
            }
            best = priority;
            candidate = Some(offer);
        }
        candidate
    }

    fn pending(&self, pkg: &Installed) -> Option<PendingUpdate> {
        let candidate = self.candidate(pkg)?;
        if debver::compare(&candidate.version, &pkg.version) == Ordering::Equal {
            return None;
        }
        let security = candidate.files.iter().any(|&f| self.files[f].is_security());
        let name = if pkg.arch == self.native {
            pkg.name.clone()
        } else {
            format!("{}:{}", pkg.name, pkg.arch)
        };
        Some(PendingUpdate {
            name,
            version: Some(candidate.version.clone()),
            security,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use super::super::apt_prefs::{APT_CONF_D, PREFERENCES, PREFERENCES_D};
    use super::*;
    use crate::collect::tests::put;

    fn lz4(data: &str) -> Vec<u8> {
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(data.as_bytes()).expect("lz4");
        enc.finish().expect("lz4")
    }

    fn gz(data: &str) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data.as_bytes()).expect("gz");
        enc.finish().expect("gz")
    }

    fn list(name: &str) -> String {
        format!("{LISTS}/deb.debian.org_{name}")
    }

    /// A Debian 12 machine with main (amd64 plain, i386 zstd), security (lz4), backports
    /// (`NotAutomatic` + `ButAutomaticUpgrades`) and experimental (`NotAutomatic`, gzip, a plain
    /// Release file).
    fn debian_tree(root: &Path) {
        put(root, STATUS, include_str!("testdata/apt-native/status"));
        put(
            root,
            &list("debian_dists_bookworm_InRelease"),
            include_str!("testdata/apt-native/bookworm_InRelease"),
        );
        put(
            root,
            &list("debian_dists_bookworm_main_binary-amd64_Packages"),
            include_str!("testdata/apt-native/bookworm_main_amd64_Packages"),
        );
        put(
            root,
            &list("debian_dists_bookworm_main_binary-i386_Packages.zst"),
            ruzstd::encoding::compress_to_vec(
                include_str!("testdata/apt-native/bookworm_main_i386_Packages").as_bytes(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        );
        put(
            root,
            &list("debian-security_dists_bookworm-security_InRelease"),
            include_str!("testdata/apt-native/bookworm-security_InRelease"),
        );
        put(
            root,
            &list("debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4"),
            lz4(include_str!(
                "testdata/apt-native/bookworm-security_main_amd64_Packages"
            )),
        );
        put(
            root,
            &list("debian_dists_bookworm-backports_InRelease"),
            include_str!("testdata/apt-native/bookworm-backports_InRelease"),
        );
        put(
            root,
            &list("debian_dists_bookworm-backports_main_binary-amd64_Packages"),
            include_str!("testdata/apt-native/bookworm-backports_main_amd64_Packages"),
        );
        put(
            root,
            &list("debian_dists_experimental_Release"),
            include_str!("testdata/apt-native/experimental_Release"),
        );
        put(
            root,
            &list("debian_dists_experimental_main_binary-amd64_Packages.gz"),
            gz(include_str!(
                "testdata/apt-native/experimental_main_amd64_Packages"
            )),
        );
        put(root, &format!("{LISTS}/lock"), "");
        std::fs::create_dir_all(root.join("var/lib/apt/lists/partial")).expect("mkdir");
    }

    fn summary(up: &Upgrades) -> Vec<(&str, &str, bool)> {
        up.pending
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_deref().unwrap_or_default(),
                    p.security,
                )
            })
            .collect()
    }

    #[test]
    fn debian_tree_pending_and_security() {
        let dir = tempfile::tempdir().expect("tempdir");
        debian_tree(dir.path());
        let up = pending_upgrades(&Root::new(dir.path())).expect("native reader answers");
        assert_eq!(
            summary(&up),
            [
                // Also in main, but the same version in the security archive makes it one.
                ("libgcrypt20", "1.10.1-3+deb12u1", true),
                // Newer than main's 3.0.16; the older 3.0.15 stanza after it does not matter.
                ("libssl3", "3.0.17-1~deb12u2", true),
                // experimental's 14 is NotAutomatic: never a candidate by itself.
                ("base-files", "12.4+deb12u15", false),
                // Installed from backports: ButAutomaticUpgrades keeps it following backports.
                ("cockpit", "300-1~bpo12+1", false),
                ("libc6", "2.36-9+deb12u10", false),
                // A foreign architecture only takes versions of its own.
                ("libc6:i386", "2.36-9+deb12u10", false),
                // Architecture: all matches the native architecture.
                ("tzdata", "2025b-0+deb12u1", false),
            ]
        );
        // Not pending: curl (backports' newer version is below main's priority), firefox-esr
        // (experimental), linux-image-amd64 (held), oldpkg (removed), localtool (no archive),
        // sudo (the archive's version is older), zutils and libssl3:i386 (not installed).
        assert_eq!(up.security, 2);
        assert_eq!(up.installed, 12);
        assert_eq!(up.indices, 5);
    }

    #[test]
    fn pins_change_the_candidates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        debian_tree(root);
        put(
            root,
            PREFERENCES,
            "# curl from backports for HTTP/3\n\
             Package: curl\n\
             Pin: release a=bookworm-backports\n\
             Pin-Priority: 600\n\
             \n\
             Explanation: keep the installed base-files\n\
             Package: base-files\n\
             Pin: version 12.4+deb12u11\n\
             Pin-Priority: 1001\n",
        );
        put(
            root,
            &format!("{PREFERENCES_D}/no-security"),
            "Package: *\nPin: release l=Debian-Security\nPin-Priority: never\n",
        );
        put(
            root,
            &format!("{PREFERENCES_D}/tzdata.pref"),
            "Package: tzd*\nPin: origin deb.debian.org\nPin-Priority: -10\n",
        );
        // As on hosts that once had NodeSource: it matches no index, so it changes nothing.
        put(
            root,
            &format!("{PREFERENCES_D}/nodejs"),
            "Package: nodejs\nPin: origin deb.nodesource.com\nPin-Priority: 600\n",
        );
        // Not read: apt skips other extensions.
        put(
            root,
            &format!("{PREFERENCES_D}/old.bak"),
            "Package: src:openssl\nPin: version 1*\nPin-Priority: 900\n",
        );
        let up = pending_upgrades(&Root::new(root)).expect("native reader answers");
        assert_eq!(
            summary(&up),
            [
                // The security index is pinned never, but this version is also in main; apt
                // still names the security archive among the version's sources.
                ("libgcrypt20", "1.10.1-3+deb12u1", true),
                ("cockpit", "300-1~bpo12+1", false),
                ("curl", "8.11.1-1~bpo12+1", false),
                ("libc6", "2.36-9+deb12u10", false),
                ("libc6:i386", "2.36-9+deb12u10", false),
                // 3.0.17 is only in the never-pinned security archive.
                ("libssl3", "3.0.16-1~deb12u1", false),
            ]
        );
        assert_eq!(up.security, 1);
    }

    #[test]
    fn what_the_reader_does_not_handle_is_an_error() {
        let unsupported = |setup: &dyn Fn(&Path)| {
            let dir = tempfile::tempdir().expect("tempdir");
            debian_tree(dir.path());
            setup(dir.path());
            match pending_upgrades(&Root::new(dir.path())) {
                Err(e) => e.to_string(),
                Ok(up) => panic!("answered {:?}", summary(&up)),
            }
        };
        assert_eq!(
            unsupported(&|root| put(
                root,
                &list("debian_dists_bookworm_contrib_binary-amd64_Packages.xz"),
                "",
            )),
            "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_contrib_binary-amd64_Packages.xz: \
             a xz-compressed index, which the native reader does not handle"
        );
        assert_eq!(
            unsupported(&|root| put(
                root,
                &format!("{APT_CONF_D}/99release"),
                "APT::Default-Release \"stable\";\n",
            )),
            "/etc/apt/apt.conf.d/99release: APT::Default-Release, which the native reader does not handle"
        );
        assert!(
            unsupported(&|root| put(
                root,
                &format!("{PREFERENCES_D}/openssl"),
                "Package: src:openssl\nPin: version 3.0.15*\nPin-Priority: 1001\n",
            ))
            .contains("a src: pin")
        );
        assert!(
            unsupported(&|root| put(
                root,
                PREFERENCES,
                "Package: /^lib/\nPin: release a=stable\nPin-Priority: 900\n",
            ))
            .contains("a regex package pin")
        );
        assert_eq!(
            unsupported(
                &|root| std::fs::remove_dir_all(root.join("var/lib/apt/lists")).expect("rm")
            ),
            "/var/lib/apt/lists does not exist"
        );
        assert_eq!(
            unsupported(
                &|root| std::fs::remove_file(root.join("var/lib/dpkg/status")).expect("rm")
            ),
            "/var/lib/dpkg/status does not exist"
        );
        // A commented-out Default-Release is fine.
        let dir = tempfile::tempdir().expect("tempdir");
        debian_tree(dir.path());
        put(
            dir.path(),
            &format!("{APT_CONF_D}/99release"),
            "// APT::Default-Release \"stable\";\n",
        );
        assert!(pending_upgrades(&Root::new(dir.path())).is_ok());
    }

    #[test]
    fn release_fields_of_a_clear_signed_file() {
        let release =
            parse_release(include_str!("testdata/apt-native/bookworm_InRelease").as_bytes())
                .expect("parses");
        assert_eq!(
            release,
            Release {
                origin: Some("Debian".into()),
                label: Some("Debian".into()),
                suite: Some("oldstable".into()),
                codename: Some("bookworm".into()),
                // Not the signature's "Version: GnuPG v2" armour header.
                version: Some("12.9".into()),
                not_automatic: false,
                but_automatic_upgrades: false,
            }
        );
        let backports = parse_release(
            include_str!("testdata/apt-native/bookworm-backports_InRelease").as_bytes(),
        )
        .expect("parses");
        assert!(backports.not_automatic && backports.but_automatic_upgrades);
        let experimental =
            parse_release(include_str!("testdata/apt-native/experimental_Release").as_bytes())
                .expect("parses");
        assert_eq!(experimental.codename.as_deref(), Some("rc-buggy"));
        assert!(experimental.not_automatic && !experimental.but_automatic_upgrades);
    }

    #[test]
    fn indices_pair_with_the_longest_release_prefix() {
        let names: Vec<String> = [
            "deb.debian.org_debian_dists_bookworm-updates_InRelease",
            "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.lz4",
            "deb.debian.org_debian_dists_bookworm_InRelease",
            "deb.debian.org_debian_dists_bookworm_Release",
            "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
            "deb.debian.org_debian_dists_bookworm_main_dep11_Components-amd64.yml.gz",
            "deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en",
            "esm.ubuntu.com_apps_ubuntu_dists_jammy-apps-security_InRelease",
            "esm.ubuntu.com_apps_ubuntu_dists_jammy-apps-security_main_binary-amd64_Packages",
            "repo.example.org:8080_debian_._InRelease",
            "repo.example.org:8080_debian_._Packages",
            "_var_local_repo_._Packages.gz",
            "lock",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let plan = plan_indices(&names).expect("plan");
        // (name, release file, site, component, architecture)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let got: Vec<Row> = plan
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.release.as_deref(),
                    i.site.as_str(),
                    i.component.as_deref(),
                    i.architecture.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.lz4",
                    Some("deb.debian.org_debian_dists_bookworm-updates_InRelease"),
                    "deb.debian.org",
                    Some("main"),
                    Some("amd64"),
                ),
                (
                    "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
                    Some("deb.debian.org_debian_dists_bookworm_InRelease"),
                    "deb.debian.org",
                    Some("main"),
                    Some("amd64"),
                ),
                (
                    "esm.ubuntu.com_apps_ubuntu_dists_jammy-apps-security_main_binary-amd64_Packages",
                    Some("esm.ubuntu.com_apps_ubuntu_dists_jammy-apps-security_InRelease"),
                    "esm.ubuntu.com",
                    Some("main"),
                    Some("amd64"),
                ),
                (
                    "repo.example.org:8080_debian_._Packages",
                    Some("repo.example.org:8080_debian_._InRelease"),
                    "repo.example.org:8080",
                    None,
                    None,
                ),
                ("_var_local_repo_._Packages.gz", None, "", None, None),
            ]
        );
        assert_eq!(plan[4].compression, Compression::Gz);
    }

    /// Compares the reader with apt's own simulation on the machine running the tests.
    #[test]
    fn agrees_with_apt_get_on_this_machine() {
        use std::collections::{BTreeMap, BTreeSet};

        use super::super::apt;
        use super::super::cmd::{self, Commands, SystemCommands};

        if !Path::new(LISTS).is_dir() || SystemCommands.find("apt-get").is_none() {
            println!("skipped: no apt-get or no {LISTS} on this machine");
            return;
        }
        let native = match pending_upgrades(&Root::new("/")) {
            Ok(up) => up,
            Err(e) => {
                println!("skipped: the native reader does not apply here: {e}");
                return;
            }
        };
        let out = SystemCommands
            .run("apt-get", apt::SIMULATE_ARGS, cmd::PACKAGE_MANAGER)
            .expect("apt-get runs");
        assert!(out.success(), "{}", out.failure("apt-get -s dist-upgrade"));

        // `Inst name [old] (new ...)` upgrades an installed package; without `[old]` it is new.
        let mut upgrades = BTreeMap::new();
        let mut new = Vec::new();
        for line in out.stdout.lines().filter(|l| l.starts_with("Inst ")) {
            let upgrade = line.split(' ').nth(2).is_some_and(|w| w.starts_with('['));
            for p in apt::parse_simulation(line) {
                if upgrade {
                    upgrades.insert(p.name.clone(), (p.version, p.security));
                } else {
                    new.push(p.name);
                }
            }
        }
        // Upgrades apt holds back (unmet dependencies, phasing) are still pending for us.
        let kept_back: BTreeSet<&str> = out
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("The following packages have been kept back"))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .flat_map(str::split_whitespace)
            .collect();
        let ours: BTreeMap<String, (Option<String>, bool)> = native
            .pending
            .iter()
            .map(|p| (p.name.clone(), (p.version.clone(), p.security)))
            .collect();
        let missing: Vec<_> = upgrades
            .iter()
            .filter(|(name, v)| ours.get(*name) != Some(v))
            .collect();
        let extra: Vec<_> = ours
            .iter()
            .filter(|(name, _)| !upgrades.contains_key(*name))
            .filter(|(name, _)| !kept_back.contains(name.split(':').next().unwrap_or_default()))
            .collect();
        println!(
            "apt-get: {} upgrades ({} security), {} new packages {new:?}, kept back {kept_back:?}; \
             native: {} pending ({} security)",
            upgrades.len(),
            upgrades.values().filter(|(_, s)| *s).count(),
            new.len(),
            native.pending.len(),
            native.security,
        );
        assert!(
            missing.is_empty() && extra.is_empty(),
            "apt-get upgrades the native reader misses or differs on: {missing:?}; \
             native pending that apt-get does not upgrade: {extra:?}"
        );
    }
}
