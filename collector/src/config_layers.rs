//! Configuration layers shared by both binaries: a TOML file, then `WARD_*` environment
//! variables, then `--set KEY=VALUE` flags, each overriding the one before; the result is then
//! deserialized once, so unknown keys and wrong types are rejected with the key's name.
//!
//! This file is also compiled into `ward-agent` (with `#[path]`): the wire crate may not depend
//! on `toml`, and the two binaries must layer their configs the same way.
//!
//! Every leaf key of the defaults (and the `extra` keys a config names, for optional keys that
//! have no default) can be set from the environment: `listen` is `WARD_LISTEN`, a key in a table
//! joins with a double underscore (`tags.site` is `WARD_TAGS__SITE`). The value is read as the
//! default's type: text as is, numbers and booleans parsed, arrays and tables as TOML.

use toml::{Table, Value};

/// The kind of value a key holds, which says how a text override is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Float,
    Boolean,
    /// Arrays, tables, dates: the override is a TOML value.
    Toml,
}

impl Kind {
    fn of(value: &Value) -> Self {
        match value {
            Value::String(_) => Kind::Text,
            Value::Integer(_) => Kind::Integer,
            Value::Float(_) => Kind::Float,
            Value::Boolean(_) => Kind::Boolean,
            _ => Kind::Toml,
        }
    }
}

/// Every settable key as (dotted path, kind): the leaves of `defaults` plus `extra`.
pub fn keys(defaults: &Table, extra: &[(&str, Kind)]) -> Vec<(String, Kind)> {
    fn walk(prefix: &str, table: &Table, out: &mut Vec<(String, Kind)>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                // An empty table (a map such as `site_multipliers`) is a value of its own.
                Value::Table(t) if !t.is_empty() => walk(&path, t, out),
                other => out.push((path, Kind::of(other))),
            }
        }
    }
    let mut out = Vec::new();
    walk("", defaults, &mut out);
    for (path, kind) in extra {
        if !out.iter().any(|(p, _)| p == path) {
            out.push(((*path).to_owned(), *kind));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The environment variable for a dotted key: `tags.site` -> `WARD_TAGS__SITE`.
pub fn env_name(path: &str) -> String {
    format!("WARD_{}", path.replace('.', "__").to_ascii_uppercase())
}

/// Reads `raw` as a value of `kind`; `what` names the source in the error.
fn parse(raw: &str, kind: Kind, what: &str) -> Result<Value, String> {
    let bad = |expected: &str| format!("{what}: {raw:?} is not {expected}");
    Ok(match kind {
        Kind::Text => Value::String(raw.to_owned()),
        Kind::Integer => Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Float => Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?),
        Kind::Boolean => Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad("true or false")),
        }),
        Kind::Toml => {
            let doc: Table = toml::from_str(&format!("v = {raw}"))
                .map_err(|_| bad("a TOML value (array, table or date)"))?;
            doc.get("v").cloned().ok_or_else(|| bad("a TOML value"))?
        }
    })
}

fn set(table: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().ok_or_else(|| "empty key".to_owned())?;
    let mut at = table;
    for part in parts {
        let entry = at
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        at = entry
            .as_table_mut()
            .ok_or_else(|| format!("{part} is not a table"))?;
    }
    at.insert(last.to_owned(), value);
    Ok(())
}

/// Applies the `WARD_*` variables among `vars` that name a key; returns the names applied.
/// Variables that start with `WARD_` but name no key are left alone (`WARD_LOG` is the log
/// filter, for one).
pub fn apply_env(
    table: &mut Table,
    keys: &[(String, Kind)],
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, String> {
    let mut applied = Vec::new();
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    for (path, kind) in keys {
        let name = env_name(path);
        if let Some((_, raw)) = vars.iter().find(|(k, _)| *k == name) {
            set(table, path, parse(raw, *kind, &name)?)?;
            applied.push(name);
        }
    }
    Ok(applied)
}

/// Applies `--set KEY=VALUE` flags. An unknown key is an error that names it.
pub fn apply_sets(
    table: &mut Table,
    keys: &[(String, Kind)],
    sets: &[String],
) -> Result<(), String> {
    for item in sets {
        let (path, raw) = item
            .split_once('=')
            .ok_or_else(|| format!("--set {item:?}: expected KEY=VALUE"))?;
        let path = path.trim();
        let kind = keys
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, k)| *k)
            .ok_or_else(|| format!("--set: unknown key `{path}`"))?;
        set(table, path, parse(raw, kind, &format!("--set {path}"))?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Table {
        toml::from_str(
            "listen = \"127.0.0.1:1\"\nmax = 3\n[weights]\nsmb1 = 2\nclinical = 1.5\nsites = {}\n",
        )
        .unwrap()
    }

    #[test]
    fn env_and_sets_override_in_order_and_name_the_key() {
        let keys = keys(&defaults(), &[("tags.site", Kind::Text)]);
        let names: Vec<String> = keys.iter().map(|(p, _)| env_name(p)).collect();
        assert!(
            names.contains(&"WARD_WEIGHTS__SMB1".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"WARD_WEIGHTS__SITES".to_owned()),
            "{names:?}"
        );

        let mut file: Table = toml::from_str("max = 5\n").unwrap();
        let vars = [
            ("WARD_MAX", "7"),
            ("WARD_LOG", "debug"),
            ("WARD_TAGS__SITE", "North"),
            ("WARD_WEIGHTS__SITES", "{ \"A&E\" = 2.0 }"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let applied = apply_env(&mut file, &keys, vars).unwrap();
        assert_eq!(applied.len(), 3);
        assert_eq!(file["max"].as_integer(), Some(7));
        assert_eq!(file["tags"]["site"].as_str(), Some("North"));
        assert_eq!(file["weights"]["sites"]["A&E"].as_float(), Some(2.0));

        apply_sets(&mut file, &keys, &["max=9".to_owned()]).unwrap();
        assert_eq!(file["max"].as_integer(), Some(9));

        let err = apply_env(
            &mut file,
            &keys,
            [("WARD_MAX".to_owned(), "lots".to_owned())],
        )
        .unwrap_err();
        assert!(err.contains("WARD_MAX") && err.contains("integer"), "{err}");
        let err = apply_sets(&mut file, &keys, &["maxx=1".to_owned()]).unwrap_err();
        assert!(err.contains("`maxx`"), "{err}");
    }
}
