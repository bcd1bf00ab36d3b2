//! How pages name devices and show free text to a role without network details (finance): an
//! asset label (make, model and serial, or an opaque label from the device id) instead of the
//! host name, and free text (exception reasons, finding sentences, import origins) with IP and
//! MAC addresses hidden and every known host or DNS name replaced by that device's label.
//!
//! Roles with network details see names and text as stored.

use std::sync::Arc;

use uuid::Uuid;

use crate::estate::Snapshot;
use crate::export::network;

/// Names and free text as one role sees them, over one estate snapshot.
#[derive(Debug, Clone)]
pub struct Labels {
    network: bool,
    estate: Arc<Snapshot>,
}

impl Labels {
    /// `network`: the role sees network details (names and text unchanged).
    pub fn new(estate: Arc<Snapshot>, network: bool) -> Labels {
        Labels { network, estate }
    }

    /// The device's name for this role: its host name (or id) with network details, else its
    /// asset label (make, model and serial; two devices with one label get the end of their id).
    pub fn name(&self, id: Uuid, hostname: Option<&str>) -> String {
        if self.network {
            return hostname.map_or_else(|| id.to_string(), str::to_owned);
        }
        self.estate.row(id).map_or_else(
            || crate::api::redact::opaque_label(id),
            |r| self.estate.asset_label(r),
        )
    }

    /// Free text for this role: unchanged with network details, else addresses hidden and
    /// every known host or DNS name (a whole word) replaced by its device's label.
    pub fn text(&self, s: &str) -> String {
        if self.network {
            return s.to_owned();
        }
        replace_names(&network::redact(s), &|name| {
            self.estate
                .named(name)
                .map(|row| self.estate.asset_label(row))
        })
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `text` with every whole word (a run of letters, digits, `-`, `_` and inner dots, so a DNS
/// name is one word) that `label_of` knows, by its lower-case form, replaced by its label.
/// Words shorter than three characters are left alone (they would match ordinary words).
fn replace_names(text: &str, label_of: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_name_char) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let len = run
            .find(|c: char| !(is_name_char(c) || c == '.'))
            .unwrap_or(run.len());
        let word = run[..len].trim_end_matches('.');
        let lower = word.to_ascii_lowercase();
        match (lower.len() >= 3).then(|| label_of(&lower)).flatten() {
            Some(label) => out.push_str(&label),
            None => out.push_str(word),
        }
        rest = &run[word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::replace_names;

    fn known(name: &str) -> Option<String> {
        match name {
            "pacs-view-07" => Some("Dell".into()),
            "pacs-view-07.trust.nhs.uk" => Some("Dell".into()),
            "pc-1" => Some("X".into()),
            _ => None,
        }
    }

    #[test]
    fn host_names_are_replaced_as_whole_words_only() {
        assert_eq!(
            replace_names("PACS-VIEW-07 on pacs-view-07.trust.nhs.uk.", &known),
            "Dell on Dell."
        );
        assert_eq!(
            replace_names("see pacs-view-07.trust.nhs.uk.", &known),
            "see Dell."
        );
        assert_eq!(
            replace_names("see pacs-view-07.other.org", &known),
            "see pacs-view-07.other.org"
        );
        assert_eq!(replace_names("PACS-VIEW-070", &known), "PACS-VIEW-070");
        assert_eq!(replace_names("über pc-1, pc-1", &known), "über X, X");
        assert_eq!(replace_names("pc", &known), "pc");
    }
}
