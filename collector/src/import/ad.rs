//! Active Directory computer objects as CSV -> one record per computer.
//!
//! Two producers (commands in `docs/imports.md`):
//! - `Get-ADComputer -Filter * -Properties OperatingSystem,OperatingSystemVersion,
//!   LastLogonTimestamp,DNSHostName,Enabled | Export-Csv` (with or without the `#TYPE` line,
//!   `,` or `;` as delimiter): `Name`, `DNSHostName`, `Enabled`, `LastLogonTimestamp` (FILETIME)
//!   or `LastLogonDate`, `OperatingSystem`, `OperatingSystemVersion` ("6.1 (7601)").
//! - `csvde`: `DN`, `cn`, `dNSHostName`, `operatingSystem`, `operatingSystemVersion`,
//!   `operatingSystemServicePack`, `lastLogonTimestamp` (FILETIME), `userAccountControl`
//!   (bit 0x2 = disabled), `whenCreated` ("20190101120000.0Z").
//!
//! AD knows what a machine was when it last talked to a domain controller, not what it runs
//! now: records carry the OS as AD states it and the last logon in the detail, and the merge
//! ranks AD below agents, the probe and systeminfo.

use chrono::{DateTime, NaiveDate, Utc};
use ward_shared::OsFamily;

use super::common::{self, DateOrder};
use super::record::{
    AdDetail, Format, Identity, ImportError, ImportRecord, Parsed, Source, SourceDetail,
};
use super::text;

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: Format::Ad,
        reason: reason.into(),
    }
}

pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    parse_with_progress(bytes, origin, now, &mut |_| {})
}

/// [`parse`], calling `on_record` with the number of records read so far as it goes.
pub fn parse_with_progress(
    bytes: &[u8],
    origin: &str,
    now: DateTime<Utc>,
    on_record: &mut dyn FnMut(usize),
) -> Result<Parsed, ImportError> {
    let ids = common::RecordIds::new(bytes, Format::Ad);
    let decoded = text::decode(bytes)?;
    let lines = text::lines(&decoded.text);
    let start = lines
        .iter()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("#TYPE") && !t.starts_with("#")
        })
        .ok_or_else(|| invalid("no header line"))?;
    let header = lines[start];
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let body = lines[start..].join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(body.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| invalid(format!("header: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
    };
    let c_name = col(&["name", "cn", "samaccountname"]);
    let c_dns = col(&["dnshostname"]);
    if c_name.is_none() && c_dns.is_none() {
        return Err(invalid("no Name, cn or DNSHostName column"));
    }
    let c_os = col(&["operatingsystem"]);
    let c_osv = col(&["operatingsystemversion"]);
    let c_sp = col(&["operatingsystemservicepack"]);
    let c_enabled = col(&["enabled"]);
    let c_uac = col(&["useraccountcontrol"]);
    let c_llt = col(&["lastlogontimestamp"]);
    let c_lld = col(&["lastlogondate"]);
    let c_dn = col(&["distinguishedname", "dn"]);
    let c_created = col(&["whencreated", "created"]);

    let rows: Vec<Vec<String>> = rdr
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(|c| c.trim().to_string()).collect())
        .collect();
    let cell = |row: &[String], c: Option<usize>| -> Option<String> {
        c.and_then(|i| row.get(i))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let date_texts: Vec<String> = rows
        .iter()
        .flat_map(|r| [cell(r, c_lld), cell(r, c_llt), cell(r, c_created)])
        .flatten()
        .collect();
    let order =
        common::infer_order(date_texts.iter().map(String::as_str)).unwrap_or(DateOrder::Mdy);

    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        on_record(records.len());
        let name = cell(row, c_name).map(|n| n.trim_end_matches('$').to_string());
        let dns = cell(row, c_dns);
        if name.is_none() && dns.is_none() {
            warnings.push(format!("row {}: no name; skipped", i + 2));
            continue;
        }
        let dn = cell(row, c_dn);
        let domain = dns
            .as_deref()
            .and_then(|d| d.split_once('.'))
            .map(|(_, d)| d.to_string())
            .or_else(|| dn.as_deref().and_then(domain_from_dn));
        let host = name.clone().or_else(|| {
            dns.as_deref()
                .map(|d| d.split('.').next().unwrap_or(d).to_string())
        });
        let enabled = cell(row, c_enabled)
            .and_then(|e| match e.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
            .or_else(|| {
                cell(row, c_uac)
                    .and_then(|u| u.parse::<u32>().ok())
                    .map(|u| u & 0x2 == 0)
            });
        let last_logon = cell(row, c_llt)
            .and_then(|v| time_value(&v, order))
            .or_else(|| cell(row, c_lld).and_then(|v| time_value(&v, order)));
        let os_name = cell(row, c_os);
        let os_version = cell(row, c_osv);
        let sp = cell(row, c_sp);

        let mut report = common::import_report(Format::Ad, ids.id(i), now);
        report.host.hostname = host.clone();
        report.host.fqdn = dns.clone();
        report.host.domain = domain.clone();
        if let Some(n) = &os_name {
            let lower = n.to_lowercase();
            if lower.contains("windows") {
                report.os.family = OsFamily::Windows;
                report.os.id = Some("windows".into());
                report.os.installation_type = Some(if lower.contains("server") {
                    "Server".into()
                } else {
                    "Client".into()
                });
            }
            report.os.name = Some(n.clone());
        }
        if let Some(v) = &os_version {
            // "6.1 (7601)", "10.0 (19045)".
            let (ver, build) = match v.split_once('(') {
                Some((a, b)) => (a.trim(), b.trim_end_matches(')').trim()),
                None => (v.trim(), ""),
            };
            report.os.version = Some(ver.to_string()).filter(|s| !s.is_empty());
            report.os.build = Some(build.to_string()).filter(|s| !s.is_empty());
        }
        report.os.service_pack = sp.clone();
        records.push(ImportRecord {
            source: Source::Ad,
            // AD last saw the machine when it last logged on to the domain (the timestamp
            // lags by up to 14 days): an account unused for months is a stale record, not an
            // active unmanaged machine. Without a logon time (or one in the future): the import.
            observed_at: last_logon.filter(|t| *t <= now).unwrap_or(now),
            origin: format!("{origin}#{}", host.as_deref().unwrap_or("?")),
            identity: Identity {
                fqdn: dns,
                host_name: host,
                domain,
                ..Identity::default()
            },
            report,
            evidence: Vec::new(),
            hotfix_list_complete: None,
            detail: SourceDetail::Ad(AdDetail {
                name,
                distinguished_name: dn,
                enabled,
                last_logon,
                operating_system: os_name,
                operating_system_version: os_version,
                operating_system_service_pack: sp,
                when_created: cell(row, c_created)
                    .and_then(|v| time_value(&v, order))
                    .map(|t| t.date_naive()),
            }),
        });
    }
    if records.is_empty() {
        return Err(invalid("no computer rows under the header"));
    }
    Ok(Parsed {
        format: Format::Ad,
        records,
        warnings,
    })
}

/// "DC=klinik,DC=local" parts -> "klinik.local".
fn domain_from_dn(dn: &str) -> Option<String> {
    let parts: Vec<&str> = dn
        .split(',')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.eq_ignore_ascii_case("dc").then_some(v.trim())
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(".").to_lowercase())
}

/// A FILETIME integer, an LDAP generalized time ("20190101120000.0Z") or a date string.
fn time_value(v: &str, order: DateOrder) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) && v.len() >= 15 {
        return common::filetime(v.parse().ok()?);
    }
    if let Some(head) = v.get(..14)
        && v.ends_with('Z')
        && head.chars().all(|c| c.is_ascii_digit())
    {
        let d = chrono::NaiveDateTime::parse_from_str(head, "%Y%m%d%H%M%S").ok()?;
        return Some(d.and_utc());
    }
    common::parse_datetime(v, order)
        .map(|d| d.and_utc())
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    #[test]
    fn get_adcomputer_export_with_type_line() {
        let csv = "#TYPE Microsoft.ActiveDirectory.Management.ADComputer\r\n\"DistinguishedName\",\"DNSHostName\",\"Enabled\",\"LastLogonTimestamp\",\"Name\",\"ObjectClass\",\"OperatingSystem\",\"OperatingSystemVersion\",\"SamAccountName\"\r\n\"CN=XP-LAB,OU=Lab,DC=klinik,DC=local\",\"xp-lab.klinik.local\",\"True\",\"132000000000000000\",\"XP-LAB\",\"computer\",\"Windows XP Professional\",\"5.1 (2600)\",\"XP-LAB$\"\r\n\"CN=OLD,DC=klinik,DC=local\",\"\",\"False\",\"\",\"OLD\",\"computer\",\"Windows 7 Enterprise\",\"6.1 (7601)\",\"OLD$\"\r\n";
        let p = parse(csv.as_bytes(), "ad.csv", now()).expect("parse");
        assert_eq!(p.records.len(), 2);
        let r = &p.records[0];
        assert_eq!(r.identity.host_name.as_deref(), Some("XP-LAB"));
        assert_eq!(r.identity.fqdn.as_deref(), Some("xp-lab.klinik.local"));
        assert_eq!(r.identity.domain.as_deref(), Some("klinik.local"));
        assert_eq!(r.report.os.build.as_deref(), Some("2600"));
        assert_eq!(r.report.os.version.as_deref(), Some("5.1"));
        let SourceDetail::Ad(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.enabled, Some(true));
        assert_eq!(
            d.last_logon.map(|t| t.date_naive().to_string()).as_deref(),
            Some("2019-04-17")
        );
        let SourceDetail::Ad(d) = &p.records[1].detail else {
            panic!("detail")
        };
        assert_eq!(d.enabled, Some(false));
        assert_eq!(
            p.records[1].identity.domain.as_deref(),
            Some("klinik.local")
        );
    }

    #[test]
    fn a_record_is_observed_at_the_last_logon() {
        let csv = "Name,DNSHostName,OperatingSystem,LastLogonDate\r\nOLD,old.corp.example,Windows XP Professional,1/31/2019 08:00:00\r\nNEW,new.corp.example,Windows 10 Pro,\r\nODD,odd.corp.example,Windows 10 Pro,1/31/2099 08:00:00\r\n";
        let p = parse(csv.as_bytes(), "ad.csv", now()).expect("parse");
        assert_eq!(
            p.records[0].observed_at.to_rfc3339(),
            "2019-01-31T08:00:00+00:00"
        );
        assert_eq!(p.records[1].observed_at, now(), "no logon time: the import");
        assert_eq!(
            p.records[2].observed_at,
            now(),
            "a future logon: the import"
        );
    }

    #[test]
    fn csvde_columns() {
        let csv = "DN,objectClass,cn,dNSHostName,operatingSystem,operatingSystemVersion,operatingSystemServicePack,lastLogonTimestamp,userAccountControl,whenCreated\r\n\"CN=SRV03,CN=Computers,DC=corp,DC=example\",computer,SRV03,srv03.corp.example,Windows Server 2003,5.2 (3790),Service Pack 2,131000000000000000,4098,20100101120000.0Z\r\n";
        let p = parse(csv.as_bytes(), "csvde.csv", now()).expect("parse");
        let r = &p.records[0];
        assert_eq!(r.identity.host_name.as_deref(), Some("SRV03"));
        assert_eq!(r.report.os.service_pack.as_deref(), Some("Service Pack 2"));
        let SourceDetail::Ad(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.enabled, Some(false), "0x1002 has the disabled bit");
        assert_eq!(
            d.when_created.map(|d| d.to_string()).as_deref(),
            Some("2010-01-01")
        );
    }

    #[test]
    fn semicolon_delimited_and_last_logon_date() {
        let csv = "Name;DNSHostName;OperatingSystem;LastLogonDate;Enabled\r\nPC1;pc1.corp.example;Windows 10 Pro;31.01.2024 08:00:00;True\r\n";
        let p = parse(csv.as_bytes(), "ad.csv", now()).expect("parse");
        let SourceDetail::Ad(d) = &p.records[0].detail else {
            panic!("detail")
        };
        assert_eq!(
            d.last_logon.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-01-31T08:00:00+00:00")
        );
    }
}
