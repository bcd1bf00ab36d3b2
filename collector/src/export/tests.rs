//! Exports read back: CSV with the csv crate, XLSX with calamine (sheets, headers, values, and
//! money and dates stored as numbers, not text).

use std::io::Cursor;

use calamine::{Data, DataType, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;
use ward_shared::Report;

use super::*;
use crate::catalog::Catalog;
use crate::estate::row::{Row as EstateRow, RowEvidence};
use crate::estate::{self, RankFilter, RankRow};
use crate::plan::{
    self as planner, Budget, FormFactor, Money, PlanDevice, RemedyKind, RemedyOption, UnitCosts,
};
use crate::store::Store;
use crate::store::memory::MemoryStore;

const NETWORK: ExportOptions = ExportOptions {
    include_network_details: true,
    csv_bom: false,
};
const NO_NETWORK: ExportOptions = ExportOptions {
    include_network_details: false,
    csv_bom: false,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap()
}

fn windows_report() -> Report {
    let mut r: Report =
        serde_json::from_str(include_str!("../../../shared/tests/golden/v1-windows.json")).unwrap();
    r.collected_at = now() - chrono::Duration::hours(2);
    r.host.fqdn = Some("pacs-view-07.trust.nhs.uk".into());
    r
}

fn linux_report() -> Report {
    let mut r: Report = serde_json::from_str(include_str!(
        "../../../shared/tests/golden/v1-linux-full.json"
    ))
    .unwrap();
    r.collected_at = now() - chrono::Duration::hours(1);
    r
}

/// The rows of an estate of agent devices `(n, report)` (device id `n`), most urgent first.
fn rows_of(reports: Vec<(u128, Report)>) -> Vec<EstateRow> {
    let store = MemoryStore::new();
    for (n, report) in reports {
        store
            .put_report(Uuid::from_u128(n), report.collected_at, &report, None)
            .unwrap();
    }
    let snapshot = estate::reference::snapshot(&store, now());
    snapshot.rows().map(|r| EstateRow::clone(r)).collect()
}

/// Two devices, ranked; the Windows one has a scan's evidence naming its address.
fn estate() -> Vec<EstateRow> {
    let mut all = rows_of(vec![(1, windows_report()), (2, linux_report())]);
    let win = all.iter_mut().find(|r| r.id == Uuid::from_u128(1)).unwrap();
    assert!(!win.findings.is_empty());
    let mut evidence = win.findings[0].evidence.to_vec();
    evidence.push(RowEvidence {
        field: "nmap".into(),
        value: "10.1.2.3:445 offered NT LM 0.12 (mac 00:15:5d:01:02:03)".into(),
        catalog: None,
    });
    win.findings = {
        let mut f = win.findings.to_vec();
        f[0].evidence = evidence.into_boxed_slice();
        f.into_boxed_slice()
    };
    all
}

fn ranked(rows: &[EstateRow]) -> impl Iterator<Item = devices::Ranked<'_>> + Send {
    rows.iter()
        .enumerate()
        .map(|(i, row)| devices::Ranked { rank: i + 1, row })
}

fn rank_rows(rows: &[EstateRow]) -> Vec<RankRow> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| RankRow::of(i + 1, r))
        .collect()
}

fn device_table(rows: &[EstateRow], opts: &ExportOptions) -> Table {
    devices::device_sheet(ranked(rows), opts).collect()
}

fn findings_table(rows: &[EstateRow], opts: &ExportOptions) -> Table {
    devices::findings_sheet(ranked(rows), opts).collect()
}

fn devices_xlsx(rows: &[EstateRow], opts: &ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    devices::document(|| ranked(rows), opts, now(), &catalog_info())
        .write_xlsx(&mut out)
        .unwrap();
    out
}

fn catalog_info() -> crate::catalog::CatalogInfo {
    Catalog::builtin().unwrap().info()
}

fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = ::csv::Reader::from_reader(bytes);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

type Book = Xlsx<Cursor<Vec<u8>>>;

fn open(bytes: Vec<u8>) -> Book {
    open_workbook_from_rs(Cursor::new(bytes)).expect("a readable XLSX")
}

fn sheet(book: &mut Book, name: &str) -> Vec<Vec<Data>> {
    book.worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"))
        .rows()
        .map(<[Data]>::to_vec)
        .collect()
}

fn header(rows: &[Vec<Data>]) -> Vec<String> {
    rows[0].iter().map(ToString::to_string).collect()
}

fn col(rows: &[Vec<Data>], title: &str) -> usize {
    header(rows)
        .iter()
        .position(|h| h == title)
        .unwrap_or_else(|| panic!("no column {title:?} in {:?}", header(rows)))
}

/// Every cell of every sheet as text, to look for what must not be there.
fn all_text(book: &mut Book) -> String {
    let mut out = String::new();
    for name in book.sheet_names() {
        for row in sheet(book, &name) {
            for cell in row {
                out.push_str(&cell.to_string());
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn csv_text_that_looks_like_a_formula_is_escaped_and_numbers_are_not() {
    for (input, expected) in [
        (
            "=HYPERLINK(\"http://x\",\"y\")",
            "'=HYPERLINK(\"http://x\",\"y\")",
        ),
        ("+44 20", "'+44 20"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("PC-01", "PC-01"),
        ("", ""),
        ("a=b", "a=b"),
    ] {
        assert_eq!(escape_formula(input), expected, "{input:?}");
    }

    let mut all = estate();
    all[0].hostname = Some("=cmd|' /C calc'!A0".into());
    all[0].site = Some("@site".into());
    let rows = rank_rows(&all);
    let bytes = csv(&ranking::table(&rows, &NETWORK), &NETWORK).unwrap();
    let (head, rows) = read_csv(&bytes);
    assert_eq!(
        head,
        [
            "rank",
            "score",
            "remedy",
            "device_id",
            "hostname",
            "os",
            "site",
            "wannacry_exposed",
            "reason"
        ]
    );
    assert_eq!(rows[0][4], "'=cmd|' /C calc'!A0");
    assert_eq!(rows[0][6], "'@site");
    assert_eq!(rows[0][0], "1");
    assert!(
        rows[0][1].parse::<u32>().is_ok(),
        "score stays a number: {}",
        rows[0][1]
    );
}

#[test]
fn csv_byte_order_mark_is_optional() {
    let rows = rank_rows(&estate());
    let table = ranking::table(&rows, &NETWORK);
    let plain = csv(&table, &NETWORK).unwrap();
    let with_bom = csv(
        &table,
        &ExportOptions {
            csv_bom: true,
            ..NETWORK
        },
    )
    .unwrap();
    assert!(plain.starts_with(b"rank,"));
    assert_eq!(&with_bom[..3], b"\xEF\xBB\xBF");
    assert_eq!(&with_bom[3..], &plain[..]);
}

#[test]
fn ranking_xlsx_reads_back_with_numbers_and_markup_as_text() {
    let mut all = estate();
    all[1].hostname = Some("<ward&\"lab\">".into());
    all[1].site = Some("St Mary's & \"Annexe\" <B>".into());
    let rows = rank_rows(&all);
    let bytes = ranking::document(&rows, &NETWORK, now(), &catalog_info())
        .xlsx()
        .unwrap();
    let mut book = open(bytes);
    assert_eq!(book.sheet_names(), ["Ranking"]);
    let sheet = sheet(&mut book, "Ranking");
    assert_eq!(
        header(&sheet),
        [
            "Rank",
            "Score",
            "Remedy",
            "Device id",
            "Host name",
            "Operating system",
            "Site",
            "WannaCry exposed",
            "Why"
        ]
    );
    assert_eq!(sheet.len(), 3);
    assert_eq!(sheet[1][0], Data::Float(1.0));
    assert_eq!(sheet[1][1], Data::Float(f64::from(rows[0].score)));
    assert_eq!(sheet[2][4], Data::String("<ward&\"lab\">".into()));
    assert_eq!(
        sheet[2][6],
        Data::String("St Mary's & \"Annexe\" <B>".into())
    );
    assert_eq!(sheet[1][3], Data::String(rows[0].device_id.to_string()));
    assert!(matches!(&sheet[1][7], Data::String(s) if s == "Yes" || s == "No"));
}

#[test]
fn devices_csv_has_one_row_per_device_and_findings_one_per_finding() {
    let all = estate();
    let (head, rows) = read_csv(&csv(&device_table(&all, &NETWORK), &NETWORK).unwrap());
    assert_eq!(rows.len(), 2);
    let at = |k: &str| head.iter().position(|h| h == k).unwrap();
    assert_eq!(rows[0][at("device_id")], all[0].id.to_string());
    assert_eq!(rows[0][at("rank")], "1");
    assert_eq!(rows[1][at("rank")], "2");
    let win = rows
        .iter()
        .find(|r| r[at("hostname")] == "PACS-VIEW-07")
        .unwrap();
    assert_eq!(win[at("ip_addresses")], "10.1.2.3");
    assert_eq!(win[at("mac_addresses")], "00:15:5d:01:02:03");
    assert_eq!(win[at("fqdn")], "pacs-view-07.trust.nhs.uk");
    assert_eq!(win[at("domain")], "TRUST");
    assert_eq!(win[at("os_family")], "windows");
    assert!(win[at("last_report")].starts_with("2026-12-01T07:30:00"));

    let findings = csv(&findings_table(&all, &NETWORK), &NETWORK).unwrap();
    let (fhead, frows) = read_csv(&findings);
    assert_eq!(
        fhead,
        [
            "rank",
            "device_id",
            "hostname",
            "rule",
            "points",
            "finding",
            "evidence"
        ]
    );
    let total: usize = all.iter().map(|a| a.findings.len()).sum();
    assert_eq!(frows.len(), total);
    let first = &all
        .iter()
        .find(|a| a.id == Uuid::from_u128(1))
        .unwrap()
        .findings[0];
    let row = frows.iter().find(|r| r[3] == *first.rule).unwrap();
    assert_eq!(row[4], first.points.to_string());
    assert!(
        row[6].contains("10.1.2.3:445 offered NT LM 0.12"),
        "{}",
        row[6]
    );
    assert!(row[6].contains(&format!(
        "{} = {}",
        first.evidence[0].field, first.evidence[0].value
    )));
}

#[test]
fn without_network_details_no_address_appears_anywhere() {
    let all = estate();
    for table in [
        device_table(&all, &NO_NETWORK),
        findings_table(&all, &NO_NETWORK),
    ] {
        let bytes = csv(&table, &NO_NETWORK).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for secret in [
            "10.1.2.3",
            "00:15:5d:01:02:03",
            "trust.nhs.uk",
            "TRUST",
            "ip_addresses",
            "fqdn",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} in {}:\n{text}",
                table.name
            );
        }
    }
    let findings = csv(&findings_table(&all, &NO_NETWORK), &NO_NETWORK).unwrap();
    assert!(
        String::from_utf8(findings)
            .unwrap()
            .contains(network::HIDDEN)
    );

    let mut book = open(devices_xlsx(&all, &NO_NETWORK));
    assert_eq!(book.sheet_names(), ["Devices", "Findings"]);
    let devices_sheet = sheet(&mut book, "Devices");
    for title in ["FQDN", "Domain", "IP addresses", "MAC addresses"] {
        assert!(
            !header(&devices_sheet).iter().any(|h| h == title),
            "{title}"
        );
    }
    let text = all_text(&mut book);
    for secret in ["10.1.2.3", "00:15:5d:01:02:03", "trust.nhs.uk"] {
        assert!(!text.contains(secret), "{secret} in the XLSX");
    }
    // A host name that is a full domain name keeps only its first label.
    let mut all = estate();
    all[0].hostname = Some("ward-lab.trust.nhs.uk".into());
    let (_, rows) = read_csv(&csv(&device_table(&all, &NO_NETWORK), &NO_NETWORK).unwrap());
    assert_eq!(rows[0][5], "ward-lab");

    // With the details, the XLSX has the columns and the values.
    let mut book = open(devices_xlsx(&all, &NETWORK));
    let devices_sheet = sheet(&mut book, "Devices");
    let ip = col(&devices_sheet, "IP addresses");
    assert!(
        devices_sheet
            .iter()
            .any(|r| r[ip] == Data::String("10.1.2.3".into()))
    );
}

#[test]
fn devices_xlsx_has_typed_dates_and_the_filter_applies() {
    let all = estate();
    let windows_only = RankFilter {
        os: Some("windows".into()),
        ..RankFilter::default()
    };
    let devices: Vec<EstateRow> = all
        .iter()
        .filter(|r| windows_only.matches(r))
        .cloned()
        .collect();
    assert_eq!(devices.len(), 1);
    let mut book = open(devices_xlsx(&devices, &NETWORK));
    let rows = sheet(&mut book, "Devices");
    assert_eq!(rows.len(), 2);
    let last = col(&rows, "Last report (UTC)");
    assert_eq!(
        rows[1][last].as_datetime(),
        Some(
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(7, 30, 0)
                .unwrap()
        )
    );
    let ends = col(&rows, "Security updates end");
    assert!(rows[1][ends].is_datetime(), "{:?}", rows[1][ends]);
    let score = col(&rows, "Score");
    assert!(matches!(rows[1][score], Data::Float(_)));
    let findings = sheet(&mut book, "Findings");
    assert_eq!(
        header(&findings),
        [
            "Rank",
            "Device id",
            "Host name",
            "Rule",
            "Points",
            "Finding",
            "Evidence"
        ]
    );
    assert_eq!(findings.len(), 1 + devices[0].findings.len());
}

#[test]
fn empty_estate_exports_headers_only() {
    let all: Vec<EstateRow> = Vec::new();
    let rows = rank_rows(&all);
    let (head, body) = read_csv(&csv(&ranking::table(&rows, &NETWORK), &NETWORK).unwrap());
    assert_eq!(head.len(), 9);
    assert!(body.is_empty());
    let mut book = open(
        ranking::document(&rows, &NETWORK, now(), &catalog_info())
            .xlsx()
            .unwrap(),
    );
    assert_eq!(sheet(&mut book, "Ranking").len(), 1);
    let mut book = open(devices_xlsx(&all, &NO_NETWORK));
    assert_eq!(sheet(&mut book, "Findings").len(), 1);
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const DESKTOP: RemedyKind = RemedyKind::ReplaceHardware {
    form_factor: FormFactor::Desktop,
};

fn plan_of(devices: &[PlanDevice], first_year: i32, pounds: &[i64]) -> planner::Plan {
    let budget = Budget {
        first_year,
        per_year: pounds.iter().map(|p| Money::from_pounds(*p)).collect(),
    };
    planner::plan(devices, &UnitCosts::default(), &budget).unwrap()
}

fn dev(n: u128, label: &str, risk: u32, pence: i64) -> PlanDevice {
    PlanDevice {
        id: id(n),
        label: label.into(),
        risk,
        options: vec![RemedyOption {
            kind: DESKTOP,
            cost: Money::from_pence(pence),
            risk_removed: risk,
            recurring: false,
        }],
    }
}

fn three_devices() -> Vec<PlanDevice> {
    vec![
        dev(1, "PC0001", 30, 60_000),
        dev(2, "PC0002", 20, 50_000),
        dev(3, "PC0003", 20, 50_000),
    ]
}

#[test]
fn plan_csv_has_one_row_per_action_and_a_total_per_year() {
    let p = plan_of(&three_devices(), 2026, &[1_000, 678]);
    let (head, rows) = read_csv(&csv(&plan::csv_table(&p, &NETWORK), &NETWORK).unwrap());
    assert_eq!(
        head,
        [
            "year",
            "device_id",
            "device",
            "action",
            "cost_gbp",
            "risk_removed",
            "budget_gbp",
            "risk_before",
            "risk_after"
        ]
    );
    let actions: usize = p.years.iter().map(|y| y.actions.len()).sum();
    assert_eq!(rows.len(), actions + p.years.len());
    assert_eq!(rows[0][0], "2026/27");
    assert_eq!(rows[0][3], "Replace hardware (desktop)");
    assert_eq!(rows[0][4], "500.00");
    assert_eq!(rows[2][3], "Total");
    assert_eq!(rows[2][4], "1000.00");
    assert_eq!(rows[2][5], "40");
    assert_eq!(rows[2][6], "1000.00");
    assert_eq!(rows[2][7], "70");
    assert_eq!(rows[2][8], "30");
    assert_eq!(rows[3][0], "2027/28");
    assert_eq!(rows[3][1], id(1).to_string());
    assert_eq!(rows[3][4], "600.00");
    // Empty plan: just the header.
    let empty = plan_of(&[], 2026, &[]);
    let bytes = csv(&plan::csv_table(&empty, &NETWORK), &NETWORK).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 1);
}

#[test]
fn plan_xlsx_has_totals_a_sheet_per_year_and_money_as_numbers() {
    let p = plan_of(&three_devices(), 2026, &[1_000, 678]);
    let mut book = open(plan::document(&p, &NETWORK, now()).xlsx().unwrap());
    assert_eq!(
        book.sheet_names(),
        [
            "Totals",
            "FY 2026-27",
            "FY 2027-28",
            "ESU",
            "Unfunded",
            "Method"
        ]
    );
    let totals = sheet(&mut book, "Totals");
    assert_eq!(
        header(&totals),
        [
            "Financial year",
            "Starts",
            "Budget (£)",
            "Spent (£)",
            "Unspent (£)",
            "Actions",
            "Risk at start (points)",
            "Risk left after the year (points)",
            "Risk removed (points)"
        ]
    );
    assert_eq!(totals.len(), 4, "two years and a total row");
    assert_eq!(totals[1][0], Data::String("2026/27".into()));
    assert_eq!(
        totals[1][1].as_datetime(),
        Some(
            NaiveDate::from_ymd_opt(2026, 4, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        )
    );
    assert_eq!(totals[1][2], Data::Float(1000.0));
    assert_eq!(totals[1][3], Data::Float(1000.0));
    assert_eq!(totals[1][4], Data::Float(0.0));
    assert_eq!(totals[2][2], Data::Float(678.0));
    assert_eq!(totals[2][3], Data::Float(600.0));
    assert_eq!(totals[3][0], Data::String("All years".into()));
    assert_eq!(totals[3][2], Data::Float(1678.0));
    assert_eq!(totals[3][3], Data::Float(1600.0));
    assert_eq!(totals[3][6], Data::Float(70.0));
    assert_eq!(totals[3][7], Data::Float(0.0));

    let year = sheet(&mut book, "FY 2026-27");
    assert_eq!(
        header(&year),
        [
            "Device",
            "Device id",
            "Action",
            "Cost (£)",
            "Risk removed (points)"
        ]
    );
    assert_eq!(year.len(), 1 + 2 + 1);
    for row in &year[1..] {
        assert!(
            matches!(row[3], Data::Float(_)),
            "money is a number: {:?}",
            row[3]
        );
    }
    assert_eq!(year[1][3], Data::Float(500.0));
    assert_eq!(year[3][3], Data::Float(1000.0));
    let method = sheet(&mut book, "Method");
    assert!(method.iter().any(|r| r[1].to_string().contains("knapsack")));
}

#[test]
fn plan_with_esu_and_unfunded_devices_fills_those_sheets() {
    let mut devices = three_devices();
    devices.push(PlanDevice {
        id: id(9),
        label: "=WIN10-ESU".into(),
        risk: 40,
        options: vec![RemedyOption::priced(
            RemedyKind::Esu,
            40,
            &UnitCosts::default(),
        )],
    });
    // 2026/27 is ESU programme year 2 on 31 March 2027: years 1 and 2 are paid together.
    let p = plan_of(&devices, 2026, &[200]);
    assert!(!p.esu.is_empty(), "{p:?}");
    assert!(!p.unfunded.is_empty());
    let mut book = open(plan::document(&p, &NETWORK, now()).xlsx().unwrap());
    let esu = sheet(&mut book, "ESU");
    assert_eq!(
        esu[1][0],
        Data::String("=WIN10-ESU".into()),
        "text, not a formula"
    );
    assert!(matches!(esu[1][3], Data::Float(x) if x > 0.0));
    let unfunded = sheet(&mut book, "Unfunded");
    assert_eq!(unfunded.len(), 1 + p.unfunded.len());
    assert!(matches!(unfunded[1][2], Data::Float(_)));
    let (_, rows) = read_csv(&csv(&plan::csv_table(&p, &NETWORK), &NETWORK).unwrap());
    assert!(rows.iter().any(|r| r[2] == "'=WIN10-ESU"));
}

#[test]
fn many_devices_and_long_text_still_make_a_valid_workbook() {
    let devices: Vec<PlanDevice> = (1..=600)
        .map(|n| {
            dev(
                n,
                &format!("PC{n:04}"),
                1 + (n % 90) as u32,
                40_000 + (n as i64) * 100,
            )
        })
        .collect();
    let p = plan_of(&devices, 2026, &[50_000, 50_000, 50_000]);
    let mut book = open(plan::document(&p, &NO_NETWORK, now()).xlsx().unwrap());
    let total_actions: usize = p.years.iter().map(|y| y.actions.len()).sum();
    let mut rows = 0;
    for y in &p.years {
        rows += sheet(&mut book, &plan::year_sheet_name(&y.label)).len() - 2;
    }
    assert_eq!(rows, total_actions);

    let mut all = estate();
    all[0].hostname = Some("x".repeat(40_000).into());
    all[0].site = Some("ctl\u{1}\u{7}chars".into());
    let rows = rank_rows(&all);
    let mut book = open(
        ranking::document(&rows, &NETWORK, now(), &catalog_info())
            .xlsx()
            .unwrap(),
    );
    let sheet = sheet(&mut book, "Ranking");
    assert_eq!(sheet[1][4].to_string().chars().count(), 32_767);
}

#[test]
fn redaction_finds_addresses_inside_text() {
    use network::{HIDDEN, redact};
    assert_eq!(redact("seen at 10.1.2.3."), format!("seen at {HIDDEN}."));
    assert_eq!(redact("host=192.168.0.10:445"), format!("host={HIDDEN}"));
    assert_eq!(redact("net 10.0.0.0/8"), format!("net {HIDDEN}"));
    assert_eq!(redact("(fe80::1ff:fe23:4567:890a)"), format!("({HIDDEN})"));
    assert_eq!(
        redact("mac 00-15-5D-01-02-03, 0015.5d01.0203"),
        format!("mac {HIDDEN}, {HIDDEN}")
    );
    for kept in [
        "Windows 10 22H2 build 19045.4291",
        "os.revision = 7601.24000",
        "collected 2026-12-01T10:00:00Z at 12:30:00",
        "KB5034441",
        "",
    ] {
        assert_eq!(redact(kept), kept);
    }
}

#[test]
fn file_names_carry_the_date_and_formats_their_types() {
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    assert_eq!(
        file_name("plan", Format::Xlsx, day),
        "ward-plan-2026-12-01.xlsx"
    );
    assert_eq!(Format::from_extension("CSV"), Some(Format::Csv));
    assert_eq!(Format::from_extension("xls"), None);
    assert!(Format::Xlsx.content_type().contains("spreadsheetml"));
}

/// Writes each export to `target/export-samples/` for a person (or a spreadsheet program) to
/// open: `cargo test -p ward-collector --lib export::tests::write_samples -- --ignored`.
#[test]
#[ignore = "writes sample files to look at; run by hand"]
fn write_samples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/export-samples");
    std::fs::create_dir_all(&dir).unwrap();
    let mut reports = Vec::new();
    for n in 0..40u128 {
        let mut report = if n % 3 == 0 {
            linux_report()
        } else {
            windows_report()
        };
        report.host.hostname = Some(format!("WARD-{n:03}"));
        report.tags.site =
            Some(["North", "South", "St Mary's & \"Annexe\""][(n % 3) as usize].into());
        report.host.ip_addresses = vec![format!("10.1.2.{n}")];
        reports.push((n + 1, report));
    }
    let store = MemoryStore::new();
    for (n, report) in reports {
        store
            .put_report(Uuid::from_u128(n), report.collected_at, &report, None)
            .unwrap();
    }
    let snapshot = estate::reference::snapshot(&store, now());
    let all: Vec<EstateRow> = snapshot.rows().map(|r| EstateRow::clone(r)).collect();
    let day = now().date_naive();
    let rows = rank_rows(&all);
    let plan = estate::plan(
        &snapshot,
        &UnitCosts::default(),
        &Budget {
            first_year: 2026,
            per_year: vec![
                Money::from_pounds(8_000),
                Money::from_pounds(6_000),
                Money::from_pounds(4_000),
            ],
        },
    )
    .unwrap();
    let write = |what: &str, format: Format, bytes: Vec<u8>| {
        std::fs::write(dir.join(file_name(what, format, day)), bytes).unwrap();
    };
    write(
        "ranking",
        Format::Xlsx,
        ranking::document(&rows, &NETWORK, now(), &catalog_info())
            .xlsx()
            .unwrap(),
    );
    write("devices", Format::Xlsx, devices_xlsx(&all, &NO_NETWORK));
    write(
        "plan",
        Format::Xlsx,
        plan::document(&plan, &NO_NETWORK, now()).xlsx().unwrap(),
    );
    write(
        "ranking",
        Format::Csv,
        csv(&ranking::table(&rows, &NETWORK), &NETWORK).unwrap(),
    );
    write(
        "devices",
        Format::Csv,
        csv(&device_table(&all, &NETWORK), &NETWORK).unwrap(),
    );
    write(
        "plan",
        Format::Csv,
        csv(&plan::csv_table(&plan, &NETWORK), &NETWORK).unwrap(),
    );
}

/// One part of the XLSX package as text.
fn part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn xlsx_has_properties_frozen_header_autofilter_and_gbp_format() {
    let p = plan_of(&three_devices(), 2026, &[1_000, 678]);
    let bytes = plan::document(&p, &NETWORK, now()).xlsx().unwrap();
    let core = part(&bytes, "docProps/core.xml");
    assert!(
        core.contains("<dc:title>Ward: remediation plan</dc:title>"),
        "{core}"
    );
    assert!(core.contains("<dc:creator>Ward</dc:creator>"));
    assert!(
        core.contains("2026-12-01T09:30:00Z"),
        "creation time is the export's: {core}"
    );
    assert!(core.contains("financial years 2026/27 to 2027/28"));
    let styles = part(&bytes, "xl/styles.xml");
    assert!(
        styles.contains("formatCode=\"[$£-809]#,##0.00;-[$£-809]#,##0.00\""),
        "{styles}"
    );
    assert!(styles.contains("formatCode=\"d mmm yyyy\""));
    for sheet in 1..=6 {
        let xml = part(&bytes, &format!("xl/worksheets/sheet{sheet}.xml"));
        assert!(
            xml.contains("state=\"frozen\""),
            "sheet {sheet} header frozen"
        );
        assert!(
            xml.contains("<autoFilter ref=\"A1:"),
            "sheet {sheet} autofilter"
        );
        assert!(xml.contains("<cols>"), "sheet {sheet} column widths");
        assert!(
            xml.contains("orientation=\"landscape\""),
            "sheet {sheet} prints landscape"
        );
    }
    let workbook = part(&bytes, "xl/workbook.xml");
    assert!(
        workbook.contains("_xlnm.Print_Titles"),
        "header row repeats when printed"
    );
}

/// Issue 16, item 6: a host name with a NUL (from an import, or a store older than the ingest
/// rule) was exported raw. CSV and XLSX cells show control characters as U+FFFD.
#[test]
fn control_characters_never_reach_an_export_raw() {
    let mut all = estate();
    all[0].hostname = Some("PC\u{0}01\u{1b}[2J".into());
    let rows = rank_rows(&all);
    let table = ranking::table(&rows, &NETWORK);
    let bytes = csv(&table, &NETWORK).unwrap();
    assert!(
        !bytes.iter().any(|b| *b == 0 || *b == 0x1b),
        "a raw control byte in the CSV"
    );
    let (_, csv_rows) = read_csv(&bytes);
    assert_eq!(csv_rows[0][4], "PC\u{FFFD}01\u{FFFD}[2J");
    assert_eq!(
        super::csv_out::visible_controls("line one\nline two\tend"),
        "line one\nline two\tend"
    );
}
