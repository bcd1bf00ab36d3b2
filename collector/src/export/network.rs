//! Hiding network details (IP and MAC addresses, host names with a domain) inside free text, for
//! exports made without `include_network_details`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What replaces an address.
pub const HIDDEN: &str = "[network detail hidden]";

/// `text` with every IPv4 or IPv6 address (with or without a prefix length or port) and every
/// MAC address replaced by [`HIDDEN`]. Words are split on whitespace and on `,;()[]<>"'=`, so an
/// address inside a sentence or after `field=` is found too.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = None;
    for (i, ch) in text.char_indices() {
        if is_separator(ch) {
            if let Some(start) = word_start.take() {
                push_word(&mut out, &text[start..i]);
            }
            out.push(ch);
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(start) = word_start {
        push_word(&mut out, &text[start..]);
    }
    out
}

fn is_separator(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(
            ch,
            ',' | ';' | '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'' | '='
        )
}

fn push_word(out: &mut String, word: &str) {
    // Sentence punctuation after an address ("... from 10.0.0.1.") stays.
    let core = word.trim_end_matches(['.', ':']);
    if is_address(core) {
        out.push_str(HIDDEN);
        out.push_str(&word[core.len()..]);
    } else {
        out.push_str(word);
    }
}

/// An IP address (optionally `/prefix` or `:port`) or a MAC address.
pub fn is_address(word: &str) -> bool {
    let word = word.split('/').next().unwrap_or(word);
    if word.parse::<Ipv4Addr>().is_ok() || word.parse::<Ipv6Addr>().is_ok() {
        return true;
    }
    // 10.0.0.1:445
    if let Some((host, port)) = word.rsplit_once(':')
        && host.parse::<Ipv4Addr>().is_ok()
        && port.parse::<u16>().is_ok()
    {
        return true;
    }
    // [fe80::1]:445 arrives here as fe80::1 after the brackets split the word.
    is_mac(word)
}

/// `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` or `aabb.ccdd.eeff`.
fn is_mac(word: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = word.split(sep).collect();
        if parts.len() == 6 && parts.iter().all(|p| hex(p, 2)) {
            return true;
        }
    }
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| hex(p, 4))
}

/// Applies [`redact`] to every text cell, and cuts a host name with a domain
/// (`pc-1.trust.nhs.uk`) to its first label.
pub(super) fn hide_in_table(table: &mut super::Table) {
    let host = table.column("hostname").or_else(|| table.column("device"));
    for row in &mut table.rows {
        hide_in_row(row, host);
    }
}

/// [`hide_in_table`] for a sheet whose rows stream.
pub(super) fn hide_in_sheet(sheet: super::Sheet<'_>) -> super::Sheet<'_> {
    let host = sheet.column("hostname").or_else(|| sheet.column("device"));
    super::Sheet {
        name: sheet.name,
        columns: sheet.columns,
        rows: Box::new(sheet.rows.map(move |mut row| {
            hide_in_row(&mut row, host);
            row
        })),
    }
}

fn hide_in_row(row: &mut super::Row, host: Option<usize>) {
    for (i, cell) in row.cells.iter_mut().enumerate() {
        let super::Cell::Text(s) = cell else { continue };
        let mut hidden = redact(s);
        if Some(i) == host
            && hidden != HIDDEN
            && let Some((first, _)) = hidden.split_once('.')
        {
            hidden = first.to_owned();
        }
        *s = hidden;
    }
}
