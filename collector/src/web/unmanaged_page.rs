//! The Unmanaged page: how much of the estate Ward sees from inside (coverage by site) and the
//! devices seen only from outside, by an nmap scan or the Active Directory export, from the
//! same figures as `GET /api/v1/coverage` ([`crate::devices::coverage`]).
//!
//! Roles without network details get the page with an opaque device label and without IP
//! addresses, MAC addresses or DNS names; the figures are the same.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use super::{PageError, PageUser, page, svg, text};
use crate::api::{AppState, blocking, redact};
use crate::auth::Permission;
use crate::charts::{StackRow, StackedChart, Unit, stacked_chart};
use crate::devices::coverage::{Coverage, UnmanagedDevice};
use crate::import::Ms17Verdict;

pub use crate::estate::row::ScanSmb as SmbFindings;

/// The coverage figures and the SMB findings of each unmanaged device (from its newest nmap
/// record). Blocking.
fn load(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<(Coverage, HashMap<Uuid, SmbFindings>), crate::api::ApiError> {
    let estate = state.estate();
    let cov = estate.coverage(now);
    let smb = cov
        .unmanaged_devices
        .iter()
        .filter_map(|u| estate.row(u.id).map(|r| (u.id, r.scan.clone())))
        .collect();
    Ok((cov, smb))
}

fn ms17_words(f: &SmbFindings) -> (&'static str, &'static str) {
    match &f.ms17_010 {
        Some(Ms17Verdict::Vulnerable) => ("Open to WannaCry (MS17-010)", "bad"),
        Some(Ms17Verdict::NotVulnerable) => ("Not vulnerable", "ok"),
        Some(Ms17Verdict::CouldNotTest { .. }) => ("Could not be tested", "unknown"),
        None => ("Not scanned for it", "unknown"),
    }
}

fn smb1_words(f: &SmbFindings) -> (&'static str, &'static str) {
    match f.smb1_offered {
        Some(true) => ("SMBv1 on", "bad"),
        Some(false) => ("SMBv1 off", "ok"),
        None => ("SMBv1 not known", "unknown"),
    }
}

fn age(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let days = (now - at).num_days();
    match days {
        i64::MIN..=0 => "today".into(),
        1 => "yesterday".into(),
        d => format!("{d} days ago"),
    }
}

fn label(d: &UnmanagedDevice, network: bool) -> String {
    if network {
        d.hostname
            .clone()
            .or_else(|| d.fqdn.clone())
            .or_else(|| d.ip_addresses.first().cloned())
            .unwrap_or_else(|| redact::opaque_label(d.id))
    } else {
        redact::opaque_label(d.id)
    }
}

fn site_chart(cov: &Coverage) -> String {
    stacked_chart(&StackedChart {
        id: "coverage-by-site".into(),
        title: "Active devices by site: who reports them".into(),
        unit: Unit::Count,
        series: vec![
            "Agent or probe".into(),
            "Imported files only".into(),
            "Scans or directory only".into(),
        ],
        rows: cov
            .by_site
            .iter()
            .map(|s| StackRow {
                label: s.site.clone(),
                values: vec![s.managed as f64, s.imported as f64, s.unmanaged as f64],
            })
            .collect(),
    })
}

pub async fn unmanaged(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let network = user.who.can(Permission::NetworkDetails);
    let now = Utc::now();
    let (mut cov, smb) = blocking(move || load(&state, now)).await?;
    if !network {
        cov.redact();
    }
    let active = cov.unmanaged_devices.iter().filter(|d| d.active).count();
    let body = html! {
        h1 { "Unmanaged devices" }
        p.lede { "Devices Ward knows of only from outside: an nmap network scan or the Active Directory export saw them, but no Ward agent, probe or imported systeminfo reports from inside. Nobody can say whether they are patched until one does." }
        section.cards aria-label="Coverage" {
            div class={"card " (if cov.managed_share >= 0.9 { "ok" } else { "warn" })} {
                span.big { (text::percent(cov.managed_share)) }
                span { "of " (cov.devices) " active devices report through a Ward agent or probe (" (cov.managed) ")" }
            }
            div.card { span.big { (cov.imported) } span { "known only from imported systeminfo or update lists" } }
            div class={"card " (if cov.unmanaged > 0 { "bad" } else { "ok" })} {
                span.big { (cov.unmanaged) }
                span {
                    "seen only by scans or the directory in the last " (cov.stale_after_days) " days"
                    @if cov.unmanaged_devices.len() > cov.unmanaged { " (" (cov.unmanaged_devices.len() - cov.unmanaged) " more seen that way only before then: listed below as stale)" }
                }
            }
            div.card.unknown { span.big { (cov.stale) } span { "not seen in the last " (cov.stale_after_days) " days (left out of these figures)" } }
        }
        section {
            h2 { "Coverage by site" }
            @if cov.by_site.is_empty() { p { "No active devices yet." } } @else {
                (svg(site_chart(&cov)))
                table.compact {
                    caption { "The same figures as a table" }
                    thead { tr {
                        th scope="col" { "Site" } th scope="col" class="num" { "Active devices" } th scope="col" class="num" { "Agent or probe" }
                        th scope="col" class="num" { "Imported files only" } th scope="col" class="num" { "Scans or directory only" } th scope="col" class="num" { "Share reporting" }
                    } }
                    tbody { @for s in &cov.by_site { tr {
                        td { (s.site) } td.num { (s.devices) } td.num { (s.managed) } td.num { (s.imported) } td.num { (s.unmanaged) } td.num { (text::percent(s.managed_share)) }
                    } } }
                }
            }
        }
        section {
            h2 { "Devices seen only from outside" }
            @if cov.unmanaged_devices.is_empty() {
                p { "None. An administrator adds nmap scans (XML) and Active Directory exports (CSV) on the Imports page; devices they find that nothing reports from inside are listed here." }
            } @else {
                p { (active) " active, " (cov.unmanaged_devices.len() - active) " stale. Install the Ward agent on each active one, or import its systeminfo, so Ward can judge it." }
                @if !network { p.hint { "Names and network addresses are withheld for your role; each device has a fixed label instead." } }
                table.compact.unmanaged {
                    thead { tr {
                        th scope="col" { "Device" } th scope="col" { "Seen by" } th scope="col" { "Last seen" } th scope="col" { "Operating system (guess)" }
                        th scope="col" { "WannaCry (MS17-010)" } th scope="col" { "SMBv1" } th scope="col" { "State" }
                        @if network { th scope="col" { "Network (IP, MAC, DNS name)" } }
                    } }
                    tbody { @for d in &cov.unmanaged_devices {
                        @let f = smb.get(&d.id).cloned().unwrap_or_default();
                        @let (ms, ms_class) = ms17_words(&f);
                        @let (s1, s1_class) = smb1_words(&f);
                        tr {
                            td { (label(d, network)) @if let Some(site) = &d.site { br; span.hint { (site) } } }
                            td { (d.sources.iter().map(|s| super::pages::source_words(*s)).collect::<Vec<_>>().join(", ")) }
                            td { (d.last_seen.format("%d %b %Y")) br; span.hint { (age(now, d.last_seen)) } }
                            td { (d.os_name.clone().unwrap_or_else(|| "not known".into())) }
                            td { span class={"tag " (ms_class)} { (ms) } }
                            td { span class={"tag " (s1_class)} { (s1) } }
                            td { @if d.active { span.tag.warn { "Active" } } @else { span.tag { "Stale" } } }
                            @if network {
                                td.network {
                                    @for ip in &d.ip_addresses { (ip) br; }
                                    @for mac in &d.mac_addresses { span.hint { (mac) } br; }
                                    @if let Some(fqdn) = &d.fqdn { (fqdn) }
                                }
                            }
                        }
                    } }
                }
            }
        }
    };
    Ok(page(&user, "Unmanaged", body))
}
