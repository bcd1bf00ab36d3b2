//! Overview, ranking and device pages.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use super::labels::Labels;
use super::{PageError, PageUser, csrf_field, page, svg, text};
use crate::api::redact;
use crate::api::{AppState, blocking, parse_id};
use crate::auth::Permission;
use crate::charts::{self, LineChart, Series, Unit, overview};
use crate::estate::snapshot::TrendCounts;
use crate::estate::{self, PAGE_SIZES, RankQuery};
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
    let now = Utc::now();
    let (estate, days) = blocking(move || Ok((state.estate(), state.estate.trend()))).await?;
    let summary = estate.summary();
    let cov = estate.coverage(now);
    let count = |n: i64| n.max(0) as f64;
    let series = |name: &str, value: fn(&TrendCounts) -> i64| Series {
        name: name.into(),
        points: days.iter().map(|d| (d.day, count(value(&d.all)))).collect(),
    };
    let trend_svg = charts::line_chart(&LineChart {
        id: "trend".into(),
        title: "Active devices over time".into(),
        unit: Unit::Count,
        series: vec![
            series("All devices", |c| c.devices),
            series("No security updates", |c| c.unsupported),
            series("Open to WannaCry", |c| c.wannacry),
            series("Ready for Windows 11", |c| c.win11_ready),
        ],
    });
    let body = html! {
        h1 { "Overview" }
        p.lede { "Every device Ward knows of, judged against the vendors' support dates and known attacks. Catalog version " (summary.catalog.version) " of " (summary.catalog.date) "." }
        @if !estate.ready { p.hint { "The estate is still being loaded from the store; the figures fill in within a minute." } }
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
            section { h2 { "Windows 11 readiness" } (svg(overview::readiness_by_class(&estate.counts.readiness_by_form))) }
            section { h2 { "What to do" } (svg(overview::by_remedy(&summary))) }
        }
        section.wide {
            h2 { "Trend" }
            p.hint { "The active devices each day (seen by any source within the stale window), as the estate stood at the end of the day." }
            @if days.is_empty() { p { "No figures yet." } } @else {
                @if days.len() < 2 {
                    p.hint { "The trend covers less than a day so far; the lines fill in day by day." }
                }
                (svg(trend_svg))
                table.compact {
                    caption { "The same figures as a table" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Devices" } th scope="col" { "No security updates" } th scope="col" { "Open to WannaCry" } th scope="col" { "Ready for Windows 11" } } }
                    tbody {
                        @for d in days.iter().rev().take(14) {
                            tr { td { (d.day.format("%d %b %Y")) } td.num { (d.all.devices) } td.num { (d.all.unsupported) } td.num { (d.all.wannacry) } td.num { (d.all.win11_ready) } }
                        }
                    }
                }
            }
        }
        p.noprint { a href="/ranking" { "See every device, most urgent first" } }
    };
    Ok(page(&user, "Overview", body))
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The ranking page's query: filters, search, sort and page, as the API takes them.
fn cleaned(mut q: RankQuery) -> RankQuery {
    q.filter.site = blank(&q.filter.site);
    q.filter.department = blank(&q.filter.department);
    q.filter.remedy = blank(&q.filter.remedy);
    q.filter.os = blank(&q.filter.os);
    q.q = blank(&q.q);
    q.sort = blank(&q.sort);
    q
}

/// `key=value&...` of the query's filters and search (and sort, page size when `all`).
fn query_string(q: &RankQuery, all: bool) -> String {
    let mut parts: Vec<(&str, String)> = [
        ("site", &q.filter.site),
        ("department", &q.filter.department),
        ("remedy", &q.filter.remedy),
        ("os", &q.filter.os),
        ("q", &q.q),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    if all {
        if let Some(s) = &q.sort {
            parts.push(("sort", s.clone()));
        }
        parts.push(("per_page", q.per_page().to_string()));
    }
    parts
        .iter()
        .map(|(k, v)| format!("{k}={}", text::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn ranking(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Query(q): Query<RankQuery>,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let network = user.who.can(Permission::NetworkDetails);
    let q = cleaned(q);
    let query = q.clone();
    let (estate, found) = blocking(move || {
        let estate = state.estate();
        let found = estate.ranking(&query, network);
        Ok((estate, found))
    })
    .await?;
    let labels = Labels::new(estate.clone(), network);
    let sites: Vec<&str> = estate.counts.sites.keys().map(|s| &**s).collect();
    let departments: Vec<&str> = estate.counts.departments.keys().map(|s| &**s).collect();
    let selected = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let export_query = query_string(&q, false);
    let sort = q.sort.clone().unwrap_or_else(|| "rank".into());
    // A column header sorts by it; clicking the sorted column again reverses it.
    let sort_link = |column: &str| {
        let next = if sort == column {
            format!("-{column}")
        } else {
            column.to_owned()
        };
        let mut link = RankQuery {
            sort: Some(next),
            page: None,
            ..q.clone()
        };
        link.per_page = Some(q.per_page());
        format!("/ranking?{}", query_string(&link, true))
    };
    let arrow = |column: &str| {
        if sort == column {
            " ▲"
        } else if sort.strip_prefix('-') == Some(column) {
            " ▼"
        } else {
            ""
        }
    };
    let page_link = |page: usize| {
        let mut link = RankQuery {
            page: Some(page),
            ..q.clone()
        };
        link.per_page = Some(q.per_page());
        format!("/ranking?{}&page={page}", query_string(&link, true))
    };
    let header = |column: &'static str, words: &'static str, num: bool| {
        html! {
            th scope="col" class=[num.then_some("num")] aria-sort=[
                (sort == column).then_some("ascending").or((sort.strip_prefix('-') == Some(column)).then_some("descending"))
            ] {
                a href=(sort_link(column)) { (words) (arrow(column)) }
            }
        }
    };
    let first = (found.page - 1) * found.per_page + 1;
    let last = first + found.rows.len().saturating_sub(1);
    let body = html! {
        h1 { "Ranking" }
        p.lede { "Most urgent first. The score adds up each finding's points; open a device to see why." }
        form.filters method="get" action="/ranking" {
            div { label for="f-q" { (if network { "Search (name, IP address, serial)" } else { "Search (asset label, serial)" }) }
                input id="f-q" name="q" type="search" value=(q.q.clone().unwrap_or_default()); }
            div { label for="f-site" { "Site" }
                select id="f-site" name="site" { option value="" { "All sites" } @for s in &sites { option value=(s) selected[selected(&q.filter.site, s)] { (s) } } } }
            div { label for="f-dept" { "Department" }
                select id="f-dept" name="department" { option value="" { "All departments" } @for d in &departments { option value=(d) selected[selected(&q.filter.department, d)] { (d) } } } }
            div { label for="f-remedy" { "Action" }
                select id="f-remedy" name="remedy" { option value="" { "All actions" }
                    @for k in ["replace_hardware", "upgrade_os", "fix_firmware", "patch", "isolate", "no_action", "unknown"] {
                        option value=(k) selected[selected(&q.filter.remedy, k)] { (text::remedy_key(k)) } } } }
            div { label for="f-os" { "Operating system" }
                select id="f-os" name="os" { option value="" { "All" }
                    @for k in ["windows", "linux", "macos", "other"] { option value=(k) selected[selected(&q.filter.os, k)] { (text::os_family(k)) } } } }
            div { label for="f-per" { "Per page" }
                select id="f-per" name="per_page" { @for n in PAGE_SIZES { option value=(n) selected[n == q.per_page()] { (n) } } } }
            @if let Some(s) = &q.sort { input type="hidden" name="sort" value=(s); }
            div { button type="submit" { "Apply" } }
        }
        p.counts {
            @if found.matching == 0 { "No devices match." } @else {
                "Devices " (first) "–" (last) " of " (found.matching)
                @if found.matching != found.estate { " matching (" (found.estate) " in the estate)" }
                ". "
            }
            span.noprint.downloads {
                "Download: "
                a href={"/api/v1/export/ranking.xlsx?" (export_query)} download { "ranking (XLSX)" } " · "
                a href={"/api/v1/export/ranking.csv?" (export_query)} download { "ranking (CSV)" } " · "
                a href={"/api/v1/export/devices.xlsx?" (export_query)} download { "devices with findings (XLSX)" }
            }
        }
        table.ranking {
            thead { tr {
                (header("rank", "Rank", true)) (header("hostname", "Device", false)) (header("site", "Site", false)) (header("department", "Department", false))
                (header("os", "Operating system", false)) (header("score", "Score", true)) (header("remedy", "Action", false)) th scope="col" { "Main reason" }
                (header("last_seen", "Last seen", false))
            } }
            tbody {
                @for (rank, r) in &found.rows {
                    tr {
                        td.num { (rank) }
                        td { a href={"/devices/" (r.id)} { (labels.name(r.id, r.hostname.as_deref())) } }
                        td { (r.site.as_deref().unwrap_or("")) }
                        td { (r.department.as_deref().unwrap_or("")) }
                        td { (r.os_name.as_deref().unwrap_or("not known")) }
                        td.num { (r.score) }
                        td { span class={"tag " (remedy_class(&estate::key(&r.remedy)))} { (text::remedy(r.remedy)) } }
                        td { (labels.text(r.reason())) }
                        td { (r.last_seen.format("%d %b %Y")) }
                    }
                }
            }
        }
        @if found.pages > 1 {
            nav.pager aria-label="Pages" {
                @if found.page > 1 { a href=(page_link(found.page - 1)) rel="prev" { "← Previous" } " " }
                "Page " (found.page) " of " (found.pages)
                @if found.page < found.pages { " " a href=(page_link(found.page + 1)) rel="next" { "Next →" } }
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
        let now = Utc::now();
        let snapshot = state.estate();
        let (device, assessed) = estate::device(store, &snapshot, id, now)?
            .ok_or_else(|| crate::api::ApiError::NotFound(format!("There is no device {id}.")))?;
        let history = store.history(device.id, 20)?;
        let exception = store
            .exceptions()?
            .into_iter()
            .find(|e| device.is_named(e.device_id));
        let labels = Labels::new(snapshot, network);
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
