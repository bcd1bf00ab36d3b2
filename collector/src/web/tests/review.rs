//! Regression tests for defects found in review: request-sized allocations in the plan, open
//! redirects, sign-in limits under parallel attempts, unbounded sign-in input.

use super::*;

/// The Set-Cookie pair and the form token of a fresh sign-in form.
async fn login_form(web: &Web, path: &str) -> (String, String, Answer) {
    let form = web.get(path, None).await;
    let set = form
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    (pair, token, form)
}

#[tokio::test]
async fn plan_years_from_the_request_are_checked_before_allocating() {
    let web = Web::new();
    let (fin, _) = web.session("fin");
    let huge = usize::MAX.to_string();
    for years in ["0", "11", "1000000000", huge.as_str()] {
        for path in [
            format!("/api/v1/plan?budget=1000&years={years}"),
            format!("/api/v1/plan?budget=1000&years={years}&format=csv"),
            format!("/api/v1/export/plan.csv?budget=1000&years={years}"),
            format!("/api/v1/export/plan.xlsx?budget=1000&years={years}"),
            format!("/plan?budget=1000&years={years}"),
        ] {
            let a = web.get(&path, Some(&fin)).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.body);
        }
    }
    // Long lists are refused without parsing them all.
    let many = vec!["1"; 10_000].join(",");
    for path in [
        format!("/api/v1/plan?budget={many}"),
        format!("/api/v1/plan?budget=1000&years=2&esu={many}"),
        format!("/api/v1/export/plan.csv?budget=1000&years=2&esu={many}"),
    ] {
        let a = web.get(&path, Some(&fin)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", &a.body);
    }
    // The limits themselves still work.
    let a = web
        .get("/api/v1/plan?budget=1000&years=10", Some(&fin))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn next_and_back_only_ever_lead_to_this_site() {
    let web = Web::new();
    // `%09` decodes to a tab, which browsers strip: `/\t/evil` would become `//evil`.
    for next in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
    ] {
        let (_, _, form) = login_form(&web, &format!("/login?next={next}")).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body.contains(r#"name="next" value="/overview""#),
            "{next}: {}",
            form.body
        );
    }
    // Signed in with a newline in `next`: a redirect home, not a 500.
    let (pair, token, _) = login_form(&web, "/login").await;
    let a = web
        .post_form(
            "/login",
            Some(&pair),
            &[
                ("csrf", &token),
                ("username", "fin"),
                ("password", PASSWORD),
                ("next", "/\n/evil.example"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&a), "/overview");

    // The exception form's `back`.
    let (sam, csrf) = web.session("sam");
    let id = web.win.to_string();
    for back in ["/\t/evil.example", "/\\evil.example", "//evil.example"] {
        let mut form = web.exception_form(&csrf, &id);
        form.retain(|(k, _)| *k != "back");
        form.push(("back", back));
        let a = web.post_form("/exceptions", Some(&sam), &form).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        assert_eq!(location(&a), "/exceptions", "{back:?}");
    }
}

/// Parallel wrong guesses for one user: no more than the per-user limit are ever checked, and
/// afterwards even the right password is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_sign_ins_get_no_more_guesses_than_the_limit() {
    let web = Web::new();
    let (pair, token, _) = login_form(&web, "/login").await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let state = web.state.clone();
        let body = format!("csrf={token}&username=vic&password=wrong+guess+here");
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, pair.clone())
            .body(Body::from(body))
            .unwrap();
        tasks.spawn(async move { app(state).oneshot(request).await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    let guesses = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(guesses <= 5, "{statuses:?}");
    assert!(refused >= 11, "{statuses:?}");
    let a = web.login_attempt(&pair, &token, "vic", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn password_checks_are_bounded() {
    let web = Web::new();
    let (pair, token, _) = login_form(&web, "/login").await;
    let held = web
        .state
        .web
        .password_checks
        .try_acquire_many(super::super::login::PASSWORD_CHECKS as u32)
        .unwrap();
    let a = web.login_attempt(&pair, &token, "fin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.headers
            .get(header::SET_COOKIE)
            .is_some_and(|c| !c.to_str().unwrap().starts_with(SESSION_COOKIE))
    );
    drop(held);
    let a = web.login_attempt(&pair, &token, "fin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn bad_user_names_fail_plainly_and_count_against_the_address() {
    let web = Web::new();
    let (pair, token, _) = login_form(&web, "/login").await;
    let long = "a".repeat(5000);
    for name in [
        "fin\nsigned in user=ada",
        long.as_str(),
        "fin ada",
        "\u{202e}nif",
    ] {
        let a = web.login_attempt(&pair, &token, name, PASSWORD).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name:?}");
        assert!(a.body.contains("do not match"));
    }
    // Counted per address: 20 in all, then this address is refused even for a good name.
    for _ in 0..16 {
        let a = web.login_attempt(&pair, &token, "bad name", "x").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = web.login_attempt(&pair, &token, "fin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    // A huge form is refused before it is read.
    let big = "p".repeat(64 * 1024);
    let a = web.login_attempt(&pair, &token, "fin", &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// The plan as JSON and CSV: finance gets host names without their domain and no addresses.
#[tokio::test]
async fn finance_plan_has_no_fqdn_or_addresses() {
    let web = Web::new();
    let mut r = windows_report();
    r.host.hostname = Some("ward-pc-9.trust.nhs.uk".into());
    r.host.ip_addresses = vec!["10.7.7.7".into()];
    let id = Uuid::now_v7();
    web.state
        .store
        .put_report(id, Utc::now(), &r, None)
        .unwrap();
    // Written past the API: tell the estate, as ingest does.
    web.state.estate.report_stored(id, None);
    let (fin, _) = web.session("fin");
    let (sam, _) = web.session("sam");
    for path in [
        "/api/v1/plan?budget=1000000&years=3",
        "/api/v1/plan?budget=1000000&years=3&format=csv",
    ] {
        let s = web.get(path, Some(&sam)).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.body);
        assert!(
            s.body.contains("ward-pc-9.trust.nhs.uk"),
            "{path}: {}",
            s.body
        );
        let f = web.get(path, Some(&fin)).await;
        assert_eq!(f.status, StatusCode::OK, "{}", f.body);
        assert!(f.body.contains("ward-pc-9"), "{path}: {}", f.body);
        for secret in ["trust.nhs.uk", "10.7.7.7", "10.1.2.3", "00:15:5d"] {
            assert!(!f.body.contains(secret), "{path}: finance sees {secret}");
        }
    }
}
