//! Samba: does the SMB server accept SMB1 (NT1) connections?
//!
//! The deciding parameter is `server min protocol` (synonym `min protocol`) in `[global]`. Its
//! default was `LANMAN1` (SMB1 allowed) until Samba 4.11, and `SMB2_02` (SMB1 refused) since
//! (Samba 4.11 release notes, "SMB1 is disabled by default").

/// Arguments for `testparm`, which prints the effective value, default included.
pub const TESTPARM_ARGS: &[&str] = &["-s", "--parameter-name=server min protocol"];

/// Whether a protocol name used as the minimum lets SMB1 through; `None` for "default" or an
/// unknown name (the caller falls back to the version default).
pub fn min_protocol_allows_smb1(value: &str) -> Option<bool> {
    let v = value.trim().to_ascii_uppercase();
    match v.as_str() {
        "CORE" | "COREPLUS" | "LANMAN1" | "LANMAN2" | "NT1" => Some(true),
        _ if v.starts_with("SMB2") || v.starts_with("SMB3") => Some(false),
        _ => None,
    }
}

/// The version in `smbd --version` output: `Version 4.17.12-Debian` -> (4, 17).
pub fn parse_version(output: &str) -> Option<(u32, u32)> {
    let text = output.trim();
    let text = text.strip_prefix("Version").unwrap_or(text).trim();
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether a Samba of this version allows SMB1 when `server min protocol` is not set.
pub fn default_allows_smb1(version: (u32, u32)) -> bool {
    version < (4, 11)
}

/// `testparm --parameter-name` prints the value alone on stdout.
pub fn parse_testparm(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// What smb.conf text says: the `[global]` minimum protocol, and `include` files to read next.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmbConf {
    pub min_protocol: Option<String>,
    pub includes: Vec<String>,
}

/// Parses smb.conf text: `[section]` headers, `name = value` lines, `#`/`;` comments, `\`
/// continuations. Parameter names compare case- and whitespace-insensitively, as Samba does.
/// Lines before the first section belong to `[global]`. Later settings override earlier ones.
pub fn parse_smb_conf(text: &str) -> SmbConf {
    let mut conf = SmbConf::default();
    let mut in_global = true;
    let mut logical = String::new();
    for raw in text.lines() {
        let part = raw.trim();
        if let Some(cont) = part.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(part);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            in_global = section.trim().eq_ignore_ascii_case("global");
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let value = value.trim();
        match name.as_str() {
            "include" => conf.includes.push(value.to_owned()),
            "serverminprotocol" | "minprotocol" if in_global => {
                conf.min_protocol = Some(value.to_owned());
            }
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(min_protocol_allows_smb1("NT1"), Some(true));
        assert_eq!(min_protocol_allows_smb1("lanman1"), Some(true));
        assert_eq!(min_protocol_allows_smb1("SMB2_02"), Some(false));
        assert_eq!(min_protocol_allows_smb1("SMB3_11"), Some(false));
        assert_eq!(min_protocol_allows_smb1("default"), None);
    }

    #[test]
    fn versions_and_defaults() {
        assert_eq!(parse_version("Version 4.17.12-Debian\n"), Some((4, 17)));
        assert_eq!(parse_version("Version 4.10.16\n"), Some((4, 10)));
        assert_eq!(parse_version("garbage"), None);
        assert!(default_allows_smb1((4, 10)));
        assert!(!default_allows_smb1((4, 11)));
        assert!(!default_allows_smb1((5, 0)));
    }

    #[test]
    fn smb_conf_global_settings_and_includes() {
        let conf = parse_smb_conf(include_str!("testdata/smb.conf"));
        assert_eq!(conf.min_protocol.as_deref(), Some("NT1"));
        assert_eq!(conf.includes, ["/etc/samba/smb.conf.local"]);
    }

    #[test]
    fn share_level_settings_are_ignored() {
        let conf = parse_smb_conf("[global]\n workgroup = W\n[share]\n min protocol = NT1\n");
        assert_eq!(conf.min_protocol, None);
    }

    #[test]
    fn testparm_value() {
        assert_eq!(parse_testparm("SMB2_02\n").as_deref(), Some("SMB2_02"));
        assert_eq!(parse_testparm("\n"), None);
    }
}
