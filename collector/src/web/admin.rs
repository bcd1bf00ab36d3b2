//! Pages that change things: exceptions (security), users, tokens and the audit log (admin);
//! imports are in `imports_page`. Every POST checks the role first, then the session's CSRF
//! token, then the input.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::labels::Labels;
use super::pages::{exception_form, exception_status};
use super::{PageError, PageUser, csrf_field, page};
use crate::api::risk::{self, NewException, save_exception};
use crate::api::{ApiError, AppState, blocking, parse_id};
use crate::auth::{self, Permission, Role};

pub async fn exceptions(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Read)?;
    let network = user.who.can(Permission::NetworkDetails);
    let (list, estate) = blocking(move || Ok((state.store.exceptions()?, state.estate()))).await?;
    let labels = Labels::new(estate.clone(), network);
    let name = |id| labels.name(id, estate.row(id).and_then(|r| r.hostname.as_deref()));
    let today = Utc::now().date_naive();
    let manage = user.who.can(Permission::ManageExceptions);
    let body = html! {
        h1 { "Exceptions" }
        p.lede { "Devices that cannot be changed (for example a vendor-certified scanner console) are kept isolated instead, with compensating controls, until a review date. After that date they rank on their own risk again." }
        @if list.is_empty() { p { "No exceptions recorded." } }
        @for e in &list {
            article.finding {
                h2 { a href={"/devices/" (e.device_id)} { (name(e.device_id)) } }
                (exception_status(e, today, &labels))
                @if manage {
                    form method="post" action={"/exceptions/" (e.device_id) "/remove"} {
                        (csrf_field(&user.csrf))
                        button.secondary type="submit" { "End this exception now" }
                    }
                }
            }
        }
        @if manage {
            section {
                h2 { "Add an exception" }
                p { "Usually added from the device's page; here by device id." }
                (exception_form(&user, None, None, "/exceptions"))
            }
        }
    };
    Ok(page(&user, "Exceptions", body))
}

#[derive(Debug, Deserialize)]
pub struct ExceptionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    controls: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    review_date: String,
}

fn back_to(back: &str) -> &str {
    if super::login::is_local_path(back) {
        back
    } else {
        "/exceptions"
    }
}

pub async fn add_exception(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Form(f): Form<ExceptionForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageExceptions)?;
    user.check_csrf(&f.csrf)?;
    let device_id = parse_id(f.device_id.trim())?;
    let review_date =
        NaiveDate::parse_from_str(f.review_date.trim(), "%Y-%m-%d").map_err(|_| {
            PageError::BadInput(format!(
                "Review date {:?} is not a date (YYYY-MM-DD).",
                f.review_date
            ))
        })?;
    let new = NewException {
        device_id,
        reason: f.reason,
        controls: f
            .controls
            .lines()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        owner: f.owner,
        review_date,
    };
    let record = new
        .into_record(Utc::now().date_naive())
        .map_err(PageError::BadInput)?;
    let actor = user.who.actor();
    blocking(move || {
        let estate = state.estate();
        save_exception(
            state.store.as_ref(),
            &|id| estate.row(id).is_some(),
            &actor,
            &record,
        )?;
        state.estate.exceptions_changed();
        state.estate();
        Ok(())
    })
    .await?;
    Ok(Redirect::to(back_to(&f.back)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn remove_exception_page(
    state: Arc<AppState>,
    user: &PageUser,
    id: &str,
    csrf: &str,
) -> Result<Response, PageError> {
    user.require(Permission::ManageExceptions)?;
    user.check_csrf(csrf)?;
    let id = parse_id(id)?;
    let actor = user.who.actor();
    if !blocking(move || {
        let removed = risk::remove_exception(state.store.as_ref(), &actor, id)?;
        state.estate.exceptions_changed();
        state.estate();
        Ok(removed)
    })
    .await?
    {
        return Err(PageError::NotFound(format!(
            "There is no exception for device {id}."
        )));
    }
    Ok(Redirect::to("/exceptions").into_response())
}

pub async fn remove_exception(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    remove_exception_page(state, &user, &id, &f.csrf).await
}

fn role_select(id: &str) -> Markup {
    html! {
        select id=(id) name="role" {
            @for r in [Role::Viewer, Role::Finance, Role::Security, Role::Admin] {
                option value=(r.as_str()) { (r.as_str()) ": " (r.describe()) }
            }
        }
    }
}

pub async fn users(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Administer)?;
    let list = blocking(move || Ok(state.store.users()?)).await?;
    let body = html! {
        h1 { "Users" }
        table.compact {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Password set" } th scope="col" { "Actions" } } }
            tbody { @for u in &list { tr {
                td { (u.name) } td { (u.role.as_str()) } td { (u.password_changed_at.format("%d %b %Y")) }
                td {
                    form.inline method="post" action={"/admin/users/" (u.name) "/password"} {
                        (csrf_field(&user.csrf))
                        label for={"pw-" (u.name)} class="visually-hidden" { "New password for " (u.name) }
                        input id={"pw-" (u.name)} name="password" type="password" autocomplete="new-password" placeholder="new password";
                        button.secondary type="submit" { "Set password" }
                    }
                    form.inline method="post" action={"/admin/users/" (u.name) "/remove"} {
                        (csrf_field(&user.csrf))
                        button.secondary type="submit" { "Remove " (u.name) }
                    }
                }
            } } }
        }
        section {
            h2 { "Add a user" }
            form.stack method="post" action="/admin/users" {
                (csrf_field(&user.csrf))
                label for="u-name" { "User name" } input id="u-name" name="name" type="text" required;
                label for="u-role" { "Role" } (role_select("u-role"))
                label for="u-password" { "Password (at least " (auth::MIN_PASSWORD_LEN) " characters)" }
                input id="u-password" name="password" type="password" autocomplete="new-password" required;
                button type="submit" { "Add user" }
            }
        }
    };
    Ok(page(&user, "Users", body))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn add_user(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Form(f): Form<UserForm>,
) -> Result<Response, PageError> {
    user.require(Permission::Administer)?;
    user.check_csrf(&f.csrf)?;
    let role = Role::parse(&f.role)
        .ok_or_else(|| PageError::BadInput(format!("{:?} is not a role.", f.role)))?;
    let actor = user.who.actor();
    blocking(move || {
        auth::add_user(
            state.store.as_ref(),
            &actor,
            f.name.trim(),
            role,
            &f.password,
        )
        .map_err(ApiError::from)
    })
    .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

pub async fn set_password(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Path(name): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    user.require(Permission::Administer)?;
    user.check_csrf(&f.csrf)?;
    let actor = user.who.actor();
    blocking(move || {
        auth::set_password(state.store.as_ref(), &actor, &name, &f.password).map_err(ApiError::from)
    })
    .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

pub async fn remove_user(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Path(name): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    user.require(Permission::Administer)?;
    user.check_csrf(&f.csrf)?;
    let actor = user.who.actor();
    let target = name.clone();
    let removed = blocking(move || {
        auth::remove_user(state.store.as_ref(), &actor, &target).map_err(ApiError::from)
    })
    .await?;
    if !removed {
        return Err(PageError::NotFound(format!("There is no user {name:?}.")));
    }
    Ok(Redirect::to("/admin/users").into_response())
}

fn tokens_page(user: &PageUser, list: &[auth::TokenView], created: Option<(&str, &str)>) -> Markup {
    let body = html! {
        h1 { "API tokens" }
        p.lede { "Tokens let scripts use the API with a role, like a user. A token is shown once, when it is created; Ward keeps only its hash." }
        @if let Some((name, token)) = created {
            div.notice role="status" {
                p { "New token " strong { (name) } ". Copy it now: it will not be shown again." }
                p { code.token { (token) } }
            }
        }
        table.compact {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Created" } th scope="col" { "By" } th scope="col" { "State" } } }
            tbody { @for t in list { tr {
                td { (t.name) } td { (t.role.as_str()) } td { (t.created_at.format("%d %b %Y %H:%M")) } td { (t.created_by) }
                td {
                    @match t.revoked_at {
                        Some(at) => { "revoked " (at.format("%d %b %Y")) }
                        None => {
                            form.inline method="post" action={"/admin/tokens/" (t.id) "/revoke"} {
                                (csrf_field(&user.csrf))
                                button.secondary type="submit" { "Revoke " (t.name) }
                            }
                        }
                    }
                }
            } } }
        }
        section {
            h2 { "Create a token" }
            form.stack method="post" action="/admin/tokens" {
                (csrf_field(&user.csrf))
                label for="t-name" { "Name (what uses it)" } input id="t-name" name="name" type="text" required;
                label for="t-role" { "Role" } (role_select("t-role"))
                button type="submit" { "Create token" }
            }
        }
    };
    page(user, "Tokens", body)
}

pub async fn tokens(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Administer)?;
    let list = blocking(move || Ok(state.store.tokens()?)).await?;
    let list: Vec<auth::TokenView> = list.into_iter().map(Into::into).collect();
    Ok(tokens_page(&user, &list, None))
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub async fn create_token(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Form(f): Form<TokenForm>,
) -> Result<Response, PageError> {
    user.require(Permission::Administer)?;
    user.check_csrf(&f.csrf)?;
    let role = Role::parse(&f.role)
        .ok_or_else(|| PageError::BadInput(format!("{:?} is not a role.", f.role)))?;
    let actor = user.who.actor();
    let (created, list) = blocking(move || {
        let store = state.store.as_ref();
        let created =
            auth::create_token(store, &actor, f.name.trim(), role).map_err(ApiError::from)?;
        Ok((created, store.tokens()?))
    })
    .await
    .map_err(|e| match e {
        ApiError::Invalid(m) => PageError::BadInput(m),
        other => PageError::from(other),
    })?;
    let list: Vec<auth::TokenView> = list.into_iter().map(Into::into).collect();
    let mut response =
        tokens_page(&user, &list, Some((&created.0.name, &created.1))).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    user: PageUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    user.require(Permission::Administer)?;
    user.check_csrf(&f.csrf)?;
    let id = parse_id(&id)?;
    let actor = user.who.actor();
    let done = blocking(move || {
        auth::revoke_token(state.store.as_ref(), &actor, id).map_err(ApiError::from)
    })
    .await?;
    if !done {
        return Err(PageError::NotFound(format!("There is no live token {id}.")));
    }
    Ok(Redirect::to("/admin/tokens").into_response())
}

pub async fn audit(
    State(state): State<Arc<AppState>>,
    user: PageUser,
) -> Result<Markup, PageError> {
    user.require(Permission::Administer)?;
    let events = blocking(move || Ok(state.store.audit(500)?)).await?;
    let body = html! {
        h1 { "Audit log" }
        p.lede { "Every change to imports, exceptions, users, tokens and agents: who, what, when. Newest first." }
        table.compact {
            thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "To what" } th scope="col" { "Detail" } } }
            tbody { @for e in &events { tr {
                td { (e.at.format("%d %b %Y %H:%M:%S")) } td { (e.actor) } td { code { (e.action) } } td { (e.target) } td { (e.detail) }
            } } }
        }
        @if events.is_empty() { p { "No changes recorded yet." } }
    };
    Ok(page(&user, "Audit log", body))
}
