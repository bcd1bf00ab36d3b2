//! `/etc/os-release` (os-release(5)): shell-style `KEY=value` lines.

use std::collections::BTreeMap;

use ward_shared::Os;

/// Parses os-release text into its variables. Values may be unquoted, "double quoted" (with `\"`,
/// `\\`, `\$`, `` \` `` escapes) or 'single quoted' (literal); `#` lines and blank lines are skipped.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (key, raw) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            Some((key.to_owned(), unquote(raw.trim())))
        })
        .collect()
}

fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => match chars.next() {
                Some(next) => out.push(next),
                None => break,
            },
            // An unquoted `#` after whitespace starts a comment in shell.
            (None, '#') if out.ends_with(char::is_whitespace) || out.is_empty() => break,
            (_, c) => out.push(c),
        }
    }
    out.trim_end().to_owned()
}

/// Fills the distribution fields of `os` from parsed os-release variables.
pub fn apply(vars: &BTreeMap<String, String>, os: &mut Os) {
    let get = |k: &str| {
        vars.get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    os.name = get("PRETTY_NAME").or_else(|| match (get("NAME"), get("VERSION")) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => n,
    });
    os.id = get("ID").map(|id| id.to_ascii_lowercase());
    os.version = get("VERSION_ID");
    os.display_version = get("VERSION_CODENAME").or_else(|| get("UBUNTU_CODENAME"));
    os.edition = get("VARIANT");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ubuntu() {
        let vars = parse(include_str!("testdata/os-release-ubuntu-22.04"));
        let mut os = Os::default();
        apply(&vars, &mut os);
        assert_eq!(os.name.as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(os.id.as_deref(), Some("ubuntu"));
        assert_eq!(os.version.as_deref(), Some("22.04"));
        assert_eq!(os.display_version.as_deref(), Some("jammy"));
        assert_eq!(os.edition, None);
    }

    #[test]
    fn rhel_has_no_codename() {
        let vars = parse(include_str!("testdata/os-release-rhel-9.3"));
        let mut os = Os::default();
        apply(&vars, &mut os);
        assert_eq!(
            os.name.as_deref(),
            Some("Red Hat Enterprise Linux 9.3 (Plow)")
        );
        assert_eq!(os.id.as_deref(), Some("rhel"));
        assert_eq!(os.version.as_deref(), Some("9.3"));
        assert_eq!(os.display_version, None);
    }

    #[test]
    fn fedora_variant_is_the_edition() {
        let vars = parse(include_str!("testdata/os-release-fedora-40-workstation"));
        let mut os = Os::default();
        apply(&vars, &mut os);
        assert_eq!(os.edition.as_deref(), Some("Workstation Edition"));
        assert_eq!(os.id.as_deref(), Some("fedora"));
    }

    #[test]
    fn quotes_escapes_and_comments() {
        let vars = parse(
            "# a comment\n\
             NAME='Single $quoted'\n\
             PRETTY_NAME=\"Say \\\"hi\\\" \\$HOME\"\n\
             ID=plain # trailing comment\n\
             broken line\n\
             =novalue\n\
             EMPTY=\n",
        );
        assert_eq!(vars["NAME"], "Single $quoted");
        assert_eq!(vars["PRETTY_NAME"], "Say \"hi\" $HOME");
        assert_eq!(vars["ID"], "plain");
        assert_eq!(vars["EMPTY"], "");
        assert_eq!(vars.len(), 4);
    }

    #[test]
    fn name_and_version_when_no_pretty_name() {
        let vars = parse("NAME=Debian\nVERSION=\"12 (bookworm)\"\n");
        let mut os = Os::default();
        apply(&vars, &mut os);
        assert_eq!(os.name.as_deref(), Some("Debian 12 (bookworm)"));
    }
}
