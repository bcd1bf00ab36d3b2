//! The export API through the router: every export in both formats, headers, filters, the plan's
//! parameters, network details on and off, and refusals.

use std::io::Cursor;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::app;
use super::risk_tests::estate;
use super::tests::{ADMIN, Harness};

async fn get(h: &Harness, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Bytes) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app(h.state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

async fn ok(h: &Harness, path: &str) -> (HeaderMap, Bytes) {
    let (status, headers, body) = get(h, path, Some(ADMIN)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    (headers, body)
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn sheets(body: &Bytes) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(body.to_vec())).expect("a readable XLSX")
}

fn assert_download(headers: &HeaderMap, content_type: &str, file: &str) {
    assert_eq!(headers[header::CONTENT_TYPE], content_type);
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"{file}\"").as_str()
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[tokio::test]
async fn ranking_exports_in_both_formats_with_filters() {
    let (h, win, lin) = estate().await;
    let (headers, body) = ok(&h, "/api/v1/export/ranking.csv").await;
    assert_download(
        &headers,
        "text/csv; charset=utf-8",
        &format!("ward-ranking-{}.csv", today()),
    );
    let rows = csv_rows(&body);
    assert_eq!(rows[0][0], "rank");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][3], win.to_string());
    assert_eq!(rows[2][3], lin.to_string());

    let (_, body) = ok(&h, "/api/v1/export/ranking.csv?os=linux").await;
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][3], lin.to_string());
    assert_eq!(rows[1][0], "2", "ranks are counted over the whole estate");

    let (_, body) = ok(&h, "/api/v1/export/ranking.csv?bom=true").await;
    assert!(body.starts_with(b"\xEF\xBB\xBFrank,"));

    let (headers, body) = ok(&h, "/api/v1/export/ranking.xlsx?site=North").await;
    assert_download(&headers, XLSX, &format!("ward-ranking-{}.xlsx", today()));
    let mut book = sheets(&body);
    let range = book.worksheet_range("Ranking").unwrap();
    assert_eq!(range.height(), 2);
    assert_eq!(range.get((1, 3)), Some(&Data::String(lin.to_string())));
    assert!(matches!(range.get((1, 1)), Some(Data::Float(_))));
}

#[tokio::test]
async fn devices_export_with_and_without_network_details() {
    let (h, win, _) = estate().await;
    let (headers, body) = ok(&h, "/api/v1/export/devices.csv").await;
    assert_download(
        &headers,
        "text/csv; charset=utf-8",
        &format!("ward-devices-{}.csv", today()),
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.lines().next().unwrap().contains("ip_addresses"));
    assert!(text.contains("10.1.2.3"), "{text}");

    let (_, body) = ok(&h, "/api/v1/export/devices.csv?network_details=false").await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        !text.contains("ip_addresses") && !text.contains("10.1.2.3"),
        "{text}"
    );
    assert!(!text.contains("00:15:5d"), "{text}");

    let (headers, body) = ok(&h, "/api/v1/export/devices.csv?table=findings").await;
    assert_download(
        &headers,
        "text/csv; charset=utf-8",
        &format!("ward-findings-{}.csv", today()),
    );
    let rows = csv_rows(&body);
    assert_eq!(
        rows[0],
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
    assert!(
        rows.iter()
            .any(|r| r[1] == win.to_string() && r[3] == "os_end_of_support"),
        "{rows:?}"
    );

    let (_, body) = ok(&h, "/api/v1/export/devices.xlsx?network_details=false").await;
    let mut book = sheets(&body);
    assert_eq!(book.sheet_names(), ["Devices", "Findings"]);
    let devices = book.worksheet_range("Devices").unwrap();
    assert_eq!(devices.height(), 3);
    assert!(
        !devices
            .rows()
            .next()
            .unwrap()
            .iter()
            .any(|c| c.to_string().contains("IP"))
    );
    let (_, body) = ok(&h, "/api/v1/export/devices.xlsx").await;
    let devices = sheets(&body).worksheet_range("Devices").unwrap();
    assert!(
        devices
            .rows()
            .next()
            .unwrap()
            .iter()
            .any(|c| c == &Data::String("IP addresses".into()))
    );
}

#[tokio::test]
async fn plan_export_takes_the_plan_parameters_and_unit_costs() {
    let (h, win, _) = estate().await;
    let (headers, body) = ok(
        &h,
        "/api/v1/export/plan.xlsx?budget=1000,2000&first_year=2026",
    )
    .await;
    assert_download(&headers, XLSX, &format!("ward-plan-{}.xlsx", today()));
    let mut book = sheets(&body);
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
    let totals = book.worksheet_range("Totals").unwrap();
    assert_eq!(totals.get((1, 2)), Some(&Data::Float(1000.0)));
    assert_eq!(totals.get((2, 2)), Some(&Data::Float(2000.0)));
    let year = book.worksheet_range("FY 2026-27").unwrap();
    assert!(
        year.rows().any(|r| r[1] == Data::String(win.to_string())),
        "the Windows PC is funded"
    );

    // The plan CSV matches the plan API's CSV for the same parameters.
    let (headers, body) = ok(
        &h,
        "/api/v1/export/plan.csv?budget=1000&years=2&first_year=2026",
    )
    .await;
    assert_download(
        &headers,
        "text/csv; charset=utf-8",
        &format!("ward-plan-{}.csv", today()),
    );
    let (_, api_csv) = ok(
        &h,
        "/api/v1/plan?budget=1000&years=2&first_year=2026&format=csv",
    )
    .await;
    assert_eq!(body, api_csv);
    let rows = csv_rows(&body);
    let spent_2026: Vec<&Vec<String>> = rows.iter().filter(|r| r[3] == "Total").collect();
    assert_eq!(spent_2026.len(), 2);

    // A replacement PC dearer than the budget: nothing bought in year one.
    let (_, body) = ok(&h, "/api/v1/export/plan.csv?budget=1000&years=1&first_year=2026&desktop=5000&laptop=5000&os_upgrade_labour=5000&firmware_fix_labour=5000&esu=5000").await;
    let rows = csv_rows(&body);
    let total = rows.iter().find(|r| r[3] == "Total").unwrap();
    assert!(!rows.iter().any(|r| r[1] == win.to_string()), "{rows:?}");
    assert_eq!(total[6], "1000.00");
    // The same overrides reach the plan API.
    let (status, plan) = h.admin_get("/api/v1/plan?budget=1000&years=1&first_year=2026&desktop=5000&laptop=5000&os_upgrade_labour=5000&firmware_fix_labour=5000&esu=5000").await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(
        plan["method"]
            .as_str()
            .unwrap()
            .contains("desktop £5,000.00"),
        "{plan}"
    );
}

#[tokio::test]
async fn bad_requests_and_missing_tokens_are_refused() {
    let (h, _, _) = estate().await;
    for path in [
        "/api/v1/export/plan.csv",
        "/api/v1/export/plan.xlsx?budget=lots",
        "/api/v1/export/plan.xlsx?budget=100&years=0",
        "/api/v1/export/plan.xlsx?budget=100&desktop=-5",
        "/api/v1/export/plan.xlsx?budget=100&esu=1,2,3,4",
        "/api/v1/export/ranking.csv?table=findings",
        "/api/v1/export/devices.csv?table=secrets",
        "/api/v1/export/devices.csv?bom=maybe",
    ] {
        let (status, _, body) = get(&h, path, Some(ADMIN)).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"], "bad_request", "{path}");
    }
    for path in [
        "/api/v1/export/everything.csv",
        "/api/v1/export/ranking.pdf",
        "/api/v1/export/ranking",
    ] {
        let (status, _, _) = get(&h, path, Some(ADMIN)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, _) = get(&h, "/api/v1/export/ranking.csv", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(&h, "/api/v1/export/devices.xlsx", Some("not-the-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
