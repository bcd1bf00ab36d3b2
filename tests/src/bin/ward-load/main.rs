//! `ward-load`: a load generator for `ward-collector`. Simulated agents enroll, then post realistic
//! gzip reports over HTTPS; it prints acknowledged reports per second and latency percentiles,
//! then checks against the collector's device list that every acknowledged report was counted.
//!
//! By default it starts the real collector itself (`ward-collector init` + `serve` on
//! 127.0.0.1:0, from the same target directory) in a temporary data directory; `--server` targets
//! one already running instead. Traffic only ever goes to the URL of that collector.
//!
//! Connections: one shared HTTP client whose pool holds `--concurrency` keep-alive TLS
//! connections; each of the `--concurrency` request loops posts the next simulated agent's report
//! (round robin over all agents, each with its own key and device). A real fleet has one
//! connection per agent and mostly a fresh TLS handshake per report, since agents report
//! hourly; this measures the collector's steady ingest path instead (`--no-keepalive` measures a
//! handshake per report). Bodies are built from one pre-compressed template per agent, so the
//! generator's own work per request is a UUID, a timestamp and a CRC of ~110 bytes (`body.rs`).
//!
//! Timing: the first `--warmup` seconds are not measured. A request belongs to the measured phase
//! if it started after the warm-up; throughput is measured acknowledgements divided by the time
//! from the end of the warm-up to the last measured answer.

mod body;
mod templates;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Parser;
use rand::SeedableRng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use ward_shared::api::{
    AckStatus, DEVICES_PATH, ENROLL_PATH, EnrollRequest, EnrollResponse, REPORTS_PATH, ReportAck,
};

use crate::body::Template;

const DEFAULT_REPORTS: u64 = 50_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// The per-address enrollment limit written into the collector's config for the run.
const ENROLL_PER_MINUTE: u32 = 1_000_000;
/// The per-address connection cap written into the collector's config: every simulated agent's
/// connection comes from 127.0.0.1.
const MAX_CONNECTIONS: usize = 100_000;

/// Load generator for ward-collector: simulated agents posting realistic reports over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "ward-load", version)]
struct Cli {
    /// Simulated agents (each enrolls and becomes one device).
    #[arg(long, default_value_t = 200)]
    agents: usize,
    /// Reports to post after the warm-up (default 50000, or no limit with --seconds).
    #[arg(long)]
    reports: Option<u64>,
    /// Measured duration after the warm-up, in seconds.
    #[arg(long)]
    seconds: Option<f64>,
    /// Requests in flight at once (one keep-alive connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Threads of this generator's async runtime (keep it small: the collector shares the machine).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Open a new connection (TCP + TLS handshake) for every request.
    #[arg(long)]
    no_keepalive: bool,
    /// The ward-collector binary to start (default: beside this program).
    #[arg(long, conflicts_with = "server")]
    collector: Option<PathBuf>,
    /// Data directory for the started collector (must not exist or be empty; kept afterwards).
    /// Default: a temporary directory, removed afterwards.
    #[arg(long, conflicts_with = "server")]
    data: Option<PathBuf>,
    /// Target a running collector at this https:// URL instead of starting one.
    #[arg(long, requires_all = ["ca", "secret_file"])]
    server: Option<String>,
    /// CA certificate (PEM) of the --server collector.
    #[arg(long, requires = "server")]
    ca: Option<PathBuf>,
    /// File holding the --server collector's enrollment secret.
    #[arg(long, requires = "server")]
    secret_file: Option<PathBuf>,
    /// File holding the --server collector's admin token, for the final check (skipped without).
    #[arg(long, requires = "server")]
    admin_token_file: Option<PathBuf>,
    /// Print the throughput of the last interval every this many seconds (0: never).
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// Seed for the simulated machines.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

/// The collector under load and how to reach it.
struct Target {
    base: String,
    ca_pem: Vec<u8>,
    secret: String,
    admin_token: Option<String>,
    process: Option<CollectorProcess>,
}

struct CollectorProcess {
    child: tokio::process::Child,
    pid: u32,
    binary: PathBuf,
    data: PathBuf,
    /// Removes the data directory when dropped (`None` for `--data`).
    _temp: Option<tempfile::TempDir>,
}

fn default_collector() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let dir = exe
        .parent()
        .context("this program's path has no directory")?;
    let path = dir.join(format!("ward-collector{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "{} not found; build it (`cargo build --release -p ward-collector`) or pass --collector",
            path.display()
        );
    }
    Ok(path)
}

fn read_trimmed(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim().to_owned())
}

async fn start_collector(binary: PathBuf, data: Option<PathBuf>) -> anyhow::Result<Target> {
    let (dir, temp) = match data {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
                bail!(
                    "--data {} is not empty; give a new directory",
                    dir.display()
                );
            }
            (dir, None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("ward-load-")
                .tempdir()
                .context("cannot create a temporary data directory")?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let init = tokio::process::Command::new(&binary)
        .arg("init")
        .arg("--data")
        .arg(&dir)
        .output()
        .await
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !init.status.success() {
        bail!(
            "`{} init` failed ({}): {}",
            binary.display(),
            init.status,
            String::from_utf8_lossy(&init.stderr).trim()
        );
    }
    let config = dir.join("ward-collector.toml");
    std::fs::write(
        &config,
        format!(
            "# written by ward-load: many simulated agents from one address\n\
             enroll_per_minute = {ENROLL_PER_MINUTE}\nmax_connections_per_address = {MAX_CONNECTIONS}\n"
        ),
    )
    .with_context(|| format!("cannot write {}", config.display()))?;
    let log_path = dir.join("collector.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;

    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .arg("--data")
        .arg(&dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id().context("the collector exited at once")?;
    let stdout = child
        .stdout
        .take()
        .context("no stdout from the collector")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(STARTUP_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                return Ok(url.trim_end_matches('/').to_owned());
            }
        }
        anyhow::Ok(String::new())
    })
    .await
    .context("the collector did not say where it listens within 30 s")??;
    if base.is_empty() {
        bail!(
            "the collector exited before listening; see {}",
            log_path.display()
        );
    }
    // Keep reading stdout so the collector never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    Ok(Target {
        base,
        ca_pem: std::fs::read(dir.join("tls/ca.pem")).context("cannot read the collector's CA")?,
        secret: read_trimmed(&dir.join("enroll-secret"))?,
        admin_token: Some(read_trimmed(&dir.join("admin-token"))?),
        process: Some(CollectorProcess {
            child,
            pid,
            binary,
            data: dir,
            _temp: temp,
        }),
    })
}

impl CollectorProcess {
    /// SIGTERM (graceful: drains and flushes), then SIGKILL if it does not stop in time.
    async fn stop(mut self) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                eprintln!("the collector did not stop within 30 s after SIGTERM; killing it");
                self.child.start_kill()?;
                self.child.wait().await?;
            }
        }
        Ok(())
    }
}

fn http_client(ca_pem: &[u8], pool: usize, keepalive: bool) -> anyhow::Result<reqwest::Client> {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem).context("the CA file is not PEM")?;
    if certs.is_empty() {
        bail!("the CA file holds no certificate");
    }
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .https_only(true)
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(if keepalive { pool } else { 0 })
        .connect_timeout(Duration::from_secs(15))
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("ward-load/", env!("CARGO_PKG_VERSION")));
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().context("cannot build the HTTPS client")
}

/// reqwest's top-level message hides the cause; show the chain.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

struct SimAgent {
    id: Uuid,
    auth: HeaderValue,
    template: Template,
}

async fn enroll_all(
    client: &reqwest::Client,
    target: &Target,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<EnrollResponse>> {
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let url = format!("{}{ENROLL_PATH}", target.base);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let (client, url, limit) = (client.clone(), url.clone(), limit.clone());
        let request = EnrollRequest {
            secret: target.secret.clone(),
            hostname: Some(format!("load-agent-{i:05}")),
            agent_version: Some(concat!("ward-load/", env!("CARGO_PKG_VERSION")).to_owned()),
        };
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let response = client
                .post(&url)
                .json(&request)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("enrollment request failed: {}", describe(&e)))?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                bail!("enrollment rate-limited (429): set enroll_per_minute = {ENROLL_PER_MINUTE} in the collector's config");
            }
            if !status.is_success() {
                let detail = response.text().await.unwrap_or_default();
                bail!("enrollment refused ({status}): {detail}");
            }
            let answer: EnrollResponse = response.json().await.context("unreadable enrollment answer")?;
            anyhow::Ok((i, answer))
        });
    }
    let mut enrolled: Vec<Option<EnrollResponse>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, answer) = joined.context("an enrollment task failed")??;
        enrolled[i] = Some(answer);
    }
    Ok(enrolled.into_iter().flatten().collect())
}

/// What the request loops share.
struct Plan {
    client: reqwest::Client,
    url: reqwest::Url,
    agents: Vec<SimAgent>,
    /// Requests issued, warm-up included (picks the agent, round robin).
    issued: AtomicU64,
    /// Measured requests issued.
    measured_issued: AtomicU64,
    /// Reports acknowledged so far, warm-up included (for the progress lines).
    acked: AtomicU64,
    limit: Option<u64>,
    measure_start: Instant,
    deadline: Option<Instant>,
}

/// One request loop's tally.
#[derive(Default)]
struct Tally {
    /// Latency of every measured request, in microseconds.
    latencies_us: Vec<u32>,
    measured_stored: u64,
    /// Stored answers over the whole run (warm-up included), for the final check.
    total_stored: u64,
    warmup_stored: u64,
    /// Requests whose outcome is unknown (network error, timeout): the report may be stored.
    unknown_outcome: u64,
    /// Failure kind -> (count, first detail).
    errors: BTreeMap<String, (u64, String)>,
    last_measured_end: Option<Instant>,
    body_bytes: u64,
}

impl Tally {
    fn error(&mut self, kind: String, detail: impl FnOnce() -> String) {
        self.errors.entry(kind).or_insert_with(|| (0, detail())).0 += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.measured_stored += other.measured_stored;
        self.total_stored += other.total_stored;
        self.warmup_stored += other.warmup_stored;
        self.unknown_outcome += other.unknown_outcome;
        for (kind, (count, detail)) in other.errors {
            self.errors.entry(kind).or_insert((0, detail)).0 += count;
        }
        self.last_measured_end = self.last_measured_end.max(other.last_measured_end);
        self.body_bytes += other.body_bytes;
    }
}

enum Outcome {
    Stored,
    Failed {
        kind: String,
        detail: String,
        unknown: bool,
    },
}

async fn post_one(plan: &Plan, agent: &SimAgent, body: Vec<u8>) -> Outcome {
    let sent = plan
        .client
        .post(plan.url.clone())
        .header(AUTHORIZATION, agent.auth.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            let kind = if e.is_timeout() { "timeout" } else { "network" };
            return Outcome::Failed {
                kind: kind.into(),
                detail: describe(&e),
                unknown: true,
            };
        }
    };
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            return Outcome::Failed {
                kind: format!("{} (body unread)", status.as_u16()),
                detail: describe(&e),
                unknown: true,
            };
        }
    };
    if status != StatusCode::OK {
        return Outcome::Failed {
            kind: status.as_u16().to_string(),
            detail: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            unknown: false,
        };
    }
    match serde_json::from_slice::<ReportAck>(&bytes) {
        Ok(ack) if ack.status == AckStatus::Stored && ack.device_id == agent.id => Outcome::Stored,
        Ok(ack) => Outcome::Failed {
            kind: format!("200 {:?}", ack.status).to_lowercase(),
            detail: format!("{ack:?}"),
            unknown: false,
        },
        Err(e) => Outcome::Failed {
            kind: "200 unreadable".into(),
            detail: e.to_string(),
            unknown: true,
        },
    }
}

async fn request_loop(plan: Arc<Plan>) -> Tally {
    let mut tally = Tally::default();
    loop {
        let start = Instant::now();
        let measured = start >= plan.measure_start;
        if measured {
            if plan.deadline.is_some_and(|d| start >= d) {
                break;
            }
            if let Some(limit) = plan.limit
                && plan.measured_issued.fetch_add(1, Ordering::Relaxed) >= limit
            {
                break;
            }
        }
        let n = plan.issued.fetch_add(1, Ordering::Relaxed);
        let agent = &plan.agents[(n % plan.agents.len() as u64) as usize];
        let body = agent.template.body(Uuid::now_v7(), Utc::now());
        tally.body_bytes += body.len() as u64;
        let outcome = post_one(&plan, agent, body).await;
        let end = Instant::now();
        match outcome {
            Outcome::Stored => {
                plan.acked.fetch_add(1, Ordering::Relaxed);
                tally.total_stored += 1;
                if measured {
                    tally.measured_stored += 1;
                } else {
                    tally.warmup_stored += 1;
                }
            }
            Outcome::Failed {
                kind,
                detail,
                unknown,
            } => {
                tally.unknown_outcome += u64::from(unknown);
                tally.error(kind, || detail);
            }
        }
        if measured {
            let us = end.duration_since(start).as_micros();
            tally
                .latencies_us
                .push(u32::try_from(us).unwrap_or(u32::MAX));
            tally.last_measured_end = Some(end);
        }
    }
    tally
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str, ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds used so far by each thread of a process, summed by thread name with digits
/// dropped (`sled-io-3` and `sled-io-12` count as `sled-io-`), from `/proc/PID/task/*/stat`.
/// Threads that ended before the second sample are missing from it; their time is lost.
fn thread_cpu_seconds(pid: u32, ticks_per_second: f64) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name: String = stat[open + 1..close]
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(Ok(utime)), Some(Ok(stime))) = (
            fields.get(11).map(|v| v.parse::<f64>()),
            fields.get(12).map(|v| v.parse::<f64>()),
        ) else {
            continue;
        };
        *by_name.entry(name).or_insert(0.0) += (utime + stime) / ticks_per_second;
    }
    by_name
}

/// CPU time all processes on this machine have used so far (busy, not idle or iowait), from
/// `/proc/stat`.
fn machine_busy_seconds(ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 = values
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy / ticks_per_second)
}

/// Peak resident memory of a process in KiB, from `/proc/PID/status`.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    agents: usize,
    concurrency: usize,
    keepalive: bool,
    generator_threads: usize,
    json_bytes_mean: f64,
    gzip_bytes_mean: f64,
    warmup_s: f64,
    warmup_stored: u64,
    acknowledged: u64,
    elapsed_s: f64,
    reports_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: BTreeMap<String, u64>,
    collector_cpu_cores: Option<f64>,
    generator_cpu_cores: Option<f64>,
    /// Everything on the machine, these two included.
    machine_cpu_cores: Option<f64>,
    /// The collector's CPU by thread name (digits dropped).
    collector_thread_cores: BTreeMap<String, f64>,
    /// Collector CPU time per acknowledged report.
    collector_cpu_ms_per_report: Option<f64>,
    collector_peak_rss_mib: Option<f64>,
    total_stored: u64,
    counted_by_collector: Option<u64>,
    verify: String,
}

/// A duration option: seconds, zero or more.
fn seconds(option: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        anyhow::anyhow!("{option} must be a number of seconds, 0 or more (got {value})")
    })
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    f64::from(sorted[rank.min(sorted.len()) - 1]) / 1000.0
}

/// The sum of `report_count` over our simulated agents' devices.
async fn counted_reports(
    client: &reqwest::Client,
    target: &Target,
    token: &str,
    agents: &[SimAgent],
) -> anyhow::Result<u64> {
    let response = client
        .get(format!("{}{DEVICES_PATH}", target.base))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("device list request failed: {}", describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "device list refused ({status}): {}",
            response.text().await.unwrap_or_default()
        );
    }
    let devices: Vec<serde_json::Value> =
        response.json().await.context("unreadable device list")?;
    let counts: HashMap<String, u64> = devices
        .iter()
        .filter_map(|d| {
            Some((
                d.get("id")?.as_str()?.to_owned(),
                d.get("report_count")?.as_u64()?,
            ))
        })
        .collect();
    Ok(agents
        .iter()
        .map(|a| counts.get(&a.id.to_string()).copied().unwrap_or(0))
        .sum())
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    if cli.agents == 0 || cli.concurrency == 0 {
        bail!("--agents and --concurrency must be at least 1");
    }
    let mut target = match &cli.server {
        Some(server) => {
            if !server.starts_with("https://") {
                bail!("--server must be an https:// URL");
            }
            let (Some(ca), Some(secret_file)) = (&cli.ca, &cli.secret_file) else {
                bail!("--server needs --ca and --secret-file");
            };
            Target {
                base: server.trim_end_matches('/').to_owned(),
                ca_pem: std::fs::read(ca)
                    .with_context(|| format!("cannot read {}", ca.display()))?,
                secret: read_trimmed(secret_file)?,
                admin_token: cli
                    .admin_token_file
                    .as_deref()
                    .map(read_trimmed)
                    .transpose()?,
                process: None,
            }
        }
        None => {
            let binary = match &cli.collector {
                Some(path) => path.clone(),
                None => default_collector()?,
            };
            start_collector(binary, cli.data.clone()).await?
        }
    };
    let keepalive = !cli.no_keepalive;
    println!(
        "ward-load: {} agents, concurrency {}, {}, {} generator thread(s)",
        cli.agents,
        cli.concurrency,
        if keepalive {
            "keep-alive connections"
        } else {
            "a new connection per request"
        },
        cli.workers
    );
    match &target.process {
        Some(p) => println!(
            "collector: {} (pid {}) at {}, data {}",
            p.binary.display(),
            p.pid,
            target.base,
            p.data.display()
        ),
        None => println!("collector: {} (already running)", target.base),
    }

    let client = http_client(&target.ca_pem, cli.concurrency, keepalive)?;
    let started = Instant::now();
    let enrolled = enroll_all(&client, &target, cli.agents, cli.concurrency.min(32)).await?;
    println!(
        "enrolled {} agents in {:.2} s",
        enrolled.len(),
        started.elapsed().as_secs_f64()
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(cli.seed);
    let now = Utc::now();
    let mut agents = Vec::with_capacity(enrolled.len());
    for (i, e) in enrolled.into_iter().enumerate() {
        let report = templates::report(&mut rng, i, e.agent_id, now);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", e.agent_key))
            .context("agent key is not a header value")?;
        auth.set_sensitive(true);
        agents.push(SimAgent {
            id: e.agent_id,
            auth,
            template: Template::new(&report)?,
        });
    }
    let json_mean = agents
        .iter()
        .map(|a| a.template.json_len as f64)
        .sum::<f64>()
        / agents.len() as f64;
    let (json_min, json_max) = agents.iter().fold((usize::MAX, 0), |(lo, hi), a| {
        (lo.min(a.template.json_len), hi.max(a.template.json_len))
    });
    println!(
        "reports: JSON {:.1}-{:.1} KB (mean {:.1} KB), one template per agent",
        json_min as f64 / 1000.0,
        json_max as f64 / 1000.0,
        json_mean / 1000.0
    );

    let warmup = seconds("--warmup", cli.warmup)?;
    let duration = cli.seconds.map(|s| seconds("--seconds", s)).transpose()?;
    let interval = seconds("--interval", cli.interval)?;
    let limit = match (cli.reports, cli.seconds) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_REPORTS),
    };
    let t0 = Instant::now();
    let measure_start = t0 + warmup;
    let plan = Arc::new(Plan {
        client: client.clone(),
        url: reqwest::Url::parse(&format!("{}{REPORTS_PATH}", target.base))
            .context("bad collector URL")?,
        agents,
        issued: AtomicU64::new(0),
        measured_issued: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        limit,
        measure_start,
        deadline: duration.map(|d| measure_start + d),
    });

    let ticks = clock_ticks();
    let collector_pid = target.process.as_ref().map(|p| p.pid);
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(measure_start.into()).await;
        (
            collector_pid.and_then(|pid| cpu_seconds(&pid.to_string(), ticks)),
            cpu_seconds("self", ticks),
            machine_busy_seconds(ticks),
            collector_pid
                .map(|pid| thread_cpu_seconds(pid, ticks))
                .unwrap_or_default(),
        )
    });
    let progress = (!interval.is_zero()).then(|| {
        let plan = plan.clone();
        let every = interval;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at((t0 + every).into(), every);
            let mut last = 0;
            loop {
                ticker.tick().await;
                let acked = plan.acked.load(Ordering::Relaxed);
                println!(
                    "  {:6.1} s  {:7.0} reports/s over the last {:.0} s, {acked} acknowledged{}",
                    t0.elapsed().as_secs_f64(),
                    (acked - last) as f64 / every.as_secs_f64(),
                    every.as_secs_f64(),
                    if Instant::now() < measure_start {
                        " (warm-up)"
                    } else {
                        ""
                    }
                );
                last = acked;
            }
        })
    });
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..cli.concurrency {
        loops.spawn(request_loop(plan.clone()));
    }
    let mut tally = Tally::default();
    while let Some(joined) = loops.join_next().await {
        tally.merge(joined.context("a request loop failed")?);
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let end = tally.last_measured_end.unwrap_or_else(Instant::now);
    let cpu_end = (
        collector_pid.and_then(|pid| cpu_seconds(&pid.to_string(), ticks)),
        cpu_seconds("self", ticks),
        machine_busy_seconds(ticks),
        collector_pid
            .map(|pid| thread_cpu_seconds(pid, ticks))
            .unwrap_or_default(),
    );
    let cpu_start = cpu_at_start.await.context("CPU sampling failed")?;
    let elapsed = end.saturating_duration_since(measure_start).as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if elapsed > 0.0 => Some((b - a) / elapsed),
        _ => None,
    };

    tally.latencies_us.sort_unstable();
    let issued = plan.issued.load(Ordering::Relaxed).max(1);
    let mut summary = Summary {
        agents: plan.agents.len(),
        concurrency: cli.concurrency,
        keepalive,
        generator_threads: cli.workers,
        json_bytes_mean: json_mean,
        gzip_bytes_mean: tally.body_bytes as f64 / issued as f64,
        warmup_s: warmup.as_secs_f64(),
        warmup_stored: tally.warmup_stored,
        acknowledged: tally.measured_stored,
        elapsed_s: elapsed,
        reports_per_s: if elapsed > 0.0 {
            tally.measured_stored as f64 / elapsed
        } else {
            0.0
        },
        p50_ms: percentile(&tally.latencies_us, 50.0),
        p90_ms: percentile(&tally.latencies_us, 90.0),
        p99_ms: percentile(&tally.latencies_us, 99.0),
        max_ms: percentile(&tally.latencies_us, 100.0),
        errors: tally
            .errors
            .iter()
            .map(|(k, (n, _))| (k.clone(), *n))
            .collect(),
        collector_cpu_cores: cores(cpu_start.0, cpu_end.0),
        generator_cpu_cores: cores(cpu_start.1, cpu_end.1),
        machine_cpu_cores: cores(cpu_start.2, cpu_end.2),
        collector_thread_cores: cpu_end
            .3
            .iter()
            .filter_map(|(name, end)| {
                let used = cores(
                    Some(cpu_start.3.get(name).copied().unwrap_or(0.0)),
                    Some(*end),
                )?;
                (used >= 0.005).then(|| (name.clone(), (used * 100.0).round() / 100.0))
            })
            .collect(),
        collector_peak_rss_mib: target
            .process
            .as_ref()
            .and_then(|p| peak_rss_kib(p.pid))
            .map(|k| k as f64 / 1024.0),
        collector_cpu_ms_per_report: None,
        total_stored: tally.total_stored,
        counted_by_collector: None,
        verify: "skipped".into(),
    };

    summary.collector_cpu_ms_per_report = summary
        .collector_cpu_cores
        .filter(|_| summary.reports_per_s > 0.0)
        .map(|c| c * 1000.0 / summary.reports_per_s);
    println!(
        "gzip body      {:.2} KB mean",
        summary.gzip_bytes_mean / 1000.0
    );
    println!(
        "warm-up        {:.1} s, {} stored (not measured)",
        summary.warmup_s, summary.warmup_stored
    );
    println!(
        "acknowledged   {} reports (answered 200 \"stored\")",
        summary.acknowledged
    );
    println!("elapsed        {:.2} s", summary.elapsed_s);
    println!("throughput     {:.0} reports/s", summary.reports_per_s);
    println!(
        "latency ms     p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        summary.p50_ms, summary.p90_ms, summary.p99_ms, summary.max_ms
    );
    if tally.errors.is_empty() {
        println!("errors         none");
    } else {
        for (kind, (count, detail)) in &tally.errors {
            println!("errors         {kind}: {count} (first: {detail})");
        }
    }
    let fmt_cores = |c: Option<f64>| c.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
    println!(
        "cpu cores      collector {}, ward-load {}, whole machine {} (of {})",
        fmt_cores(summary.collector_cpu_cores),
        fmt_cores(summary.generator_cpu_cores),
        fmt_cores(summary.machine_cpu_cores),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Only when this program started the collector does it know the collector's share.
    if let (Some(machine), Some(generator), Some(collector)) = (
        summary.machine_cpu_cores,
        summary.generator_cpu_cores,
        summary.collector_cpu_cores,
    ) {
        let others = machine - generator - collector;
        if others > 0.25 {
            println!(
                "warning        other processes used {others:.2} cores during the run; figures are disturbed"
            );
        }
    }
    if let Some(ms) = summary.collector_cpu_ms_per_report {
        let mut threads: Vec<(&String, &f64)> = summary.collector_thread_cores.iter().collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        let threads: Vec<String> = threads
            .iter()
            .map(|(name, c)| format!("{name} {c:.2}"))
            .collect();
        println!(
            "collector CPU  {ms:.3} ms per report; by thread: {}",
            threads.join(", ")
        );
    }
    if let Some(rss) = summary.collector_peak_rss_mib {
        println!("collector RSS  {rss:.0} MiB peak");
    }

    let ok = match &target.admin_token {
        Some(token) => {
            let counted = counted_reports(&client, &target, token, &plan.agents).await?;
            summary.counted_by_collector = Some(counted);
            let ok = counted == tally.total_stored;
            summary.verify = if ok { "ok" } else { "mismatch" }.into();
            println!(
                "VERIFY {}: the collector counts {counted} reports for these agents; {} were acknowledged \
                 (warm-up included){}",
                if ok { "OK" } else { "MISMATCH" },
                tally.total_stored,
                if tally.unknown_outcome > 0 {
                    format!(
                        "; {} requests had no answer and may be stored",
                        tally.unknown_outcome
                    )
                } else {
                    String::new()
                }
            );
            ok
        }
        None => {
            println!("VERIFY skipped: no admin token (--admin-token-file)");
            true
        }
    };
    if cli.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    if let Some(process) = target.process.take() {
        process.stop().await?;
    }
    Ok(ok && summary.acknowledged > 0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.workers.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
