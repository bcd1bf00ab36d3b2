//! `ward-footprint`: the agent footprint benchmark. Runs `ward-agent collect` and
//! `fusioninventory-agent --local DIR` alternately on this machine, measures each run's CPU time
//! (user + system) and peak resident memory with GNU time (`/usr/bin/time`, Debian package
//! `time`), and compares the medians with the targets: ward-agent at most 1/10 of the CPU time
//! and 1/5 of the peak memory of FusionInventory.
//!
//! What is counted: GNU time reports the rusage of the command and of every child process it
//! waited for, so commands an agent runs (`apt-get`, `dpkg`, `dmidecode`...) count towards its
//! CPU time, and its peak memory is the largest of those processes' peaks. Both agents are
//! measured the same way, as the same user. GNU time prints CPU times to 10 ms.
//!
//! Exit status: 0 when both targets are met, 1 when one is missed, 2 when the benchmark could
//! not run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;

const CPU_TARGET: f64 = 0.10;
const MEMORY_TARGET: f64 = 0.20;

/// Agent footprint benchmark: ward-agent collect vs fusioninventory-agent --local, side by side.
#[derive(Debug, Parser)]
#[command(name = "ward-footprint", version)]
struct Cli {
    /// Measured runs of each command.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Unmeasured runs of each command first (caches, page cache).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// The ward-agent binary (default: beside this program, i.e. the same build profile).
    #[arg(long)]
    ward_agent: Option<PathBuf>,
    /// The FusionInventory agent (default: fusioninventory-agent on PATH).
    #[arg(long)]
    fusion: Option<PathBuf>,
    /// GNU time.
    #[arg(long, default_value = "/usr/bin/time")]
    time: PathBuf,
    /// Also print the result as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Sample {
    user_s: f64,
    sys_s: f64,
    cpu_s: f64,
    peak_rss_kib: u64,
    wall_s: f64,
}

#[derive(Debug, Serialize)]
struct Stats {
    command: String,
    runs: Vec<Sample>,
    cpu_s_median: f64,
    cpu_s_mean: f64,
    peak_rss_mib_median: f64,
    wall_s_median: f64,
}

#[derive(Debug, Serialize)]
struct Summary {
    ward: Stats,
    fusion: Stats,
    cpu_ratio: f64,
    memory_ratio: f64,
    cpu_target: f64,
    memory_target: f64,
    cpu_ok: bool,
    memory_ok: bool,
}

/// One command to measure.
struct Subject {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    /// FusionInventory writes its inventory file here; a fresh directory per run.
    local_dir: bool,
}

impl Subject {
    fn display(&self) -> String {
        let mut text = self.program.display().to_string();
        for arg in &self.args {
            text.push(' ');
            text.push_str(arg);
        }
        if self.local_dir {
            text.push_str(" DIR");
        }
        text
    }
}

fn beside_this_program(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let path = exe
        .parent()
        .context("this program's path has no directory")?
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "{} not found; build it (`cargo build --release -p {name}`) or pass --{name}",
            path.display()
        );
    }
    Ok(path)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "version unknown".into())
}

/// Parses GNU time's `-f '%U %S %M %e'` line.
fn parse_time(text: &str) -> Option<Sample> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [user, sys, rss, wall] = fields.as_slice() else {
        return None;
    };
    let (user_s, sys_s): (f64, f64) = (user.parse().ok()?, sys.parse().ok()?);
    Some(Sample {
        user_s,
        sys_s,
        // GNU time prints hundredths; keep the sum there too.
        cpu_s: ((user_s + sys_s) * 100.0).round() / 100.0,
        peak_rss_kib: rss.parse().ok()?,
        wall_s: wall.parse().ok()?,
    })
}

fn measure(time: &Path, subject: &Subject, scratch: &Path) -> anyhow::Result<Sample> {
    let time_out = scratch.join("time.out");
    let stderr_path = scratch.join(format!("{}.stderr", subject.label));
    let stderr = std::fs::File::create(&stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let local = tempfile::Builder::new()
        .prefix("ward-footprint-")
        .tempdir_in(scratch)
        .context("cannot create a directory for --local")?;
    let mut command = Command::new(time);
    command
        .arg("-o")
        .arg(&time_out)
        .arg("-f")
        .arg("%U %S %M %e")
        .arg(&subject.program)
        .args(&subject.args);
    if subject.local_dir {
        command.arg(local.path());
    }
    let status = command
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .with_context(|| format!("cannot run {}", time.display()))?;
    if !status.success() {
        let tail: String = std::fs::read_to_string(&stderr_path)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        bail!("`{}` failed ({status}):\n{tail}", subject.display());
    }
    let text = std::fs::read_to_string(&time_out)
        .with_context(|| format!("cannot read {}", time_out.display()))?;
    parse_time(&text).with_context(|| format!("unexpected GNU time output: {text:?}"))
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn stats(subject: &Subject, runs: Vec<Sample>) -> Stats {
    let pick = |f: fn(&Sample) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    Stats {
        command: subject.display(),
        cpu_s_median: median(&mut pick(|s| s.cpu_s)),
        cpu_s_mean: runs.iter().map(|s| s.cpu_s).sum::<f64>() / runs.len().max(1) as f64,
        peak_rss_mib_median: median(&mut pick(|s| s.peak_rss_kib as f64)) / 1024.0,
        wall_s_median: median(&mut pick(|s| s.wall_s)),
        runs,
    }
}

fn print_stats(s: &Stats) {
    println!("{}", s.command);
    for (i, r) in s.runs.iter().enumerate() {
        println!(
            "  run {}: cpu {:.2} s (user {:.2} + sys {:.2}), peak RSS {:.1} MiB, wall {:.2} s",
            i + 1,
            r.cpu_s,
            r.user_s,
            r.sys_s,
            r.peak_rss_kib as f64 / 1024.0,
            r.wall_s
        );
    }
    println!(
        "  median: cpu {:.2} s (mean {:.3} s), peak RSS {:.1} MiB, wall {:.2} s",
        s.cpu_s_median, s.cpu_s_mean, s.peak_rss_mib_median, s.wall_s_median
    );
}

fn run(cli: &Cli) -> anyhow::Result<bool> {
    if cli.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if !cli.time.is_file() {
        bail!(
            "{} not found: this benchmark measures with GNU time (Debian/Ubuntu: `apt-get install -y time`)",
            cli.time.display()
        );
    }
    let ward = Subject {
        label: "ward-agent",
        program: match &cli.ward_agent {
            Some(path) => path.clone(),
            None => beside_this_program("ward-agent")?,
        },
        args: vec!["collect".into()],
        local_dir: false,
    };
    let fusion = Subject {
        label: "fusioninventory-agent",
        program: match &cli.fusion {
            Some(path) => path.clone(),
            None => on_path("fusioninventory-agent").context(
                "fusioninventory-agent not found on PATH (Debian/Ubuntu: `apt-get install -y fusioninventory-agent`), \
                 or pass --fusion",
            )?,
        },
        args: vec!["--local".into()],
        local_dir: true,
    };
    println!(
        "ward-agent:  {} ({})",
        ward.program.display(),
        version(&ward.program)
    );
    println!(
        "fusion:      {} ({})",
        fusion.program.display(),
        version(&fusion.program)
    );
    println!(
        "runs:        {} measured + {} warm-up each, alternating; measured with {}",
        cli.runs,
        cli.warmup,
        cli.time.display()
    );

    let scratch = tempfile::Builder::new()
        .prefix("ward-footprint-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    for _ in 0..cli.warmup {
        measure(&cli.time, &ward, scratch.path())?;
        measure(&cli.time, &fusion, scratch.path())?;
    }
    let (mut ward_runs, mut fusion_runs) = (Vec::new(), Vec::new());
    for i in 0..cli.runs {
        // Alternate which goes first, so neither always runs right after the other.
        if i % 2 == 0 {
            ward_runs.push(measure(&cli.time, &ward, scratch.path())?);
            fusion_runs.push(measure(&cli.time, &fusion, scratch.path())?);
        } else {
            fusion_runs.push(measure(&cli.time, &fusion, scratch.path())?);
            ward_runs.push(measure(&cli.time, &ward, scratch.path())?);
        }
        eprint!(".");
    }
    eprintln!();

    let ward = stats(&ward, ward_runs);
    let fusion = stats(&fusion, fusion_runs);
    print_stats(&ward);
    print_stats(&fusion);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    let cpu_ratio = ratio(ward.cpu_s_median, fusion.cpu_s_median);
    let memory_ratio = ratio(ward.peak_rss_mib_median, fusion.peak_rss_mib_median);
    let summary = Summary {
        cpu_ok: cpu_ratio <= CPU_TARGET,
        memory_ok: memory_ratio <= MEMORY_TARGET,
        ward,
        fusion,
        cpu_ratio,
        memory_ratio,
        cpu_target: CPU_TARGET,
        memory_target: MEMORY_TARGET,
    };
    let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
    println!(
        "CPU time     ward/fusion = {:.3} (target <= {CPU_TARGET:.2}): {}",
        summary.cpu_ratio,
        verdict(summary.cpu_ok)
    );
    println!(
        "peak memory  ward/fusion = {:.3} (target <= {MEMORY_TARGET:.2}): {}",
        summary.memory_ratio,
        verdict(summary.memory_ok)
    );
    if cli.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(summary.cpu_ok && summary.memory_ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_time_line() {
        let s =
            parse_time("Command exited with non-zero status 0\n0.54 0.36 64692 1.62\n").unwrap();
        assert!((s.cpu_s - 0.90).abs() < 1e-9);
        assert_eq!(s.peak_rss_kib, 64692);
        assert!(parse_time("garbage").is_none());
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
