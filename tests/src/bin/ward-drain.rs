//! `ward-drain`: an agent that cannot reach its collector for many runs delivers what it kept,
//! once and in order, when the collector comes back.
//!
//! It starts the real `ward-collector` on a loopback port, enrolls the real `ward-agent` (both from
//! the same target directory), stops the collector, and runs `ward-agent run --once` `--runs`
//! times with a spool bound of `--spool-max` reports: each run collects this machine, spools
//! the report and exits 3. The spool must hold the newest `--spool-max` reports and the agent
//! must have logged each report it dropped over the bound. Then the collector starts again on
//! the same port and one more `run --once` delivers everything: the device's history must be
//! exactly the kept reports plus the new one, in the order they were collected, none twice.
//!
//! Traffic only goes to 127.0.0.1. Exit 0: delivered once and in order; 1: a report was lost,
//! reordered or stored twice; 2: the run could not be done.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use ward_tests::{
    Collector, agent, agent_identity, enroll, free_port, init_collector, spooled_ids,
};

/// The agent-offline drain: spool over many runs, then deliver once and in order.
#[derive(Debug, Parser)]
#[command(name = "ward-drain", version)]
struct Cli {
    /// Agent runs while the collector is down.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// The agent's spool bound (`spool_max_reports`).
    #[arg(long, default_value_t = 200)]
    spool_max: usize,
    /// Keep the directories here (must not exist); default: a temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    if cli.runs == 0 || cli.spool_max == 0 {
        bail!("--runs and --spool-max must be at least 1");
    }
    let temp = tempfile::Builder::new().prefix("ward-drain-").tempdir()?;
    let dir = match &cli.dir {
        Some(d) => {
            if d.exists() {
                bail!("--dir {} exists; give a new directory", d.display());
            }
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => temp.path().to_owned(),
    };
    let data = dir.join("collector");
    let state = dir.join("agent");
    let port = free_port();
    init_collector(
        &data,
        Some(&format!(
            "listen = \"127.0.0.1:{port}\"\nhistory_max_reports = 100000\nhistory_max_days = 0\n"
        )),
    )?;
    let collector = Collector::start(&data, port)?;
    let out = enroll(&collector, &state);
    if !out.status.success() {
        bail!("enroll failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (agent_id, _) = agent_identity(&state);
    let status = collector.stop()?;
    if !status.success() {
        bail!("the collector did not stop cleanly: {status}");
    }
    println!(
        "ward-drain: collector stopped; {} agent runs with a spool of at most {}",
        cli.runs, cli.spool_max
    );

    let state_arg = state.to_string_lossy().into_owned();
    let bound = format!("spool_max_reports={}", cli.spool_max);
    let started = Instant::now();
    let mut collected = Vec::new();
    let mut dropped_logged = 0usize;
    for i in 0..cli.runs {
        let before = spooled_ids(&state);
        let out = agent(&["run", "--state", &state_arg, "--once", "--set", &bound]);
        if out.status.code() != Some(3) {
            bail!(
                "run {i}: expected exit 3 (spooled), got {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let after = spooled_ids(&state);
        let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
        if new.len() != 1 {
            bail!("run {i}: {} new spooled reports, expected 1", new.len());
        }
        collected.push(new[0].clone());
        dropped_logged += String::from_utf8_lossy(&out.stderr)
            .matches("spool full: dropping the oldest report")
            .count();
        if (i + 1).is_multiple_of(25) {
            println!("  {} runs, {} spooled", i + 1, after.len());
        }
    }
    let kept = spooled_ids(&state);
    let expected_kept: Vec<String> =
        collected[collected.len().saturating_sub(cli.spool_max)..].to_vec();
    let expected_dropped = cli.runs.saturating_sub(cli.spool_max);
    let mut ok = true;
    if kept != expected_kept {
        ok = false;
        eprintln!(
            "SPOOL: holds {} reports, expected the newest {} in order",
            kept.len(),
            expected_kept.len()
        );
    }
    if dropped_logged != expected_dropped {
        ok = false;
        eprintln!("SPOOL: {dropped_logged} drops logged, expected {expected_dropped}");
    }

    let collector = Collector::start(&data, port).context("restart on the same port")?;
    let out = agent(&["run", "--state", &state_arg, "--once", "--set", &bound]);
    if !out.status.success() {
        ok = false;
        eprintln!(
            "DRAIN: run --once exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left = spooled_ids(&state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut history = runtime.block_on(collector.history_ids(&agent_id))?;
    history.reverse(); // oldest first
    let delivered = history.len();
    let mut unique = history.clone();
    unique.sort();
    unique.dedup();
    let twice = delivered - unique.len();
    // The last run spools its own report first, so at the bound it drops one more old one.
    let final_drops = String::from_utf8_lossy(&out.stderr)
        .matches("spool full: dropping the oldest report")
        .count();
    let expected_old = &kept[final_drops.min(kept.len())..];
    let in_order = history.len() == expected_old.len() + 1
        && history[..expected_old.len()] == expected_old[..];
    let lost = expected_old
        .iter()
        .filter(|id| !history.contains(id))
        .count();
    let expected_final_drops = (kept.len() + 1).saturating_sub(cli.spool_max);
    if final_drops != expected_final_drops {
        ok = false;
        eprintln!("DRAIN: the last run dropped {final_drops}, expected {expected_final_drops}");
    }
    if !in_order || lost > 0 || twice > 0 || !left.is_empty() {
        ok = false;
        eprintln!(
            "DRAIN: stored {delivered} reports for {} kept + 1 new; lost {lost}, twice {twice}, \
             in order {in_order}, {} still spooled",
            expected_old.len(),
            left.len()
        );
    }
    let _ = collector.stop();
    let elapsed = started.elapsed().as_secs_f64();
    println!("runs offline   {}", cli.runs);
    println!(
        "spooled        {} kept, {} dropped over the bound of {} (each logged)",
        kept.len(),
        dropped_logged + final_drops,
        cli.spool_max
    );
    println!("delivered      {delivered} (the kept ones and the new run's), stored twice {twice}");
    println!("lost           {lost}");
    println!("in order       {in_order}");
    println!("elapsed        {elapsed:.1} s");
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "runs": cli.runs, "kept": kept.len(), "dropped": dropped_logged + final_drops,
                "delivered": delivered, "lost": lost, "stored_twice": twice,
                "in_order": in_order, "seconds": elapsed,
            })
        );
    }
    drop(temp);
    println!(
        "{}",
        if ok {
            "DRAIN OK: delivered once and in order"
        } else {
            "DRAIN FAILED"
        }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
