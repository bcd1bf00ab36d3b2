//! The dashboard: server-rendered pages (maud) on the collector's TLS port, for security leads
//! and finance. Assets are embedded in the binary; nothing is loaded from elsewhere.
//!
//! Architecture invariant: every page asks [`PageUser`] who is signed in (anonymous requests
//! are sent to `/login`) and checks the role's permission before reading anything; every POST
//! form carries the session's CSRF token and [`PageUser::check_csrf`] refuses one without it
//! before anything changes. Pages read the estate through the same functions as the API
//! (`crate::estate`, `crate::api::risk`).

mod admin;
mod imports_page;
mod labels;
mod login;
mod pages;
mod plan_page;
mod text;
mod unmanaged_page;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::api::principal::{self, Principal, Via};
use crate::api::{ApiError, AppState};
use crate::auth::{LoginLimiter, Permission};

pub const CSS: &str = include_str!("ward.css");

/// Sign-in settings and state.
#[derive(Debug)]
pub struct WebState {
    /// How long a session lasts from sign-in.
    pub session_ttl: Duration,
    pub login_limiter: LoginLimiter,
    /// Password checks running at once: each argon2 verification takes ~19 MiB and a core's
    /// worth of time, so sign-ins past this are answered 503 rather than queued.
    pub password_checks: tokio::sync::Semaphore,
}

impl Default for WebState {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(8 * 3600),
            login_limiter: LoginLimiter::default(),
            password_checks: tokio::sync::Semaphore::new(login::PASSWORD_CHECKS),
        }
    }
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/overview") }))
        .route("/assets/ward.css", get(css))
        .route(
            "/login",
            get(login::form)
                .post(login::submit)
                .layer(DefaultBodyLimit::max(login::MAX_FORM_BYTES)),
        )
        .route("/logout", post(login::logout))
        .route("/overview", get(pages::overview))
        .route("/ranking", get(pages::ranking))
        .route("/devices/{id}", get(pages::device))
        .route("/plan", get(plan_page::plan))
        .route("/unmanaged", get(unmanaged_page::unmanaged))
        .route(
            "/imports",
            get(imports_page::imports)
                .post(imports_page::upload)
                .layer(DefaultBodyLimit::max(crate::api::imports::MAX_UPLOAD_BYTES)),
        )
        .route(
            "/exceptions",
            get(admin::exceptions).post(admin::add_exception),
        )
        .route("/exceptions/{id}/remove", post(admin::remove_exception))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{name}/remove", post(admin::remove_user))
        .route("/admin/users/{name}/password", post(admin::set_password))
        .route(
            "/admin/tokens",
            get(admin::tokens).post(admin::create_token),
        )
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/admin/audit", get(admin::audit))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// The signed-in person (or a token holder) looking at a page.
pub struct PageUser {
    pub who: Principal,
    /// The session's CSRF token, put in every form ("" for token callers, who need none).
    pub csrf: String,
    /// The page path, for the navigation.
    pub path: String,
}

impl PageUser {
    /// A page for `permission`, or the "not for your role" page.
    pub fn require(&self, permission: Permission) -> Result<(), PageError> {
        if self.who.can(permission) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Refuses a form without this session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        match &self.who.via {
            Via::Session { csrf, .. } if !principal::constant_eq(sent, csrf) => {
                Err(PageError::Csrf)
            }
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let path = parts.uri.path().to_owned();
        let state = state.clone();
        let headers = parts.headers.clone();
        let found = crate::api::blocking(move || principal::identify(&state, &headers)).await;
        match found {
            Ok(Some(who)) => {
                let csrf = match &who.via {
                    Via::Session { csrf, .. } => csrf.clone(),
                    _ => String::new(),
                };
                Ok(PageUser { who, csrf, path })
            }
            Ok(None) => {
                let target = parts
                    .uri
                    .path_and_query()
                    .map_or("/overview", |p| p.as_str());
                Err(
                    Redirect::to(&format!("/login?next={}", text::url_encode(target)))
                        .into_response(),
                )
            }
            Err(ApiError::Store(_)) | Err(ApiError::Internal(_)) => {
                Err(PageError::Unavailable.into_response())
            }
            Err(_) => Err(PageError::Unauthorized.into_response()),
        }
    }
}

/// What a page answers when it cannot show itself. Never carries internals.
#[derive(Debug)]
pub enum PageError {
    Unauthorized,
    Forbidden,
    Csrf,
    NotFound(String),
    BadInput(String),
    TooLarge(String),
    Unavailable,
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(m) => PageError::NotFound(m),
            ApiError::Forbidden(_) => PageError::Forbidden,
            ApiError::BadRequest(m) | ApiError::Invalid(m) => PageError::BadInput(m),
            other => {
                if matches!(other, ApiError::Store(_) | ApiError::Internal(_)) {
                    tracing::error!(error = %other, "page failed");
                }
                PageError::Unavailable
            }
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::from(ApiError::Store(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, sentence) = match self {
            PageError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Sign-in needed",
                "Your credentials were not accepted. Sign in again.".to_owned(),
            ),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not available to your role",
                "Your role does not include this page or action. Ask an administrator if you need it."
                    .to_owned(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from a current page of this dashboard, so nothing was changed. Go back, reload the page and try again."
                    .to_owned(),
            ),
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            PageError::BadInput(m) => (StatusCode::BAD_REQUEST, "Please check what you entered", m),
            PageError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "Too large", m),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The collector could not answer just now. Try again in a minute.".to_owned(),
            ),
        };
        let body = bare_page(
            title,
            html! {
                main.narrow {
                    h1 { (title) }
                    p { (sentence) }
                    p { a href="/overview" { "Back to the overview" } }
                }
            },
        );
        (status, body).into_response()
    }
}

/// A complete HTML page without navigation (sign-in, errors).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Ward" }
                link rel="stylesheet" href="/assets/ward.css";
            }
            body { (body) }
        }
    }
}

/// The navigation entries: (path, label, permission needed).
const NAV: &[(&str, &str, Permission)] = &[
    ("/overview", "Overview", Permission::Read),
    ("/ranking", "Ranking", Permission::Read),
    ("/plan", "Plan", Permission::Read),
    ("/unmanaged", "Unmanaged", Permission::Read),
    ("/exceptions", "Exceptions", Permission::Read),
    ("/imports", "Imports", Permission::ManageImports),
    ("/admin/users", "Users", Permission::Administer),
    ("/admin/tokens", "Tokens", Permission::Administer),
    ("/admin/audit", "Audit log", Permission::Administer),
];

/// A complete page with the header, navigation and sign-out button.
pub fn page(user: &PageUser, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Ward" }
                link rel="stylesheet" href="/assets/ward.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Ward" }
                    nav aria-label="Main" {
                        ul {
                            @for (path, label, perm) in NAV {
                                @if user.who.can(*perm) {
                                    li {
                                        @if user.path.starts_with(path) {
                                            a href=(path) aria-current="page" { (label) }
                                        } @else {
                                            a href=(path) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (user.who.name) " · " (user.who.role.as_str()) }
                        @if matches!(user.who.via, Via::Session { .. }) {
                            form method="post" action="/logout" {
                                (csrf_field(&user.csrf))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// An inline SVG, trusted because this module produced it.
pub fn svg(markup: String) -> Markup {
    PreEscaped(markup)
}

#[cfg(test)]
mod tests;
