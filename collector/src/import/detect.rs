//! Which format a file is, from its content. The file name is only a tie-breaker.
//!
//! Order: XML with an `<nmaprun` element -> nmap; a JSON object -> probe report; otherwise the
//! text is decoded and scored: systeminfo labels, a `HotFixID` column (wmic qfe, Get-HotFix),
//! Active Directory computer columns (`DNSHostName`/`dNSHostName`/`cn` with `OperatingSystem`).

use super::record::{Format, ImportError};
use super::{systeminfo, text};

/// How far into the file detection looks.
const HEAD: usize = 64 * 1024;

pub fn detect(bytes: &[u8], origin: &str) -> Result<Format, ImportError> {
    let head = &bytes[..bytes.len().min(HEAD)];
    let ascii_head: String = head
        .iter()
        .filter(|b| **b != 0)
        .take(4096)
        .map(|b| char::from(*b))
        .collect();
    let trimmed = ascii_head
        .trim_start_matches(['\u{FEFF}', '\u{EF}', '\u{BB}', '\u{BF}', '\u{FF}', '\u{FE}'])
        .trim_start();
    if trimmed.starts_with('<') {
        if ascii_head.contains("<nmaprun") {
            return Ok(Format::Nmap);
        }
        return Err(ImportError::Unsupported(
            "an XML file that is not an nmap -oX scan (no <nmaprun> element)".into(),
        ));
    }
    if trimmed.starts_with('{') {
        return Ok(Format::Probe);
    }
    let decoded = text::decode_scored(head, &|t| 20 * systeminfo::label_hits(t) as i64)?;
    let t = &decoded.text;
    let lower = t.to_lowercase();
    let si = systeminfo::label_hits(t);
    let qfe = lower.contains("hotfixid");
    let ad = is_ad_header(&lower);
    let by_name = origin.to_lowercase();
    match (si >= 3, qfe, ad) {
        (true, false, _) => Ok(Format::Systeminfo),
        (false, true, _) => Ok(Format::Qfe),
        (true, true, _) => Ok(if by_name.contains("qfe") || by_name.contains("hotfix") {
            Format::Qfe
        } else {
            Format::Systeminfo
        }),
        (false, false, true) => Ok(Format::Ad),
        _ if looks_like_systeminfo_shape(t) => Ok(Format::Systeminfo),
        _ => Err(ImportError::Unsupported(
            "not systeminfo (no known labels), wmic qfe / Get-HotFix (no HotFixID column), \
             an AD computer export (no DNSHostName/cn and OperatingSystem columns), \
             nmap XML or a probe report"
                .into(),
        )),
    }
}

/// A CSV header line with a computer name column and an OS column.
fn is_ad_header(lower: &str) -> bool {
    text::lines(lower).into_iter().take(5).any(|l| {
        let cols: Vec<String> = l
            .split([',', ';', '\t'])
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect();
        let has = |n: &str| cols.iter().any(|c| c == n);
        (has("dnshostname") || has("cn") || has("name") || has("samaccountname"))
            && (has("operatingsystem") || has("operatingsystemversion"))
    })
}

/// systeminfo in a language without a label table: an "a.b.c ..." version value and a
/// "*-based PC" system type in `label: value` lines.
fn looks_like_systeminfo_shape(t: &str) -> bool {
    let lines = text::lines(t);
    let value = |l: &str| l.split_once(':').map(|(_, v)| v.trim().to_string());
    let version = lines.iter().any(|l| {
        value(l).is_some_and(|v| {
            let first = v.split_whitespace().next().unwrap_or("");
            first.split('.').count() == 3
                && first
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
    });
    let system_type = lines
        .iter()
        .any(|l| value(l).is_some_and(|v| v.to_lowercase().ends_with("-based pc")));
    version && system_type
}
