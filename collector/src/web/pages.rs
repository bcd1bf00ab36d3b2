//! Overview, ranking and device pages.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::labels::Labels;
use super::{PageError, PageUser, csrf_field, page, svg, text, trend};
use crate::api::redact;
use crate::api::risk::exception_map;
use crate::api::{AppState, blocking, parse_id};
use crate::auth::Permission;
use crate::charts::{self, LineChart, Series, Unit, overview};
use crate::estate::{self, Assessed, RankFilter};
use crate::store::ExceptionRecord;

fn remedy_class(key: &str) -> &'static str {
    match key {
        "replace_hardware" => "bad",
        "upgrade_os" | "fix_firmware" | "patch" => "warn",
        "no_action" | "isolate" => "ok",
        _ => "unknown",
    }
}

pub async fn overview(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let (summary, all, points, cov) = blocking(move || {
        let store = state.store.as_ref();
        let exceptions = exception_map(store)?;
        let now = Utc::now();
        let devices = estate::merged_devices(store, &state.risk, now)?;
        let cov =
            crate::devices::coverage::coverage(&devices, now, state.risk.weights.stale_after_days);
        let all: Vec<Assessed> = devices
            .iter()
            .map(|d| estate::assess_merged(d, &state.risk, &exceptions, now))
            .collect();
        let summary = estate::summary(&all, &state.risk.catalog);
        let points = trend::trend(store, &state.risk, &exceptions, now, 6)?;
        Ok((summary, all, points, cov))
    })
    .await?;
    // One point per day: the chart's axis is by date.
    let mut daily: Vec<&trend::TrendPoint> = Vec::new();
    for p in &points {
        match daily.last_mut() {
            Some(last) if last.at.date_naive() == p.at.date_naive() => *last = p,
            _ => daily.push(p),
        }
    }
    // The table: one row per minute shown.
    let mut table: Vec<&trend::TrendPoint> = Vec::new();
    for p in &points {
        let minute = |t: &trend::TrendPoint| t.at.format("%Y%m%d%H%M").to_string();
        match table.last_mut() {
            Some(last) if minute(last) == minute(p) => *last = p,
            _ => table.push(p),
        }
    }
    let series = |name: &str, value: fn(&trend::TrendPoint) -> usize| Series {
        name: name.into(),
        points: daily
            .iter()
            .map(|p| (p.at.date_naive(), value(p) as f64))
            .collect(),
    };
    let trend_svg = charts::line_chart(&LineChart {
        id: "trend".into(),
        title: "Devices reporting through the Ward agent, over time".into(),
        unit: Unit::Count,
        series: vec![
            series("All devices", |p| p.devices),
            series("No security updates", |p| p.unsupported),
            series("Open to WannaCry", |p| p.wannacry),
            series("Ready for Windows 11", |p| p.win11_ready),
        ],
    });
    let body = html! {
        h1 { "Overview" }
        p.lede { "Every device Ward knows of, judged against the vendors' support dates and known attacks. Catalog version " (summary.catalog.version) " of " (summary.catalog.date) "." }
        section.cards aria-label="Headline figures" {
            div.card { span.big { (summary.devices) } span { "devices known (agents, imports, scans and the directory); " (cov.devices) " seen in the last " (cov.stale_after_days) " days" } }
            div.card.bad { span.big { (text::percent(summary.unsupported_share)) } span { (summary.unsupported) " on systems with no security updates" } }
            div.card.warn { span.big { (summary.wannacry_exposed) } span { "open to WannaCry (MS17-010 missing, SMBv1 on)" } }
            a href="/unmanaged" class={"card link " (if cov.unmanaged > 0 { "bad" } else { "ok" })} {
                span.big { (cov.unmanaged) }
                span { "unmanaged: seen only by scans or the directory. " (text::percent(cov.managed_share)) " of " (cov.devices) " active devices report through an agent or probe." }
            }
        }
        div.grid {
            section { h2 { "Operating systems" } (svg(overview::by_os_family(&summary))) }
            section { h2 { "Support status" } (svg(overview::by_lifecycle(&summary))) }
            section { h2 { "Windows 11 readiness" } (svg(overview::readiness_by_class(&all))) }
            section { h2 { "What to do" } (svg(overview::by_remedy(&summary))) }
        }
        section.wide {
            h2 { "Trend" }
            p.hint { "From the agents' stored report history; imported files and scans are not in the trend yet." }
            @if points.is_empty() { p { "No reports yet." } } @else {
                @if daily.len() < 2 {
                    p.hint { "The stored history covers less than a day so far; the lines fill in as reports arrive over the coming days." }
                }
                (svg(trend_svg))
                table.compact {
                    caption { "The same figures as a table" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Devices" } th scope="col" { "No security updates" } th scope="col" { "Open to WannaCry" } th scope="col" { "Ready for Windows 11" } } }
                    tbody {
                        @for p in &table {
                            tr { td { (p.at.format("%d %b %Y %H:%M")) } td.num { (p.devices) } td.num { (p.unsupported) } td.num { (p.wannacry) } td.num { (p.win11_ready) } }
                        }
                    }
                }
            }
        }
        p.noprint { a href="/ranking" { "See every device, most urgent first" } }
    };
    Ok(page(&user, "Overview", body))
}

#[derive(Debug, Default, Deserialize)]
pub struct RankingQuery {
    site: Option<String>,
    department: Option<String>,
    remedy: Option<String>,
    os: Option<String>,
    sort: Option<String>,
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn department(a: &Assessed) -> Option<&str> {
    a.report.tags.department.as_deref()
}

pub async fn ranking(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Query(q): Query<RankingQuery>,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let network = user.who.can(Permission::NetworkDetails);
    let (all, labels) = blocking(move || {
        let store = state.store.as_ref();
        let exceptions = exception_map(store)?;
        let now = Utc::now();
        let devices = estate::merged_devices(store, &state.risk, now)?;
        let all = estate::assess_devices(&devices, &state.risk, &exceptions, now);
        Ok((all, Labels::new(&devices, network)))
    })
    .await?;
    let sites: BTreeSet<String> = all
        .iter()
        .filter_map(|a| a.assessment.site.clone())
        .collect();
    let departments: BTreeSet<String> = all
        .iter()
        .filter_map(|a| department(a).map(str::to_owned))
        .collect();
    let filter = RankFilter {
        site: blank(&q.site),
        remedy: blank(&q.remedy),
        os: blank(&q.os),
        department: blank(&q.department),
    };
    let mut rows = estate::ranking(&all, &filter);
    let by_id: BTreeMap<Uuid, &Assessed> = all.iter().map(|a| (a.id, a)).collect();
    // Names as this role sees them: host names, or asset labels without network details.
    for r in &mut rows {
        r.hostname = Some(labels.name(r.device_id, r.hostname.as_deref()));
        r.reason = labels.text(&r.reason);
    }
    let sort = q.sort.clone().unwrap_or_else(|| "rank".into());
    match sort.as_str() {
        "hostname" => rows.sort_by(|a, b| a.hostname.cmp(&b.hostname)),
        "site" => rows.sort_by(|a, b| a.site.cmp(&b.site).then(a.rank.cmp(&b.rank))),
        "os" => rows.sort_by(|a, b| a.os.cmp(&b.os).then(a.rank.cmp(&b.rank))),
        _ => {}
    }
    let selected = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let export_query: String = [
        ("site", &filter.site),
        ("department", &filter.department),
        ("remedy", &filter.remedy),
        ("os", &filter.os),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", text::url_encode(v))))
    .collect::<Vec<_>>()
    .join("&");
    let body = html! {
        h1 { "Ranking" }
        p.lede { "Most urgent first. The score adds up each finding's points; open a device to see why." }
        form.filters method="get" action="/ranking" {
            div { label for="f-site" { "Site" }
                select id="f-site" name="site" { option value="" { "All sites" } @for s in &sites { option value=(s) selected[selected(&q.site, s)] { (s) } } } }
            div { label for="f-dept" { "Department" }
                select id="f-dept" name="department" { option value="" { "All departments" } @for d in &departments { option value=(d) selected[selected(&q.department, d)] { (d) } } } }
            div { label for="f-remedy" { "Action" }
                select id="f-remedy" name="remedy" { option value="" { "All actions" }
                    @for k in ["replace_hardware", "upgrade_os", "fix_firmware", "patch", "isolate", "no_action", "unknown"] {
                        option value=(k) selected[selected(&q.remedy, k)] { (text::remedy_key(k)) } } } }
            div { label for="f-os" { "Operating system" }
                select id="f-os" name="os" { option value="" { "All" }
                    @for k in ["windows", "linux", "macos", "other"] { option value=(k) selected[selected(&q.os, k)] { (text::os_family(k)) } } } }
            div { label for="f-sort" { "Sort by" }
                select id="f-sort" name="sort" {
                    @for (k, l) in [("rank", "Urgency"), ("hostname", "Device name"), ("site", "Site"), ("os", "Operating system")] {
                        option value=(k) selected[sort == k] { (l) } } } }
            div { button type="submit" { "Apply" } }
        }
        p {
            (rows.len()) " devices shown. "
            span.noprint.downloads {
                "Download: "
                a href={"/api/v1/export/ranking.xlsx?" (export_query)} download { "ranking (XLSX)" } " · "
                a href={"/api/v1/export/ranking.csv?" (export_query)} download { "ranking (CSV)" } " · "
                a href={"/api/v1/export/devices.xlsx?" (export_query)} download { "devices with findings (XLSX)" }
            }
        }
        table.ranking {
            thead { tr {
                th scope="col" { "Rank" } th scope="col" { "Device" } th scope="col" { "Site" } th scope="col" { "Department" }
                th scope="col" { "Operating system" } th scope="col" class="num" { "Score" } th scope="col" { "Action" } th scope="col" { "Main reason" }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td.num { (r.rank) }
                        td { a href={"/devices/" (r.device_id)} { (r.hostname.clone().unwrap_or_else(|| r.device_id.to_string())) } }
                        td { (r.site.clone().unwrap_or_default()) }
                        td { (by_id.get(&r.device_id).and_then(|a| department(a)).unwrap_or("")) }
                        td { (r.os.clone().unwrap_or_else(|| "not known".into())) }
                        td.num { (r.score) }
                        td { span class={"tag " (remedy_class(&estate::key(&r.remedy)))} { (text::remedy(r.remedy)) } }
                        td { (r.reason) }
                    }
                }
            }
        }
    };
    Ok(page(&user, "Ranking", body))
}

pub async fn device(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let id = parse_id(&id)?;
    let network = user.who.can(Permission::NetworkDetails);
    let (assessed, device, history, exception, labels) = blocking(move || {
        let store = state.store.as_ref();
        let exceptions = exception_map(store)?;
        let now = Utc::now();
        let devices = estate::merged_devices(store, &state.risk, now)?;
        let device = crate::devices::find(&devices, id)
            .cloned()
            .ok_or_else(|| crate::api::ApiError::NotFound(format!("There is no device {id}.")))?;
        let assessed = estate::assess_merged(&device, &state.risk, &exceptions, now);
        let history = store.history(device.id, 20)?;
        let exception = store
            .exceptions()?
            .into_iter()
            .find(|e| device.is_named(e.device_id));
        let labels = Labels::new(&devices, network);
        Ok((assessed, device, history, exception, labels))
    })
    .await?;
    let id = device.id;
    let mut a = assessed.assessment;
    let mut report = assessed.report;
    if !network {
        redact::assessment(&mut a);
        redact::report(&mut report);
        for f in &mut a.findings {
            f.sentence = labels.text(&f.sentence);
            for e in &mut f.evidence {
                e.value = labels.text(&e.value);
            }
        }
        a.remedy.reason = labels.text(&a.remedy.reason);
        for step in &mut a.remedy.steps {
            *step = labels.text(step);
        }
    }
    let name = labels.name(id, a.hostname.as_deref());
    let today = Utc::now().date_naive();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "not reported".into());
    let yesno = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not reported",
    };
    let body = html! {
        p.noprint { a href="/ranking" { "← Ranking" } }
        h1 { (name) }
        p.lede { (text::lifecycle_sentence(&a)) }
        section.cards aria-label="Verdict" {
            div.card.bad { span.big { (a.score) } span { "risk score" } }
            div class={"card " (remedy_class(&estate::key(&a.remedy.class)))} { span.big.small { (text::remedy(a.remedy.class)) } span { (a.remedy.reason) } }
            div class={"card " (if a.wannacry_exposed { "bad" } else { "ok" })} {
                span.big.small { (if a.wannacry_exposed { "Open to WannaCry" } else { "Not open to WannaCry" }) }
                span { "MS17-010 and SMBv1" }
            }
        }
        section {
            h2 { "Exception" }
            @match &exception {
                Some(e) => { (exception_status(e, today, &labels)) }
                None => { p { "None recorded: this device is ranked on its own risk." } }
            }
            @if user.who.can(Permission::ManageExceptions) {
                details open[exception.is_none()] {
                    summary { (if exception.is_some() { "Review or extend the exception" } else { "Add an exception" }) }
                    (exception_form(&user, Some(id), exception.as_ref(), "/ranking"))
                }
            }
        }
        @if !a.remedy.steps.is_empty() {
            section { h2 { "Steps" } ol { @for s in &a.remedy.steps { li { (s) } } } }
        }
        section {
            h2 { "Findings" }
            @if a.findings.is_empty() { p { "No findings." } }
            @for f in &a.findings {
                article.finding {
                    h3 { (f.sentence) " " span.points { "(" (f.points) " points)" } }
                    table.compact {
                        caption.visually-hidden { "Evidence" }
                        thead { tr { th scope="col" { "Field" } th scope="col" { "Value" } th scope="col" { "Catalog" } } }
                        tbody { @for e in &f.evidence { tr { td { code { (e.field) } } td { (e.value) } td { (e.catalog.clone().unwrap_or_default()) } } } }
                    }
                }
            }
        }
        @if let Some(r) = &a.readiness {
            section {
                h2 { "Windows 11 checklist" }
                p { strong { (text::readiness(r.verdict)) } }
                table.compact {
                    thead { tr { th scope="col" { "Requirement" } th scope="col" { "Status" } th scope="col" { "What we saw" } } }
                    tbody { @for c in &r.criteria {
                        @let (words, class) = text::criterion(c.status);
                        tr { td { (c.name) } td { span class={"tag " (class)} { (words) } } td { (c.evidence) } }
                    } }
                }
            }
        }
        section {
            h2 { "Facts by source" }
            table.compact {
                caption { "Who saw this device, newest first. Facts from the newest sighting of each source are merged; older ones are history." }
                thead { tr { th scope="col" { "Source" } th scope="col" { "Seen (UTC)" } th scope="col" { "From" } th scope="col" { "Counts" } } }
                tbody { @for s in device.sightings.iter().take(20) { tr {
                    td { (source_words(s.source)) }
                    td { (s.observed_at.format("%d %b %Y %H:%M")) }
                    td { (labels.text(&s.origin)) }
                    td { @if s.stale { "no: older than the stale window" } @else if s.current { "yes: newest from this source" } @else { "no: a newer one exists" } }
                } } }
            }
            table.facts {
                caption { "The merged facts. Last seen " (device.last_seen.format("%d %b %Y %H:%M UTC")) "." }
                tbody {
                    tr { th scope="row" { "Operating system" } td { (opt(&report.os.name)) } }
                    tr { th scope="row" { "Support status" } td { (text::lifecycle(a.lifecycle.state)) } }
                    tr { th scope="row" { "Version / build" } td { (opt(&report.os.display_version)) " / " (opt(&report.os.build)) } }
                    tr { th scope="row" { "Site / department" } td { (opt(&report.tags.site)) " / " (opt(&report.tags.department)) } }
                    tr { th scope="row" { "Make and model" } td {
                        @match (&report.hardware.manufacturer, &report.hardware.model) {
                            (None, None) => { "not reported" }
                            (make, model) => { (make.clone().unwrap_or_default()) " " (model.clone().unwrap_or_default()) }
                        }
                    } }
                    tr { th scope="row" { "Processor" } td { (opt(&report.hardware.cpu.brand)) } }
                    tr { th scope="row" { "Memory" } td { (report.hardware.ram_bytes.map_or("not reported".into(), |b| format!("{:.1} GB", b as f64 / 1e9))) } }
                    tr { th scope="row" { "TPM / Secure Boot / UEFI" } td { (opt(&report.hardware.tpm.version)) " / " (yesno(report.hardware.secure_boot)) " / " (yesno(report.hardware.uefi)) } }
                    tr { th scope="row" { "Firewall / disk encryption" } td { (yesno(report.security.firewall_enabled)) " / " (yesno(report.security.system_disk_encrypted)) } }
                    tr { th scope="row" { "Updates installed / pending" } td { (report.patches.installed.len()) " / " (report.patches.pending_count.map_or("not reported".into(), |n| n.to_string())) } }
                    @if network {
                        tr { th scope="row" { "IP addresses" } td { (report.host.ip_addresses.join(", ")) } }
                        tr { th scope="row" { "MAC addresses" } td { (report.host.mac_addresses.join(", ")) } }
                        tr { th scope="row" { "DNS name" } td { (opt(&report.host.fqdn)) } }
                    } @else {
                        tr { th scope="row" { "Network details" } td { (redact::WITHHELD) } }
                    }
                }
            }
        }
        section {
            h2 { "History" }
            @if history.is_empty() {
                p { "No Ward agent reports for this device: it is known from imported files or scans only (see the sources above)." }
            } @else {
            table.compact {
                thead { tr { th scope="col" { "Received" } th scope="col" { "Operating system" } th scope="col" { "Build" } th scope="col" class="num" { "Pending updates" } } }
                tbody { @for h in &history { tr {
                    td { (h.received_at.format("%d %b %Y %H:%M")) }
                    td { (opt(&h.report.os.name)) }
                    td { (opt(&h.report.os.build)) }
                    td.num { (h.report.patches.pending_count.map_or("–".into(), |n| n.to_string())) }
                } } }
            }
            }
        }
    };
    Ok(page(&user, &name, body))
}

/// A source in words.
pub fn source_words(s: crate::import::Source) -> &'static str {
    use crate::import::Source;
    match s {
        Source::Agent => "Ward agent",
        Source::Probe => "probe report",
        Source::Systeminfo => "systeminfo file",
        Source::Qfe => "update list (qfe)",
        Source::Ad => "Active Directory",
        Source::Nmap => "nmap scan",
    }
}

/// An exception's state and text; the text scrubbed by `labels` for roles without network
/// details.
pub fn exception_status(e: &ExceptionRecord, today: NaiveDate, labels: &Labels) -> Markup {
    let (words, class) = if e.review_date < today {
        ("Expired: ranked on its own risk again", "bad")
    } else if (e.review_date - today).num_days() <= 30 {
        ("Active, review due soon", "warn")
    } else {
        ("Active", "ok")
    };
    html! {
        p { span class={"tag " (class)} { (words) } " until " (e.review_date.format("%d %B %Y")) ". Owner: " (labels.text(&e.owner)) "." }
        p { "Reason: " (labels.text(&e.reason)) }
        @if !e.controls.is_empty() { p { "Controls: " (labels.text(&e.controls.join("; "))) } }
    }
}

/// The add/review form; `device` fixed when shown on a device page.
pub fn exception_form(
    user: &PageUser,
    device: Option<Uuid>,
    existing: Option<&ExceptionRecord>,
    back: &str,
) -> Markup {
    let default_review = (Utc::now().date_naive() + chrono::Duration::days(180)).to_string();
    html! {
        form.stack method="post" action="/exceptions" {
            (csrf_field(&user.csrf))
            input type="hidden" name="back" value=(back);
            @if let Some(id) = device {
                input type="hidden" name="device_id" value=(id);
            } @else {
                label for="x-device" { "Device id" }
                input id="x-device" name="device_id" type="text" required;
            }
            label for="x-reason" { "Why it cannot be changed" }
            input id="x-reason" name="reason" type="text" required value=(existing.map_or("", |e| e.reason.as_str()));
            label for="x-controls" { "Compensating controls (one per line)" }
            textarea id="x-controls" name="controls" rows="3" { (existing.map_or(String::new(), |e| e.controls.join("\n"))) }
            label for="x-owner" { "Owner" }
            input id="x-owner" name="owner" type="text" required value=(existing.map_or("", |e| e.owner.as_str()));
            label for="x-review" { "Review by" }
            input id="x-review" name="review_date" type="date" required value=(default_review);
            button type="submit" { "Record exception" }
        }
    }
}
