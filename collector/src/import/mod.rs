//! Imports: files from machines no agent runs on (systeminfo, wmic qfe / Get-HotFix, nmap XML,
//! Active Directory CSV, legacy probe reports) turned into [`ImportRecord`]s.
//!
//! Architecture invariant: parsing is pure and total. [`parse`] takes bytes and the moment of
//! import, does no I/O, reads no clock, and returns records or an [`ImportError`] for any input
//! (never a panic). The format is detected from the content; the origin (a file name) is only a
//! hint and a label for people.

pub mod ad;
mod common;
pub mod detect;
pub mod nmap;
pub mod probe;
pub mod qfe;
pub mod record;
pub mod systeminfo;
pub mod text;

use chrono::{DateTime, Utc};

pub use record::{
    AdDetail, Format, Identity, ImportError, ImportRecord, Ms17Verdict, Nic, NmapAddress,
    NmapDetail, NmapPort, OsMatch, Parsed, ProbeDetail, QfeDetail, SmbOsDiscovery, Source,
    SourceDetail, SysteminfoDetail,
};

/// Largest file accepted, in bytes. Larger files are refused before any parsing.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// Detects the format of `bytes` and parses it. `origin` is the file name (or another label)
/// used as a hint and recorded in each record; `now` is the import time, used where the file
/// has no time of its own.
pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    parse_with_progress(bytes, origin, now, &mut |_| {})
}

/// [`parse`], calling `on_record` with the number of records read so far as the parser goes:
/// per host in nmap scans and per row in AD exports (the formats that run to thousands of
/// machines), once at the end for the others. Still pure: what to do with the count (a
/// progress line) is the caller's business.
pub fn parse_with_progress(
    bytes: &[u8],
    origin: &str,
    now: DateTime<Utc>,
    on_record: &mut dyn FnMut(usize),
) -> Result<Parsed, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            size: bytes.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    let parsed = match detect::detect(bytes, origin)? {
        Format::Systeminfo => systeminfo::parse(bytes, origin, now),
        Format::Qfe => qfe::parse(bytes, origin, now),
        Format::Nmap => nmap::parse_with_progress(bytes, origin, now, on_record),
        Format::Ad => ad::parse_with_progress(bytes, origin, now, on_record),
        Format::Probe => probe::parse(bytes, origin, now),
    }?;
    on_record(parsed.records.len());
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    #[test]
    fn empty_huge_and_garbage_are_refused() {
        assert_eq!(parse(b"", "x", now()), Err(ImportError::Empty));
        assert_eq!(parse(b"  \r\n", "x", now()), Err(ImportError::Empty));
        let huge = vec![b'a'; MAX_IMPORT_BYTES + 1];
        assert!(matches!(
            parse(&huge, "x", now()),
            Err(ImportError::TooLarge { .. })
        ));
        assert!(matches!(
            parse(
                b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                "x",
                now()
            ),
            Err(ImportError::NotText(_))
        ));
        assert!(matches!(
            parse(b"just some notes\nnothing to import\n", "notes.txt", now()),
            Err(ImportError::Unsupported(_))
        ));
    }

    #[test]
    fn the_file_name_does_not_decide_the_format() {
        let si = "Host Name:   PC1\r\nOS Name:     Microsoft Windows 7 Professional\r\nOS Version:  6.1.7601 Service Pack 1 Build 7601\r\nSystem Type: x64-based PC\r\n";
        let p = parse(si.as_bytes(), "scan.xml", now()).expect("systeminfo under any name");
        assert_eq!(p.format, Format::Systeminfo);
    }

    #[test]
    fn truncated_and_wrongly_encoded_files() {
        // systeminfo cut in the middle of its hotfix list: the host and what came before stay.
        let si = "Host Name:   PC1\r\nOS Name:     Microsoft Windows 7 Professional\r\nOS Version:  6.1.7601 Service Pack 1 Build 7601\r\nSystem Type: x64-based PC\r\nHotfix(s):   3 Hotfix(s) Installed.\r\n             [01]: KB4012212\r\n             [0";
        let p = parse(si.as_bytes(), "cut.txt", now()).expect("cut systeminfo");
        assert_eq!(p.records[0].report.patches.installed.len(), 1);
        // nmap XML that says UTF-8 but holds Latin-1 bytes: refused, nothing half-read.
        let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><nmaprun start=\"1\"><host><status state=\"up\"/><address addr=\"10.0.0.1\" addrtype=\"ipv4\"/><hostnames><hostname name=\"caf\xe9\"/></hostnames></host></nmaprun>";
        let err = parse(xml, "latin1.xml", now()).expect_err("refused");
        assert!(
            matches!(
                err,
                ImportError::Invalid {
                    format: Format::Nmap,
                    ..
                }
            ),
            "{err}"
        );
        // A probe report cut short is refused, not guessed at.
        assert!(parse(b"{\"schema_version\":1,\"report_id\":\"", "cut.json", now()).is_err());
    }

    #[test]
    fn progress_counts_records_as_they_are_read() {
        let mut csv = String::from("Name,DNSHostName,OperatingSystem,Enabled\r\n");
        for i in 0..50 {
            csv.push_str(&format!("PC{i},pc{i}.corp.example,Windows 10 Pro,True\r\n"));
        }
        let mut seen = Vec::new();
        let p = parse_with_progress(csv.as_bytes(), "ad.csv", now(), &mut |n| seen.push(n))
            .expect("parse");
        assert_eq!(p.records.len(), 50);
        assert_eq!(seen.first(), Some(&0));
        assert_eq!(seen.last(), Some(&50));
        assert!(seen.len() > 50, "one call per row: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes, "fuzz", now());
        }

        #[test]
        fn nmap_like_input_never_panics(body in "(<host>|</host>|<address addr=\"10.0.0.[0-9]\" addrtype=\"(ipv4|mac)\"/>|<status state=\"(up|down)\"/>|<hostscript>|<script id=\"smb-(vuln-ms17-010|os-discovery|protocols)\" output=\"[A-Za-z :]*\">|</script>|<elem key=\"(os|server|fqdn|state)\">[A-Za-z0-9. ]*</elem>|<table key=\"dialects\">|</table>|&amp;|&#x[0-9a-f]{1,6};|&[a-z]{1,4};|<!DOCTYPE x>|\\PC)*") {
            let doc = format!("<nmaprun start=\"1\">{body}</nmaprun>");
            let _ = nmap::parse(doc.as_bytes(), "fuzz", now());
        }

        #[test]
        fn ad_like_input_never_panics(body in "([A-Za-z0-9=,;\"\r\n .$éж]|True|False|1[0-9]{17}|20[0-9]{12}\\.0Z|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4})*") {
            let doc = format!("Name,DNSHostName,OperatingSystem,OperatingSystemVersion,LastLogonTimestamp,Enabled,userAccountControl,whenCreated\r\n{body}");
            let _ = ad::parse(doc.as_bytes(), "fuzz", now());
        }

        #[test]
        fn qfe_like_input_never_panics(body in "([A-Za-z0-9/\\\\ \r\n,\"=]|KB[0-9]{6}|HotFixID|CSName|InstalledOn|[0-9a-f]{16}|Администратор)*") {
            let doc = format!("Caption  CSName  HotFixID  InstalledOn\r\n{body}");
            let _ = qfe::parse(doc.as_bytes(), "fuzz", now());
        }

        #[test]
        fn arbitrary_text_never_panics(s in "(\\PC|\\r|\\n| {2,8}|:|\\[01\\]|KB[0-9]{7}|Host Name|OS Version|HotFixID|,|\")*") {
            let _ = parse(s.as_bytes(), "fuzz", now());
        }
    }
}
