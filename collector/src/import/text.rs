//! Bytes -> text for the text formats (systeminfo, qfe, AD CSV).
//!
//! Windows tools write whatever the console or the redirect gives them: UTF-16LE with a BOM
//! (PowerShell `>`), UTF-16LE without one (`wmic` redirected from cmd, sometimes after an ASCII
//! "Please wait while WMIC is being installed." banner), UTF-8 with or without a BOM, the OEM
//! code page of the console (cp437, cp850, cp866, ...) or the ANSI one (cp1252, cp1251, cp936).
//! Order of decisions: BOM; NUL-byte pattern (UTF-16 without BOM, possibly after a single-byte
//! prefix); valid UTF-8; otherwise every legacy code page in [`LEGACY`] is tried and the caller's
//! scoring picks the best (systeminfo scores by how many labels it recognises).

use encoding_rs::{Encoding, GBK, IBM866, UTF_16BE, UTF_16LE, WINDOWS_1251, WINDOWS_1252};

use super::ImportError;

/// The text and the name of the encoding it was read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
}

/// A legacy code page candidate.
#[derive(Clone, Copy)]
enum Legacy {
    Oem(&'static str, &'static [char; 128]),
    Whatwg(&'static Encoding),
}

const LEGACY: &[Legacy] = &[
    Legacy::Oem("cp850", &oem_cp::code_table::DECODING_TABLE_CP850),
    Legacy::Oem("cp437", &oem_cp::code_table::DECODING_TABLE_CP437),
    Legacy::Whatwg(WINDOWS_1252),
    Legacy::Whatwg(IBM866),
    Legacy::Whatwg(WINDOWS_1251),
    Legacy::Whatwg(GBK),
];

/// How much of the file the code-page guess looks at.
const SNIFF_BYTES: usize = 256 * 1024;

impl Legacy {
    fn name(self) -> &'static str {
        match self {
            Legacy::Oem(n, _) => n,
            Legacy::Whatwg(e) if e == IBM866 => "cp866",
            Legacy::Whatwg(e) if e == WINDOWS_1251 => "cp1251",
            Legacy::Whatwg(e) if e == WINDOWS_1252 => "cp1252",
            Legacy::Whatwg(e) if e == GBK => "cp936",
            Legacy::Whatwg(e) => e.name(),
        }
    }

    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Legacy::Oem(_, table) => oem_cp::decode_string_complete_table(bytes, table),
            Legacy::Whatwg(e) => e.decode_without_bom_handling(bytes).0.into_owned(),
        }
    }
}

/// Decodes with the default scoring (plausible letters).
pub fn decode(bytes: &[u8]) -> Result<Decoded, ImportError> {
    decode_scored(bytes, &|_| 0)
}

/// Decodes `bytes`; `score` adds to the plausibility of a legacy code page candidate (e.g. the
/// number of known labels found in the decoded text, weighted).
pub fn decode_scored(bytes: &[u8], score: &dyn Fn(&str) -> i64) -> Result<Decoded, ImportError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest, "utf-8 (BOM)");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, UTF_16LE, "utf-16le (BOM)");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, UTF_16BE, "utf-16be (BOM)");
    }
    if let Some(start) = utf16_start(bytes) {
        let (prefix, rest) = bytes.split_at(start.offset);
        let mut text = String::from_utf8_lossy(prefix).into_owned();
        let body = utf16(rest, start.encoding, "")?;
        text.push_str(&body.text);
        return checked(Decoded {
            text,
            encoding: if start.encoding == UTF_16LE {
                "utf-16le"
            } else {
                "utf-16be"
            },
        });
    }
    if bytes.contains(&0) {
        return Err(ImportError::NotText(
            "binary data (NUL bytes outside UTF-16 text)".into(),
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => return checked(owned(s, "utf-8")),
        // A file cut in the middle of a multi-byte character is still UTF-8.
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
            return checked(owned(
                &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
                "utf-8",
            ));
        }
        Err(_) => {}
    }
    let sniff = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let mut best: Option<(i64, Legacy)> = None;
    for &cand in LEGACY {
        let text = cand.decode(sniff);
        let s = plausibility(&text) + score(&text);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, cand));
        }
    }
    let cand = best.map_or(LEGACY[0], |(_, c)| c);
    checked(Decoded {
        text: cand.decode(bytes),
        encoding: cand.name(),
    })
}

fn owned(s: &str, encoding: &'static str) -> Decoded {
    Decoded {
        text: s.to_owned(),
        encoding,
    }
}

fn utf8(bytes: &[u8], encoding: &'static str) -> Result<Decoded, ImportError> {
    checked(owned(&String::from_utf8_lossy(bytes), encoding))
}

fn utf16(bytes: &[u8], enc: &'static Encoding, name: &'static str) -> Result<Decoded, ImportError> {
    // An odd trailing byte is a cut file; drop it rather than invent a character.
    let even = &bytes[..bytes.len() & !1];
    let (text, _) = enc.decode_without_bom_handling(even);
    checked(Decoded {
        text: text.into_owned(),
        encoding: name,
    })
}

struct Utf16Start {
    offset: usize,
    encoding: &'static Encoding,
}

/// UTF-16 without a BOM: eight code units in a row of ASCII-range characters (one byte zero,
/// the other not). Returns where it starts (a single-byte banner may precede it).
fn utf16_start(bytes: &[u8]) -> Option<Utf16Start> {
    const RUN: usize = 8;
    let window = &bytes[..bytes.len().min(4096)];
    if !window.contains(&0) {
        return None;
    }
    let looks = |at: usize, zero_second: bool| -> bool {
        (0..RUN).all(|k| {
            let i = at + 2 * k;
            match (window.get(i), window.get(i + 1)) {
                (Some(&a), Some(&b)) if zero_second => a != 0 && b == 0,
                (Some(&a), Some(&b)) => a == 0 && b != 0,
                _ => false,
            }
        })
    };
    (0..window.len()).find_map(|at| {
        if looks(at, true) {
            Some(Utf16Start {
                offset: at,
                encoding: UTF_16LE,
            })
        } else if looks(at, false) {
            Some(Utf16Start {
                offset: at,
                encoding: UTF_16BE,
            })
        } else {
            None
        }
    })
}

/// Refuses text that is mostly control characters or replacement characters (binary data
/// that happened to decode).
fn checked(d: Decoded) -> Result<Decoded, ImportError> {
    let mut total = 0usize;
    let mut bad = 0usize;
    for c in d.text.chars().take(SNIFF_BYTES) {
        total += 1;
        if c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1a'))
        {
            bad += 1;
        }
    }
    if total == 0 || d.text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    if bad * 50 > total {
        return Err(ImportError::NotText(format!(
            "{bad} of the first {total} characters are control or undecodable characters (read as {})",
            d.encoding
        )));
    }
    Ok(d)
}

/// How much a decoded text looks like words: a non-ASCII letter inside a word of its own
/// script scores, one that switches script or case mid-word, box drawing, symbols and controls
/// cost.
fn plausibility(text: &str) -> i64 {
    #[derive(PartialEq, Clone, Copy)]
    enum Script {
        Latin,
        Cyrillic,
        Cjk,
        Other,
    }
    fn script(c: char) -> Script {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{C0}'..='\u{24F}' => Script::Latin,
            '\u{400}'..='\u{4FF}' => Script::Cyrillic,
            '\u{3000}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}' => {
                Script::Cjk
            }
            _ => Script::Other,
        }
    }
    let mut score = 0i64;
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if !c.is_ascii() {
            let letter = c.is_alphabetic();
            score += match prev.filter(|p| p.is_alphabetic()) {
                _ if c == '\u{A0}' => 0,
                _ if !letter => -3,
                None => 0,
                Some(p) if script(p) != script(c) || script(c) == Script::Other => -1,
                Some(p) if p.is_lowercase() && c.is_uppercase() => -2,
                Some(_) => 2,
            };
        }
        prev = Some(c);
    }
    score
}

/// Lines without their terminators; CRLF, LF, CR and wmic's CR CR LF all end a line.
pub fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            None => {
                out.push(rest);
                break;
            }
            Some(i) => {
                out.push(&rest[..i]);
                let tail = &rest[i..];
                let skip = if tail.starts_with("\r\r\n") {
                    3
                } else if tail.starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &tail[skip..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    #[test]
    fn boms_and_utf16_without_bom() {
        let d = decode(&utf16le("Host Name: PC1\r\n", true)).expect("decode");
        assert_eq!(d.text, "Host Name: PC1\r\n");
        let mut be = vec![0xFE, 0xFF];
        for u in "Host Name: PC1".encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode(&be).expect("decode").text, "Host Name: PC1");
        let mut banner = b"Please wait while WMIC is being installed.".to_vec();
        banner.extend(utf16le("HotFixID  \r\nKB123456  \r\n", false));
        let d = decode(&banner).expect("decode");
        assert_eq!(
            d.text,
            "Please wait while WMIC is being installed.HotFixID  \r\nKB123456  \r\n"
        );
        assert_eq!(d.encoding, "utf-16le");
        let d = decode(b"\xEF\xBB\xBFDom\xC3\xA4ne: X").expect("decode");
        assert_eq!(d.text, "Domäne: X");
    }

    #[test]
    fn legacy_code_pages_are_guessed() {
        // "Sì" in cp850 (0x8D) and Cyrillic "Домен" in cp866.
        let d = decode(b"DHCP abilitato:   S\x8D\r\nVirtualizzazione: S\x8D").expect("decode");
        assert_eq!(d.encoding, "cp850");
        assert!(d.text.contains("Sì"), "{}", d.text);
        let d = decode(b"\x84\xAE\xAC\xA5\xAD: TEST").expect("decode");
        assert_eq!(d.encoding, "cp866");
        assert_eq!(d.text, "Домен: TEST");
        let d = decode(b"Domaine: caf\xE9 cr\xE8me").expect("decode");
        assert_eq!(d.encoding, "cp1252");
    }

    #[test]
    fn binary_is_refused() {
        assert!(matches!(
            decode(&[0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(ImportError::NotText(_))
        ));
        assert!(matches!(decode(b"   \r\n"), Err(ImportError::Empty)));
        let noise: Vec<u8> = (0u8..=255).cycle().take(2000).filter(|b| *b != 0).collect();
        assert!(decode(&noise).is_err());
    }

    #[test]
    fn line_endings() {
        assert_eq!(lines("a\r\r\nb\r\nc\nd\re"), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(lines("a\n\nb\n"), vec!["a", "", "b"]);
    }
}
