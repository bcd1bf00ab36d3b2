//! How pages name devices and show free text to a role without network details (finance): an
//! asset label (make, model and serial, or an opaque label from the device id) instead of the
//! host name, and free text (exception reasons, finding sentences, import origins) with IP and
//! MAC addresses hidden and every known host or DNS name replaced by that device's label.
//!
//! Roles with network details see names and text as stored.

use std::collections::HashMap;

use uuid::Uuid;

use crate::api::redact;
use crate::devices::merge::Device;
use crate::export::network;

#[derive(Debug, Default)]
pub struct Labels {
    network: bool,
    /// Device id (and alias) -> asset label, for roles without network details.
    names: HashMap<Uuid, String>,
    /// (lower-case host or DNS name, label), longest first so `pc-1.trust.nhs.uk` goes before
    /// `pc-1`.
    hosts: Vec<(String, String)>,
}

impl Labels {
    /// Labels for every device; `network`: the role sees network details (names unchanged).
    pub fn new<'a>(devices: impl IntoIterator<Item = &'a Device>, network: bool) -> Labels {
        let mut labels = Labels {
            network,
            ..Labels::default()
        };
        if network {
            return labels;
        }
        let devices: Vec<&Device> = devices.into_iter().collect();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for d in &devices {
            *seen
                .entry(redact::asset_label(&d.merged, d.id))
                .or_default() += 1;
        }
        for d in devices {
            let mut label = redact::asset_label(&d.merged, d.id);
            // Two devices reporting the same make, model and serial (a cloned image, a
            // placeholder serial) stay apart by their opaque labels.
            if seen.get(&label).is_some_and(|n| *n > 1) {
                label = format!(
                    "{label} · {}",
                    &redact::opaque_label(d.id)["Device ".len()..]
                );
            }
            for id in std::iter::once(d.id).chain(d.aliases.iter().copied()) {
                labels.names.insert(id, label.clone());
            }
            let host = &d.merged.host;
            for name in [&d.hostname, &host.hostname, &host.fqdn]
                .into_iter()
                .flatten()
            {
                let name = name.trim().to_ascii_lowercase();
                // Very short names would match ordinary words.
                if name.len() >= 3 {
                    labels.hosts.push((name, label.clone()));
                }
            }
        }
        labels
            .hosts
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        labels.hosts.dedup_by(|a, b| a.0 == b.0);
        labels
    }

    /// The device's name for this role: its host name (or id) with network details, else its
    /// asset label.
    pub fn name(&self, id: Uuid, hostname: Option<&str>) -> String {
        if self.network {
            hostname.map_or_else(|| id.to_string(), str::to_owned)
        } else {
            self.names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| redact::opaque_label(id))
        }
    }

    /// Free text for this role: unchanged with network details, else addresses hidden and
    /// known host names replaced by labels.
    pub fn text(&self, s: &str) -> String {
        if self.network {
            return s.to_owned();
        }
        let mut out = network::redact(s);
        for (host, label) in &self.hosts {
            out = replace_word(&out, host, label);
        }
        out
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `text` with every whole-word, ASCII-case-insensitive occurrence of `needle` (lower case)
/// replaced by `with`.
fn replace_word(text: &str, needle: &str, with: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(pos) = lower[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name_char(c));
        let after_ok = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !is_name_char(c) && c != '.')
            || text[end..].starts_with(". ")
            || text[end..] == *".";
        out.push_str(&text[from..start]);
        if before_ok && after_ok {
            out.push_str(with);
        } else {
            out.push_str(&text[start..end]);
        }
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::replace_word;

    #[test]
    fn host_names_are_replaced_as_whole_words_only() {
        assert_eq!(
            replace_word(
                "PACS-VIEW-07 on pacs-view-07.trust.nhs.uk.",
                "pacs-view-07",
                "Dell"
            ),
            "Dell on pacs-view-07.trust.nhs.uk."
        );
        assert_eq!(
            replace_word(
                "see pacs-view-07.trust.nhs.uk.",
                "pacs-view-07.trust.nhs.uk",
                "Dell"
            ),
            "see Dell."
        );
        assert_eq!(
            replace_word("PACS-VIEW-070", "pacs-view-07", "X"),
            "PACS-VIEW-070"
        );
        assert_eq!(replace_word("über pc-1, pc-1", "pc-1", "X"), "über X, X");
    }
}
