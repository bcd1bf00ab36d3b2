//! Certificate rotation without a restart: `ward-collector cert renew`, then SIGHUP; a broken
//! certificate is refused and the old one keeps serving.

#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use ward_tests::{Collector, bin, enroll, init_collector, stderr};

/// The leaf certificate the collector presents, through a client that trusts only the CA.
fn presented_cert(port: u16, ca: &Path) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    conn.peer_certificates().unwrap()[0].to_vec()
}

fn leaf_in_file(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

fn wait_for_log(c: &Collector, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&c.log).unwrap_or_default();
        if log.matches(needle).count() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renewed_certificate_is_served_after_sighup_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    let c = Collector::start(&data, 0).unwrap();
    let ca = data.join("tls/ca.pem");
    let cert_file = data.join("tls/server.pem");
    let key_file = data.join("tls/server-key.pem");
    let state = dir.path().join("agent");
    assert!(enroll(&c, &state).status.success());
    let s = state.to_string_lossy().into_owned();
    let out = ward_tests::agent(&["run", "--once", "--state", &s]);
    assert!(out.status.success(), "{}", stderr(&out));
    let original = leaf_in_file(&cert_file);
    assert_eq!(presented_cert(c.port, &ca), original);

    // A broken certificate, then a broken key: each refused; the old one keeps serving.
    let good_cert = std::fs::read(&cert_file).unwrap();
    let good_key = std::fs::read(&key_file).unwrap();
    std::fs::write(&cert_file, b"-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    c.signal("HUP").unwrap();
    wait_for_log(&c, "new server certificate refused", 1);
    assert_eq!(presented_cert(c.port, &ca), original);
    std::fs::write(&cert_file, &good_cert).unwrap();
    std::fs::write(&key_file, b"garbage").unwrap();
    c.signal("HUP").unwrap();
    wait_for_log(&c, "new server certificate refused", 2);
    assert_eq!(presented_cert(c.port, &ca), original);
    std::fs::write(&key_file, &good_key).unwrap();

    // Renew from the same CA, then SIGHUP: the new certificate is presented, no restart.
    let out = Command::new(bin("ward-collector"))
        .args(["cert", "renew", "--days", "30", "--data"])
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SIGHUP"));
    let renewed = leaf_in_file(&cert_file);
    assert_ne!(renewed, original);
    assert!(!data.join("tls/server.pem.new").exists());
    // Still the old one until the signal.
    assert_eq!(presented_cert(c.port, &ca), original);
    c.signal("HUP").unwrap();
    wait_for_log(&c, "server certificate reloaded", 1);
    assert_eq!(presented_cert(c.port, &ca), renewed);

    // The agent enrolled before keeps reporting, with its old identity.
    let out = ward_tests::agent(&["run", "--once", "--state", &s]);
    assert!(out.status.success(), "after renewal: {}", stderr(&out));
    assert_eq!(c.stored_reports().await.unwrap(), 2);
    assert_eq!(c.stop().unwrap().code(), Some(0));
}
