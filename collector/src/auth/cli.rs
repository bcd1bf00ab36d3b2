//! `ward-collector user ...` and `ward-collector token ...`. Like the other operator commands,
//! they open the store when it is free and go through the running server's API (with the admin
//! token) when a server holds it. Local changes are audited with the actor `cli`.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Role, TokenView, UserView};
use crate::cli::Backend;

const ACTOR: &str = "cli";

/// Reads the password: one line from stdin with `--password-stdin`, else prompted twice on the
/// terminal without echo.
pub fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")
        .context("cannot prompt for a password (no terminal?); use --password-stdin")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

async fn remote(
    backend: &Backend,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let Backend::Remote {
        client,
        base,
        token,
    } = backend
    else {
        bail!("not remote");
    };
    let mut request = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the server answered {status}: {}",
            value["detail"].as_str().unwrap_or("no detail")
        );
    }
    Ok(value)
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub async fn user_add(
    data: &Path,
    name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some(store) = backend.store() {
        blocking(|| super::add_user(store, ACTOR, name, role, password))?;
    } else {
        remote(
            &backend,
            reqwest::Method::POST,
            "/api/v1/users",
            Some(json!({ "name": name, "role": role, "password": password })),
        )
        .await?;
    }
    Ok(format!("user {name} added with role {}\n", role.as_str()))
}

pub async fn user_passwd(data: &Path, name: &str, password: &str) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some(store) = backend.store() {
        blocking(|| super::set_password(store, ACTOR, name, password))?;
    } else {
        remote(
            &backend,
            reqwest::Method::PUT,
            &format!("/api/v1/users/{name}/password"),
            Some(json!({ "password": password })),
        )
        .await?;
    }
    Ok(format!(
        "password of {name} changed; their sessions ended\n"
    ))
}

/// Ends a user's sign-in slow-down: through the running server, which holds it; without one
/// there is nothing held, which is said (and audited) too.
pub async fn user_unlock(data: &Path, name: &str) -> anyhow::Result<String> {
    super::check_name(name)?;
    let backend = Backend::open(data)?;
    if let Some(store) = backend.store() {
        blocking(|| super::unlock_user(store, None, ACTOR, name))?;
        return Ok(format!(
            "{name}: no server is running, so no sign-in delay is held (delays live in the \
             running server only)\n"
        ));
    }
    let v = remote(
        &backend,
        reqwest::Method::POST,
        &format!("/api/v1/users/{name}/unlock"),
        None,
    )
    .await?;
    Ok(if v["delay_cleared"].as_bool().unwrap_or(false) {
        format!("{name}: sign-in delay cleared\n")
    } else {
        format!("{name}: no sign-in delay was in force\n")
    })
}

pub async fn user_remove(data: &Path, name: &str) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some(store) = backend.store() {
        if !blocking(|| super::remove_user(store, ACTOR, name))? {
            bail!("no user {name:?}");
        }
    } else {
        remote(
            &backend,
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{name}"),
            None,
        )
        .await?;
    }
    Ok(format!("user {name} removed\n"))
}

pub async fn user_list(data: &Path) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let users: Vec<UserView> = if let Some(store) = backend.store() {
        store.users()?.into_iter().map(Into::into).collect()
    } else {
        serde_json::from_value(
            remote(&backend, reqwest::Method::GET, "/api/v1/users", None).await?,
        )?
    };
    let mut out = String::new();
    for u in &users {
        let _ = writeln!(
            out,
            "{:<24} {:<9} password set {}",
            u.name,
            u.role.as_str(),
            u.password_changed_at.format("%Y-%m-%d")
        );
    }
    if users.is_empty() {
        out.push_str("(no users)\n");
    }
    Ok(out)
}

pub async fn token_create(data: &Path, name: &str, role: Role) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let (info, token) = if let Some(store) = backend.store() {
        blocking(|| super::create_token(store, ACTOR, name, role))?
    } else {
        let v = remote(
            &backend,
            reqwest::Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": name, "role": role })),
        )
        .await?;
        let token = v["token"].as_str().unwrap_or_default().to_owned();
        (serde_json::from_value::<TokenView>(v)?, token)
    };
    Ok(format!(
        "{token}\n(token {} for {name}, role {}; shown once, keep it safe)\n",
        info.id,
        info.role.as_str()
    ))
}

pub async fn token_list(data: &Path) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let tokens: Vec<TokenView> = if let Some(store) = backend.store() {
        store.tokens()?.into_iter().map(Into::into).collect()
    } else {
        serde_json::from_value(
            remote(&backend, reqwest::Method::GET, "/api/v1/tokens", None).await?,
        )?
    };
    let mut out = String::new();
    for t in &tokens {
        let state = t.revoked_at.map_or("live".to_owned(), |at| {
            format!("revoked {}", at.format("%Y-%m-%d"))
        });
        let _ = writeln!(
            out,
            "{}  {:<20} {:<9} {state}",
            t.id,
            t.name,
            t.role.as_str()
        );
    }
    if tokens.is_empty() {
        out.push_str("(no tokens)\n");
    }
    Ok(out)
}

pub async fn token_revoke(data: &Path, id: Uuid) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some(store) = backend.store() {
        if !blocking(|| super::revoke_token(store, ACTOR, id))? {
            bail!("no live token {id}");
        }
    } else {
        remote(
            &backend,
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await?;
    }
    Ok(format!("token {id} revoked\n"))
}
