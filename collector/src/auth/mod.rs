//! Users, roles, passwords, tokens and the audit log: the rules, not the transport.
//!
//! Roles, from least to most:
//! - `viewer` reads everything a dashboard shows, changes nothing;
//! - `finance` reads the plan, the rankings and the exports, never a device's network details
//!   (IP and MAC addresses, DNS names and domains, host names seen by network scans);
//! - `security` reads everything and manages the exceptions register;
//! - `admin` does everything: imports, users, tokens, agents, audit log.
//!
//! The admin token written by `init` stays an admin credential. Agents authenticate with their
//! own keys, which have no role here.

pub mod cli;
mod limiter;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use limiter::LoginLimiter;

use crate::store::auth::{AuditEvent, TokenRecord, UserRecord};
use crate::store::{Store, StoreError};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Finance,
    Security,
    Admin,
}

/// What a request may do. Each route asks for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Rankings, summary, plan, catalog, exports, device facts (network details aside).
    Read,
    /// IP and MAC addresses, DNS names, host names seen by scans.
    NetworkDetails,
    /// Add, change and remove exceptions.
    ManageExceptions,
    /// Upload imports.
    ManageImports,
    /// Users, tokens, agents, the audit log.
    Administer,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::NetworkDetails => self != Role::Finance,
            Permission::ManageExceptions => matches!(self, Role::Security | Role::Admin),
            Permission::ManageImports | Permission::Administer => self == Role::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Finance => "finance",
            Role::Security => "security",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Finance, Role::Security, Role::Admin]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// What the role may do, in a sentence for the users page.
    pub fn describe(self) -> &'static str {
        match self {
            Role::Viewer => "reads the dashboard; changes nothing",
            Role::Finance => "reads the plan, rankings and exports; no network details",
            Role::Security => "reads everything; manages exceptions",
            Role::Admin => "everything: imports, users, tokens, audit log",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Invalid(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub const MIN_PASSWORD_LEN: usize = 12;
const MAX_PASSWORD_LEN: usize = 1024;

/// User names: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "{name:?} is not a valid name: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

pub fn check_password(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "the password must have at most {MAX_PASSWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password("not a real password, only a timing decoy").unwrap_or_default()
    })
}

/// Records one change in the audit log.
pub fn audit(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    audit_at(store, Utc::now(), actor, action, target, detail)
}

pub fn audit_at(
    store: &dyn Store,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    store.append_audit(&AuditEvent {
        id: Uuid::now_v7(),
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterz", &phc));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(
            phc,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn roles_allow_what_the_issue_says() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, true, false, false, false]),
            (Role::Finance, [true, false, false, false, false]),
            (Role::Security, [true, true, true, false, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let got = [
                Read,
                NetworkDetails,
                ManageExceptions,
                ManageImports,
                Administer,
            ]
            .map(|p| role.allows(p));
            assert_eq!(got, expected, "{role:?}");
        }
        assert_eq!(Role::parse(" Finance"), Some(Role::Finance));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_name("alice.smith@trust").is_ok());
        for bad in ["", "a b", "x/y", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("long enough passphrase").is_ok());
    }
}

/// A user as lists show it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            name: u.name,
            role: u.role,
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// A token as lists show it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: t.created_at,
            created_by: t.created_by,
            revoked_at: t.revoked_at,
        }
    }
}

/// Adds a user; fails if the name is taken. Audited.
pub fn add_user(
    store: &dyn Store,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<UserView, AuthError> {
    check_name(name)?;
    check_password(password)?;
    if store.user(name)?.is_some() {
        return Err(AuthError::Invalid(format!("user {name:?} exists already")));
    }
    let now = Utc::now();
    let user = UserRecord {
        name: name.to_owned(),
        role,
        password_hash: hash_password(password)?,
        created_at: now,
        password_changed_at: now,
    };
    store.put_user(&user)?;
    audit(
        store,
        actor,
        "user.add",
        name,
        &format!("role {}", role.as_str()),
    )?;
    Ok(user.into())
}

/// Sets a user's password and ends their sessions. Audited.
pub fn set_password(
    store: &dyn Store,
    actor: &str,
    name: &str,
    password: &str,
) -> Result<(), AuthError> {
    check_password(password)?;
    let mut user = store
        .user(name)?
        .ok_or_else(|| AuthError::Invalid(format!("no user {name:?}")))?;
    user.password_hash = hash_password(password)?;
    user.password_changed_at = Utc::now();
    store.put_user(&user)?;
    store.delete_sessions_of(name)?;
    audit(
        store,
        actor,
        "user.passwd",
        name,
        "password changed; sessions ended",
    )?;
    Ok(())
}

/// Removes a user and their sessions. Audited. `Ok(false)` if there was none.
pub fn remove_user(store: &dyn Store, actor: &str, name: &str) -> Result<bool, AuthError> {
    let removed = store.delete_user(name)?;
    if removed {
        audit(store, actor, "user.remove", name, "")?;
    }
    Ok(removed)
}

/// Ends the sign-in slow-down of a user (`ward-collector user unlock NAME`): clears the name's
/// failures and those of its known browsers in `limiter` (the running server's; `None` when no
/// server runs, so nothing is held). Audited either way. Fails for an unknown user.
pub fn unlock_user(
    store: &dyn Store,
    limiter: Option<&LoginLimiter>,
    actor: &str,
    name: &str,
) -> Result<bool, AuthError> {
    if store.user(name)?.is_none() {
        return Err(AuthError::Invalid(format!("no user {name:?}")));
    }
    let cleared = limiter.is_some_and(|l| l.unlock(name));
    let detail = match (limiter.is_some(), cleared) {
        (true, true) => "sign-in delay cleared",
        (true, false) => "no sign-in delay was in force",
        (false, _) => "no server running; no sign-in delay is held",
    };
    audit(store, actor, "user.unlock", name, detail)?;
    Ok(cleared)
}

/// Creates an API token; returns it with its clear value, which is shown once and not kept.
pub fn create_token(
    store: &dyn Store,
    actor: &str,
    name: &str,
    role: Role,
) -> Result<(TokenView, String), AuthError> {
    check_name(name)?;
    let clear = format!("ward_{}", crate::secrets::new_secret());
    let record = TokenRecord {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        role,
        hash: crate::secrets::hash(&clear),
        created_at: Utc::now(),
        created_by: actor.to_owned(),
        revoked_at: None,
    };
    store.put_token(&record)?;
    audit(
        store,
        actor,
        "token.create",
        &format!("{name} ({})", record.id),
        &format!("role {}", role.as_str()),
    )?;
    Ok((record.into(), clear))
}

/// Revokes a token by id. Audited. `Ok(false)` if there is no such live token.
pub fn revoke_token(store: &dyn Store, actor: &str, id: Uuid) -> Result<bool, AuthError> {
    let Some(mut token) = store
        .tokens()?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
    else {
        return Ok(false);
    };
    token.revoked_at = Some(Utc::now());
    store.put_token(&token)?;
    audit(
        store,
        actor,
        "token.revoke",
        &format!("{} ({id})", token.name),
        "",
    )?;
    Ok(true)
}
