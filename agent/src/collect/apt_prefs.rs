//! apt's preferences (apt_preferences(5)): the pins that change which version is the candidate,
//! and the one apt.conf setting that acts like a pin (`APT::Default-Release`).
//!
//! Supported: `Package` names, `name:arch` and fnmatch patterns; `Pin: version`, `Pin: release`
//! (`a= n= v= l= o= c= b=`, or a bare archive/codename/version) and `Pin: origin`; priorities,
//! `never` included. A regular expression (`/.../`) or a `src:` pin is not: reading one is an
//! error, and the caller leaves the question to apt. Records apt itself ignores (no `Pin`, an
//! unknown pin type, priority 0, a version pin on `*`) are ignored here too.

use super::apt_native::{NativeError, PackageFile};
use super::fsroot::Root;

pub const PREFERENCES: &str = "/etc/apt/preferences";
pub const PREFERENCES_D: &str = "/etc/apt/preferences.d";
pub const APT_CONF: &str = "/etc/apt/apt.conf";
pub const APT_CONF_D: &str = "/etc/apt/apt.conf.d";

/// apt's `Pin-Priority: never`.
pub const NEVER: i32 = i16::MIN as i32;

/// One `Package`/`Pin`/`Pin-Priority` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// `None` for `Package: *`, which pins package files rather than packages.
    pub packages: Option<Vec<PackagePattern>>,
    pub target: PinTarget,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagePattern {
    /// A name or an fnmatch pattern.
    name: String,
    /// `name:arch`; without one a pin applies to the native architecture only, as in apt.
    arch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinTarget {
    /// `Pin: version 1.2*`.
    Version(String),
    /// `Pin: release a=stable, l=Debian`.
    Release(ReleaseMatch),
    /// `Pin: origin deb.example.org`: the host the index was fetched from.
    Origin(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseMatch {
    all: bool,
    /// The Release file's `Version`: exact, `prefix*` or a pattern.
    version: Option<String>,
    origin: Option<String>,
    archive: Option<String>,
    codename: Option<String>,
    /// A bare name: the archive or the codename.
    release: Option<String>,
    label: Option<String>,
    component: Option<String>,
    architecture: Option<String>,
}

/// `/etc/apt/preferences`, then the files of `preferences.d` in name order.
pub fn read_preferences(root: &Root) -> Result<Vec<Pin>, NativeError> {
    let mut paths = vec![PREFERENCES.to_owned()];
    paths.extend(
        root.list(PREFERENCES_D)
            .into_iter()
            .filter(|n| is_parts_file(n, "pref"))
            .map(|n| format!("{PREFERENCES_D}/{n}")),
    );
    let mut pins = Vec::new();
    for path in paths {
        if root.path(&path).is_dir() {
            continue;
        }
        if let Some(text) = root.read(&path)? {
            pins.extend(parse_preferences(&text, &path)?);
        }
    }
    Ok(pins)
}

/// apt reads files of a `.d` folder that have the given extension or none, and skips backups.
fn is_parts_file(name: &str, ext: &str) -> bool {
    let valid = !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    valid
        && match name.rsplit_once('.') {
            Some((_, e)) => e == ext,
            None => true,
        }
}

fn parse_preferences(text: &str, path: &str) -> Result<Vec<Pin>, NativeError> {
    let mut records: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if records.last().is_some_and(|r| !r.is_empty()) {
                records.push(Vec::new());
            }
            continue;
        }
        if trimmed.starts_with('#') || line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':')
            && let Some(record) = records.last_mut()
        {
            record.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }

    let mut pins = Vec::new();
    for record in records.iter().filter(|r| !r.is_empty()) {
        let get = |key: &str| {
            record
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let Some(package) = get("package").filter(|p| !p.is_empty()) else {
            return Err(NativeError::unsupported(path, "a record without Package"));
        };
        let Some(pin) = get("pin") else {
            continue;
        };
        let (kind, data) = pin.split_once(char::is_whitespace).unwrap_or((pin, ""));
        let data = data.trim();
        let priority = match get("pin-priority") {
            Some(p) if p.eq_ignore_ascii_case("never") => NEVER,
            Some(p) => p.parse::<i16>().map(i32::from).unwrap_or(0),
            None => 0,
        };
        if priority == 0 {
            continue; // apt warns and ignores the record
        }
        let general = package == "*";
        let target = if kind.eq_ignore_ascii_case("version") && !general {
            if is_regex(data) {
                return Err(NativeError::unsupported(path, "a regex version pin"));
            }
            PinTarget::Version(data.to_owned())
        } else if kind.eq_ignore_ascii_case("release") {
            PinTarget::Release(parse_release_match(data, path)?)
        } else if kind.eq_ignore_ascii_case("origin") {
            if is_regex(data) {
                return Err(NativeError::unsupported(path, "a regex origin pin"));
            }
            PinTarget::Origin(data.trim_matches('"').to_owned())
        } else {
            continue; // apt: "Did not understand pin type"
        };
        let packages = if general {
            None
        } else {
            let mut patterns = Vec::new();
            for word in package.split_whitespace() {
                if word.starts_with("src:") {
                    return Err(NativeError::unsupported(path, "a src: pin"));
                }
                if is_regex(word) {
                    return Err(NativeError::unsupported(path, "a regex package pin"));
                }
                let (name, arch) = match word.rsplit_once(':') {
                    Some((n, a)) => (n, Some(a.to_owned())),
                    None => (word, None),
                };
                patterns.push(PackagePattern {
                    name: name.to_owned(),
                    arch,
                });
            }
            Some(patterns)
        };
        pins.push(Pin {
            packages,
            target,
            priority,
        });
    }
    Ok(pins)
}

fn is_regex(s: &str) -> bool {
    s.len() > 1 && s.starts_with('/') && s.ends_with('/')
}

/// `Pin: release` data, as apt's `pkgVersionMatch` splits it.
fn parse_release_match(data: &str, path: &str) -> Result<ReleaseMatch, NativeError> {
    let mut m = ReleaseMatch::default();
    if data == "*" {
        m.all = true;
        return Ok(m);
    }
    if !data.contains('=') {
        if data.starts_with(|c: char| c.is_ascii_digit()) {
            m.version = Some(data.to_owned());
        } else if !data.is_empty() {
            m.release = Some(data.to_owned());
        }
    } else {
        for fragment in data.split(',').map(str::trim) {
            if fragment.len() < 3 || fragment.as_bytes()[1] != b'=' {
                continue;
            }
            let value = Some(fragment[2..].to_owned());
            match fragment.as_bytes()[0].to_ascii_lowercase() {
                b'v' => m.version = value,
                b'o' => m.origin = value,
                b'a' => m.archive = value,
                b'n' => m.codename = value,
                b'l' => m.label = value,
                b'c' => m.component = value,
                b'b' => m.architecture = value,
                _ => {}
            }
        }
    }
    let values = [
        &m.version,
        &m.origin,
        &m.archive,
        &m.codename,
        &m.release,
        &m.label,
        &m.component,
        &m.architecture,
    ];
    if values.iter().any(|v| v.as_deref().is_some_and(is_regex)) {
        return Err(NativeError::unsupported(path, "a regex release pin"));
    }
    Ok(m)
}

/// `APT::Default-Release` pins a whole release at 990; rather than read apt's configuration
/// language, any mention of it hands the question to apt.
pub fn check_apt_conf(root: &Root) -> Result<(), NativeError> {
    let mut paths = vec![APT_CONF.to_owned()];
    paths.extend(
        root.list(APT_CONF_D)
            .into_iter()
            .filter(|n| is_parts_file(n, "conf"))
            .map(|n| format!("{APT_CONF_D}/{n}")),
    );
    for path in paths {
        if root.path(&path).is_dir() {
            continue;
        }
        let Some(text) = root.read(&path)? else {
            continue;
        };
        let set = text.lines().any(|line| {
            let line = line.trim_start();
            !line.starts_with('#')
                && !line.starts_with("//")
                && line.to_ascii_lowercase().contains("default-release")
        });
        if set {
            return Err(NativeError::unsupported(&path, "APT::Default-Release"));
        }
    }
    Ok(())
}

/// fnmatch(3) without flags but `FNM_CASEFOLD`, as apt matches pin patterns: `*`, `?`, `[...]`
/// (with `!`/`^` and ranges) and `\` escapes.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let t: Vec<u8> = text.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some(b'?') => Some(pi + 1),
            Some(b'[') => match bracket(&p[pi..], t[ti]) {
                Some((true, len)) => Some(pi + len),
                Some((false, _)) => None,
                None => (t[ti] == b'[').then_some(pi + 1),
            },
            Some(b'\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(pi + 2),
            Some(&c) => (c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A `[...]` expression at the start of `p`: whether `c` matches and the expression's length;
/// `None` when it is not closed (then `[` is literal).
fn bracket(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|hi| *hi != b']') {
            let hi = p[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

impl ReleaseMatch {
    fn matches(&self, file: &PackageFile) -> bool {
        if self.all {
            return true;
        }
        let r = &file.release;
        let fields = [
            &self.origin,
            &self.archive,
            &self.codename,
            &self.release,
            &self.label,
            &self.component,
            &self.architecture,
        ];
        if self.version.is_none() && fields.iter().all(|f| f.is_none()) {
            return false;
        }
        let field = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| glob(w, h)),
        };
        let version = match &self.version {
            None => true,
            Some(want) => r
                .version
                .as_deref()
                .is_some_and(|have| version_matches(want, have)),
        };
        let release = match &self.release {
            None => true,
            Some(_) => field(&self.release, &r.suite) || field(&self.release, &r.codename),
        };
        version
            && release
            && field(&self.origin, &r.origin)
            && field(&self.archive, &r.suite)
            && field(&self.codename, &r.codename)
            && field(&self.label, &r.label)
            && field(&self.component, &file.component)
            && field(&self.architecture, &file.architecture)
    }
}

impl PinTarget {
    /// Whether this pin selects `file` (release and origin pins).
    pub fn matches_file(&self, file: &PackageFile) -> bool {
        match self {
            PinTarget::Version(_) => false,
            PinTarget::Release(m) => m.matches(file),
            // An empty origin means local sources, which the status file is not.
            PinTarget::Origin(site) if site.is_empty() => file.site.is_empty() && !file.status,
            PinTarget::Origin(site) => !file.site.is_empty() && glob(site, &file.site),
        }
    }
}

impl Pin {
    /// Whether this specific pin names the package `name` of architecture `arch`.
    pub fn applies_to(&self, name: &str, arch: &str, native: &str) -> bool {
        let Some(patterns) = &self.packages else {
            return false;
        };
        patterns.iter().any(|p| {
            let arch_ok = match p.arch.as_deref() {
                None => arch == native,
                Some("any") => true,
                Some(a) => a == arch,
            };
            arch_ok && (p.name == name || glob(&p.name, name))
        })
    }
}

/// `Pin: version` (and a release pin's `v=`): exact or `prefix*`, case-insensitive, or an
/// fnmatch pattern.
pub fn version_matches(pattern: &str, version: &str) -> bool {
    let plain = match pattern.strip_suffix('*') {
        Some(prefix) => {
            version.len() >= prefix.len()
                && version.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        }
        None => version.eq_ignore_ascii_case(pattern),
    };
    plain || glob(pattern, version)
}

#[cfg(test)]
mod tests {
    use super::super::apt_native::Release;
    use super::*;

    #[test]
    fn fnmatch_patterns() {
        assert!(glob("deb.debian.org", "deb.debian.org"));
        assert!(glob("*.debian.org", "DEB.debian.org"));
        assert!(glob("lib*", "libssl3"));
        assert!(glob("lib?sl3", "libssl3"));
        assert!(glob("libc[0-9]", "libc6"));
        assert!(!glob("libc[!0-9]", "libc6"));
        assert!(glob("*-security", "bookworm-security"));
        assert!(glob("a*b*c", "aXXbYYbZc"));
        assert!(glob("\\*", "*"));
        assert!(!glob("\\*", "x"));
        assert!(glob("[", "["));
        assert!(!glob("lib*", "glibc"));
        assert!(!glob("", "x"));
        assert!(glob("", ""));
    }

    #[test]
    fn preference_records() {
        let pins = parse_preferences(
            "Package: libc6:i386 openssl*\n\
             Pin: release n=bookworm, c=main ,b=i386\n\
             Pin-Priority: 990\n\
             \n\
             # only a comment\n\
             \n\
             Package: *\n\
             Pin: origin \"\"\n\
             Pin-Priority: never\n\
             \n\
             Package: *\n\
             Pin: version 1.0\n\
             Pin-Priority: 100\n\
             \n\
             Package: foo\n\
             Pin: release 12.*\n\
             Pin-Priority: 0\n",
            "/etc/apt/preferences",
        )
        .expect("parses");
        assert_eq!(
            pins,
            [
                Pin {
                    packages: Some(vec![
                        PackagePattern {
                            name: "libc6".into(),
                            arch: Some("i386".into()),
                        },
                        PackagePattern {
                            name: "openssl*".into(),
                            arch: None,
                        },
                    ]),
                    target: PinTarget::Release(ReleaseMatch {
                        codename: Some("bookworm".into()),
                        component: Some("main".into()),
                        architecture: Some("i386".into()),
                        ..ReleaseMatch::default()
                    }),
                    priority: 990,
                },
                // apt ignores a version pin for `*` and a record with priority 0.
                Pin {
                    packages: None,
                    target: PinTarget::Origin(String::new()),
                    priority: NEVER,
                },
            ]
        );
        let m = parse_release_match("12.*", "p").expect("parses");
        assert_eq!(m.version.as_deref(), Some("12.*"));
        let file = |version: &str| PackageFile {
            release: Release {
                version: Some(version.into()),
                ..Release::default()
            },
            ..PackageFile::status()
        };
        assert!(m.matches(&file("12.9")));
        assert!(!m.matches(&file("11.2")));
        let m = parse_release_match("bookworm-backports", "p").expect("parses");
        assert_eq!(m.release.as_deref(), Some("bookworm-backports"));
    }
}
