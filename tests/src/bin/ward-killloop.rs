//! `ward-killloop`: the collector is killed with SIGKILL again and again while simulated agents
//! post reports, and every acknowledged report must be in the store afterwards, exactly once.
//!
//! It starts the real `ward-collector` (from the same target directory) on a fixed loopback port
//! in a fresh data directory, enrolls `--agents` agents over HTTPS and runs `--concurrency`
//! request loops. Like a real agent's spool, a loop resends a report until it is acknowledged
//! (200 `stored` or `duplicate`), so every report made is eventually acknowledged once. Between
//! `--min-up-ms` and `--max-up-ms` after each start the collector gets SIGKILL and is started
//! again on the same port, `--kills` times (or until `--max-seconds`). Then the loops finish
//! their last reports, the collector is killed once more and restarted, and the check asks the
//! API for each agent's history: every acknowledged report id must be there and the stored count
//! must equal the acknowledged count (nothing lost, nothing twice).
//!
//! Traffic only goes to 127.0.0.1. Exit 0: nothing lost; 1: a report was lost, stored twice or
//! refused; 2: the run could not be done.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rand::Rng;
use uuid::Uuid;
use ward_shared::api::{AckStatus, EnrollRequest, EnrollResponse, ReportAck};
use ward_tests::{Collector, free_port, gzip, init_collector};

/// SIGKILL the collector under load, then check every acknowledged report is stored once.
#[derive(Debug, Parser)]
#[command(name = "ward-killloop", version)]
struct Cli {
    /// SIGKILLs during the load.
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// Stop killing after this many seconds even if fewer kills were done.
    #[arg(long, default_value_t = 300.0)]
    max_seconds: f64,
    /// Simulated agents (devices).
    #[arg(long, default_value_t = 32)]
    agents: usize,
    /// Reports in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Reports per agent at most (the history check reads up to 1000 per device).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    per_agent: u64,
    /// Shortest time the collector runs before a kill, in milliseconds.
    #[arg(long, default_value_t = 300)]
    min_up_ms: u64,
    /// Longest time the collector runs before a kill, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    max_up_ms: u64,
    /// Keep the data directory here (must not exist); default: a temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
struct SimAgent {
    id: Uuid,
    key: String,
    /// Acknowledged report ids.
    acked: Vec<Uuid>,
    /// A report sent but not acknowledged yet: resent until it is.
    pending: Option<(Uuid, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    /// Answers that are neither an acknowledgement nor a reason to retry (4xx): a bug.
    refused: AtomicU64,
}

fn make_report(agent: Uuid) -> (Uuid, Vec<u8>) {
    let report = ward_tests::report(
        &agent.to_string(),
        &format!("kill-{}", &agent.simple().to_string()[..8]),
        "Windows 10 Enterprise",
    );
    let body = gzip(&serde_json::to_vec(&report).unwrap_or_default());
    (report.report_id, body)
}

/// One request loop over its share of the agents.
async fn request_loop(
    client: reqwest::Client,
    url: String,
    mut agents: Vec<SimAgent>,
    per_agent: u64,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> Vec<SimAgent> {
    let flush_deadline = Duration::from_secs(60);
    let mut stopping_since: Option<Instant> = None;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && stopping_since.is_none() {
            stopping_since = Some(Instant::now());
        }
        if stopping_since.is_some_and(|t| t.elapsed() > flush_deadline) {
            return agents;
        }
        let mut worked = false;
        for agent in &mut agents {
            if agent.pending.is_none() {
                if stopping || agent.acked.len() as u64 >= per_agent {
                    continue;
                }
                agent.pending = Some(make_report(agent.id));
            }
            worked = true;
            let Some((report_id, body)) = agent.pending.clone() else {
                continue;
            };
            counters.requests.fetch_add(1, Ordering::Relaxed);
            let answer = client
                .post(&url)
                .bearer_auth(&agent.key)
                .header("Content-Type", "application/json")
                .header("Content-Encoding", "gzip")
                .body(body)
                .send()
                .await;
            let response = match answer {
                Ok(r) => r,
                Err(_) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                match response.json::<ReportAck>().await {
                    Ok(ack) if ack.report_id == report_id => {
                        match ack.status {
                            AckStatus::Stored => counters.stored.fetch_add(1, Ordering::Relaxed),
                            AckStatus::Duplicate => {
                                counters.duplicates.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                        agent.acked.push(report_id);
                        agent.pending = None;
                    }
                    // The body was cut by the kill: not an acknowledgement, send it again.
                    _ => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            } else if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            } else {
                let text = response.text().await.unwrap_or_default();
                eprintln!("REFUSED {report_id}: {status} {text}");
                counters.refused.fetch_add(1, Ordering::Relaxed);
                agent.pending = None;
            }
        }
        if !worked {
            if stopping {
                return agents;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn enroll(client: &reqwest::Client, base: &str, secret: &str) -> anyhow::Result<SimAgent> {
    let response = client
        .post(format!("{base}/api/v1/enroll"))
        .json(&EnrollRequest {
            secret: secret.to_owned(),
            hostname: Some("kill-loop".into()),
            agent_version: Some("0.1.0".into()),
        })
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("enroll: {}", response.status());
    }
    let e: EnrollResponse = response.json().await?;
    Ok(SimAgent {
        id: e.agent_id,
        key: e.agent_key,
        acked: Vec::new(),
        pending: None,
    })
}

/// Starts the collector on `port`, retrying while the old socket lingers.
fn start(data: &std::path::Path, port: u16) -> anyhow::Result<Collector> {
    let mut last = None;
    for _ in 0..20 {
        match Collector::start(data, port) {
            Ok(c) => return Ok(c),
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("collector did not start")))
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    if cli.min_up_ms > cli.max_up_ms {
        bail!("--min-up-ms must not exceed --max-up-ms");
    }
    let temp = tempfile::Builder::new()
        .prefix("ward-killloop-")
        .tempdir()?;
    let data = match &cli.data {
        Some(d) => {
            if d.exists() {
                bail!("--data {} exists; give a new directory", d.display());
            }
            d.clone()
        }
        None => temp.path().join("data"),
    };
    let port = free_port();
    init_collector(
        &data,
        Some(&format!(
            "# written by ward-killloop\nlisten = \"127.0.0.1:{port}\"\nenroll_per_minute = 1000000\n\
             history_max_reports = 1000000\nhistory_max_days = 0\n"
        )),
    )?;
    let mut collector = start(&data, port)?;
    let base = collector.url.clone();
    let client = {
        let ca = std::fs::read(collector.ca())?;
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(cli.concurrency)
            .build()?
    };
    let secret = std::fs::read_to_string(collector.secret_file())?
        .trim()
        .to_owned();
    let mut agents = Vec::new();
    for _ in 0..cli.agents {
        agents.push(enroll(&client, &base, &secret).await?);
    }
    println!(
        "ward-killloop: collector on {base}, {} agents, {} request loops, {} kills planned",
        cli.agents, cli.concurrency, cli.kills
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let mut shares: Vec<Vec<SimAgent>> = (0..cli.concurrency.max(1)).map(|_| Vec::new()).collect();
    for (i, a) in agents.into_iter().enumerate() {
        shares[i % cli.concurrency.max(1)].push(a);
    }
    let url = format!("{base}/api/v1/reports");
    let mut loops = tokio::task::JoinSet::new();
    for share in shares {
        loops.spawn(request_loop(
            client.clone(),
            url.clone(),
            share,
            cli.per_agent,
            stop.clone(),
            counters.clone(),
        ));
    }

    let started = Instant::now();
    let mut kills = 0u32;
    while kills < cli.kills && started.elapsed().as_secs_f64() < cli.max_seconds {
        let up = rand::thread_rng().gen_range(cli.min_up_ms..=cli.max_up_ms);
        tokio::time::sleep(Duration::from_millis(up)).await;
        let data = collector.data.clone();
        tokio::task::block_in_place(|| collector.kill())?;
        kills += 1;
        collector = tokio::task::block_in_place(|| start(&data, port))
            .with_context(|| format!("restart after kill {kills}"))?;
        if kills.is_multiple_of(10) || kills == cli.kills {
            println!(
                "  {kills:4} kills, {:7} acknowledged, {:.0} s",
                counters.stored.load(Ordering::Relaxed)
                    + counters.duplicates.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut agents = Vec::new();
    while let Some(share) = loops.join_next().await {
        agents.extend(share?);
    }
    // One more kill with everything acknowledged, then read back from a fresh start.
    let data = collector.data.clone();
    tokio::task::block_in_place(|| collector.kill())?;
    let collector = tokio::task::block_in_place(|| start(&data, port))?;

    let (status, devices) = collector.admin_get("/api/v1/devices").await?;
    if status != 200 {
        bail!("GET /api/v1/devices: {status}");
    }
    let counts: BTreeMap<String, u64> = devices
        .as_array()
        .context("device list")?
        .iter()
        .filter_map(|d| Some((d["id"].as_str()?.to_owned(), d["report_count"].as_u64()?)))
        .collect();
    let mut acknowledged = 0u64;
    let mut lost = 0u64;
    let mut extra = 0u64;
    let mut unresolved = 0u64;
    for agent in &agents {
        acknowledged += agent.acked.len() as u64;
        unresolved += u64::from(agent.pending.is_some());
        let stored: HashSet<String> = collector
            .history_ids(&agent.id.to_string())
            .await
            .unwrap_or_default()
            .into_iter()
            .collect();
        for id in &agent.acked {
            if !stored.contains(&id.to_string()) {
                lost += 1;
                eprintln!("LOST: acknowledged report {id} of agent {}", agent.id);
            }
        }
        let count = counts.get(&agent.id.to_string()).copied().unwrap_or(0);
        let allowed = agent.acked.len() as u64 + u64::from(agent.pending.is_some());
        if count > allowed {
            extra += count - allowed;
            eprintln!(
                "TWICE: agent {} has {count} reports stored for {} acknowledged",
                agent.id,
                agent.acked.len()
            );
        }
    }
    let refused = counters.refused.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!("kills          {kills} (SIGKILL under load, then a restart on the same port)");
    println!(
        "requests       {} ({} failed or cut by a kill and resent)",
        counters.requests.load(Ordering::Relaxed),
        counters.failed.load(Ordering::Relaxed)
    );
    println!(
        "acknowledged   {acknowledged} ({} stored, {} answered duplicate after a resend)",
        counters.stored.load(Ordering::Relaxed),
        counters.duplicates.load(Ordering::Relaxed)
    );
    println!("lost           {lost}");
    println!("stored twice   {extra}");
    println!("refused (4xx)  {refused}");
    println!("unacknowledged {unresolved} (still being resent when the run ended)");
    println!("elapsed        {elapsed:.1} s");
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "kills": kills, "acknowledged": acknowledged, "lost": lost, "stored_twice": extra,
                "refused": refused, "unacknowledged": unresolved, "seconds": elapsed,
            })
        );
    }
    drop(collector);
    drop(temp);
    let ok = lost == 0 && extra == 0 && refused == 0 && acknowledged > 0 && kills > 0;
    println!(
        "{}",
        if ok {
            "KILL LOOP OK: every acknowledged report survived"
        } else {
            "KILL LOOP FAILED"
        }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
