//! The risk API through the router: rankings, assessment, summary, plan, catalog, exceptions.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_shared::Report;

use super::app;
use super::tests::{ADMIN, Harness, gzip, post_json};

/// The golden Windows 10 22H2 report (i5-7500, SMBv1 on, TPM 1.2 off) for this agent.
fn windows_report(agent_id: uuid::Uuid) -> Report {
    let mut r: Report =
        serde_json::from_str(include_str!("../../../shared/tests/golden/v1-windows.json")).unwrap();
    r.agent.id = Some(agent_id);
    r.report_id = uuid::Uuid::now_v7();
    r.collected_at = chrono::Utc::now();
    r
}

/// A current, patched Ubuntu 24.04 desktop.
fn ubuntu_report(agent_id: uuid::Uuid) -> Report {
    let mut r: Report = serde_json::from_str(include_str!(
        "../../../shared/tests/golden/v1-linux-full.json"
    ))
    .unwrap();
    r.agent.id = Some(agent_id);
    r.report_id = uuid::Uuid::now_v7();
    r.collected_at = chrono::Utc::now();
    r.os.name = Some("Ubuntu 24.04.1 LTS".into());
    r.os.version = Some("24.04".into());
    r.os.display_version = Some("noble".into());
    r.patches.pending_count = Some(0);
    r.patches.pending_security_count = Some(0);
    r.patches.pending.clear();
    r.patches.reboot_pending = Some(false);
    r.host.hostname = Some("ubuntu-desk".into());
    r.tags.site = Some("North".into());
    r
}

pub(super) async fn estate() -> (Harness, uuid::Uuid, uuid::Uuid) {
    let h = Harness::new_large();
    let win = h.enroll().await;
    let lin = h.enroll().await;
    for (key, report) in [
        (&win.agent_key, windows_report(win.agent_id)),
        (&lin.agent_key, ubuntu_report(lin.agent_id)),
    ] {
        let (status, body) = h
            .post_report(key, gzip(&serde_json::to_vec(&report).unwrap()), true)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (h, win.agent_id, lin.agent_id)
}

async fn admin(h: &Harness, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(serde_json::to_vec(&b).unwrap()));
    h.call(request.body(body).unwrap()).await
}

#[tokio::test]
async fn ranking_puts_the_exposed_windows_pc_first_with_its_reasons() {
    let (h, win, lin) = estate().await;
    let (status, page) = h.admin_get("/api/v1/rankings").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 2);
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows[0]["device_id"], win.to_string());
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["remedy"], "replace_hardware", "{page}");
    assert!(rows[0]["score"].as_u64().unwrap() > rows[1]["score"].as_u64().unwrap());
    assert!(
        rows[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().contains("SMBv1")),
        "{page}"
    );
    assert!(page["catalog"]["version"].as_u64().is_some());

    // Filters keep the estate-wide rank.
    let (_, linux) = h.admin_get("/api/v1/rankings?os=linux").await;
    assert_eq!(linux["total"], 1);
    assert_eq!(linux["rows"][0]["device_id"], lin.to_string());
    assert_eq!(linux["rows"][0]["rank"], 2);
    let (_, site) = h.admin_get("/api/v1/rankings?site=north").await;
    assert_eq!(site["total"], 1);
    let (_, replace) = h
        .admin_get("/api/v1/rankings?remedy=replace_hardware&per_page=1&page=2")
        .await;
    assert_eq!(replace["total"], 1);
    assert!(replace["rows"].as_array().unwrap().is_empty());

    let (status, a) = h
        .admin_get(&format!("/api/v1/devices/{win}/assessment"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["remedy"]["class"], "replace_hardware");
    assert!(
        a["readiness"]["criteria"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{a}"
    );
    for finding in a["findings"].as_array().unwrap() {
        assert!(!finding["sentence"].as_str().unwrap().is_empty());
        assert!(
            !finding["evidence"].as_array().unwrap().is_empty(),
            "finding without evidence: {finding}"
        );
    }
    let (status, _) = h
        .admin_get(&format!(
            "/api/v1/devices/{}/assessment",
            uuid::Uuid::now_v7()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn summary_counts_the_estate() {
    let (h, _, _) = estate().await;
    let (status, s) = h.admin_get("/api/v1/summary").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["devices"], 2);
    assert_eq!(s["by_os_family"]["windows"], 1);
    assert_eq!(s["by_os_family"]["linux"], 1);
    assert_eq!(s["by_remedy"]["replace_hardware"], 1);
    let (_, catalog) = h.admin_get("/api/v1/catalog").await;
    assert_eq!(catalog, s["catalog"]);
}

#[tokio::test]
async fn plan_respects_the_budget_and_exports_csv() {
    let (h, win, _) = estate().await;
    let (status, plan) = h
        .admin_get("/api/v1/plan?budget=1000&years=2&first_year=2026")
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let years = plan["years"].as_array().unwrap();
    assert_eq!(years.len(), 2);
    assert_eq!(years[0]["label"], "2026/27");
    for y in years {
        assert!(
            y["spent"].as_i64().unwrap() <= y["budget"].as_i64().unwrap(),
            "{y}"
        );
    }
    let replaced = years
        .iter()
        .flat_map(|y| y["actions"].as_array().unwrap())
        .any(|a| a["device"] == win.to_string());
    assert!(
        replaced,
        "£1,000 a year buys the exposed PC's replacement: {plan}"
    );

    let (status, err) = h.admin_get("/api/v1/plan?budget=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "bad_request");

    let response = app(h.state.clone())
        .oneshot(
            Request::get("/api/v1/plan?budget=1000&years=1&format=csv")
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&csv).contains(&win.to_string()));
}

#[tokio::test]
async fn an_exception_isolates_a_device_until_removed() {
    let (h, win, _) = estate().await;
    let review = (chrono::Utc::now() + chrono::Duration::days(90)).date_naive();
    let exception = json!({
        "device_id": win,
        "reason": "MRI console, vendor-certified build",
        "controls": ["isolated VLAN", "SMBv1 blocked at the network"],
        "owner": "Radiology IT",
        "review_date": review,
    });
    let (status, body) = admin(&h, "POST", "/api/v1/exceptions", Some(exception.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, a) = h
        .admin_get(&format!("/api/v1/devices/{win}/assessment"))
        .await;
    assert_eq!(a["remedy"]["class"], "isolate", "{a}");
    assert!(
        a["remedy"]["controls"]
            .to_string()
            .contains("isolated VLAN"),
        "{a}"
    );
    let (_, list) = h.admin_get("/api/v1/exceptions").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Bad input changes nothing.
    let mut past = exception.clone();
    past["review_date"] = json!("2020-01-01");
    let (status, _) = admin(&h, "POST", "/api/v1/exceptions", Some(past)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut nobody = exception.clone();
    nobody["device_id"] = json!(uuid::Uuid::now_v7());
    let (status, _) = admin(&h, "POST", "/api/v1/exceptions", Some(nobody)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.call(post_json("/api/v1/exceptions", &exception)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, list) = h.admin_get("/api/v1/exceptions").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, _) = admin(&h, "DELETE", &format!("/api/v1/exceptions/{win}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, a) = h
        .admin_get(&format!("/api/v1/devices/{win}/assessment"))
        .await;
    assert_eq!(a["remedy"]["class"], "replace_hardware");
    let (status, _) = admin(&h, "DELETE", &format!("/api/v1/exceptions/{win}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
