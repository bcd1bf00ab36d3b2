//! `ward-collector quickstart`: a data directory, a collector on loopback, this machine's agent
//! enrolled and run once against it, and a summary of what it found.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ward_shared::Report;

use crate::init::{CA_FILE, ENROLL_SECRET_FILE, InitOptions, init};
use crate::server::{Server, shutdown_signal};

pub const AGENT_STATE_DIR: &str = "quickstart-agent";

/// The `ward-agent` binary: beside this executable, else on PATH.
pub fn find_agent(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    let name = format!("ward-agent{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

async fn agent(agent_bin: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let status = tokio::process::Command::new(agent_bin)
        .args(args)
        .status()
        .await
        .with_context(|| {
            format!(
                "cannot start {} (build it with `cargo build --release`)",
                agent_bin.display()
            )
        })?;
    if !status.success() {
        bail!("{} {:?} failed: {status}", agent_bin.display(), args);
    }
    Ok(())
}

pub async fn quickstart(
    data_dir: &Path,
    listen: SocketAddr,
    agent_bin: &Path,
) -> anyhow::Result<()> {
    let created = init(data_dir, &InitOptions::default())?;
    for path in &created.created {
        println!("created  {}", path.display());
    }
    let server = Server::bind(data_dir, Some(listen)).await.with_context(|| {
        format!("cannot start the collector on {listen}; is another one running? try --listen 127.0.0.1:0")
    })?;
    let addr = server.addr;
    let url = format!("https://{}", addr);
    let store = server.store.clone();
    let estate = server.estate.clone();
    let serving = tokio::spawn(server.run(shutdown_signal()));
    println!("collector listening on {url}");

    let state = data_dir.join(AGENT_STATE_DIR);
    let ca = data_dir.join(CA_FILE);
    let secret = data_dir.join(ENROLL_SECRET_FILE);
    if !state.join("enrollment.json").exists() {
        agent(
            agent_bin,
            &[
                "enroll".as_ref(),
                "--server".as_ref(),
                url.as_ref(),
                "--ca".as_ref(),
                ca.as_os_str(),
                "--secret-file".as_ref(),
                secret.as_os_str(),
                "--state".as_ref(),
                state.as_os_str(),
            ],
        )
        .await?;
    }
    // The collector may have moved to a new port since the agent enrolled: point it here.
    rewrite_server(&state, &url)?;
    agent(
        agent_bin,
        &[
            "run".as_ref(),
            "--once".as_ref(),
            "--state".as_ref(),
            state.as_os_str(),
        ],
    )
    .await?;

    let newest =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<crate::estate::Assessed>> {
            let devices = store.devices()?;
            let Some(device) = devices.iter().max_by_key(|d| d.last_seen) else {
                return Ok(None);
            };
            // The estate reads the agent's report in the background: wait for it.
            let snapshot = estate.sync(std::time::Duration::from_secs(30));
            Ok(
                crate::estate::device(store.as_ref(), &snapshot, device.id, chrono::Utc::now())?
                    .map(|(_, assessed)| assessed),
            )
        })
        .await??;
    match newest {
        Some(assessed) => {
            print!("{}", summary(&assessed.report));
            print!("{}", assessment(&assessed.assessment));
        }
        None => println!("no report stored (see the agent's errors above)"),
    }
    println!(
        "\nThe collector keeps serving at {url} until Ctrl-C.\n\
         Try:  curl --cacert {ca} -H \"Authorization: Bearer $(cat {token})\" {url}/api/v1/devices",
        ca = ca.display(),
        token = data_dir.join(crate::init::ADMIN_TOKEN_FILE).display(),
    );
    serving.await??;
    Ok(())
}

fn rewrite_server(state: &Path, url: &str) -> anyhow::Result<()> {
    let path = state.join("enrollment.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)?;
    if value.get("server").and_then(|s| s.as_str()) != Some(url) {
        value["server"] = serde_json::Value::String(url.to_owned());
        std::fs::write(&path, serde_json::to_vec_pretty(&value)?)?;
    }
    Ok(())
}

fn or_unknown<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// What a person wants to see first about the machine.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let os = &r.os;
    let hw = &r.hardware;
    let p = &r.patches;
    let sec = &r.security;
    let _ = writeln!(
        s,
        "\nThis machine, as its agent reported it ({}):",
        r.collected_at.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        s,
        "  host       {}",
        or_unknown(r.host.fqdn.as_ref().or(r.host.hostname.as_ref()))
    );
    let _ = writeln!(
        s,
        "  OS         {} (version {}, kernel {}, {})",
        or_unknown(os.name.as_ref()),
        or_unknown(os.version.as_ref()),
        or_unknown(os.kernel.as_ref()),
        or_unknown(os.architecture.as_ref())
    );
    let _ = writeln!(
        s,
        "  patches    {} pending ({} security), last installed {}, last refreshed {}, reboot pending: {}",
        or_unknown(p.pending_count),
        or_unknown(p.pending_security_count),
        or_unknown(p.last_installed_at.map(|t| t.format("%Y-%m-%d"))),
        or_unknown(p.last_refreshed_at.map(|t| t.format("%Y-%m-%d"))),
        yes_no(p.reboot_pending)
    );
    let _ = writeln!(
        s,
        "  hardware   {} {} (serial {}), BIOS {} {}",
        or_unknown(hw.manufacturer.as_ref()),
        or_unknown(hw.model.as_ref()),
        or_unknown(hw.serial.as_ref()),
        or_unknown(hw.bios.version.as_ref()),
        or_unknown(hw.bios.release_date)
    );
    let _ = writeln!(
        s,
        "  CPU        {} ({} cores, {} threads), RAM {}",
        or_unknown(hw.cpu.brand.as_ref()),
        or_unknown(hw.cpu.cores),
        or_unknown(hw.cpu.threads),
        or_unknown(hw.ram_bytes.map(|b| format!("{:.1} GiB", b as f64 / GIB)))
    );
    for d in &hw.disks {
        let _ = writeln!(
            s,
            "  disk       {} on {}: {} total, {} free ({})",
            d.name,
            or_unknown(d.mount_point.as_ref()),
            or_unknown(d.size_bytes.map(|b| format!("{:.1} GiB", b as f64 / GIB))),
            or_unknown(d.free_bytes.map(|b| format!("{:.1} GiB", b as f64 / GIB))),
            match d.kind {
                ward_shared::DiskKind::Ssd => "SSD",
                ward_shared::DiskKind::Hdd => "HDD",
                ward_shared::DiskKind::Unknown => "unknown kind",
            }
        );
    }
    let _ = writeln!(
        s,
        "  firmware   UEFI: {}, Secure Boot: {}, TPM: {} (version {})",
        yes_no(hw.uefi),
        yes_no(hw.secure_boot),
        yes_no(hw.tpm.present),
        or_unknown(hw.tpm.version.as_ref())
    );
    let _ = writeln!(
        s,
        "  security   SMBv1 server: {}, firewall: {}, system disk encrypted: {}",
        yes_no(sec.smb1_server_enabled),
        yes_no(sec.firewall_enabled),
        yes_no(sec.system_disk_encrypted)
    );
    if !r.errors.is_empty() {
        let _ = writeln!(s, "  not read   {} field(s):", r.errors.len());
        for e in &r.errors {
            let _ = writeln!(s, "             {}: {}", e.field, e.reason);
        }
    }
    s
}

/// The risk engine's verdict on the machine, in the words of docs/risk-model.md.
pub fn assessment(a: &crate::risk::Assessment) -> String {
    let mut s = String::new();
    let remedy = crate::estate::key(&a.remedy.class);
    let _ = writeln!(s, "\nAssessment (catalog version {}):", a.catalog_version);
    let _ = writeln!(
        s,
        "  risk score {} of 100; remedy: {} ({})",
        a.score,
        remedy.replace('_', " "),
        a.remedy.reason
    );
    if a.findings.is_empty() {
        let _ = writeln!(s, "  no findings");
    }
    for f in &a.findings {
        let _ = writeln!(s, "  [{:>3}] {}", f.points, f.sentence);
    }
    if let Some(r) = &a.readiness {
        let verdict = crate::estate::key(&r.verdict);
        let _ = writeln!(s, "  Windows 11 readiness: {}", verdict.replace('_', " "));
    }
    s
}
