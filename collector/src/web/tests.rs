//! Router tests for the dashboard and the roles: every page for every role and for anonymous
//! callers, CSRF, network details for finance, sign-in limits, tokens and the audit log.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use tower::ServiceExt;
use uuid::Uuid;
use ward_shared::{Limits, Report};

use crate::api::principal::SESSION_COOKIE;
use crate::api::{AppState, RateLimiter, app, ingest};
use crate::auth::Role;
use crate::secrets;
use crate::store::auth::SessionRecord;
use crate::store::memory::MemoryStore;

const ADMIN_TOKEN: &str = "admin-token-for-web-tests";
const PASSWORD: &str = "a long enough password";

struct Web {
    state: Arc<AppState>,
    win: Uuid,
    lin: Uuid,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

fn windows_report() -> Report {
    let mut r: Report =
        serde_json::from_str(include_str!("../../../shared/tests/golden/v1-windows.json")).unwrap();
    r.report_id = Uuid::now_v7();
    r.collected_at = Utc::now();
    r.tags.department = Some("Radiology".into());
    r
}

fn linux_report() -> Report {
    let mut r: Report = serde_json::from_str(include_str!(
        "../../../shared/tests/golden/v1-linux-full.json"
    ))
    .unwrap();
    r.report_id = Uuid::now_v7();
    r.collected_at = Utc::now();
    r.os.name = Some("Ubuntu 24.04.1 LTS".into());
    r.os.version = Some("24.04".into());
    r.patches.pending_count = Some(0);
    r.patches.pending_security_count = Some(0);
    r.patches.pending.clear();
    r.host.hostname = Some("ubuntu-desk".into());
    r.host.ip_addresses = vec!["10.9.9.9".into()];
    r.tags.site = Some("North".into());
    r.tags.department = Some("IT".into());
    r
}

/// The same Windows PC model elsewhere: not clinical, so less urgent than PACS-VIEW-07.
fn office_report() -> Report {
    let mut r = windows_report();
    r.host.hostname = Some("OFFICE-PC-01".into());
    r.tags.clinical = Some(false);
    r.tags.site = Some("Admin block".into());
    r.tags.department = Some("Finance".into());
    r
}

impl Web {
    fn new() -> Self {
        let store: Arc<dyn crate::store::Store> = Arc::new(MemoryStore::new());
        let (win, lin) = (Uuid::now_v7(), Uuid::now_v7());
        store
            .put_report(win, Utc::now(), &windows_report(), None)
            .unwrap();
        store
            .put_report(lin, Utc::now(), &linux_report(), None)
            .unwrap();
        store
            .put_report(Uuid::now_v7(), Utc::now(), &office_report(), None)
            .unwrap();
        for (name, role) in [
            ("ada", Role::Admin),
            ("sam", Role::Security),
            ("fin", Role::Finance),
            ("vic", Role::Viewer),
        ] {
            crate::auth::add_user(store.as_ref(), "test", name, role, PASSWORD).unwrap();
        }
        let state = Arc::new(AppState {
            store: store.clone(),
            enroll_secret_hash: secrets::hash("secret"),
            admin_token_hash: secrets::hash(ADMIN_TOKEN),
            limits: ingest::BodyLimits {
                max_body: 1 << 20,
                max_inflated: 4 << 20,
                report: Limits::V1,
            },
            enroll_limiter: RateLimiter::per_minute(100),
            estate: crate::estate::Estate::start(
                store.clone(),
                crate::estate::reference::default_context(),
                crate::estate::system_clock(),
            ),
            data_dir: None,
            web: super::WebState::default(),
        });
        Web { state, win, lin }
    }

    /// A session for `user` made directly in the store: (cookie header, csrf token).
    fn session(&self, user: &str) -> (String, String) {
        let value = secrets::new_secret();
        let csrf = secrets::new_secret();
        self.state
            .store
            .put_session(&SessionRecord {
                id_hash: secrets::hash(&value),
                user: user.into(),
                csrf: csrf.clone(),
                created_at: Utc::now(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            })
            .unwrap();
        (format!("{SESSION_COOKIE}={value}"), csrf)
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut r = Request::get(path);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// Posts the login form with the cookie pair and CSRF token of a login page.
    async fn login_attempt(
        &self,
        pair: &str,
        token: &str,
        username: &str,
        password: &str,
    ) -> Answer {
        self.post_form(
            "/login",
            Some(pair),
            &[
                ("csrf", token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    async fn post_form(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", super::text::url_encode(v)))
            .collect();
        let mut r =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(body.join("&"))).unwrap()).await
    }

    async fn bearer(
        &self,
        method: &str,
        path: &str,
        token: &str,
        json: Option<serde_json::Value>,
    ) -> Answer {
        let mut r = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if json.is_some() {
            r = r.header(header::CONTENT_TYPE, "application/json");
        }
        let body = json.map_or_else(Body::empty, |j| Body::from(j.to_string()));
        self.send(r.body(body).unwrap()).await
    }

    fn exception_form<'a>(&self, csrf: &'a str, device: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("csrf", csrf),
            ("device_id", device),
            ("reason", "MRI console, vendor certified"),
            ("controls", "isolated VLAN\nno internet"),
            ("owner", "Radiology IT"),
            ("review_date", "2099-01-31"),
            ("back", "/ranking"),
        ]
    }
}

fn location(a: &Answer) -> &str {
    a.headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

const PAGES: [&str; 12] = [
    "/overview",
    "/ranking",
    "/device",
    "/plan",
    "/plan?budget=1000&years=2",
    "/unmanaged",
    "/imports",
    "/exceptions",
    "/admin/users",
    "/admin/tokens",
    "/admin/audit",
    "/ranking?remedy=upgrade_os&os=windows&sort=hostname",
];

/// Which roles get each page: (viewer, finance, security, admin).
fn allowed(page: &str) -> [bool; 4] {
    match page {
        "/unmanaged" => [true; 4],
        "/imports" | "/admin/users" | "/admin/tokens" | "/admin/audit" => {
            [false, false, false, true]
        }
        _ => [true; 4],
    }
}

#[tokio::test]
async fn anonymous_callers_are_sent_to_the_login_page() {
    let web = Web::new();
    for page in PAGES {
        let path = page.replace("/device", &format!("/devices/{}", web.win));
        let a = web.get(&path, None).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&a).starts_with("/login?next=/"),
            "{path}: {}",
            location(&a)
        );
    }
    let login = web.get("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"<label for="username">"#));
    assert!(login.body.contains(r#"name="csrf""#));
    // A stale or forged session cookie is anonymous too.
    let a = web
        .get("/overview", Some(&format!("{SESSION_COOKIE}=forged")))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    // The API answers JSON, not a redirect.
    let a = web.get("/api/v1/rankings", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("missing_token"));
}

#[tokio::test]
async fn each_role_gets_exactly_its_pages() {
    let web = Web::new();
    for (i, user) in ["vic", "fin", "sam", "ada"].into_iter().enumerate() {
        let (cookie, _) = web.session(user);
        for page in PAGES {
            let path = page.replace("/device", &format!("/devices/{}", web.win));
            let a = web.get(&path, Some(&cookie)).await;
            let expected = if allowed(page)[i] {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                a.status,
                expected,
                "{user} {path}: {}",
                &a.body[..a.body.len().min(400)]
            );
            if a.status == StatusCode::OK {
                assert!(a.body.starts_with("<!DOCTYPE html>"), "{user} {path}");
                assert!(a.body.contains(r#"<main id="main""#), "{user} {path}");
            } else {
                assert!(a.body.contains("Not available to your role"));
            }
        }
        // The navigation offers only what the role may open.
        let overview = web.get("/overview", Some(&cookie)).await;
        assert_eq!(
            overview.body.contains(r#"href="/admin/users""#),
            user == "ada",
            "{user}"
        );
        assert_eq!(
            overview.body.contains(r#"href="/imports""#),
            user == "ada",
            "{user}"
        );
    }
}

#[tokio::test]
async fn pages_show_plain_language_and_charts() {
    let web = Web::new();
    let (cookie, _) = web.session("vic");
    let overview = web.get("/overview", Some(&cookie)).await;
    // The accessible charts: labelled by a title and a description stating the figures, with
    // patterns as well as colours; the old colour-only charts are gone.
    assert!(
        overview
            .body
            .contains(r#"role="img" aria-labelledby="os-family-title os-family-desc""#),
        "charts are inline, labelled SVG"
    );
    assert!(overview.body.contains(r#"<desc id="lifecycle-desc">"#));
    assert!(
        overview
            .body
            .contains("Windows 11 readiness by device class")
    );
    assert!(overview.body.contains(r#"id="trend-title""#));
    assert!(
        overview.body.contains("<pattern"),
        "patterns, not colour only"
    );
    assert!(!overview.body.contains(r#"class="bar "#));
    assert!(overview.body.contains("open to WannaCry"));
    assert!(overview.body.contains("Windows 11 readiness"));
    let ranking = web.get("/ranking", Some(&cookie)).await;
    let first = ranking.body.find("PACS-VIEW-07").unwrap();
    let second = ranking.body.find("OFFICE-PC-01").unwrap();
    let third = ranking.body.find("ubuntu-desk").unwrap();
    assert!(
        first < second && second < third,
        "the clinical Windows PC ranks first"
    );
    assert!(
        ranking
            .body
            .contains(&format!("href=\"/devices/{}\"", web.win))
    );
    // Filters: department and site.
    let radiology = web
        .get("/ranking?department=Radiology", Some(&cookie))
        .await;
    assert!(radiology.body.contains("PACS-VIEW-07") && !radiology.body.contains("ubuntu-desk"));
    assert!(!radiology.body.contains("OFFICE-PC-01"));
    let north = web.get("/ranking?site=North", Some(&cookie)).await;
    assert!(!north.body.contains("PACS-VIEW-07") && north.body.contains("ubuntu-desk"));
    let device = web
        .get(&format!("/devices/{}", web.win), Some(&cookie))
        .await;
    assert!(device.body.contains("Windows 11 checklist"));
    assert!(device.body.contains("Findings"));
    assert!(
        device.body.contains("Who saw this device") && device.body.contains("<td>Ward agent</td>")
    );
    let plan = web
        .get("/plan?budget=5000&years=2&first_year=2026", Some(&cookie))
        .await;
    assert!(plan.body.contains("2026/27") && plan.body.contains("2027/28"));
    assert!(plan.body.contains("Risk left after each year"));
    assert!(
        plan.body.contains(r#"id="plan-risk-title""#)
            && plan.body.contains(r#"id="plan-spend-desc""#)
    );
    assert!(plan.body.contains("£5,000.00"), "budget shown as money");
    let bad = web.get("/plan?budget=lots", Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("not an amount in pounds"));
    let missing = web
        .get(&format!("/devices/{}", Uuid::now_v7()), Some(&cookie))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let css = web.get("/assets/ward.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains("@media print"));
}

#[tokio::test]
async fn finance_does_not_see_network_details() {
    let web = Web::new();
    let (fin, _) = web.session("fin");
    let (sam, _) = web.session("sam");
    for id in [web.win, web.lin] {
        let path = format!("/devices/{id}");
        let f = web.get(&path, Some(&fin)).await;
        let s = web.get(&path, Some(&sam)).await;
        for secret in ["10.1.2.3", "00:15:5d:01:02:03", "10.9.9.9"] {
            assert!(!f.body.contains(secret), "finance sees {secret}");
        }
        assert!(f.body.contains("withheld for this role"));
        assert!(s.body.contains("10.1.2.3") || s.body.contains("10.9.9.9"));
    }
    // The API too.
    let f = web
        .get(&format!("/api/v1/devices/{}", web.win), Some(&fin))
        .await;
    assert_eq!(f.status, StatusCode::OK);
    assert!(!f.body.contains("10.1.2.3") && !f.body.contains("00:15:5d"));
    let s = web
        .get(&format!("/api/v1/devices/{}", web.win), Some(&sam))
        .await;
    assert!(s.body.contains("10.1.2.3"));
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_change_nothing() {
    let web = Web::new();
    let (cookie, csrf) = web.session("sam");
    let device = web.win.to_string();
    let mut form = web.exception_form("", &device);
    let a = web.post_form("/exceptions", Some(&cookie), &form).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("nothing was changed"));
    form[0].1 = "wrong-token";
    let a = web.post_form("/exceptions", Some(&cookie), &form).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Another session's token is wrong too.
    let (_, other_csrf) = web.session("sam");
    form[0].1 = &other_csrf;
    assert_eq!(
        web.post_form("/exceptions", Some(&cookie), &form)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(web.state.store.exceptions().unwrap().is_empty());
    // Users, tokens, logout: all refused without it.
    let (admin, _) = web.session("ada");
    for (path, fields) in [
        (
            "/admin/users",
            vec![("name", "eve"), ("role", "admin"), ("password", PASSWORD)],
        ),
        ("/admin/tokens", vec![("name", "script"), ("role", "admin")]),
        ("/admin/users/fin/remove", vec![]),
        ("/logout", vec![]),
    ] {
        let a = web.post_form(path, Some(&admin), &fields).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(web.state.store.user("eve").unwrap().is_none());
    assert!(web.state.store.user("fin").unwrap().is_some());
    assert!(web.state.store.tokens().unwrap().is_empty());
    // The API with a session cookie needs the X-CSRF-Token header for changes.
    let body = serde_json::json!({"device_id": device, "reason": "r", "owner": "o", "review_date": "2099-01-01"});
    let r = Request::post("/api/v1/exceptions")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(web.send(r).await.status, StatusCode::FORBIDDEN);
    let r = Request::post("/api/v1/exceptions")
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(web.send(r).await.status, StatusCode::OK);
}

#[tokio::test]
async fn security_adds_an_exception_and_the_device_moves_down() {
    let web = Web::new();
    let (cookie, csrf) = web.session("sam");
    let device = web.win.to_string();
    let a = web
        .post_form(
            "/exceptions",
            Some(&cookie),
            &web.exception_form(&csrf, &device),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(location(&a), "/ranking");
    let ranking = web.get("/ranking", Some(&cookie)).await;
    assert!(
        ranking.body.find("OFFICE-PC-01").unwrap() < ranking.body.find("PACS-VIEW-07").unwrap(),
        "the isolated device ranks below the office PC now"
    );
    let page = web.get(&format!("/devices/{device}"), Some(&cookie)).await;
    assert!(page.body.contains("Radiology IT") && page.body.contains("isolated VLAN"));
    // Finance may not; bad input is refused with the reason.
    let (fin, fin_csrf) = web.session("fin");
    let a = web
        .post_form(
            "/exceptions",
            Some(&fin),
            &web.exception_form(&fin_csrf, &device),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let mut past = web.exception_form(&csrf, &device);
    past[5].1 = "2001-01-01";
    let a = web.post_form("/exceptions", Some(&cookie), &past).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("must be in the future"));
    // Ending it is audited, like adding it.
    let a = web
        .post_form(
            &format!("/exceptions/{device}/remove"),
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let events = web.state.store.audit(10).unwrap();
    let actions: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions[..2],
        [
            ("exception.remove", "user:sam"),
            ("exception.add", "user:sam")
        ]
    );
    let (admin, _) = web.session("ada");
    let audit = web.get("/admin/audit", Some(&admin)).await;
    assert!(audit.body.contains("exception.add") && audit.body.contains("user:sam"));
}

/// The real sign-in flow: the form's double-submit token, the cookie's attributes, failures
/// limited per user, logout.
#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_failures_are_limited() {
    let web = Web::new();
    let form = web.get("/login?next=/plan", None).await;
    let set = form
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    assert!(
        form.body.contains(&token),
        "the form carries the cookie's token"
    );

    // Without the token's cookie: refused.
    let a = web
        .post_form(
            "/login",
            None,
            &[
                ("csrf", &token),
                ("username", "fin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    // Wrong password: 401, generic message.
    let a = web
        .login_attempt(&pair, &token, "fin", "wrong password!!")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("do not match"));
    let a = web
        .login_attempt(&pair, &token, "nobody", "wrong password!!")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.body.contains("do not match"),
        "unknown users get the same answer"
    );

    // Right password: a session cookie with every attribute, and the redirect to `next`.
    let a = web
        .post_form(
            "/login",
            Some(&pair),
            &[
                ("csrf", &token),
                ("username", "fin"),
                ("password", PASSWORD),
                ("next", "/plan"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&a), "/plan");
    let session = a
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(SESSION_COOKIE))
        .unwrap();
    for attr in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    let cookie = session.split(';').next().unwrap().to_owned();
    let plan = web.get("/plan", Some(&cookie)).await;
    assert_eq!(plan.status, StatusCode::OK);
    assert!(plan.body.contains("fin · finance"));

    // Logout ends the session in the store.
    let csrf = plan
        .body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let a = web
        .post_form("/logout", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.get("/plan", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );

    // Five failures for one user: then even the right password is refused for a while.
    for _ in 0..5 {
        let a = web
            .login_attempt(&pair, &token, "vic", "not the password")
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = web.login_attempt(&pair, &token, "vic", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("Too many failed sign-ins"));
    assert!(
        a.headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("__Host-ward-login")
    );
}

#[tokio::test]
async fn api_tokens_carry_their_role_and_can_be_revoked() {
    let web = Web::new();
    let a = web
        .bearer(
            "POST",
            "/api/v1/tokens",
            ADMIN_TOKEN,
            Some(serde_json::json!({"name": "report-script", "role": "viewer"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let created: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    // Stored hashed: the clear token is nowhere in the store.
    let stored = web.state.store.tokens().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].hash, secrets::hash(&token));
    assert!(!serde_json::to_string(&stored).unwrap().contains(&token));

    assert_eq!(
        web.bearer("GET", "/api/v1/rankings", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    let body = serde_json::json!({"device_id": web.win, "reason": "r", "owner": "o", "review_date": "2099-01-01"});
    let a = web
        .bearer("POST", "/api/v1/exceptions", &token, Some(body))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("forbidden"));
    assert_eq!(
        web.bearer("GET", "/api/v1/users", &token, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        web.bearer("GET", "/api/v1/agents", &token, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let a = web
        .bearer("DELETE", &format!("/api/v1/tokens/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = web.bearer("GET", "/api/v1/rankings", &token, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let audit = web.bearer("GET", "/api/v1/audit", ADMIN_TOKEN, None).await;
    assert!(audit.body.contains("token.create") && audit.body.contains("token.revoke"));
    // Security may not read the audit log.
    let (sam, _) = web.session("sam");
    assert_eq!(
        web.get("/api/v1/audit", Some(&sam)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn admin_manages_users_and_tokens_from_the_pages() {
    let web = Web::new();
    let (cookie, csrf) = web.session("ada");
    let a = web
        .post_form(
            "/admin/users",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "eve"),
                ("role", "finance"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.state.store.user("eve").unwrap().unwrap().role,
        Role::Finance
    );
    let a = web
        .post_form(
            "/admin/users",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "eve2"),
                ("role", "finance"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("at least 12 characters"));
    // A removed user's session stops working at once.
    let (eve, _) = web.session("eve");
    assert_eq!(web.get("/plan", Some(&eve)).await.status, StatusCode::OK);
    let a = web
        .post_form("/admin/users/eve/remove", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.get("/plan", Some(&eve)).await.status,
        StatusCode::SEE_OTHER
    );

    let a = web
        .post_form(
            "/admin/tokens",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "nightly"), ("role", "security")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("will not be shown again"));
    let token = a
        .body
        .split(r#"<code class="token">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_eq!(
        web.bearer("GET", "/api/v1/exceptions", token, None)
            .await
            .status,
        StatusCode::OK
    );
    let list = web.get("/admin/tokens", Some(&cookie)).await;
    assert!(
        list.body.contains("nightly") && !list.body.contains(token),
        "shown once only"
    );
    let audit = web.get("/admin/audit", Some(&cookie)).await;
    for action in ["user.add", "user.remove", "token.create"] {
        assert!(audit.body.contains(action), "{action}");
    }
}

#[tokio::test]
async fn the_admin_token_still_works_and_errors_stay_plain() {
    let web = Web::new();
    for path in [
        "/api/v1/rankings",
        "/api/v1/summary",
        "/api/v1/agents",
        "/api/v1/users",
        "/api/v1/audit",
    ] {
        assert_eq!(
            web.bearer("GET", path, ADMIN_TOKEN, None).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // Pages open with a bearer token too (scripts, curl), without a session.
    assert_eq!(
        web.bearer("GET", "/overview", ADMIN_TOKEN, None)
            .await
            .status,
        StatusCode::OK
    );
    let a = web.bearer("GET", "/api/v1/rankings", "wrong", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = web
        .bearer(
            "POST",
            "/api/v1/users",
            ADMIN_TOKEN,
            Some(serde_json::json!({"name": "x"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(!a.body.contains("src/"), "no internals: {}", a.body);
    let _ = web.lin;
}

#[tokio::test]
async fn exports_follow_the_roles() {
    let web = Web::new();
    let (fin, _) = web.session("fin");
    let (sam, _) = web.session("sam");
    let f = web.get("/api/v1/export/devices.csv", Some(&fin)).await;
    assert_eq!(f.status, StatusCode::OK);
    assert!(f.body.contains("PACS-VIEW-07"));
    assert!(
        !f.body.contains("10.1.2.3"),
        "finance gets no addresses, even when asking"
    );
    let f = web
        .get(
            "/api/v1/export/devices.csv?network_details=true",
            Some(&fin),
        )
        .await;
    assert!(!f.body.contains("10.1.2.3"));
    let s = web.get("/api/v1/export/devices.csv", Some(&sam)).await;
    assert!(s.body.contains("10.1.2.3"));
    let x = web
        .get("/api/v1/export/plan.xlsx?budget=5000&years=2", Some(&fin))
        .await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.body.starts_with("PK"), "an XLSX is a zip");
    // The plan page links to the same plan.
    let page = web
        .get(
            "/plan?budget=5000&years=2&first_year=2026&desktop=700",
            Some(&fin),
        )
        .await;
    assert!(page.body.contains(
        "/api/v1/export/plan.xlsx?budget=5000&amp;years=2&amp;first_year=2026&amp;desktop=700.00"
    ));
    assert_eq!(
        web.get("/api/v1/export/plan.xlsx?budget=1", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

mod csrf;
mod exports;
mod finance;
mod imports;
mod lockout;
mod review;
