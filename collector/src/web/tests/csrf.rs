//! Every admin and security form, posted with the session cookie but without the session's CSRF
//! token (none, a forged one, another session's), is refused and changes nothing; the same post
//! with the token works, so the refusal is the token's doing.

use super::*;

/// A snapshot of everything the forms can change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    exceptions: Vec<(Uuid, String)>,
    users: Vec<(String, String, String)>,
    tokens: Vec<(Uuid, bool)>,
    audit: usize,
}

fn snapshot(web: &Web) -> Snapshot {
    let store = web.state.store.as_ref();
    Snapshot {
        exceptions: store
            .exceptions()
            .unwrap()
            .into_iter()
            .map(|e| (e.device_id, e.reason))
            .collect(),
        users: store
            .users()
            .unwrap()
            .into_iter()
            .map(|u| (u.name, u.role.as_str().to_owned(), u.password_hash))
            .collect(),
        tokens: store
            .tokens()
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.revoked_at.is_some()))
            .collect(),
        audit: store.audit(10_000).unwrap().len(),
    }
}

/// (who posts, path, their CSRF token, the fields without the token).
type Form<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>);

#[tokio::test]
async fn every_admin_and_security_form_needs_the_session_token() {
    let web = Web::new();
    let (ada, ada_csrf) = web.session("ada");
    let (_, other_csrf) = web.session("ada");
    let (sam, sam_csrf) = web.session("sam");
    // Something for each form to change: an exception and a live token.
    let device = web.win.to_string();
    let form = web.exception_form(&sam_csrf, &device);
    assert_eq!(
        web.post_form("/exceptions", Some(&sam), &form).await.status,
        StatusCode::SEE_OTHER
    );
    let (token, _) =
        crate::auth::create_token(web.state.store.as_ref(), "test", "nightly", Role::Viewer)
            .unwrap();
    let remove_exception = format!("/exceptions/{}/remove", web.win);
    let revoke = format!("/admin/tokens/{}/revoke", token.id);
    let exception_fields = web.exception_form("", &device);
    let forms: Vec<Form> = vec![
        // (who, path, their csrf, fields without csrf)
        (
            "sam",
            "/exceptions",
            &sam_csrf,
            exception_fields[1..].to_vec(),
        ),
        ("sam", &remove_exception, &sam_csrf, vec![]),
        (
            "ada",
            "/admin/users",
            &ada_csrf,
            vec![("name", "eve"), ("role", "admin"), ("password", PASSWORD)],
        ),
        ("ada", "/admin/users/vic/remove", &ada_csrf, vec![]),
        (
            "ada",
            "/admin/users/fin/password",
            &ada_csrf,
            vec![("password", "another long enough password")],
        ),
        (
            "ada",
            "/admin/tokens",
            &ada_csrf,
            vec![("name", "script"), ("role", "admin")],
        ),
        ("ada", &revoke, &ada_csrf, vec![]),
        ("ada", "/logout", &ada_csrf, vec![]),
    ];
    let before = snapshot(&web);
    for (who, path, _, fields) in &forms {
        let cookie = if *who == "sam" { &sam } else { &ada };
        for bad in [None, Some("forged"), Some(other_csrf.as_str())] {
            let mut f = fields.clone();
            if let Some(t) = bad {
                f.insert(0, ("csrf", t));
            }
            let a = web.post_form(path, Some(cookie), &f).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{path} with {bad:?}");
            assert!(a.body.contains("nothing was changed"), "{path}");
            assert_eq!(
                snapshot(&web),
                before,
                "{path} with {bad:?} changed something"
            );
        }
    }
    // The session survived the refused sign-out.
    assert_eq!(
        web.get("/overview", Some(&ada)).await.status,
        StatusCode::OK
    );

    // With the token each form does its work (so the refusals above were the token's doing).
    for (who, path, csrf, fields) in &forms {
        let cookie = if *who == "sam" { &sam } else { &ada };
        let mut f = fields.clone();
        f.insert(0, ("csrf", csrf));
        let a = web.post_form(path, Some(cookie), &f).await;
        assert!(
            a.status == StatusCode::SEE_OTHER || a.status == StatusCode::OK,
            "{path}: {} {}",
            a.status,
            &a.body[..a.body.len().min(300)]
        );
    }
    let after = snapshot(&web);
    assert!(after.exceptions.is_empty(), "the exception was ended");
    assert!(after.users.iter().any(|u| u.0 == "eve"));
    assert!(!after.users.iter().any(|u| u.0 == "vic"));
    let fin = |s: &Snapshot| s.users.iter().find(|u| u.0 == "fin").unwrap().2.clone();
    assert_ne!(fin(&after), fin(&before), "fin's password changed");
    assert!(
        after.tokens.contains(&(token.id, true)),
        "the token was revoked"
    );
    assert_eq!(after.tokens.len(), 2, "a token was created");
    assert_eq!(
        web.get("/overview", Some(&ada)).await.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );
}
