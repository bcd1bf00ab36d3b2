//! Who may use the collector: dashboard users, their sessions, API tokens, and the audit log.
//!
//! [`AuthStore`] is a supertrait of [`Store`](super::Store), so every store keeps these too and
//! handlers reach them through the same `Arc<dyn Store>`. Both implementations are here, beside
//! each other, and pass the contract tests at the bottom.
//!
//! Sled layout (trees of their own, added to the database the report trees live in; values are
//! JSON):
//!
//! | tree       | key                      | value             |
//! |------------|--------------------------|-------------------|
//! | `users`    | user name (UTF-8)        | [`UserRecord`]    |
//! | `sessions` | SHA-256 of the cookie (32) | [`SessionRecord`] |
//! | `tokens`   | SHA-256 of the token (32) | [`TokenRecord`]   |
//! | `audit`    | event id, UUIDv7 (16): time order | [`AuditEvent`] |
//!
//! Architecture invariant: no clear secret is stored. Passwords are argon2 PHC strings; session
//! cookies and API tokens are 256-bit random values kept as SHA-256 hashes.
//!
//! Writes are rare (a login, an admin action): each is applied to its tree and then made durable
//! by [`Store::flush`](super::Store::flush) before the call returns, like the exceptions register.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::memory::MemoryStore;
use super::sled_store::SledStore;
use super::{KeyHash, Store, StoreError};
use crate::auth::Role;

/// A person who signs in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    /// argon2id, PHC string format (algorithm, parameters and salt included).
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

/// A signed-in browser. The cookie holds the clear value; the store keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id_hash: KeyHash,
    pub user: String,
    /// The per-session CSRF token every form of this session carries.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A token for scripts, with a role like a user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub hash: KeyHash,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One change worth answering for: who did what to what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// UUIDv7: sorts by time.
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user:alice`, `token:backup-script`, `admin-token`, `cli`.
    pub actor: String,
    /// `user.add`, `token.revoke`, `exception.add`, `import`...
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub trait AuthStore {
    /// Creates or replaces a user; durable on return.
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Removes a user and their sessions; `Ok(false)` if there was no such user.
    fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    fn session(&self, id_hash: &KeyHash) -> Result<Option<SessionRecord>, StoreError>;
    fn delete_session(&self, id_hash: &KeyHash) -> Result<bool, StoreError>;
    /// Ends every session of `user` (after a password change or removal); returns how many.
    fn delete_sessions_of(&self, user: &str) -> Result<usize, StoreError>;
    /// Drops sessions that expired before `now`; returns how many.
    fn sweep_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    fn token_by_hash(&self, hash: &KeyHash) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token (revoked ones too), oldest first.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Appends to the audit log; durable on return.
    fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The newest `limit` events, newest first.
    fn audit(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Memory

#[derive(Debug, Default)]
pub struct MemoryAuth {
    inner: Mutex<MemoryAuthInner>,
}

#[derive(Debug, Default)]
struct MemoryAuthInner {
    users: BTreeMap<String, UserRecord>,
    sessions: BTreeMap<KeyHash, SessionRecord>,
    tokens: BTreeMap<KeyHash, TokenRecord>,
    audit: BTreeMap<Uuid, AuditEvent>,
}

impl MemoryAuth {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryAuthInner> {
        // Every mutation completes before it could panic: a poisoned lock guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuthStore for MemoryStore {
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.auth
            .lock()
            .users
            .insert(user.name.clone(), user.clone());
        Ok(())
    }

    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.auth.lock().users.get(name).cloned())
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.auth.lock().users.values().cloned().collect())
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut inner = self.auth.lock();
        inner.sessions.retain(|_, s| s.user != name);
        Ok(inner.users.remove(name).is_some())
    }

    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.auth
            .lock()
            .sessions
            .insert(session.id_hash, session.clone());
        Ok(())
    }

    fn session(&self, id_hash: &KeyHash) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.auth.lock().sessions.get(id_hash).cloned())
    }

    fn delete_session(&self, id_hash: &KeyHash) -> Result<bool, StoreError> {
        Ok(self.auth.lock().sessions.remove(id_hash).is_some())
    }

    fn delete_sessions_of(&self, user: &str) -> Result<usize, StoreError> {
        let mut inner = self.auth.lock();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.user != user);
        Ok(before - inner.sessions.len())
    }

    fn sweep_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut inner = self.auth.lock();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.expires_at > now);
        Ok(before - inner.sessions.len())
    }

    fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.auth.lock().tokens.insert(token.hash, token.clone());
        Ok(())
    }

    fn token_by_hash(&self, hash: &KeyHash) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.auth.lock().tokens.get(hash).cloned())
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut all: Vec<_> = self.auth.lock().tokens.values().cloned().collect();
        all.sort_by_key(|t| (t.created_at, t.id));
        Ok(all)
    }

    fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.auth.lock().audit.insert(event.id, event.clone());
        Ok(())
    }

    fn audit(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self
            .auth
            .lock()
            .audit
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Sled

const USERS: &str = "users";
const SESSIONS: &str = "sessions";
const TOKENS: &str = "tokens";
const AUDIT: &str = "audit";

impl SledStore {
    fn auth_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db().open_tree(name)?)
    }

    fn auth_put(&self, tree: &str, key: &[u8], value: &impl Serialize) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).map_err(|source| StoreError::Corrupt {
            key: format!("{tree} (being written)"),
            source,
        })?;
        self.auth_tree(tree)?.insert(key, json)?;
        self.flush()
    }

    fn auth_get<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        self.auth_tree(tree)?
            .get(key)?
            .map(|raw| decode(tree, &raw))
            .transpose()
    }

    fn auth_all<T: DeserializeOwned>(&self, tree: &str) -> Result<Vec<T>, StoreError> {
        self.auth_tree(tree)?
            .iter()
            .map(|kv| {
                let (_, raw) = kv?;
                decode(tree, &raw)
            })
            .collect()
    }

    fn auth_remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        let removed = self.auth_tree(tree)?.remove(key)?.is_some();
        if removed {
            self.flush()?;
        }
        Ok(removed)
    }

    /// Removes the sessions `drop` selects; flushes once.
    fn remove_sessions(&self, drop: impl Fn(&SessionRecord) -> bool) -> Result<usize, StoreError> {
        let tree = self.auth_tree(SESSIONS)?;
        let mut removed = 0;
        for kv in tree.iter() {
            let (key, raw) = kv?;
            let session: SessionRecord = decode(SESSIONS, &raw)?;
            if drop(&session) {
                tree.remove(key)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.flush()?;
        }
        Ok(removed)
    }
}

fn decode<T: DeserializeOwned>(tree: &str, raw: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|source| StoreError::Corrupt {
        key: format!("{tree} entry"),
        source,
    })
}

impl AuthStore for SledStore {
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.auth_put(USERS, user.name.as_bytes(), user)
    }

    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.auth_get(USERS, name.as_bytes())
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.auth_all(USERS)
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.remove_sessions(|s| s.user == name)?;
        self.auth_remove(USERS, name.as_bytes())
    }

    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.auth_put(SESSIONS, &session.id_hash, session)
    }

    fn session(&self, id_hash: &KeyHash) -> Result<Option<SessionRecord>, StoreError> {
        self.auth_get(SESSIONS, id_hash)
    }

    fn delete_session(&self, id_hash: &KeyHash) -> Result<bool, StoreError> {
        self.auth_remove(SESSIONS, id_hash)
    }

    fn delete_sessions_of(&self, user: &str) -> Result<usize, StoreError> {
        self.remove_sessions(|s| s.user == user)
    }

    fn sweep_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.remove_sessions(|s| s.expires_at <= now)
    }

    fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.auth_put(TOKENS, &token.hash, token)
    }

    fn token_by_hash(&self, hash: &KeyHash) -> Result<Option<TokenRecord>, StoreError> {
        self.auth_get(TOKENS, hash)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut all: Vec<TokenRecord> = self.auth_all(TOKENS)?;
        all.sort_by_key(|t| (t.created_at, t.id));
        Ok(all)
    }

    fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.auth_put(AUDIT, event.id.as_bytes(), event)
    }

    fn audit(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        self.auth_tree(AUDIT)?
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (_, raw) = kv?;
                decode(AUDIT, &raw)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::Retention;
    use crate::store::contract::{Factory, memory, sled, t0};

    fn user(name: &str, role: Role) -> UserRecord {
        UserRecord {
            name: name.into(),
            role,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: t0(),
            password_changed_at: t0(),
        }
    }

    fn session(n: u8, user: &str, expires_at: DateTime<Utc>) -> SessionRecord {
        SessionRecord {
            id_hash: [n; 32],
            user: user.into(),
            csrf: format!("csrf-{n}"),
            created_at: t0(),
            expires_at,
        }
    }

    fn users_sessions_tokens_audit(factory: &Factory) {
        let store = factory(Retention::default());
        assert_eq!(store.user("alice").unwrap(), None);
        store.put_user(&user("bob", Role::Finance)).unwrap();
        store.put_user(&user("alice", Role::Admin)).unwrap();
        let names: Vec<_> = store.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        // Replacing changes the role.
        store.put_user(&user("bob", Role::Viewer)).unwrap();
        assert_eq!(store.user("bob").unwrap().unwrap().role, Role::Viewer);

        let later = t0() + Duration::hours(8);
        store.put_session(&session(1, "bob", later)).unwrap();
        store.put_session(&session(2, "bob", later)).unwrap();
        store.put_session(&session(3, "alice", t0())).unwrap();
        assert_eq!(store.session(&[1; 32]).unwrap().unwrap().user, "bob");
        assert_eq!(
            store.sweep_sessions(t0() + Duration::seconds(1)).unwrap(),
            1
        );
        assert_eq!(store.session(&[3; 32]).unwrap(), None);
        assert!(store.delete_session(&[1; 32]).unwrap());
        assert!(!store.delete_session(&[1; 32]).unwrap());
        store.put_session(&session(4, "bob", later)).unwrap();
        assert!(store.delete_user("bob").unwrap());
        assert!(!store.delete_user("bob").unwrap());
        assert_eq!(
            store.session(&[2; 32]).unwrap(),
            None,
            "removal ends sessions"
        );
        assert_eq!(store.session(&[4; 32]).unwrap(), None);

        let token = TokenRecord {
            id: Uuid::now_v7(),
            name: "backup".into(),
            role: Role::Viewer,
            hash: [9; 32],
            created_at: t0(),
            created_by: "user:alice".into(),
            revoked_at: None,
        };
        store.put_token(&token).unwrap();
        assert_eq!(store.token_by_hash(&[9; 32]).unwrap(), Some(token.clone()));
        assert_eq!(store.token_by_hash(&[8; 32]).unwrap(), None);
        let revoked = TokenRecord {
            revoked_at: Some(t0()),
            ..token
        };
        store.put_token(&revoked).unwrap();
        assert_eq!(store.tokens().unwrap(), vec![revoked]);

        for i in 0..5 {
            store
                .append_audit(&AuditEvent {
                    id: Uuid::now_v7(),
                    at: t0(),
                    actor: "cli".into(),
                    action: "user.add".into(),
                    target: format!("u{i}"),
                    detail: String::new(),
                })
                .unwrap();
        }
        let newest: Vec<_> = store
            .audit(3)
            .unwrap()
            .into_iter()
            .map(|e| e.target)
            .collect();
        assert_eq!(newest, ["u4", "u3", "u2"]);
    }

    #[test]
    fn memory_users_sessions_tokens_audit() {
        users_sessions_tokens_audit(&memory);
    }

    #[test]
    fn sled_users_sessions_tokens_audit() {
        users_sessions_tokens_audit(&sled);
    }

    #[test]
    fn sled_auth_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Retention::default()).unwrap();
            store.put_user(&user("carol", Role::Security)).unwrap();
        }
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        assert_eq!(store.user("carol").unwrap().unwrap().role, Role::Security);
    }
}
