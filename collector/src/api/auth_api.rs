//! Users, API tokens and the audit log over the API (admin only). The CLI's `user` and `token`
//! commands use these when a running server holds the store.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, Principal, blocking, ingest, parse_id};
use crate::auth::{self, AuthError, Permission, Role, TokenView, UserView};
use crate::store::auth::AuditEvent;

const MAX_BODY: usize = 16 * 1024;
const DEFAULT_AUDIT: usize = 200;
const MAX_AUDIT: usize = 10_000;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}", delete(remove_user))
        .route("/api/v1/users/{name}/password", put(set_password))
        .route(
            "/api/v1/users/{name}/unlock",
            axum::routing::post(unlock_user),
        )
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/audit", get(audit_log))
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid(m) => ApiError::Invalid(m),
            AuthError::Hash(m) => ApiError::Internal(m),
            AuthError::Store(e) => ApiError::Store(e),
        }
    }
}

async fn json_body<T: serde::de::DeserializeOwned>(body: axum::body::Body) -> Result<T, ApiError> {
    let bytes = ingest::read_body(body, MAX_BODY).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid request: {e}")))
}

async fn list_users(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    who.require(Permission::Administer)?;
    let users = blocking(move || Ok(state.store.users()?)).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub password: String,
}

async fn add_user(
    who: Principal,
    State(state): State<Arc<AppState>>,
    body: axum::body::Body,
) -> Result<Json<UserView>, ApiError> {
    who.require(Permission::Administer)?;
    let new: NewUser = json_body(body).await?;
    let actor = who.actor();
    let view = blocking(move || {
        Ok(auth::add_user(
            state.store.as_ref(),
            &actor,
            &new.name,
            new.role,
            &new.password,
        )?)
    })
    .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

async fn set_password(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: axum::body::Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::Administer)?;
    let new: NewPassword = json_body(body).await?;
    let actor = who.actor();
    state.web.login_limiter.forget_devices_of(&name);
    let user = name.clone();
    blocking(move || {
        Ok(auth::set_password(
            state.store.as_ref(),
            &actor,
            &user,
            &new.password,
        )?)
    })
    .await?;
    Ok(Json(
        serde_json::json!({ "name": name, "password_changed": true }),
    ))
}

/// Ends a user's sign-in slow-down in this server (audited).
async fn unlock_user(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::Administer)?;
    let actor = who.actor();
    let user = name.clone();
    let cleared = blocking(move || {
        Ok(auth::unlock_user(
            state.store.as_ref(),
            Some(&state.web.login_limiter),
            &actor,
            &user,
        )?)
    })
    .await?;
    Ok(Json(
        serde_json::json!({ "name": name, "unlocked": true, "delay_cleared": cleared }),
    ))
}

async fn remove_user(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::Administer)?;
    let actor = who.actor();
    let user = name.clone();
    state.web.login_limiter.forget_devices_of(&name);
    if !blocking(move || Ok(auth::remove_user(state.store.as_ref(), &actor, &user)?)).await? {
        return Err(ApiError::NotFound(format!("no user {name:?}")));
    }
    Ok(Json(serde_json::json!({ "name": name, "removed": true })))
}

async fn list_tokens(
    who: Principal,
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    who.require(Permission::Administer)?;
    let tokens = blocking(move || Ok(state.store.tokens()?)).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
}

/// A new token: the clear value appears here once and is not kept.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenView,
    pub token: String,
}

async fn create_token(
    who: Principal,
    State(state): State<Arc<AppState>>,
    body: axum::body::Body,
) -> Result<Json<CreatedToken>, ApiError> {
    who.require(Permission::Administer)?;
    let new: NewToken = json_body(body).await?;
    let actor = who.actor();
    let (info, token) = blocking(move || {
        Ok(auth::create_token(
            state.store.as_ref(),
            &actor,
            &new.name,
            new.role,
        )?)
    })
    .await?;
    Ok(Json(CreatedToken { info, token }))
}

async fn revoke_token(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require(Permission::Administer)?;
    let id = parse_id(&id)?;
    let actor = who.actor();
    if !blocking(move || Ok(auth::revoke_token(state.store.as_ref(), &actor, id)?)).await? {
        return Err(ApiError::NotFound(format!("no live token {id}")));
    }
    Ok(Json(serde_json::json!({ "id": id, "revoked": true })))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit_log(
    who: Principal,
    State(state): State<Arc<AppState>>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    who.require(Permission::Administer)?;
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT).clamp(1, MAX_AUDIT);
    Ok(Json(blocking(move || Ok(state.store.audit(limit)?)).await?))
}
