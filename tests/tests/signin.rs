//! Sign-in slow-down and `ward-collector user unlock`, end to end with the real binaries.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use ward_tests::{Collector, bin, collector_cli, free_port, init_collector, stderr, stdout};

const PASSWORD: &str = "a long enough password";

fn add_user(data: &str, name: &str) {
    let mut child = Command::new(bin("ward-collector"))
        .args(["user", "add", "--data", data, name, "--role", "admin"])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// One sign-in attempt through the real form (its CSRF cookie and token); the status.
async fn sign_in(c: &Collector, client: &reqwest::Client, user: &str, password: &str) -> u16 {
    let form = client.get(format!("{}/login", c.url)).send().await.unwrap();
    let pair = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    client
        .post(format!("{}/login", c.url))
        .header("Cookie", pair)
        .form(&[
            ("csrf", token.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn unlock_ends_a_running_servers_slow_down_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    let port = free_port();
    std::fs::write(
        data.join("ward-collector.toml"),
        format!("listen = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let data_arg = data.to_string_lossy().into_owned();
    add_user(&data_arg, "alice");

    // Without a server nothing is held: said plainly, audited, and an unknown name fails.
    let out = collector_cli(&["user", "unlock", "--data", &data_arg, "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no server is running"),
        "{}",
        stdout(&out)
    );
    let out = collector_cli(&["user", "unlock", "--data", &data_arg, "nobody"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nobody"), "{}", stderr(&out));

    let c = Collector::start(&data, port).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(c.ca()).unwrap()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let status = sign_in(&c, &client, "alice", "not her password").await;
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(sign_in(&c, &client, "alice", PASSWORD).await, 429);

    let out = collector_cli(&["user", "unlock", "--data", &data_arg, "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sign-in delay cleared"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sign_in(&c, &client, "alice", PASSWORD).await, 303);

    let (status, audit) = c.admin_get("/api/v1/audit").await.unwrap();
    assert_eq!(status, 200);
    let unlocks: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "user.unlock" && e["target"] == "alice")
        .collect();
    assert_eq!(unlocks.len(), 2, "{audit}");
    assert!(
        unlocks
            .iter()
            .any(|e| e["detail"] == "sign-in delay cleared"),
        "{audit}"
    );
    c.stop().unwrap();
}
