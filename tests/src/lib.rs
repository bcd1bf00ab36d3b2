//! Helpers for the end-to-end tests: start the real `ward-collector` and run the real
//! `ward-agent`, both from this workspace's target directory.
//!
//! The binaries must be built first; `cargo test --workspace` does that. `WARD_BIN_DIR`
//! overrides where they are looked for.

pub mod wine;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use ward_shared::{AgentInfo, Report};

/// Where the workspace's binaries are: `WARD_BIN_DIR`, else the directory above this test
/// executable's `deps/`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WARD_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe has a parent").to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo test --workspace` does)",
        path.display()
    );
    path
}

/// Runs `ward-collector init --data DIR` and optionally replaces its config file.
pub fn init_collector(data: &Path, config: Option<&str>) -> anyhow::Result<()> {
    let out = Command::new(bin("ward-collector"))
        .arg("init")
        .arg("--data")
        .arg(data)
        .output()?;
    if !out.status.success() {
        bail!("init failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    if let Some(config) = config {
        std::fs::write(data.join("ward-collector.toml"), config)?;
    }
    Ok(())
}

/// A running `ward-collector serve`.
pub struct Collector {
    child: Child,
    pub data: PathBuf,
    pub url: String,
    pub port: u16,
    pub log: PathBuf,
}

impl Collector {
    /// Starts `serve` on `127.0.0.1:port` (0 for any) and waits until it listens.
    pub fn start(data: &Path, port: u16) -> anyhow::Result<Self> {
        let log = data.with_extension(format!("collector-{}.log", rand::random::<u32>()));
        let mut child = Command::new(bin("ward-collector"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .env("WARD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                bail!(
                    "collector did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("no port in URL")?;
        Ok(Self {
            child,
            data: data.to_owned(),
            url,
            port,
            log,
        })
    }

    /// SIGTERM, then waits for the exit status.
    pub fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        Ok(self.child.wait()?)
    }

    /// Sends a signal (`HUP`, `TERM`...) to the running collector.
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()?;
        anyhow::ensure!(status.success(), "kill -{name} {pid} failed");
        Ok(())
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    pub fn ca(&self) -> PathBuf {
        self.data.join("tls/ca.pem")
    }

    pub fn secret_file(&self) -> PathBuf {
        self.data.join("enroll-secret")
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data.join("admin-token"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// An HTTPS client that trusts only this collector's CA.
    pub fn client(&self) -> reqwest::Client {
        let ca = std::fs::read(self.ca()).expect("read CA");
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"))
            .build()
            .expect("client")
    }

    /// GET with the admin token: status and JSON body.
    pub async fn admin_get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.admin_token())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// Sum of report_count over all devices, as the API says.
    pub async fn stored_reports(&self) -> anyhow::Result<u64> {
        let (status, devices) = self.admin_get("/api/v1/devices").await?;
        if status != 200 {
            bail!("GET /api/v1/devices: {status} {devices}");
        }
        Ok(devices
            .as_array()
            .context("device list")?
            .iter()
            .filter_map(|d| d["report_count"].as_u64())
            .sum())
    }

    /// Report ids stored for a device, newest first.
    pub async fn history_ids(&self, device: &str) -> anyhow::Result<Vec<String>> {
        let (status, view) = self
            .admin_get(&format!("/api/v1/devices/{device}?history=1000"))
            .await?;
        if status != 200 {
            bail!("GET device {device}: {status} {view}");
        }
        Ok(view["history"]
            .as_array()
            .context("history")?
            .iter()
            .filter_map(|h| h["report_id"].as_str().map(str::to_owned))
            .collect())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ward-agent ARGS` to completion.
pub fn agent(args: &[&str]) -> Output {
    Command::new(bin("ward-agent"))
        .args(args)
        .env("WARD_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run ward-agent")
}

/// Enrolls an agent with its state in `state`.
pub fn enroll(collector: &Collector, state: &Path) -> Output {
    agent(&[
        "enroll",
        "--server",
        &collector.url,
        "--ca",
        &collector.ca().to_string_lossy(),
        "--secret-file",
        &collector.secret_file().to_string_lossy(),
        "--state",
        &state.to_string_lossy(),
    ])
}

/// The enrolled agent's id and key, read from its state directory.
pub fn agent_identity(state: &Path) -> (String, String) {
    let enrollment: Value = serde_json::from_slice(
        &std::fs::read(state.join("enrollment.json")).expect("enrollment.json"),
    )
    .expect("JSON");
    let key = std::fs::read_to_string(state.join("agent.key")).expect("agent.key");
    (
        enrollment["agent_id"]
            .as_str()
            .expect("agent_id")
            .to_owned(),
        key.trim().to_owned(),
    )
}

/// Report ids waiting in an agent's spool, oldest first.
pub fn spooled_ids(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state.join("spool"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".json.gz"))
        .filter_map(|n| n.split_once('-').map(|(_, id)| id.to_owned()))
        .collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Gzip-compresses a request body, as the agent sends reports.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// A minimal valid report from `agent_id` for host `hostname` running `os_name`, made now.
pub fn report(agent_id: &str, hostname: &str, os_name: &str) -> Report {
    let mut r = Report::new(
        AgentInfo {
            id: Some(agent_id.parse().expect("agent id is a UUID")),
            name: "ward-agent".into(),
            version: "0.1.0".into(),
        },
        chrono::Utc::now(),
    );
    r.host.hostname = Some(hostname.into());
    r.os.name = Some(os_name.into());
    r
}

/// Runs `ward-collector ARGS` to completion (no stdin).
pub fn collector_cli(args: &[&str]) -> Output {
    Command::new(bin("ward-collector"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ward-collector")
}

/// A TCP port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `../shared/realdata` beside the workspace, if this machine has it.
pub fn realdata() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    p.is_dir().then_some(p)
}

/// Whether this run is the CI, where a missing tool or artifact fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Prints "skipped: WHY" and lets the test return, except in the CI, where it fails.
pub fn skip(why: &str) {
    assert!(!in_ci(), "CI=true but {why}");
    println!("skipped: {why}");
}
