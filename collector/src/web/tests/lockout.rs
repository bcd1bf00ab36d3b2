//! Issue 16: five wrong passwords locked a named user out for 15 minutes, whoever typed them.
//! Failed sign-ins now slow down instead, a browser that signed in before is not held back by
//! strangers, and an administrator can end a user's slow-down (audited).

use super::*;

async fn login_form(web: &Web) -> (String, String) {
    let form = web.get("/login", None).await;
    let pair = form
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    (pair, token)
}

fn set_cookie(answer: &Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn strangers_slow_a_name_down_but_never_lock_its_user_out() {
    let web = Web::new();
    let (pair, token) = login_form(&web).await;

    // Vic signs in once; her browser gets a device cookie.
    let a = web.login_attempt(&pair, &token, "vic", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let device = set_cookie(&a, super::super::login::DEVICE_COOKIE).expect("device cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(device.contains(attr), "{device} lacks {attr}");
    }
    let device = device.split(';').next().unwrap().to_owned();

    // A stranger guesses until the name is slowed down: refused with a wait in seconds.
    let mut slowed = None;
    for _ in 0..10 {
        let a = web
            .login_attempt(&pair, &token, "vic", "a stranger's guess")
            .await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            slowed = Some(a);
            break;
        }
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let slowed = slowed.expect("the name slows down after a few failures");
    assert!(slowed.body.contains("Try again in"), "{}", slowed.body);
    let wait: u64 = slowed.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait <= 60, "a wait of {wait} s is a lockout");

    // Vic's browser signs in at once all the same.
    let a = web
        .login_attempt(&format!("{pair}; {device}"), &token, "vic", PASSWORD)
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(
        set_cookie(&a, super::super::login::DEVICE_COOKIE).is_none(),
        "a known browser keeps its cookie"
    );
    // Another browser (no cookie, or a made-up one) is still slowed down.
    let a = web.login_attempt(&pair, &token, "vic", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let forged = format!("{pair}; {}=00ff", super::super::login::DEVICE_COOKIE);
    let a = web.login_attempt(&forged, &token, "vic", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_admin_unlocks_a_user_and_the_audit_log_says_so() {
    let web = Web::new();
    let (pair, token) = login_form(&web).await;
    loop {
        let a = web.login_attempt(&pair, &token, "fin", "wrong guess").await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    // Only an administrator may unlock.
    let (viewer, _) = web.session("vic");
    let a = web
        .post_form("/api/v1/users/fin/unlock", Some(&viewer), &[])
        .await;
    assert_ne!(a.status, StatusCode::OK);
    let a = web
        .bearer("POST", "/api/v1/users/nobody/unlock", ADMIN_TOKEN, None)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);

    let a = web
        .bearer("POST", "/api/v1/users/fin/unlock", ADMIN_TOKEN, None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains(r#""delay_cleared":true"#), "{}", a.body);
    let a = web.login_attempt(&pair, &token, "fin", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    let events = web.state.store.audit(100).unwrap();
    let unlock = events
        .iter()
        .find(|e| e.action == "user.unlock")
        .expect("audited");
    assert_eq!(unlock.target, "fin");
    assert_eq!(unlock.detail, "sign-in delay cleared");
}
