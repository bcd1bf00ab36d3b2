//! Who is asking: the [`Principal`] extractor for every route but the agents'.
//!
//! Credentials, in order: `Authorization: Bearer` with the admin token (role admin) or an API
//! token (its role); else the dashboard's session cookie (the user's role, read again on every
//! request so a role change or removal applies at once). A request with a session cookie that
//! changes something must carry the session's CSRF token (`X-CSRF-Token` for the API; the form
//! field for pages, checked in `web/`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ApiError, AppState, bearer};
use crate::auth::{Permission, Role};
use crate::secrets::{self, hashes_equal};
use crate::store::auth::{SessionRecord, UserRecord};
use crate::store::{KeyHash, Store, StoreError};

/// The session cookie. `__Host-` makes browsers insist on Secure, Path=/ and no Domain.
pub const SESSION_COOKIE: &str = "__Host-ward-session";
/// The header an API call with a session cookie carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

#[derive(Debug, Clone)]
pub enum Via {
    AdminToken,
    Token(Uuid),
    Session { id_hash: KeyHash, csrf: String },
}

impl Principal {
    /// `Forbidden` unless the role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// How the audit log names this principal.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::AdminToken => "admin-token".into(),
            Via::Token(_) => format!("token:{}", self.name),
            Via::Session { .. } => format!("user:{}", self.name),
        }
    }
}

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The live session and its user for a cookie value; an expired session is removed.
pub fn resolve_session(
    store: &dyn Store,
    cookie_value: &str,
    now: DateTime<Utc>,
) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
    let id_hash = secrets::hash(cookie_value);
    let Some(session) = store.session(&id_hash)? else {
        return Ok(None);
    };
    if session.expires_at <= now {
        store.delete_session(&id_hash)?;
        return Ok(None);
    }
    Ok(store.user(&session.user)?.map(|user| (session, user)))
}

/// Resolves the request's credentials; `Ok(None)` when it carries none.
pub fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let token = bearer(headers)?;
        let hash = secrets::hash(token);
        if hashes_equal(&hash, &state.admin_token_hash) {
            return Ok(Some(Principal {
                name: "admin-token".into(),
                role: Role::Admin,
                via: Via::AdminToken,
            }));
        }
        return match state.store.token_by_hash(&hash)? {
            Some(t) if t.revoked_at.is_none() => Ok(Some(Principal {
                name: t.name,
                role: t.role,
                via: Via::Token(t.id),
            })),
            _ => Err(ApiError::BadAdminToken),
        };
    }
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match resolve_session(state.store.as_ref(), value, Utc::now())? {
        Some((session, user)) => Ok(Some(Principal {
            name: user.name,
            role: user.role,
            via: Via::Session {
                id_hash: session.id_hash,
                csrf: session.csrf,
            },
        })),
        None => Ok(None),
    }
}

impl FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let principal = identify(state, &parts.headers)?.ok_or(ApiError::MissingToken)?;
        if let Via::Session { csrf, .. } = &principal.via {
            let safe = matches!(parts.method, Method::GET | Method::HEAD);
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !safe && !sent.is_some_and(|s| constant_eq(s, csrf)) {
                return Err(ApiError::Forbidden(
                    "a change made with a session cookie needs the session's CSRF token".into(),
                ));
            }
        }
        Ok(principal)
    }
}

/// Compares two short secrets without an early exit.
pub fn constant_eq(a: &str, b: &str) -> bool {
    hashes_equal(&secrets::hash(a), &secrets::hash(b))
}

/// A request by an administrator: the admin token, an admin API token or an admin's session
/// (with its CSRF token for changes). For admin-only routes that need no other detail.
pub struct Admin(pub Principal);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(Permission::Administer)?;
        Ok(Admin(principal))
    }
}
