//! `ward-slowflood`: thousands of clients send request bodies a byte at a time while the
//! collector must go on answering `/healthz` and taking agent reports.
//!
//! It starts the real `ward-collector` on a loopback port with the edge limits given here, opens
//! `--connections` TLS connections spread over `--sources` loopback addresses (127.0.0.1,
//! 127.0.0.2, ...), and on each starts `POST /login` announcing a 16,000-byte body, then sends
//! one byte every `--byte-every` seconds. Meanwhile, from 127.0.0.250, it asks `/healthz` and
//! posts an agent report every second. At the end:
//! - every slow connection the collector admitted must have been cut off (408 or closed) by
//!   about `body_timeout_secs` plus a margin: one still open is a failure;
//! - connections over `max_connections_per_address` per source must have been refused;
//! - every `/healthz` and every report must have been answered 200 within 10 seconds.
//!
//! Traffic only goes to 127.0.0.0/8. Needs a file limit above `--connections` (`ulimit -n`).
//! Exit 0: the collector held; 1: it did not; 2: the run could not be done.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use ward_shared::api::{EnrollRequest, EnrollResponse};
use ward_tests::{Collector, free_port, gzip, init_collector};

/// Slow-body flood against the collector while health checks and reports must keep working.
#[derive(Debug, Parser)]
#[command(name = "ward-slowflood", version)]
struct Cli {
    /// Slow connections to open.
    #[arg(long, default_value_t = 2000)]
    connections: usize,
    /// Loopback source addresses to spread them over (127.0.0.1 ... 127.0.0.N, N <= 200).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=200))]
    sources: u8,
    /// Seconds between two bytes of a slow body.
    #[arg(long, default_value_t = 5.0)]
    byte_every: f64,
    /// How long the flood lasts, in seconds.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The collector's `max_connections_per_address`.
    #[arg(long, default_value_t = 64)]
    per_address: usize,
    /// The collector's `body_timeout_secs`.
    #[arg(long, default_value_t = 20)]
    body_timeout: u64,
    /// Seconds past `body_timeout` by which a slow body must have been cut off.
    #[arg(long, default_value_t = 15)]
    margin: u64,
    /// Also print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    /// Closed at accept or during the handshake: over the per-address cap.
    Refused,
    /// Answered (an error status) or closed by the collector after this long.
    CutOff(Duration, bool),
    /// Still open when the flood ended, after this long.
    Open(Duration),
}

fn tls_config(ca_pem: &[u8]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        let cert: CertificateDer<'static> = cert?;
        roots.add(cert)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One slow client: a request head, then a byte every `every` until the collector answers or
/// closes, or `until`.
async fn slow_client(
    source: IpAddr,
    server: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    every: Duration,
    until: Instant,
) -> Slow {
    let began = Instant::now();
    let Ok(socket) = TcpSocket::new_v4() else {
        return Slow::Refused;
    };
    if socket.bind(SocketAddr::new(source, 0)).is_err() {
        return Slow::Refused;
    }
    let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(10), socket.connect(server)).await
    else {
        return Slow::Refused;
    };
    let connector = tokio_rustls::TlsConnector::from(tls);
    let name = ServerName::IpAddress(server.ip().into());
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await
    else {
        return Slow::Refused;
    };
    let head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() || stream.flush().await.is_err() {
        return Slow::Refused;
    }
    let mut buf = [0u8; 512];
    loop {
        if stream.write_all(b"a").await.is_err() || stream.flush().await.is_err() {
            return Slow::CutOff(began.elapsed(), false);
        }
        let wait = tokio::time::sleep(every);
        tokio::select! {
            read = stream.read(&mut buf) => {
                let answered = matches!(read, Ok(n) if n > 0 && buf[..n].starts_with(b"HTTP/1.1 "));
                return Slow::CutOff(began.elapsed(), answered);
            }
            () = wait => {}
        }
        if Instant::now() >= until {
            return Slow::Open(began.elapsed());
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let temp = tempfile::Builder::new()
        .prefix("ward-slowflood-")
        .tempdir()?;
    let data = temp.path().join("data");
    let port = free_port();
    init_collector(
        &data,
        Some(&format!(
            "# written by ward-slowflood\nlisten = \"127.0.0.1:{port}\"\n\
             max_connections_per_address = {}\nbody_timeout_secs = {}\n",
            cli.per_address, cli.body_timeout
        )),
    )?;
    let collector = Collector::start(&data, port)?;
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let ca = std::fs::read(collector.ca())?;
    let tls = tls_config(&ca)?;

    // The well-behaved side: health checks and an agent's reports from their own address.
    let probe_source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 250));
    let probe = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .local_address(probe_source)
        .timeout(Duration::from_secs(10))
        .build()?;
    let base = collector.url.clone();
    let secret = std::fs::read_to_string(collector.secret_file())?
        .trim()
        .to_owned();
    let enrolled: EnrollResponse = probe
        .post(format!("{base}/api/v1/enroll"))
        .json(&EnrollRequest {
            secret,
            hostname: Some("flood-probe".into()),
            agent_version: Some("0.1.0".into()),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;

    println!(
        "ward-slowflood: {} slow connections from {} addresses, a byte every {} s, for {} s; \
         collector on {base} with max_connections_per_address = {}, body_timeout_secs = {}",
        cli.connections,
        cli.sources,
        cli.byte_every,
        cli.seconds,
        cli.per_address,
        cli.body_timeout
    );
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(cli.seconds);
    let every = Duration::from_secs_f64(cli.byte_every.max(0.01));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..cli.connections {
        let source = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % usize::from(cli.sources)) as u8,
        ));
        flood.spawn(slow_client(source, server, tls.clone(), every, until));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let health_ok = Arc::new(AtomicU64::new(0));
    let mut health_failed = Vec::new();
    let mut reports_ok = 0u64;
    let mut reports_failed = Vec::new();
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        let tick = Instant::now();
        match probe.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status() == 200 => {
                health_ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => health_failed.push(format!("{}", r.status())),
            Err(e) => health_failed.push(e.to_string()),
        }
        let report = ward_tests::report(
            &enrolled.agent_id.to_string(),
            "flood-probe",
            "Windows 11 Pro",
        );
        let answer = probe
            .post(format!("{base}/api/v1/reports"))
            .bearer_auth(&enrolled.agent_key)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(gzip(&serde_json::to_vec(&report)?))
            .send()
            .await;
        match answer {
            Ok(r) if r.status() == 200 => reports_ok += 1,
            Ok(r) => reports_failed.push(format!("{}", r.status())),
            Err(e) => reports_failed.push(e.to_string()),
        }
        slowest = slowest.max(tick.elapsed());
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
    }
    let mut outcomes = Vec::new();
    while let Some(o) = flood.join_next().await {
        outcomes.push(o.context("slow client task")?);
    }
    let refused = outcomes.iter().filter(|o| **o == Slow::Refused).count();
    let mut cut: Vec<Duration> = outcomes
        .iter()
        .filter_map(|o| match o {
            Slow::CutOff(d, _) => Some(*d),
            _ => None,
        })
        .collect();
    cut.sort();
    let answered_408 = outcomes
        .iter()
        .filter(|o| matches!(o, Slow::CutOff(_, true)))
        .count();
    let bound = Duration::from_secs(cli.body_timeout + cli.margin);
    let stuck = outcomes
        .iter()
        .filter(|o| matches!(o, Slow::Open(d) if *d > bound))
        .count();
    let open_at_end = outcomes
        .iter()
        .filter(|o| matches!(o, Slow::Open(_)))
        .count();
    let pct = |p: f64| {
        cut.get(((cut.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, Duration::as_secs_f64)
    };
    let admitted = outcomes.len() - refused;
    let over_cap = cli.connections > usize::from(cli.sources) * cli.per_address;
    let health_ok = health_ok.load(Ordering::Relaxed);
    println!(
        "slow connections {} opened: {refused} refused at accept (per-address cap), {admitted} admitted",
        outcomes.len()
    );
    println!(
        "cut off          {} ({answered_408} answered with an error status, the rest closed); after s: min {:.1} median {:.1} max {:.1}",
        cut.len(),
        pct(0.0),
        pct(0.5),
        pct(1.0)
    );
    println!(
        "still open       {open_at_end} at the end, {stuck} of them older than body_timeout + margin ({} s)",
        bound.as_secs()
    );
    println!(
        "/healthz         {health_ok} ok, {} failed",
        health_failed.len()
    );
    println!(
        "reports          {reports_ok} acknowledged, {} failed; slowest probe round {:.2} s",
        reports_failed.len(),
        slowest.as_secs_f64()
    );
    for f in health_failed.iter().chain(&reports_failed).take(5) {
        eprintln!("  probe failure: {f}");
    }
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "connections": outcomes.len(), "refused": refused, "cut_off": cut.len(),
                "answered": answered_408, "stuck": stuck, "healthz_ok": health_ok,
                "healthz_failed": health_failed.len(), "reports_ok": reports_ok,
                "reports_failed": reports_failed.len(),
            })
        );
    }
    let _ = collector.stop();
    let mut ok = true;
    if stuck > 0 {
        ok = false;
        eprintln!("FAILED: {stuck} slow bodies were never cut off");
    }
    if over_cap && refused == 0 {
        ok = false;
        eprintln!("FAILED: more connections than the per-address caps allow, none refused");
    }
    if !health_failed.is_empty() || !reports_failed.is_empty() || health_ok == 0 {
        ok = false;
        eprintln!("FAILED: health checks or reports did not get through");
    }
    println!(
        "{}",
        if ok {
            "SLOW FLOOD OK: slow bodies cut off, health and reports answered throughout"
        } else {
            "SLOW FLOOD FAILED"
        }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
