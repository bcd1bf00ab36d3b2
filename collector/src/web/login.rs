//! Sign-in and sign-out.
//!
//! The sign-in form is protected against login CSRF by a double-submit token: a random value in
//! a short-lived cookie and in the form, which must match. A session is a 256-bit random cookie
//! value (`Secure; HttpOnly; SameSite=Strict; Path=/`, with a Max-Age) whose hash the store
//! keeps with the user, the expiry and the session's CSRF token. Failed sign-ins slow down per
//! address and per user name (or per known browser, by its device cookie), and never lock a
//! user out: see [`crate::auth::LoginLimiter`].

use std::sync::Arc;
use std::time::Instant;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::{PageError, PageUser, bare_page};
use crate::api::principal::{self, SESSION_COOKIE, Via};
use crate::api::{AppState, PeerIp, blocking};
use crate::auth;
use crate::secrets;
use crate::store::auth::SessionRecord;

const LOGIN_CSRF_COOKIE: &str = "__Host-ward-login";

/// The device cookie: a random token given to a browser at a successful sign-in, so that its
/// later sign-ins as that user are not slowed down by strangers' failures (`auth::limiter`).
pub(super) const DEVICE_COOKIE: &str = "__Host-ward-device";
/// How long a browser keeps its device cookie (the server forgets it at a restart anyway).
const DEVICE_COOKIE_SECS: u64 = 90 * 24 * 3600;

/// The sign-in form's body at most: a token, a path, a name and a password.
pub(super) const MAX_FORM_BYTES: usize = 8 * 1024;

/// Password verifications at once (see [`super::WebState::password_checks`]).
pub(super) const PASSWORD_CHECKS: usize = 3;

/// A user name as it may appear in the log: up to 64 characters, anything but `[A-Za-z0-9._@-]`
/// shown as `?`, so a submitted name cannot forge log lines or fill the log.
fn log_name(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '?'
            }
        })
        .collect();
    if name.chars().nth(64).is_some() {
        shown.push_str("...");
    }
    shown
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Whether `path` is a path on this site and nothing else: every byte printable ASCII without
/// spaces (so no tab, newline or percent-decoding tricks a browser would strip), a leading `/`,
/// and a second byte that is neither `/` nor `\\` (which browsers read as `//host`).
pub(super) fn is_local_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Only a path on this site: never `//host`, a full URL or anything with control bytes.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/overview".to_owned(),
    }
}

fn cookie_header(name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn form_page(next: &str, token: &str, error: Option<&str>) -> Response {
    let body = bare_page(
        "Sign in",
        html! {
            main.narrow id="main" {
                h1 { "Ward: sign in" }
                p { "The estate's risk, ranking and replacement plan for IT, security and finance." }
                @if let Some(e) = error {
                    p.error role="alert" { (e) }
                }
                form.stack method="post" action="/login" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="next" value=(next);
                    label for="username" { "User name" }
                    input id="username" name="username" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(LOGIN_CSRF_COOKIE, token, 3600),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    // Already signed in: go on.
    let signed_in = blocking(move || Ok(principal::identify(&state, &headers)?.is_some()))
        .await
        .unwrap_or(false);
    if signed_in {
        return Redirect::to(&next).into_response();
    }
    form_page(&next, &secrets::new_secret(), None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(state): State<Arc<AppState>>,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let cookie_token = principal::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if f.csrf.is_empty() || !principal::constant_eq(cookie_token, &f.csrf) {
        return PageError::Csrf.into_response();
    }
    let fresh = secrets::new_secret();
    let username = f.username.trim().to_owned();
    let shown = log_name(&username);
    // A name that could never exist is a failure counted against the address only, so junk
    // names cannot fill the per-name table.
    let valid_name = auth::check_name(&username).is_ok();
    let limiter = &state.web.login_limiter;
    let began = Instant::now();
    let device = principal::cookie(&headers, DEVICE_COOKIE)
        .filter(|v| !v.is_empty())
        .map(|v| hex::encode(secrets::hash(v)));
    let attempt = match limiter.try_begin(
        ip,
        valid_name.then_some(username.as_str()),
        device.as_deref(),
        began,
    ) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::warn!(%ip, user = %shown, wait_secs = seconds, "sign-in refused: too many failures, slowing down");
            let mut r = form_page(
                &next,
                &fresh,
                Some(&format!(
                    "Too many failed sign-ins for this name or from this address. \
                     Try again in {seconds} seconds."
                )),
            );
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    };
    let failed = |next: &str, fresh: &str| {
        tracing::warn!(%ip, user = %shown, "sign-in failed");
        let mut r = form_page(
            next,
            fresh,
            Some("That user name and password do not match. Check them and try again."),
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    };
    if !valid_name {
        return failed(&next, &fresh);
    }
    // Bounded: each check holds a large argon2 buffer. When all permits are taken the attempt
    // stays counted (it was a guess the caller chose to send) and is answered 503.
    let Ok(_permit) = state.web.password_checks.try_acquire() else {
        tracing::warn!(%ip, user = %shown, "sign-in refused: too many password checks at once");
        let mut r = form_page(
            &next,
            &fresh,
            Some("The server is busy checking other sign-ins. Try again in a moment."),
        );
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let store_state = state.clone();
    let name = username.clone();
    let password = f.password;
    let ttl = state.web.session_ttl;
    let outcome = blocking(move || {
        let store = store_state.store.as_ref();
        let user = store.user(&name)?;
        let hash = user
            .as_ref()
            .map_or(auth::decoy_hash(), |u| u.password_hash.as_str());
        let ok = auth::verify_password(&password, hash) && user.is_some();
        let Some(user) = user.filter(|_| ok) else {
            return Ok(None);
        };
        let now = Utc::now();
        store.sweep_sessions(now)?;
        let value = secrets::new_secret();
        let expires_at =
            now + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::hours(8));
        store.put_session(&SessionRecord {
            id_hash: secrets::hash(&value),
            user: user.name.clone(),
            csrf: secrets::new_secret(),
            created_at: now,
            expires_at,
        })?;
        Ok(Some(value))
    })
    .await;
    match outcome {
        Ok(Some(value)) => {
            // A browser not known for this user gets a device token.
            let new_device = (!attempt.trusted_device).then(secrets::new_secret);
            let new_hash = new_device.as_deref().map(|v| hex::encode(secrets::hash(v)));
            limiter.succeeded(&attempt, &username, new_hash.as_deref(), Instant::now());
            tracing::info!(%ip, user = %shown, "signed in");
            let mut r = Redirect::to(&next).into_response();
            if let Some(token) = new_device {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_header(DEVICE_COOKIE, &token, DEVICE_COOKIE_SECS),
                );
            }
            r.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(SESSION_COOKIE, &value, ttl.as_secs()),
            );
            r.headers_mut()
                .append(header::SET_COOKIE, cookie_header(LOGIN_CSRF_COOKIE, "", 0));
            r
        }
        Ok(None) => failed(&next, &fresh),
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&f.csrf)?;
    if let Via::Session { id_hash, .. } = user.who.via {
        blocking(move || Ok(state.store.delete_session(&id_hash)?)).await?;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, cookie_header(SESSION_COOKIE, "", 0));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/plan?budget=1")), "/plan?budget=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "\\\\x",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/plan\r\nSet-Cookie: x=1",
            "/ /evil.example",
            "/caf\u{e9}",
            "",
            "plan",
        ] {
            assert_eq!(safe_next(Some(bad)), "/overview", "{bad}");
        }
        assert_eq!(safe_next(None), "/overview");
    }
}
