//! Operations, end to end with the real binaries: backup under load and restore, SIGTERM,
//! certificate rotation, `config check`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ward_shared::Report;
use ward_tests::{
    Collector, agent_identity, bin, collector_cli, enroll, free_port, gzip, init_collector, stderr,
};

fn report(agent_id: &str) -> Report {
    ward_tests::report(agent_id, "ops-host", "Debian GNU/Linux 12")
}

/// A collector whose config names its port, so the CLI finds the running server.
fn started_on_known_port(data: &Path) -> Collector {
    init_collector(data, None).unwrap();
    let port = free_port();
    std::fs::write(
        data.join("ward-collector.toml"),
        format!("listen = \"127.0.0.1:{port}\"\nenroll_per_minute = 1000\n"),
    )
    .unwrap();
    Collector::start(data, port).unwrap()
}

/// Agents report without pause while `ward-collector backup` runs against the live server.
/// Restored into an empty directory, the copy holds every report acknowledged before the
/// backup started, and nothing that was never acknowledged.
#[tokio::test(flavor = "multi_thread")]
async fn backup_under_load_restores_every_acknowledged_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = started_on_known_port(&data);
    let mut agents = Vec::new();
    for i in 0..6 {
        let state = dir.path().join(format!("agent-{i}"));
        assert!(enroll(&c, &state).status.success());
        agents.push(agent_identity(&state));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let client = c.client();
    let url = format!("{}/api/v1/reports", c.url);
    let mut tasks = tokio::task::JoinSet::new();
    for (agent_id, key) in agents.clone() {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        tasks.spawn(async move {
            let mut acked = Vec::new();
            let mut sent = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = report(&agent_id);
                sent.push(r.report_id.to_string());
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("Content-Type", "application/json")
                    .header("Content-Encoding", "gzip")
                    .body(gzip(&serde_json::to_vec(&r).unwrap()))
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status().is_success()) {
                    acked.push((r.report_id.to_string(), Instant::now()));
                }
            }
            (agent_id, acked, sent)
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup_file = dir.path().join("ward.backup");
    let started = Instant::now();
    let (d, f) = (
        data.to_string_lossy().into_owned(),
        backup_file.to_string_lossy().into_owned(),
    );
    let out =
        tokio::task::spawn_blocking(move || collector_cli(&["backup", "--data", &d, "--out", &f]))
            .await
            .unwrap();
    assert!(out.status.success(), "backup failed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("running server"),
        "the backup should go through the running server: {}",
        stderr(&out)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    while let Some(result) = tasks.join_next().await {
        results.push(result.unwrap());
    }
    assert_eq!(c.stop().unwrap().code(), Some(0));

    // A second backup to the same name is refused; the first is untouched.
    let before = std::fs::read(&backup_file).unwrap();
    let again = collector_cli(&[
        "backup",
        "--data",
        &data.to_string_lossy(),
        "--out",
        &backup_file.to_string_lossy(),
    ]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read(&backup_file).unwrap(), before);

    // Restore into a non-empty directory: refused, nothing changed.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep"), b"mine").unwrap();
    let refused = collector_cli(&[
        "restore",
        "--from",
        &backup_file.to_string_lossy(),
        "--data",
        &busy.to_string_lossy(),
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not empty"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // Restore into a new directory and serve it.
    let restored = dir.path().join("restored");
    let out = collector_cli(&[
        "restore",
        "--from",
        &backup_file.to_string_lossy(),
        "--data",
        &restored.to_string_lossy(),
    ]);
    assert!(out.status.success(), "restore failed: {}", stderr(&out));
    let c = Collector::start(&restored, 0).unwrap();
    let mut before_backup = 0;
    for (agent_id, acked, sent) in &results {
        let stored = c.history_ids(agent_id).await.unwrap();
        for (id, at) in acked {
            if *at < started {
                before_backup += 1;
                assert!(
                    stored.contains(id),
                    "report {id} acknowledged before the backup is missing"
                );
            }
        }
        for id in &stored {
            assert!(sent.contains(id), "restored report {id} was never sent");
        }
    }
    assert!(
        before_backup > 0,
        "no report was acknowledged before the backup"
    );
    assert_eq!(c.stop().unwrap().code(), Some(0));
}

/// A damaged backup file is refused before anything is written.
#[test]
fn damaged_backup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    let file = dir.path().join("b");
    let out = collector_cli(&[
        "backup",
        "--data",
        &data.to_string_lossy(),
        "--out",
        &file.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("running server"));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 20);
    let cut = dir.path().join("cut");
    std::fs::write(&cut, bytes).unwrap();
    let target = dir.path().join("target");
    let out = collector_cli(&[
        "restore",
        "--from",
        &cut.to_string_lossy(),
        "--data",
        &target.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    assert!(!target.exists(), "a refused restore must write nothing");
}

/// A new server certificate from the same CA, picked up on restart: the agent enrolled
/// before the rotation keeps reporting (it trusts the CA, not the certificate).
#[tokio::test(flavor = "multi_thread")]
async fn certificate_rotation_keeps_agents_reporting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    let c = Collector::start(&data, 0).unwrap();
    let port = c.port;
    let state = dir.path().join("agent");
    assert!(enroll(&c, &state).status.success());
    let s = state.to_string_lossy().into_owned();
    let out = ward_tests::agent(&["run", "--once", "--state", &s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(c.stop().unwrap().code(), Some(0));

    // Rotate: the old pair aside, `init` issues a new one from the existing CA.
    let old_cert = std::fs::read(data.join("tls/server.pem")).unwrap();
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    for name in ["server.pem", "server-key.pem"] {
        std::fs::rename(
            data.join("tls").join(name),
            data.join("tls").join(format!("{name}.old")),
        )
        .unwrap();
    }
    let out = collector_cli(&["init", "--data", &data.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(
        std::fs::read(data.join("tls/server.pem")).unwrap(),
        old_cert
    );
    assert_eq!(std::fs::read(data.join("tls/ca.pem")).unwrap(), ca);

    let c = Collector::start(&data, port).unwrap();
    let out = ward_tests::agent(&["run", "--once", "--state", &s]);
    assert!(out.status.success(), "after rotation: {}", stderr(&out));
    assert_eq!(c.stored_reports().await.unwrap(), 2);
    assert_eq!(c.stop().unwrap().code(), Some(0));
}

/// SIGTERM to a running agent: it finishes (the report is delivered or stays spooled) and
/// exits 0; nothing is lost.
#[tokio::test(flavor = "multi_thread")]
async fn agent_sigterm_exits_cleanly_and_keeps_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    let c = Collector::start(&data, 0).unwrap();
    let state = dir.path().join("agent");
    assert!(enroll(&c, &state).status.success());
    let s = state.to_string_lossy().into_owned();
    let mut child = Command::new(bin("ward-agent"))
        .args(["run", "--state", &s, "--set", "interval_secs=3600"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.stored_reports().await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the agent did not report");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "agent exit after SIGTERM");
    assert!(ward_tests::spooled_ids(&state).is_empty());

    // With the collector gone, the report collected before SIGTERM stays in the spool.
    assert_eq!(c.stop().unwrap().code(), Some(0));
    let mut child = Command::new(bin("ward-agent"))
        .args(["run", "--state", &s, "--set", "interval_secs=3600"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ward_tests::spooled_ids(&state).is_empty() {
        assert!(Instant::now() < deadline, "nothing spooled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(ward_tests::spooled_ids(&state).len(), 1);
}
