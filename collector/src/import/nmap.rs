//! nmap `-oX` XML -> one record per host that is up (down hosts become warnings).
//!
//! Security: the XML is read with quick-xml, which never fetches or expands a DTD. A DOCTYPE
//! that declares entities (`<!ENTITY ...>`, the XXE pattern) is refused outright; nmap's own
//! `<!DOCTYPE nmaprun>` is ignored. Any entity reference other than XML's five predefined ones
//! and character references is an error, so nothing outside the file can ever enter a record.
//!
//! Each host gives addresses (IPv4/IPv6/MAC with nmap's vendor), host names, OS matches with
//! accuracy, open ports with services, and the SMB scripts: `smb-os-discovery` (OS, computer
//! and domain names, FQDN), `smb-protocols` (whether `NT LM 0.12 (SMBv1)` is offered) and
//! `smb-vuln-ms17-010` (VULNERABLE / NOT VULNERABLE / could not test). The scan time is the
//! host's `starttime`, else `nmaprun@start`, else the import time. A file cut off mid-scan keeps
//! every host whose `</host>` was reached.

use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use ward_shared::{OsFamily, Report};

use super::common;
use super::record::{
    Format, Identity, ImportError, ImportRecord, Ms17Verdict, NmapAddress, NmapDetail, NmapPort,
    OsMatch, Parsed, SmbOsDiscovery, Source, SourceDetail,
};
use crate::risk::ExtraEvidence;

/// Deeper nesting than this is not nmap output.
const MAX_DEPTH: usize = 64;

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: Format::Nmap,
        reason: reason.into(),
    }
}

/// A parsed XML element.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    text: String,
    /// Its end tag was read (false for elements open when a cut file ended).
    closed: bool,
}

impl El {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Reads the document into a tree. Returns the root and whether the file ended early.
fn read_tree(bytes: &[u8]) -> Result<(El, bool), ImportError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<El> = vec![El {
        name: "#document".into(),
        ..El::default()
    }];
    let mut truncated = false;
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                // A cut file fails on its last, partial tag; keep what came before.
                if stack.len() > 1 && reader.buffer_position() as usize + 64 >= bytes.len() {
                    truncated = true;
                    break;
                }
                return Err(invalid(format!(
                    "XML error at byte {}: {e}",
                    reader.error_position()
                )));
            }
        };
        match ev {
            Event::DocType(d) => {
                let dt = d.to_ascii_uppercase();
                if dt.contains("<!ENTITY") || dt.contains("SYSTEM") || dt.contains("PUBLIC") {
                    return Err(invalid(
                        "the DOCTYPE declares entities or an external DTD; such files are refused \
                         (entities and DTDs are never resolved)",
                    ));
                }
            }
            Event::Start(s) => {
                if stack.len() > MAX_DEPTH {
                    return Err(invalid("elements nested too deep for an nmap file"));
                }
                let el = element(&s)?;
                stack.push(el);
            }
            Event::Empty(s) => {
                let mut el = element(&s)?;
                el.closed = true;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(el);
                }
            }
            Event::End(_) => {
                if stack.len() > 1
                    && let Some(mut el) = stack.pop()
                {
                    el.closed = true;
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(el);
                    }
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.to_string();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .map(str::to_string)
                            .ok_or_else(|| {
                                invalid(format!(
                                    "undefined entity &{name}; (entities are never resolved)"
                                ))
                            })?
                    }
                    Err(e) => return Err(invalid(format!("bad character reference: {e}"))),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if stack.len() > 1 {
        truncated = true;
    }
    // Fold the open elements (a cut file) into their parents, still marked open.
    while stack.len() > 1 {
        if let Some(el) = stack.pop()
            && let Some(parent) = stack.last_mut()
        {
            parent.children.push(el);
        }
    }
    let root = stack.pop().unwrap_or_default();
    Ok((root, truncated))
}

fn element(s: &quick_xml::events::BytesStart<'_>) -> Result<El, ImportError> {
    let name = s.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| invalid(format!("bad attribute in <{name}>: {e}")))?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| {
                invalid(format!(
                    "attribute {key} of <{name}>: {e} (entities are never resolved)"
                ))
            })?;
        attrs.push((key, value.into_owned()));
    }
    Ok(El {
        name,
        attrs,
        ..El::default()
    })
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
    let ids = common::RecordIds::new(bytes, Format::Nmap);
    let (doc, truncated) = read_tree(bytes)?;
    let run = doc
        .child("nmaprun")
        .ok_or_else(|| invalid("no <nmaprun> root element"))?;
    let scan_start = run
        .attr("start")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0));
    let args = run.attr("args").map(str::to_string);
    let mut warnings = Vec::new();
    if truncated {
        warnings.push(
            "the file ends early (scan interrupted or cut); hosts completed before the cut are kept"
                .to_string(),
        );
    }
    let mut records = Vec::new();
    let mut down = 0usize;
    for (i, host) in run.all("host").enumerate() {
        on_record(records.len());
        if !host.closed {
            warnings.push(format!("host #{} is cut off and was skipped", i + 1));
            continue;
        }
        let status = host.child("status").and_then(|s| s.attr("state"));
        if status == Some("down") {
            down += 1;
            continue;
        }
        let observed = host
            .attr("starttime")
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .or(scan_start)
            .unwrap_or(now);
        let id = ids.id(i);
        let mut rec = host_record(host, observed, id, args.clone());
        rec.origin = format!(
            "{origin}#{}",
            rec.identity
                .ips
                .first()
                .map(ToString::to_string)
                .or_else(|| rec.identity.host_name.clone())
                .unwrap_or_else(|| format!("host{}", i + 1))
        );
        if rec.identity.ips.is_empty() && rec.identity.macs.is_empty() {
            warnings.push(format!("{}: no address; skipped", rec.origin));
            continue;
        }
        records.push(rec);
    }
    if down > 0 {
        warnings.push(format!("{down} host(s) down or not answering were skipped"));
    }
    if records.is_empty() {
        let stats = run
            .child("runstats")
            .and_then(|r| r.child("hosts"))
            .map(|h| {
                format!(
                    " (nmap's summary: {} up, {} down)",
                    h.attr("up").unwrap_or("?"),
                    h.attr("down").unwrap_or("?")
                )
            })
            .unwrap_or_default();
        return Err(invalid(if down > 0 {
            format!("no host is up in this scan ({down} down)")
        } else {
            format!("the scan lists no host that is up{stats}")
        }));
    }
    Ok(Parsed {
        format: Format::Nmap,
        records,
        warnings,
    })
}

fn host_record(
    host: &El,
    observed: DateTime<Utc>,
    id: uuid::Uuid,
    args: Option<String>,
) -> ImportRecord {
    let mut detail = NmapDetail {
        status: host
            .child("status")
            .and_then(|s| s.attr("state"))
            .map(str::to_string),
        scan_args: args,
        ..NmapDetail::default()
    };
    let mut identity = Identity::default();
    for a in host.all("address") {
        let (Some(addr), Some(kind)) = (a.attr("addr"), a.attr("addrtype")) else {
            continue;
        };
        detail.addresses.push(NmapAddress {
            addr: addr.to_string(),
            addr_type: kind.to_string(),
            vendor: a.attr("vendor").map(str::to_string),
        });
        match kind {
            "mac" => identity.macs.push(addr.to_string()),
            _ => {
                if let Ok(ip) = addr.parse() {
                    identity.ips.push(ip);
                }
            }
        }
    }
    if let Some(hn) = host.child("hostnames") {
        for h in hn.all("hostname") {
            if let Some(n) = h.attr("name")
                && !detail.hostnames.iter().any(|x| x == n)
            {
                detail.hostnames.push(n.to_string());
            }
        }
    }
    if let Some(ports) = host.child("ports") {
        for p in ports.all("port") {
            let state = p.child("state").and_then(|s| s.attr("state")).unwrap_or("");
            if !state.starts_with("open") {
                continue;
            }
            let Some(port) = p.attr("portid").and_then(|x| x.parse().ok()) else {
                continue;
            };
            let svc = p.child("service");
            detail.ports.push(NmapPort {
                protocol: p.attr("protocol").unwrap_or("tcp").to_string(),
                port,
                state: state.to_string(),
                service: svc.and_then(|s| s.attr("name")).map(str::to_string),
                product: svc.and_then(|s| s.attr("product")).map(str::to_string),
                version: svc.and_then(|s| s.attr("version")).map(str::to_string),
            });
        }
    }
    if let Some(os) = host.child("os") {
        for m in os.all("osmatch") {
            let class = m.child("osclass");
            detail.os_matches.push(OsMatch {
                name: m.attr("name").unwrap_or("").to_string(),
                accuracy: m
                    .attr("accuracy")
                    .and_then(|a| a.parse::<u8>().ok())
                    .unwrap_or(0)
                    .min(100),
                family: class.and_then(|c| c.attr("osfamily")).map(str::to_string),
                generation: class.and_then(|c| c.attr("osgen")).map(str::to_string),
                vendor: class.and_then(|c| c.attr("vendor")).map(str::to_string),
                cpe: m
                    .all("osclass")
                    .flat_map(|c| c.all("cpe"))
                    .map(|c| c.text.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            });
        }
    }
    // Scripts: host scripts and port scripts alike.
    let port_scripts = host
        .child("ports")
        .into_iter()
        .flat_map(|p| p.all("port"))
        .flat_map(|p| p.all("script"));
    let host_scripts = host
        .child("hostscript")
        .into_iter()
        .flat_map(|h| h.all("script"));
    for s in host_scripts.chain(port_scripts) {
        match s.attr("id").unwrap_or("") {
            "smb-os-discovery" => detail.smb_os_discovery = Some(smb_os(s)),
            "smb-protocols" => {
                let dialects: Vec<String> = s
                    .children
                    .iter()
                    .filter(|t| t.name == "table" && t.attr("key") == Some("dialects"))
                    .flat_map(|t| t.all("elem"))
                    .map(|e| e.text.trim().to_string())
                    .collect();
                let dialects = if dialects.is_empty() {
                    // Older nmap: only the output text.
                    s.attr("output")
                        .unwrap_or("")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.ends_with(':'))
                        .map(str::to_string)
                        .collect()
                } else {
                    dialects
                };
                detail.smb1_offered = Some(dialects.iter().any(|d| is_smb1(d)));
                detail.smb_dialects = dialects;
            }
            "smb-vuln-ms17-010" => detail.ms17_010 = Some(ms17(s)),
            _ => {}
        }
    }

    // Identity and the report-shaped facts.
    let smb = detail.smb_os_discovery.clone().unwrap_or_default();
    let ptr = detail.hostnames.first().cloned();
    identity.fqdn = smb
        .fqdn
        .clone()
        .filter(|f| f.contains('.'))
        .or_else(|| ptr.clone().filter(|p| p.contains('.')));
    identity.host_name = smb
        .computer_name
        .clone()
        .or_else(|| smb.netbios_computer_name.clone())
        .or_else(|| ptr.map(|p| p.split('.').next().unwrap_or(&p).to_string()));
    identity.domain = smb
        .domain
        .clone()
        .filter(|d| !d.eq_ignore_ascii_case(identity.host_name.as_deref().unwrap_or("")))
        .or_else(|| {
            identity
                .fqdn
                .as_deref()
                .and_then(|f| f.split_once('.'))
                .map(|(_, d)| d.to_string())
        });

    let mut report: Report = common::import_report(Format::Nmap, id, observed);
    report.host.hostname = identity.host_name.clone();
    report.host.fqdn = identity.fqdn.clone();
    report.host.domain = identity.domain.clone();
    report.host.mac_addresses = identity.macs.iter().map(|m| m.to_lowercase()).collect();
    report.host.ip_addresses = identity.ips.iter().map(ToString::to_string).collect();
    fill_os(&mut report, &detail);

    let source = Some("nmap".to_string());
    let mut evidence = Vec::new();
    if let Some(offered) = detail.smb1_offered {
        evidence.push(ExtraEvidence::Smb1Offered {
            offered,
            source: source.clone(),
            observed_at: Some(observed),
        });
    }
    if detail.ms17_010 == Some(Ms17Verdict::Vulnerable) {
        evidence.push(ExtraEvidence::Ms17010Vulnerable {
            source,
            observed_at: Some(observed),
        });
    }
    ImportRecord {
        source: Source::Nmap,
        observed_at: observed,
        origin: String::new(),
        identity,
        report,
        evidence,
        hotfix_list_complete: None,
        detail: SourceDetail::Nmap(detail),
    }
}

fn is_smb1(dialect: &str) -> bool {
    let d = dialect.to_ascii_uppercase();
    d.contains("NT LM 0.12") || d.contains("SMBV1")
}

/// nmap prints NetBIOS names with a literal `\x00` at the end.
fn clean(s: &str) -> Option<String> {
    let t = s
        .trim()
        .trim_end_matches("\\x00")
        .trim_end_matches('\0')
        .trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn smb_os(s: &El) -> SmbOsDiscovery {
    let elem = |k: &str| {
        s.all("elem")
            .find(|e| e.attr("key") == Some(k))
            .and_then(|e| clean(&e.text))
    };
    let mut d = SmbOsDiscovery {
        os: elem("os"),
        lanmanager: elem("lanmanager"),
        computer_name: None,
        netbios_computer_name: elem("server"),
        domain: elem("domain_dns"),
        netbios_domain: elem("domain"),
        workgroup: elem("workgroup"),
        fqdn: elem("fqdn"),
        forest: elem("forest_dns"),
        cpe: elem("cpe"),
    };
    // Lines of the output text fill what the elements did not give (older nmap).
    for line in s.attr("output").unwrap_or("").lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let v = clean(v);
        match k.trim() {
            "OS" if d.os.is_none() => {
                d.os = v.map(|o| o.split(" (").next().unwrap_or(&o).to_string())
            }
            "Computer name" => d.computer_name = v,
            "NetBIOS computer name" if d.netbios_computer_name.is_none() => {
                d.netbios_computer_name = v
            }
            "Domain name" if d.domain.is_none() => d.domain = v,
            "FQDN" if d.fqdn.is_none() => d.fqdn = v,
            "Workgroup" if d.workgroup.is_none() => d.workgroup = v,
            "Forest name" if d.forest.is_none() => d.forest = v,
            "OS CPE" if d.cpe.is_none() => d.cpe = v,
            _ => {}
        }
    }
    d
}

fn ms17(s: &El) -> Ms17Verdict {
    let state = s
        .children
        .iter()
        .filter(|t| t.name == "table")
        .flat_map(|t| t.all("elem"))
        .find(|e| e.attr("key") == Some("state"))
        .map(|e| e.text.trim().to_ascii_uppercase());
    let output = s.attr("output").unwrap_or("").trim().to_string();
    let upper = output.to_ascii_uppercase();
    let state = state.or_else(|| {
        upper.lines().find_map(|l| {
            l.trim()
                .strip_prefix("STATE:")
                .map(|v| v.trim().to_string())
        })
    });
    match state.as_deref() {
        Some(st) if st.starts_with("VULNERABLE") || st.starts_with("LIKELY VULNERABLE") => {
            Ms17Verdict::Vulnerable
        }
        Some(st) if st.starts_with("NOT VULNERABLE") => Ms17Verdict::NotVulnerable,
        _ if upper.starts_with("VULNERABLE") => Ms17Verdict::Vulnerable,
        _ => Ms17Verdict::CouldNotTest {
            reason: if output.is_empty() {
                "no verdict in the script output".into()
            } else {
                output.chars().take(200).collect()
            },
        },
    }
}

/// The OS as the report states it: smb-os-discovery first (the host said so), else the best
/// OS match of at least 90 % accuracy. Windows names give version and build:
/// "Windows Server 2003 3790 Service Pack 2", "Windows 7 Professional 7601 Service Pack 1",
/// "Windows 5.1" (XP's lanmanager form).
fn fill_os(report: &mut Report, d: &NmapDetail) {
    let smb_os = d.smb_os_discovery.as_ref().and_then(|s| s.os.clone());
    let best = d.os_matches.first().filter(|m| m.accuracy >= 90);
    let name = smb_os.clone().or_else(|| best.map(|m| m.name.clone()));
    let Some(name) = name else { return };
    let lower = name.to_lowercase();
    let os = &mut report.os;
    if lower.contains("windows") {
        os.family = OsFamily::Windows;
        os.id = Some("windows".into());
    } else if lower.contains("linux") {
        os.family = OsFamily::Linux;
    }
    os.installation_type = lower.contains("windows").then(|| {
        if lower.contains("server") {
            "Server".to_string()
        } else {
            "Client".to_string()
        }
    });
    if smb_os.is_some() && os.family == OsFamily::Windows {
        // "Windows Server 2003 3790 Service Pack 2": the last 4-5 digit word is the build.
        let words: Vec<&str> = name.split_whitespace().collect();
        if let Some(build) = words
            .iter()
            .rfind(|w| (4..=5).contains(&w.len()) && w.chars().all(|c| c.is_ascii_digit()))
        {
            os.build = Some((*build).to_string());
            os.version = windows_version_for_build(build).map(str::to_string);
        }
        if let Some(p) = lower.find("service pack ") {
            let n: String = lower[p + 13..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !n.is_empty() {
                os.service_pack = Some(format!("Service Pack {n}"));
            }
        }
        if lower.starts_with("windows 5.1") {
            os.version = Some("5.1".into());
            os.build = Some("2600".into());
        } else if lower.starts_with("windows 5.0") {
            os.version = Some("5.0".into());
            os.build = Some("2195".into());
        }
    }
    // XP and 2000 answer with their NT version; say the product a person knows.
    os.name = Some(if lower.starts_with("windows 5.1") {
        "Windows XP".to_string()
    } else if lower.starts_with("windows 5.0") {
        "Windows 2000".to_string()
    } else {
        name
    });
}

/// NT version of a Windows build number nmap prints (pre-Windows 10 builds are unique).
fn windows_version_for_build(build: &str) -> Option<&'static str> {
    Some(match build.parse::<u32>().ok()? {
        2195 => "5.0",
        2600 => "5.1",
        3790 => "5.2",
        6000..=6003 => "6.0",
        7600 | 7601 => "6.1",
        9200 => "6.2",
        9600 => "6.3",
        10240.. => "10.0",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    const XP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -p445 --script smb-os-discovery,smb-protocols,smb-vuln-ms17-010 10.0.0.0/24" start="1700000000" version="7.94">
<host starttime="1700000100" endtime="1700000200"><status state="up" reason="arp-response"/>
<address addr="10.0.0.7" addrtype="ipv4"/>
<address addr="00:0C:29:AA:BB:CC" addrtype="mac" vendor="VMware"/>
<hostnames><hostname name="xp-lab.klinik.local" type="PTR"/></hostnames>
<ports><port protocol="tcp" portid="445"><state state="open" reason="syn-ack"/><service name="microsoft-ds" product="Microsoft Windows XP microsoft-ds"/></port>
<port protocol="tcp" portid="139"><state state="closed" reason="reset"/></port></ports>
<os><osmatch name="Microsoft Windows XP SP2 or SP3" accuracy="96" line="1"><osclass type="general purpose" vendor="Microsoft" osfamily="Windows" osgen="XP" accuracy="96"><cpe>cpe:/o:microsoft:windows_xp::sp2</cpe></osclass></osmatch></os>
<hostscript><script id="smb-os-discovery" output="&#xa;  OS: Windows XP (Windows 2000 LAN Manager)&#xa;  Computer name: xp-lab&#xa;  NetBIOS computer name: XP-LAB\x00&#xa;  Domain name: klinik.local&#xa;  FQDN: xp-lab.klinik.local&#xa;"><elem key="os">Windows 5.1</elem>
<elem key="lanmanager">Windows 2000 LAN Manager</elem>
<elem key="server">XP-LAB\x00</elem>
<elem key="domain_dns">klinik.local</elem>
<elem key="fqdn">xp-lab.klinik.local</elem>
</script><script id="smb-protocols" output="&#xa;  dialects: &#xa;    NT LM 0.12 (SMBv1) [dangerous, but default]"><table key="dialects">
<elem>NT LM 0.12 (SMBv1) [dangerous, but default]</elem>
</table>
</script><script id="smb-vuln-ms17-010" output="&#xa;  VULNERABLE:&#xa;  Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)&#xa;    State: VULNERABLE&#xa;"><table key="CVE-2017-0143">
<elem key="title">Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)</elem>
<elem key="state">VULNERABLE</elem>
</table>
</script></hostscript></host>
<host><status state="down" reason="no-response"/><address addr="10.0.0.8" addrtype="ipv4"/></host>
<host starttime="1700000300"><status state="up"/><address addr="10.0.0.9" addrtype="ipv4"/>
<hostscript><script id="smb-vuln-ms17-010" output="Could not connect to &apos;IPC$&apos;"/></hostscript></host>
</nmaprun>
"#;

    #[test]
    fn xp_host_with_smb_scripts() {
        let p = parse(XP.as_bytes(), "scan.xml", now()).expect("parse");
        assert_eq!(p.records.len(), 2, "{p:?}");
        assert!(p.warnings.iter().any(|w| w.contains("1 host(s) down")));
        let r = &p.records[0];
        assert_eq!(r.origin, "scan.xml#10.0.0.7");
        assert_eq!(r.observed_at.timestamp(), 1_700_000_100);
        assert_eq!(r.identity.host_name.as_deref(), Some("xp-lab"));
        assert_eq!(r.identity.fqdn.as_deref(), Some("xp-lab.klinik.local"));
        assert_eq!(r.identity.domain.as_deref(), Some("klinik.local"));
        assert_eq!(r.identity.macs, ["00:0C:29:AA:BB:CC"]);
        assert_eq!(r.report.host.mac_addresses, ["00:0c:29:aa:bb:cc"]);
        assert_eq!(r.report.os.family, OsFamily::Windows);
        assert_eq!(r.report.os.version.as_deref(), Some("5.1"));
        assert_eq!(r.report.os.build.as_deref(), Some("2600"));
        let SourceDetail::Nmap(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.ports.len(), 1);
        assert_eq!(d.ports[0].port, 445);
        assert_eq!(d.os_matches[0].accuracy, 96);
        assert_eq!(d.os_matches[0].generation.as_deref(), Some("XP"));
        assert_eq!(d.addresses[1].vendor.as_deref(), Some("VMware"));
        assert_eq!(d.smb1_offered, Some(true));
        assert_eq!(d.ms17_010, Some(Ms17Verdict::Vulnerable));
        assert!(
            r.evidence
                .iter()
                .any(|e| matches!(e, ExtraEvidence::Ms17010Vulnerable { .. }))
        );
        assert!(
            r.evidence
                .iter()
                .any(|e| matches!(e, ExtraEvidence::Smb1Offered { offered: true, .. }))
        );
        let other = &p.records[1];
        let SourceDetail::Nmap(d) = &other.detail else {
            panic!("detail")
        };
        assert_eq!(
            d.ms17_010,
            Some(Ms17Verdict::CouldNotTest {
                reason: "Could not connect to 'IPC$'".into()
            })
        );
        assert!(other.evidence.is_empty(), "could not test is not a finding");
    }

    #[test]
    fn server_2003_build_and_service_pack() {
        let x = r#"<nmaprun start="1700000000"><host><status state="up"/><address addr="10.1.1.1" addrtype="ipv4"/><hostscript><script id="smb-os-discovery" output="x"><elem key="os">Windows Server 2003 3790 Service Pack 2</elem><elem key="server">FILES01\x00</elem></script></hostscript></host></nmaprun>"#;
        let p = parse(x.as_bytes(), "s.xml", now()).expect("parse");
        let os = &p.records[0].report.os;
        assert_eq!(os.build.as_deref(), Some("3790"));
        assert_eq!(os.version.as_deref(), Some("5.2"));
        assert_eq!(os.service_pack.as_deref(), Some("Service Pack 2"));
        assert_eq!(os.installation_type.as_deref(), Some("Server"));
        assert_eq!(p.records[0].identity.host_name.as_deref(), Some("FILES01"));
    }

    #[test]
    fn external_entities_are_never_resolved() {
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE nmaprun [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<nmaprun start="1"><host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/><hostnames><hostname name="&xxe;"/></hostnames></host></nmaprun>"#;
        let err = parse(xxe.as_bytes(), "x.xml", now()).expect_err("refused");
        assert!(err.to_string().contains("DOCTYPE"), "{err}");
        // An entity used without any declaration is refused too, not expanded.
        let undeclared = r#"<nmaprun start="1"><host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/><hostnames><hostname name="&xxe;"/></hostnames></host></nmaprun>"#;
        let err = parse(undeclared.as_bytes(), "x.xml", now()).expect_err("refused");
        assert!(err.to_string().contains("never resolved"), "{err}");
        let external_dtd =
            r#"<!DOCTYPE nmaprun SYSTEM "http://example.invalid/evil.dtd"><nmaprun/>"#;
        assert!(parse(external_dtd.as_bytes(), "x.xml", now()).is_err());
    }

    #[test]
    fn truncated_scan_keeps_finished_hosts() {
        let cut = &XP[..XP
            .find("<host starttime=\"1700000300\"")
            .expect("third host")
            + 40];
        let p = parse(cut.as_bytes(), "cut.xml", now()).expect("parse");
        assert_eq!(p.records.len(), 1);
        assert!(
            p.warnings.iter().any(|w| w.contains("ends early")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn all_down_is_an_error() {
        let x = r#"<nmaprun start="1"><host><status state="down"/><address addr="10.0.0.1" addrtype="ipv4"/></host></nmaprun>"#;
        assert!(parse(x.as_bytes(), "d.xml", now()).is_err());
    }
}
